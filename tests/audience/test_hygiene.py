"""``contacts hygiene``: each group on realistic Indonesian data, the contract's JSON, and ``--dns`` against a
real DNS server (knotd) where one domain does not exist, one takes no mail, and one server cannot answer."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from dns_server import knot
from helpers import invoke, silent_udp_port, write, write_csv
from sqlalchemy import update

from outreach.audience.hygiene import company_identity, months_before, person_identity, role_local
from outreach.settings.config import ROLE_MAILBOXES
from outreach.settings.workspace import init_workspace
from outreach.storage import transaction, utcnow
from outreach.storage.models import Contact, Suppression
from outreach.workspace import Workspace

TODAY = date(2026, 12, 7)
HEADER = ["email", "first_name", "last_name", "title", "phone", "company", "status", "owner", "last_contacted_at",
          "transactions"]  # fmt: skip
ROWS = [
    # the same person three times: "PT" spelled three ways, and a typo'd address
    ["budi.santoso@majujaya.co.id", "Budi", "Santoso", "Purchasing Manager", "0812-3456-7890", "PT. Maju Jaya",
     "existing", "awang", "2026-11-02", "7"],
    ["budi@majujaya-group.co.id", "Ir. Budi", "Santoso", "", "", "Maju Jaya, PT", "prospect", "awang", "", "0"],
    ["bsantoso@gmail.example.com", "budi", "SANTOSO", "", "", "PT Maju Jaya Tbk", "prospect", "", "", "0"],
    # one person by phone only (the same mobile, written two ways)
    ["rina@sinarlogistik.co.id", "Rina", "Marpaung", "Kepala Pengadaan", "+62 811-1920-3344",
     "PT Sinar Logistik Nusantara", "existing", "sari", "2026-03-04", "1"],
    ["rina.m@yahoo.example.com", "Rina", "M.", "", "0811 1920 3344", "", "prospect", "sari", "", "0"],
    # shared mailboxes of a role
    ["info@cahayaritel.co.id", "", "", "", "+62 21 5550 2210", "PT Cahaya Ritel", "prospect", "sari", "", "0"],
    ["Sales2@cahayaritel.co.id", "Tim", "Sales", "Sales", "", "PT Cahaya Ritel", "prospect", "sari", "", "0"],
    ["kantor@grahamedika.co.id", "", "", "", "", "PT Graha Medika", "existing", "awang", "2026-10-01", "2"],
    ["pemasaran+web@grahamedika.co.id", "", "", "", "", "PT Graha Medika", "prospect", "awang", "", "0"],
    # a person whose address starts like a role: not a role
    ["salesman.joko@bekasiplastindo.co.id", "Joko", "Susilo", "Sales Manager", "0813-1111-2222",
     "PT Bekasi Plastindo", "existing", "awang", "2025-12-03", "12"],
    ["infoteknologi.dewi@griya.co.id", "Dewi", "Kusuma", "IT Lead", "0813-3333-4444", "PT Griya Wisata",
     "prospect", "sari", "2026-06-06", "0"],
]  # fmt: skip


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    init_workspace(root)
    result = invoke("contacts", "import", str(write_csv(tmp_path / "c.csv", HEADER, ROWS)), ws=root)
    assert result.exit_code == 0, result.output
    face = Workspace.open(root)
    with transaction(face.engine) as s:  # every contact was added a year ago: "never contacted" since then
        s.execute(update(Contact).values(created_at=datetime(2025, 12, 1)))
        s.add(Suppression(email="rina.m@yahoo.example.com", reason="bounce_hard", detail="550 5.1.1 user unknown",
                          created_at=utcnow()))  # fmt: skip
    yield face
    face.close()


def test_company_identity_ignores_legal_forms_punctuation_and_case() -> None:
    same = ["PT. Maju Jaya", "Maju Jaya, PT", "PT Maju Jaya Tbk", "P.T. MAJU JAYA", "pt maju  jaya (Persero)"]
    assert {company_identity(name) for name in same} == {"maju jaya"}
    assert company_identity("CV. Sumber Rejeki Abadi") == company_identity("Sumber Rejeki Abadi CV")
    assert company_identity("PT Maju Jaya") != company_identity("PT Maju Jaya Elektronik")
    assert company_identity("PT") == "pt"  # a name that is only a legal form is not emptied
    assert person_identity("Ir. Budi", "Santoso") == person_identity("budi", "SANTOSO") == "budi santoso"


def test_role_mailboxes_and_calendar_months() -> None:
    assert role_local("Info2@x.co.id", ROLE_MAILBOXES) == "info"
    assert role_local("sales+web@x.co.id", ROLE_MAILBOXES) == "sales"
    assert role_local("redaksi@x.co.id", ROLE_MAILBOXES) == "redaksi"
    assert role_local("salesman.joko@x.co.id", ROLE_MAILBOXES) is None
    assert months_before(date(2026, 8, 31), 6) == date(2026, 2, 28)
    assert months_before(date(2026, 1, 15), 1) == date(2025, 12, 15)


def test_every_group_in_the_contracts_json(ws: Workspace) -> None:
    report = ws.hygiene(today=TODAY)
    data = report.to_json()
    assert list(data) == ["stale", "few_transactions", "role_address", "duplicates", "missing", "suppressed"]
    # contacted before 7 June 2026, or never since being added (a year ago)
    assert data["stale"] == ["budi@majujaya-group.co.id", "bsantoso@gmail.example.com", "rina@sinarlogistik.co.id",
                             "rina.m@yahoo.example.com", "info@cahayaritel.co.id", "sales2@cahayaritel.co.id",
                             "pemasaran+web@grahamedika.co.id", "salesman.joko@bekasiplastindo.co.id",
                             "infoteknologi.dewi@griya.co.id"]  # fmt: skip
    assert data["few_transactions"] == ["rina@sinarlogistik.co.id", "kantor@grahamedika.co.id"]
    assert data["role_address"] == ["info@cahayaritel.co.id", "sales2@cahayaritel.co.id", "kantor@grahamedika.co.id",
                                    "pemasaran+web@grahamedika.co.id"]  # fmt: skip
    assert data["duplicates"] == [
        ["budi.santoso@majujaya.co.id", "budi@majujaya-group.co.id", "bsantoso@gmail.example.com"],
        ["rina@sinarlogistik.co.id", "rina.m@yahoo.example.com"],
    ]
    missing = data["missing"]
    assert isinstance(missing, dict) and list(missing) == ["phone", "first_name", "company", "title"]
    assert missing["company"] == ["rina.m@yahoo.example.com"]
    assert missing["first_name"] == ["info@cahayaritel.co.id", "kantor@grahamedika.co.id",
                                     "pemasaran+web@grahamedika.co.id"]  # fmt: skip
    assert "budi.santoso@majujaya.co.id" not in missing["phone"] and "kantor@grahamedika.co.id" in missing["phone"]
    assert data["suppressed"] == ["rina.m@yahoo.example.com"]
    suppressed = report.groups["suppressed"].members[0]
    assert suppressed.detail == "bounce hard (550 5.1.1 user unknown)"  # with the reason
    assert report.groups["duplicates"].clusters[1][0].detail == "same phone +6281119203344"


def test_the_cli_json_and_text(ws: Workspace) -> None:
    result = invoke("contacts", "hygiene", "--json", "--stale-months", "120", ws=ws.root)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["stale"] == []  # nobody was last contacted (or added) ten years ago
    text = invoke("contacts", "hygiene", ws=ws.root)
    assert text.exit_code == 0
    assert "Duplicates: 2 person(s) under several addresses\n  what to do: one person under several addresses: " \
           "merge each group into the address to keep (outreach contacts merge KEEP OTHER)\n" in text.stdout
    assert "  - one person: budi.santoso@majujaya.co.id, budi@majujaya-group.co.id, bsantoso@gmail.example.com  " \
           "(same name at the same company)" in text.stdout
    assert "Suppressed: 1 contact(s)" in text.stdout and "bounce hard (550 5.1.1 user unknown)" in text.stdout
    bad = invoke("contacts", "hygiene", "--stale-months", "0", ws=ws.root)
    assert bad.exit_code == 2 and "--stale-months" in bad.stderr
    lonely = invoke("contacts", "hygiene", "--nameserver", "127.0.0.1", ws=ws.root)
    assert lonely.exit_code == 2 and "--nameserver goes with --dns" in lonely.stderr


def test_an_empty_workspace_has_empty_groups(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    init_workspace(root)
    result = invoke("contacts", "hygiene", "--json", ws=root)
    assert json.loads(result.stdout) == {"stale": [], "few_transactions": [], "role_address": [], "duplicates": [],
                                         "missing": {"phone": [], "first_name": [], "company": [], "title": []},
                                         "suppressed": []}  # fmt: skip


def test_settings_add_role_mailboxes_and_change_the_thresholds(ws: Workspace) -> None:
    with (ws.root / "outreach.yaml").open("a", encoding="utf-8") as fh:
        fh.write("hygiene:\n  few_transactions: 7\n  role_addresses: [infoteknologi]\n")
    data = json.loads(invoke("contacts", "hygiene", "--json", ws=ws.root).stdout)
    assert "budi.santoso@majujaya.co.id" in data["few_transactions"]
    assert "infoteknologi.dewi@griya.co.id" not in data["role_address"]  # a local part of its own, not the role
    write(ws.root / "outreach.yaml", (ws.root / "outreach.yaml").read_text().replace("[infoteknologi]", "[Bad Name]"))
    bad = invoke("contacts", "hygiene", ws=ws.root)
    assert bad.exit_code == 1 and "hygiene.role_addresses" in bad.stderr and "'Bad Name'" in bad.stderr


# -- --dns against a real DNS server ---------------------------------------------------------------


ZONE = {  # co.id, as this test's own authoritative server knows it
    "majujaya": ["MX 10 mx.majujaya"], "mx.majujaya": ["A 192.0.2.10"],
    "majujaya-group": ["A 192.0.2.11"],  # no MX, but an address: mail goes to the A record (RFC 5321)
    "sinarlogistik": ["TXT \"v=spf1 -all\""],  # exists, takes no mail: no MX, no address
    "cahayaritel": ["MX 0 ."],  # a null MX (RFC 7505)
    "grahamedika": ["AAAA 2001:db8::1"], "bekasiplastindo": ["MX 10 mx.majujaya"], "griya": ["MX 10 mx.majujaya"],
}  # fmt: skip


def test_dead_domains_from_a_real_dns_server(ws: Workspace, tmp_path: Path) -> None:
    with knot(tmp_path / "knot", {"co.id": ZONE}) as server:
        result = invoke("contacts", "hygiene", "--json", "--dns", "--nameserver", server, ws=ws.root)
        assert result.exit_code == 0, result.stderr
        dead = json.loads(result.stdout)["dead_domain"]
        report = ws.hygiene(dns=True, nameserver=server, today=TODAY)
    # sinarlogistik takes no mail, cahayaritel says so (null MX); gmail.example.com and yahoo.example.com are
    # reserved example names: never asked
    assert dead == ["rina@sinarlogistik.co.id", "info@cahayaritel.co.id", "sales2@cahayaritel.co.id"]
    why = {m.email: m.detail for m in report.groups["dead_domain"].members}
    assert why["rina@sinarlogistik.co.id"] == "sinarlogistik.co.id: no mail server (MX) and no address (A/AAAA)"
    assert why["info@cahayaritel.co.id"] == "cahayaritel.co.id: the domain says it takes no mail (null MX)"


def test_a_domain_that_does_not_exist_is_dead_and_a_refusal_is_not(ws: Workspace, tmp_path: Path) -> None:
    write_csv(tmp_path / "more.csv", ["email", "first_name"], [["tono@hilang.co.id", "Tono"],
                                                              ["sri@tokoonline.com", "Sri"]])  # fmt: skip
    assert invoke("contacts", "import", str(tmp_path / "more.csv"), ws=ws.root).exit_code == 0
    with knot(tmp_path / "knot", {"co.id": ZONE}) as server:
        report = ws.hygiene(dns=True, nameserver=server, today=TODAY)
        text = invoke("contacts", "hygiene", "--dns", "--nameserver", server, ws=ws.root).stdout
    group = report.groups["dead_domain"]
    assert {m.email: m.detail for m in group.members}["tono@hilang.co.id"] == \
        "hilang.co.id: the domain does not exist (NXDOMAIN)"
    # tokoonline.com is not this server's: it refuses (REFUSED), which says nothing about the domain
    assert "sri@tokoonline.com" not in [m.email for m in group.members]
    assert group.note.startswith("1 domain(s) could not be checked (the DNS server could not answer for "
                                 "tokoonline.com (REFUSED)); they are not counted as dead")
    assert "note: 1 domain(s) could not be checked" in text


def test_a_dns_server_that_never_answers_marks_nothing_dead(ws: Workspace) -> None:
    with silent_udp_port() as port:
        report = ws.hygiene(dns=True, nameserver=f"127.0.0.1:{port}", today=TODAY)
    group = report.groups["dead_domain"]
    assert group.members == [] and "could not be checked" in group.note
