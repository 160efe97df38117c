"""``outreach doctor`` against a real authoritative DNS server (knotd) serving zones written here,
a real aiosmtpd relay (STARTTLS, AUTH) and a real https server for the unsubscribe URL.

One domain per case: ``baik.co.id`` is correct; the others break one thing each.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dns_server import knot, txt
from engine_support import FaultySink
from helpers import SmtpController, SmtpServer, invoke, silent_udp_port

from outreach.deliverability.dkim_record import dkim_record_value
from outreach.deliverability.findings import Finding, Target
from outreach.deliverability.resolver import Dns
from outreach.deliverability.spf import check_host, check_spf
from outreach.settings.workspace import init_workspace

PASSWORD = "rahasia-123"
GOOD = "baik.co.id"
INCLUDES = {f"l{i}": [txt("v=spf1 ip4:198.51.100.1 -all")] for i in range(1, 12)}


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())  # fmt: skip


def _zone(spf: str | None = "v=spf1 include:_spf.@D@ ip4:127.0.0.1 -all", dkim: str | None = None,
          dmarc: str | None = "v=DMARC1; p=quarantine; rua=mailto:dmarc@@D@", mx: bool = True,
          **extra: list[str]) -> dict[str, list[str]]:  # fmt: skip
    records: dict[str, list[str]] = {"ns": ["A 127.0.0.1"], "_spf": [txt("v=spf1 ip4:203.0.113.0/24 -all")]}
    if spf:
        records["@"] = [txt(spf)]
    if dkim:
        records["sel._domainkey"] = [txt(dkim)]
    if dmarc:
        records["_dmarc"] = [txt(dmarc)]
    if mx:
        records.setdefault("@", []).append("MX 10 mx")
        records["mx"] = ["A 203.0.113.25"]
    records.update(extra)
    return records


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Keys, a certificate, and knotd serving one zone per case."""
    folder = tmp_path_factory.mktemp("dns")
    key, other = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    (folder / "dkim.pem").write_bytes(_pem(key))
    record = dkim_record_value(key.public_key())
    wrong = dkim_record_value(other.public_key())
    crt, pem = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(pem), "-out", str(crt),
                    "-days", "2", "-subj", f"/CN=links.{GOOD}",
                    "-addext", f"subjectAltName=DNS:links.{GOOD},IP:127.0.0.1"],
                   check=True, capture_output=True)  # fmt: skip
    zones = {
        GOOD: _zone(dkim=record, links=["A 127.0.0.1"], relay=["A 203.0.113.9"]),
        "tanpa-spf.co.id": _zone(spf=None, dkim=record),
        "spf-lain.co.id": _zone(spf="v=spf1 ip4:203.0.113.5 ~all", dkim=record),
        "spf-rusak.co.id": _zone(spf="v=spf1 " + " ".join(f"include:l{i}.@D@" for i in range(1, 12)) + " -all",
                                 dkim=record, **INCLUDES),  # fmt: skip
        "tanpa-dkim.co.id": _zone(),
        "dkim-beda.co.id": _zone(dkim=wrong),
        "tanpa-dmarc.co.id": _zone(dkim=record, dmarc=None),
        "lain-selaras.co.id": _zone(dkim=record, dmarc="v=DMARC1; p=reject; adkim=s; aspf=s"),
        "tanpa-mx.co.id": _zone(dkim=record, mx=False),
        "macro.co.id": {"@": [txt("v=spf1 exists:%{i}._ip.%{d} mx redirect=_rest.%{d}"), "MX 10 mx"],
                        "203.0.113.25._ip": ["A 127.0.0.2"], "mx": ["A 203.0.113.26"],
                        "_rest": [txt("v=spf1 ~all")]},  # fmt: skip
        "void.co.id": {"@": [txt("v=spf1 a:n1.%{d} a:n2.%{d} a:n3.%{d} -all")]},
        "nothing.co.id": {"@": ["MX 10 mx"], "mx": ["A 203.0.113.26"]},
    }
    for origin, records in zones.items():
        for owner, values in records.items():
            records[owner] = [v.replace("@D@", origin) for v in values]
    with knot(folder / "knot", zones) as server:
        yield {"ns": server, "folder": folder, "cert": (crt, pem)}


def workspace(root: Path, world: dict[str, Any], domain: str, relay_port: int, *, dkim_domain: str | None = None,
              bounces: str = "", smtp_extra: str = "", unsubscribe: str = f"https://links.{GOOD}") -> Path:  # fmt: skip
    init_workspace(root)
    (root / "dkim.pem").write_bytes((world["folder"] / "dkim.pem").read_bytes())
    (root / "outreach.yaml").write_text(
        "organization: {name: PT Baik Sekali, address: 'Jl. Sudirman No. 1, Jakarta 12190'}\n"
        f"smtp: {{host: 127.0.0.1, port: {relay_port}{smtp_extra}}}\n"
        f"senders:\n  awang: {{name: Awang, email: awang@{domain}}}\n  sari: {{name: Sari, email: sari@{domain}}}\n"
        f"unsubscribe: {{base_url: '{unsubscribe}'}}\n"
        f"dkim: {{selector: sel, domain: {dkim_domain or domain}, private_key_file: dkim.pem}}\n"
        f"deliverability: {{nameserver: '{world['ns']}', dns_timeout: 5s}}\n" + bounces
    )
    return root


def doctor_json(root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = invoke("doctor", "--json", *args, ws=root)
    return result.exit_code, json.loads(result.stdout)


def finding(report: dict[str, Any], check: str) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["check"] == check)


# -- the broken cases, one each ----------------------------------------------------------


@pytest.mark.parametrize(("domain", "check", "says", "publish"), [
    ("tanpa-spf.co.id", "spf", "tanpa-spf.co.id has no SPF record",
     'tanpa-spf.co.id. TXT "v=spf1 ip4:YOUR.RELAY.PUBLIC.IP -all"'),
    ("spf-rusak.co.id", "spf", "permerror: more than 10 DNS lookups", "spf-rusak.co.id. TXT"),
    ("tanpa-dkim.co.id", "dkim", "no DKIM record at sel._domainkey.tanpa-dkim.co.id",
     'sel._domainkey.tanpa-dkim.co.id. TXT "v=DKIM1; k=rsa; p=MII'),
    ("dkim-beda.co.id", "dkim", "holds another key than dkim.pem", 'sel._domainkey.dkim-beda.co.id. TXT "v=DKIM1'),
    ("tanpa-dmarc.co.id", "dmarc", "no DMARC record for tanpa-dmarc.co.id",
     '_dmarc.tanpa-dmarc.co.id. TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@tanpa-dmarc.co.id"'),
    ("tanpa-mx.co.id", "mx", "tanpa-mx.co.id has no MX record", "tanpa-mx.co.id. MX 10 YOUR-MAIL-SERVER."),
])  # fmt: skip
def test_each_broken_domain_fails_its_check(tmp_path: Path, world: dict[str, Any], domain: str, check: str,
                                            says: str, publish: str, closed_port: int) -> None:  # fmt: skip
    root = workspace(tmp_path / "ws", world, domain, closed_port)
    code, report = doctor_json(root)
    assert code == 1
    found = finding(report, check)
    assert found["status"] == "fail", found
    assert says in found["message"]
    assert found["record"].startswith(publish)
    assert check in report["failed"]
    for other in {"spf", "dkim", "dmarc", "mx"} - {check}:
        assert finding(report, other)["status"] == "ok", finding(report, other)


def dns_of(world: dict[str, Any]) -> Dns:
    return Dns.make(world["ns"], 5.0)


def target(domain: str, relay: str) -> Target:
    return Target("awang", f"awang@{domain}", f"awang@{domain}", relay, 25, "outreach.test")


def test_spf_that_does_not_authorise_the_relay(world: dict[str, Any]) -> None:
    found = check_spf(target("spf-lain.co.id", "198.51.100.7"), dns_of(world))
    assert found == Finding(
        "spf", "fail", "spf-lain.co.id's SPF does not authorise the relay 198.51.100.7 (result softfail): receivers "
        "will treat the mail as forged", 'spf-lain.co.id. TXT "v=spf1 ip4:198.51.100.7 ip4:203.0.113.5 ~all"')


def test_spf_of_a_relay_on_this_machine_is_a_warning(world: dict[str, Any]) -> None:
    found = check_spf(target("spf-lain.co.id", "127.0.0.1"), dns_of(world))
    assert found.status == "warn"
    assert found.message.startswith("the relay is 127.0.0.1, an address receivers never see")


def test_spf_follows_include_for_a_relay_named_in_dns(world: dict[str, Any]) -> None:
    found = check_spf(target(GOOD, f"relay.{GOOD}"), dns_of(world))
    assert found.status == "ok"
    assert found.message.startswith("baik.co.id authorises the relay 203.0.113.9:")


@pytest.mark.parametrize(("ip", "sender", "result"), [
    ("203.0.113.77", f"x@{GOOD}", "pass"),  # include:_spf
    ("127.0.0.1", f"x@{GOOD}", "pass"),  # ip4
    ("198.51.100.9", f"x@{GOOD}", "fail"),  # -all
    ("203.0.113.25", "x@macro.co.id", "pass"),  # exists:%{i}._ip.%{d} (macro expansion)
    ("203.0.113.26", "x@macro.co.id", "pass"),  # mx
    ("203.0.113.99", "x@macro.co.id", "softfail"),  # redirect=_rest: ~all
    ("203.0.113.1", "x@void.co.id", "permerror"),  # three lookups that find nothing
    ("203.0.113.1", "x@nothing.co.id", "none"),
])  # fmt: skip
def test_spf_evaluation(world: dict[str, Any], ip: str, sender: str, result: str) -> None:
    assert check_host(dns_of(world), ip, sender, "outreach.test").result == result


def test_the_record_to_publish_is_the_workspace_key(tmp_path: Path, world: dict[str, Any], closed_port: int) -> None:
    root = workspace(tmp_path / "ws", world, "tanpa-dkim.co.id", closed_port)
    key = serialization.load_pem_private_key((root / "dkim.pem").read_bytes(), None)
    _, report = doctor_json(root)
    record = finding(report, "dkim")["record"]
    value = "".join(part for part in record.split('"')[1::2])  # the 255-byte strings joined again
    assert value == dkim_record_value(key.public_key())  # type: ignore[arg-type]


def test_dmarc_misaligned(tmp_path: Path, world: dict[str, Any], closed_port: int) -> None:
    """From lain-selaras.co.id, DKIM d=baik.co.id, bounces to baik.co.id: DMARC cannot pass."""
    root = workspace(tmp_path / "ws", world, "lain-selaras.co.id", closed_port, dkim_domain=GOOD,
                     bounces=f"bounces: {{address: bounce@{GOOD}}}\n")  # fmt: skip
    code, report = doctor_json(root)
    assert code == 1
    found = finding(report, "alignment")
    assert found["status"] == "fail"
    assert found["message"] == (
        "DKIM d=baik.co.id is not aligned with From lain-selaras.co.id (strict); the envelope domain baik.co.id is "
        "not aligned (strict): DMARC fails for every message; set dkim.domain to lain-selaras.co.id, or "
        "bounces.address to an address @lain-selaras.co.id"
    )
    assert finding(report, "dmarc")["message"] == "DMARC p=reject at _dmarc.lain-selaras.co.id"


def test_unreachable_dns_fails_the_dns_checks_quickly(tmp_path: Path, world: dict[str, Any], closed_port: int) -> None:
    root = workspace(tmp_path / "ws", world, GOOD, closed_port)
    with silent_udp_port() as silent:  # a DNS server that is down: queries go unanswered
        code, report = doctor_json(root, "--nameserver", f"127.0.0.1:{silent}")
    assert code == 1
    assert finding(report, "spf")["message"].startswith(f"cannot be checked: no answer from 127.0.0.1:{silent}")
    assert {"spf", "dkim", "dmarc", "mx"} <= set(report["failed"])


def test_bad_nameserver_is_a_usage_error(tmp_path: Path, world: dict[str, Any], closed_port: int) -> None:
    root = workspace(tmp_path / "ws", world, GOOD, closed_port)
    result = invoke("doctor", "--nameserver", "127.0.0.1:99999", ws=root)
    assert (result.exit_code, result.stderr) == (
        1, "Error: --nameserver '127.0.0.1:99999': the port must be a number from 1 to 65535\n")


def test_reserved_domains_skip_dns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, closed_port: int) -> None:
    """The example's relay is 127.0.0.1:1025, where the `outreach sink` the README suggests may well run: the
    test's relay is a port that refuses, whatever else runs on the machine."""
    root = tmp_path / "ws"
    init_workspace(root)  # the example: contoh-solusi.example
    monkeypatch.setenv("OUTREACH_SMTP_PORT", str(closed_port))
    code, report = doctor_json(root)
    assert code == 1
    assert [c["status"] for c in report["checks"][:5]] == ["skip"] * 5
    assert finding(report, "spf")["message"] == (
        "skipped: contoh-solusi.example is a reserved domain (RFC 2606/6761), so nothing is published for it")
    assert report["failed"] == ["relay_tls"]
    assert finding(report, "unsubscribe")["status"] == "warn"  # http on this machine: fine for a trial


EXAMPLE_NOTE = (
    "Note: contoh-solusi.example is a reserved example domain (RFC 2606/6761), as in the example workspace: nothing "
    "can be published for it and no real mailbox accepts its mail, so the DNS checks are skipped and `campaign send` "
    "runs no pre-flight. For real mail, give each sender in outreach.yaml an address of your own domain."
)


def test_doctor_on_the_example_workspace_says_what_is_an_example(tmp_path: Path, smtp_server: SmtpServer,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The example as it comes, its relay a local sink: the reserved domain is said once, up front, and the
    http unsubscribe address is a warning that says it must be https in production."""
    root = tmp_path / "ws"
    init_workspace(root)
    monkeypatch.setenv("OUTREACH_SMTP_PORT", str(smtp_server.port))
    result = invoke("doctor", "--nameserver", "127.0.0.1:53", ws=root)  # named: the header does not vary by machine
    assert (result.exit_code, result.stderr) == (0, "")
    skipped = "skipped: contoh-solusi.example is a reserved domain (RFC 2606/6761), so nothing is published for it"
    assert result.stdout.splitlines() == [
        f"Deliverability of sender awang <awang@contoh-solusi.example> via 127.0.0.1:{smtp_server.port} "
        "(DNS: 127.0.0.1)",
        EXAMPLE_NOTE,
        "",
        *(f"skip  {label:<22}{skipped}" for label in ("SPF", "DKIM", "DMARC", "alignment", "MX")),
        f"ok    relay TLS             127.0.0.1:{smtp_server.port} is on this machine: the mail does not cross a "
        "network to it",
        f"ok    relay AUTH            no login configured; 127.0.0.1:{smtp_server.port} does not ask for one",
        "warn  unsubscribe URL       unsubscribe.base_url http://127.0.0.1:8025 is fine for trying things out here; "
        "in production it must be https, at the public address of `outreach serve` that recipients reach (one-click "
        "unsubscribe, RFC 8058, required by Gmail and Yahoo)",
        "ok    organisation address  every footer carries PT Contoh Solusi Teknologi, Jl. Jend. Sudirman Kav. 52-53, "
        "Jakarta Selatan 12190, Indonesia",
        "",
        "3 ok, 1 warning(s), 0 failed, 5 skipped",
    ]


# -- the correct domain, with a real relay and unsubscribe endpoint ----------------------------


class _Head(BaseHTTPRequestHandler):
    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def endpoints(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, int]]:
    """(relay port, https port): aiosmtpd with STARTTLS and AUTH, and an https server, both trusting our cert."""
    crt, pem = world["cert"]
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(crt), str(pem))

    def auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"awang", PASSWORD.encode())
        return AuthResult(success=ok, handled=False)

    relay = SmtpController(FaultySink(), tls_context=ctx,
                       require_starttls=True, authenticator=auth, auth_required=True)  # fmt: skip
    relay.start()
    https = ThreadingHTTPServer(("127.0.0.1", 0), _Head)
    https.socket = ctx.wrap_socket(https.socket, server_side=True)
    thread = threading.Thread(target=https.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SSL_CERT_FILE", str(crt))  # the unsubscribe check trusts the system's CAs
    monkeypatch.setenv("OUTREACH_SMTP_PASSWORD", PASSWORD)
    try:
        yield relay.port, https.server_address[1]
    finally:
        https.shutdown()
        https.server_close()
        relay.stop()


def correct_workspace(tmp_path: Path, world: dict[str, Any], ports: tuple[int, int]) -> Path:
    crt = world["cert"][0]
    return workspace(tmp_path / "ws", world, GOOD, ports[0], unsubscribe=f"https://links.{GOOD}:{ports[1]}",
                     smtp_extra=f", security: starttls, username: awang, ca_file: '{crt}'")  # fmt: skip


def test_correct_domain_passes_every_check(tmp_path: Path, world: dict[str, Any],
                                           endpoints: tuple[int, int]) -> None:  # fmt: skip
    root = correct_workspace(tmp_path, world, endpoints)
    result = invoke("doctor", ws=root)
    relay, https = endpoints
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == f"""\
Deliverability of sender awang <awang@baik.co.id> via 127.0.0.1:{relay} (DNS: {world['ns']})

ok    SPF                   baik.co.id authorises the relay 127.0.0.1: "v=spf1 include:_spf.baik.co.id ip4:127.0.0.1 \
-all" gives pass (1 of 10 DNS lookups)
ok    DKIM                  sel._domainkey.baik.co.id publishes the public half of dkim.pem
ok    DMARC                 DMARC p=quarantine at _dmarc.baik.co.id
ok    alignment             DKIM d=baik.co.id is aligned with From baik.co.id (relaxed); the envelope domain \
baik.co.id is aligned (relaxed)
ok    MX                    bounces to baik.co.id go to mx.baik.co.id
ok    relay TLS             127.0.0.1:{relay} offers STARTTLS and its certificate is trusted
ok    relay AUTH            127.0.0.1:{relay} accepts the login of awang
ok    unsubscribe URL       https://links.baik.co.id:{https} is reachable over https (HTTP 200)
ok    organisation address  every footer carries PT Baik Sekali, Jl. Sudirman No. 1, Jakarta 12190

9 ok, 0 warning(s), 0 failed, 0 skipped
"""


def test_relay_without_starttls_and_a_wrong_password(tmp_path: Path, world: dict[str, Any],
                                                    endpoints: tuple[int, int],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    root = correct_workspace(tmp_path, world, endpoints)
    monkeypatch.setenv("OUTREACH_SMTP_PASSWORD", "wrong")
    code, report = doctor_json(root)
    assert code == 1
    assert report["failed"] == ["relay_auth"]
    assert finding(report, "relay_auth")["message"].startswith(f"127.0.0.1:{endpoints[0]} refused the login of awang")
    plain = SmtpController(FaultySink())
    plain.start()
    try:
        text = (root / "outreach.yaml").read_text().replace(f"port: {endpoints[0]}", f"port: {plain.port}")
        (root / "outreach.yaml").write_text(text)
        code, report = doctor_json(root)
    finally:
        plain.stop()
    assert finding(report, "relay_tls") == {
        "check": "relay_tls", "label": "relay TLS", "status": "fail", "record": None,
        "message": f"smtp.security is starttls but 127.0.0.1:{plain.port} does not offer STARTTLS"}


# -- campaign send's pre-flight ---------------------------------------------------------------------


def test_campaign_send_refuses_a_failing_domain_unless_forced(tmp_path: Path, world: dict[str, Any]) -> None:
    sink = FaultySink()
    relay = SmtpController(sink)
    relay.start()
    try:
        root = workspace(tmp_path / "ws", world, "tanpa-dkim.co.id", relay.port, unsubscribe="http://127.0.0.1:8025")
        for args in (("contacts", "import", str(root / "contacts.csv")), ("campaign", "build", "solusi-jaringan")):
            assert invoke(*args, ws=root).exit_code == 0
        refused = invoke("campaign", "send", "solusi-jaringan", "--yes", ws=root)
        assert refused.exit_code == 1
        assert refused.stderr.splitlines()[-1] == (
            "Error: deliverability pre-flight failed for sender awang: DKIM, unsubscribe URL; run `outreach doctor "
            "--sender awang` for the records to publish, or pass --force to send anyway")
        assert refused.stderr.startswith("fail  DKIM                  no DKIM record at sel._domainkey.tanpa-dkim")
        assert sink.received == []
        forced = invoke("campaign", "send", "solusi-jaringan", "--yes", "--force", ws=root)
    finally:
        relay.stop()
    assert forced.exit_code == 0, forced.output
    assert forced.stderr == "Pre-flight skipped (--force)\n"
    assert len(sink.received) > 0


def test_preflight_can_be_turned_off(tmp_path: Path, world: dict[str, Any], closed_port: int) -> None:
    root = workspace(tmp_path / "ws", world, "tanpa-dkim.co.id", closed_port)
    text = (root / "outreach.yaml").read_text().replace("deliverability: {", "deliverability: {preflight: false, ")
    (root / "outreach.yaml").write_text(text)
    from outreach import Workspace

    with Workspace.open(root) as ws:
        assert ws.preflight("solusi-jaringan") == (None, "pre-flight off (deliverability.preflight: false)")
