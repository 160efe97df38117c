"""The sales admin's pages over HTTP (Starlette's TestClient on the whole app): import, contacts, users.

The workspace is the team's (tests/web/team_support.py: a campaign sent and
answered, accounts made by the library face, the admin ``sari`` among them).
What the app writes is read back the way the CLI reads it (``contacts show``,
``contacts list``), since both must see one truth. The browser-level flows
are in test_admin_browser.py.
"""

from __future__ import annotations

import csv
import io
import re
import socket
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from helpers import invoke, write_csv
from sqlalchemy import func, select
from starlette.testclient import TestClient
from team_support import app_client, csrf_of, log_in, running_server

from outreach.settings.workspace import load_workspace
from outreach.storage import open_engine, transaction, utcnow
from outreach.storage.models import AuditEntry, Contact, ContactChange, Suppression
from outreach.storage.outbox import add_suppression
from outreach.workspace import Workspace

HOSTILE = [
    ["email", "first_name", "company", "Catatan"],
    ["hostile@example.com", "=HYPERLINK(\"http://evil.example\",\"klik\")", "<script>alert(1)</script>",
     "<b>tebal</b> & @SUM(A1)"],
    ["fine@example.com", "Fina", "PT Baik", "+62 812"],
    ["not-an-email", "Nobody", "PT Kosong", ""],
]  # fmt: skip


def count_contacts(root: Path) -> int:
    engine = open_engine(load_workspace(root).database_url)
    try:
        with transaction(engine) as session:
            return session.scalar(select(func.count(Contact.id))) or 0
    finally:
        engine.dispose()


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode()


def upload(client: TestClient, content: bytes, name: str = "list.csv", **fields: str) -> Any:
    token = csrf_of(client.get("/app/contacts/import").text)
    return client.post("/app/contacts/import", data={"csrf_token": token, **fields},
                       files={"file": (name, content, "text/csv")})  # fmt: skip


def audit_of(root: Path, action: str) -> list[AuditEntry]:
    engine = open_engine(load_workspace(root).database_url)
    try:
        with transaction(engine) as session:
            rows = list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))
            session.expunge_all()
            return rows
    finally:
        engine.dispose()


# -- import -------------------------------------------------------------------------------------------


def test_a_posted_file_with_a_map_is_imported_as_the_cli_imports_it(team: Path, tmp_path: Path) -> None:
    rows = [["Surel PIC", "Nama PIC", "Perusahaan", "Kode Pelanggan"],
            ["rina@omega.example.com", "Rina Marlina", "PT Omega", "K-1"],
            ["ani@alpha.example.com", "Ani Lestari", "PT Alpha Teknik", "K-2"]]  # fmt: skip
    with app_client(team, "sari") as client:
        done = upload(client, csv_bytes(rows), "pelanggan.csv", map="Surel PIC=email\nNama PIC=full_name\n")
    assert done.status_code == 200, done.text
    assert "Contacts: 1 imported, 1 updated, 0 rejected" in done.text
    assert "Kept as custom fields: Kode Pelanggan (custom.kode_pelanggan)" in done.text
    shown = invoke("contacts", "show", "rina@omega.example.com", ws=team).stdout
    assert re.search(r"first_name\s+Rina\n", shown) and re.search(r"custom.kode_pelanggan\s+K-1", shown)
    # the CLI, given the same file and map, says the same
    write_csv(tmp_path / "same.csv", rows[0], rows[1:])
    cli = invoke("contacts", "import", str(tmp_path / "same.csv"), "--map", "Surel PIC=email", "--map",
                 "Nama PIC=full_name", ws=team)  # fmt: skip
    assert cli.stdout.splitlines()[0] == "Contacts: 0 imported, 2 updated, 0 rejected"
    (_template, record, cli_record) = audit_of(team, "contacts.import")  # the team's own list came first
    assert (record.who, record.via, record.subject) == ("sari", "app", "import:pelanggan.csv")
    assert record.detail == "pelanggan.csv: 1 imported, 1 updated, 0 rejected, 0 warning(s)"
    assert (cli_record.who, cli_record.via) == ("cli", "cli")


def test_the_review_shows_each_column_and_the_adjusted_mapping_is_imported(team: Path) -> None:
    rows = [["E-mail Address", "First Name", "Nomor Pelanggan", "Catatan"],
            ["rina@omega.example.com", "Rina", "0812-3456-7890", "catatan satu"],
            ["yudi@omega.example.com", "Yudi", "0813-1111-2222", "catatan dua"]]  # fmt: skip
    with app_client(team, "sari") as client:
        review = upload(client, csv_bytes(rows), "omega.csv", step="review")
        assert review.status_code == 200, review.text
        table = dict(re.findall(r'<tr data-column="([^"]+)">.*?<option value="([^"]+)" selected>', review.text, re.S))
        assert table == {"E-mail Address": "email", "First Name": "first_name",
                         "Nomor Pelanggan": "custom.nomor_pelanggan", "Catatan": "custom.catatan"}  # fmt: skip
        assert "0812-3456-7890" in review.text and "catatan dua" in review.text  # the first rows
        token = re.search(r'name="token" value="([^"]+)"', review.text)
        assert token
        assert count_contacts(team) == 6  # nothing imported yet
        done = client.post("/app/contacts/import", data={
            "csrf_token": csrf_of(review.text), "token": token.group(1), "step": "import",
            "col.0": "email", "col.1": "first_name", "col.2": "phone", "col.3": "ignore",
        }, files={"file": ("", b"", "application/octet-stream")})  # fmt: skip
        assert done.status_code == 200, done.text
        assert "Contacts: 2 imported, 0 updated, 0 rejected" in done.text
        again = client.post("/app/contacts/import", data={"csrf_token": csrf_of(done.text), "token": token.group(1)})
        assert again.status_code == 410 and "expired or was imported already" in again.text
    shown = invoke("contacts", "show", "rina@omega.example.com", ws=team).stdout
    assert re.search(r"phone\s+\+6281234567890\n", shown)  # read as the phone, in E.164
    assert "catatan" not in shown  # skipped


def test_a_file_without_an_email_column_is_fixed_in_the_review(team: Path) -> None:
    rows = [["Alamat Surat", "Nama"], ["rudi@kappa.example.com", "Rudi"]]
    with app_client(team, "sari") as client:
        direct = upload(client, csv_bytes(rows), "kappa.csv")
        assert direct.status_code == 400
        assert "kappa.csv, line 1: no &#x27;email&#x27; column in the header" in direct.text
        review = upload(client, csv_bytes(rows), "kappa.csv", step="review")
        assert "no column is read as the email address" in review.text
        token = re.search(r'name="token" value="([^"]+)"', review.text)
        assert token
        wrong = client.post("/app/contacts/import", data={"csrf_token": csrf_of(review.text), "token": token.group(1),
                                                          "col.0": "password"})  # fmt: skip
        assert wrong.status_code == 400 and "is not something column" in wrong.text
        done = client.post("/app/contacts/import", data={"csrf_token": csrf_of(review.text), "token": token.group(1),
                                                         "col.0": "email", "col.1": "first_name"})  # fmt: skip
        assert "Contacts: 1 imported" in done.text
    assert count_contacts(team) == 7


def test_formulas_and_html_in_cells_are_text_and_the_rejects_download_is_neutralised(team: Path) -> None:
    with app_client(team, "sari") as client:
        review = upload(client, csv_bytes(HOSTILE), "hostile.csv", step="review")
        assert "<script>alert(1)</script>" not in review.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in review.text
        assert "&lt;b&gt;tebal&lt;/b&gt; &amp; @SUM(A1)" in review.text
        token = re.search(r'name="token" value="([^"]+)"', review.text)
        assert token
        done = client.post("/app/contacts/import", data={"csrf_token": csrf_of(review.text), "token": token.group(1)})
        assert "Contacts: 2 imported, 0 updated, 1 rejected" in done.text
        assert "row 4: invalid email" in done.text
        link = re.search(r'href="(/app/contacts/import/[^"]+/rejects\.csv)"', done.text)
        assert link
        rejects = client.get(link.group(1))
        assert rejects.status_code == 200 and rejects.headers["content-type"].startswith("text/csv")
        assert "attachment" in rejects.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(rejects.content.decode("utf-8-sig"))))
        assert rows[0] == ["row", "reason", *HOSTILE[0]] and rows[1][:3] == ["4", rows[1][1], "not-an-email"]
        page = client.get("/app/contacts?q=hostile").text
        contact = re.search(r'href="(/app/contacts/\d+)"', page)
        assert contact
        shown = client.get(contact.group(1)).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown and "<script>alert" not in shown
        # another admin cannot fetch this admin's report, nor anything by a path of its choosing
        for bad in (link.group(1).replace("rejects.csv", "../../outreach.yaml"), link.group(1)[:-11] + "upload",
                    "/app/contacts/import/../../etc/passwd/rejects.csv", "/app/contacts/import/x/rejects.csv"):
            assert client.get(bad).status_code == 404, bad
    with app_client(team) as other:
        with Workspace.open(team) as ws:
            ws.add_user("sinta", "admin", "sinta-password-1")
        form = other.get("/app/login")
        other.post("/app/login", data={"username": "sinta", "password": "sinta-password-1",
                                       "csrf_token": csrf_of(form.text)})  # fmt: skip
        assert other.get(link.group(1)).status_code == 404


def test_a_file_name_with_a_path_is_only_shown(team: Path, tmp_path: Path) -> None:
    target = tmp_path / "planted.csv"
    with app_client(team, "sari") as client:
        for name in (f"../../../../{target}", str(target), "..\\..\\planted.csv"):
            done = upload(client, csv_bytes([["email"], ["path@example.com"]]), name)
            assert done.status_code == 200 and "Contacts:" in done.text
    assert not target.exists()
    assert not any(p.name == "planted.csv" for p in team.rglob("*"))


@pytest.mark.parametrize(("content", "name", "said"), [
    (bytes(range(256)) * 40, "junk.csv", "junk.csv: this is not a CSV text file (it holds binary data)"),
    (b"PK\x03\x04not really a workbook", "list.xlsx", "list.xlsx: not a readable .xlsx workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "old.xls", "an Excel 97-2003 workbook (.xls)"),
    (b"", "empty.csv", "empty.csv: the file is empty"),
])  # fmt: skip
def test_junk_gets_a_clear_error_and_changes_nothing(team: Path, content: bytes, name: str, said: str) -> None:
    with app_client(team, "sari") as client:
        for step in ("import", "review"):
            response = upload(client, content, name, step=step)
            assert response.status_code == 400, response.text
            assert said in response.text.replace("&#x27;", "'")
    assert count_contacts(team) == 6 and len(audit_of(team, "contacts.import")) == 1  # the team's own list


def test_an_upload_over_the_limit_is_refused_before_it_is_read(team: Path) -> None:
    """A real server: the headers announce 20 MB, a first megabyte follows, the answer comes without the rest."""
    with app_client(team, "sari") as client:
        page = client.get("/app/contacts/import")
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        token = csrf_of(page.text)
    with running_server(team) as server:
        host, port = server.base.removeprefix("http://").split(":")
        boundary = "x7outreach"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n"
                "Content-Type: text/csv\r\n\r\nemail\r\n").encode()  # fmt: skip
        size = 20 * 1024 * 1024
        request = (f"POST /app/contacts/import HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n"
                   f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {size}\r\n\r\n").encode()
        with socket.create_connection((host, int(port)), timeout=60) as sock:
            sock.sendall(request + head + b"a@example.com\r\n" * 60_000)  # about 1 MB of the 20 announced
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    # chunked, without a length: read up to the limit, then refused (TestClient streams the generator)
    with app_client(team, "sari") as client:
        token = csrf_of(client.get("/app/contacts/import").text)
        big = b"email\r\n" + b"a@example.com\r\n" * (12 * 1024 * 1024 // 15)
        response = client.post("/app/contacts/import", data={"csrf_token": token},
                               files={"file": ("big.csv", big, "text/csv")})  # fmt: skip
        assert response.status_code == 413
        assert "This file is larger than the limit of 10 MB for an upload here." in response.text
    assert count_contacts(team) == 6


def test_an_xlsx_workbook_is_imported(team: Path, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Email", "Nama Depan", "HP"])
    sheet.append(["wati@sigma.example.com", "Wati", "0812 9999 0000"])
    path = tmp_path / "sigma.xlsx"
    book.save(path)
    with app_client(team, "sari") as client:
        done = upload(client, path.read_bytes(), "sigma.xlsx")
    assert "Contacts: 1 imported" in done.text
    assert "+6281299990000" in invoke("contacts", "show", "wati@sigma.example.com", ws=team).stdout


# -- the contact list and a contact's page ------------------------------------------------------------------


def test_search_filters_and_pages(team: Path) -> None:
    rows = [["email", "first_name", "company", "city", "status", "tags"]]
    rows += [[f"kontak{n:03d}@massal.example.com", f"Kontak{n:03d}", "PT Massal", "Surabaya" if n % 2 else "Medan",
              "existing" if n % 3 == 0 else "prospect", "massal" if n % 5 == 0 else ""] for n in range(120)]
    with Workspace.open(team) as ws:
        path = team / "massal.csv"
        write_csv(path, rows[0], rows[1:])
        ws.import_contacts(path)
        ws.suppress("kontak007@massal.example.com", "asked by phone")
    with app_client(team, "sari") as client:
        first = client.get("/app/contacts")
        assert re.search(r'<small id="total">\(126\)</small>', first.text)
        emails = re.findall(r'<tr data-email="([^"]+)">', first.text)
        assert len(emails) == 50 and emails == sorted(emails) and emails[0] == "ani@alpha.example.com"
        seen = list(emails)
        page = first
        while (after := re.search(r'href="(\?[^"]*after=[^"]+)" rel="next"', page.text)) is not None:
            page = client.get("/app/contacts" + after.group(1).replace("&amp;", "&"))
            seen += re.findall(r'<tr data-email="([^"]+)">', page.text)
        assert len(seen) == 126 and seen == sorted(set(seen))
        back = re.search(r'href="(\?[^"]*before=[^"]+)" rel="prev"', page.text)
        assert back
        previous = re.findall(r'<tr data-email="([^"]+)">', client.get("/app/contacts" + back.group(1)
                                                                        .replace("&amp;", "&")).text)  # fmt: skip
        assert previous == seen[50:100]

        def found(**query: str) -> list[str]:
            return re.findall(r'<tr data-email="([^"]+)">', client.get("/app/contacts", params=query).text)

        assert found(q="alpha teknik") == ["ani@alpha.example.com"]  # every word somewhere, company too
        assert found(q="ANI") == ["ani@alpha.example.com"]
        assert found(q="5550-0002") == []  # phones are stored in E.164
        assert found(q="+622155500002") == ["budi@beta.example.com"]
        assert found(q="100%") == [] and found(q="_") == []  # LIKE's wildcards are only characters
        assert found(city="Medan", status="existing", q="massal")[:3] == [
            "kontak000@massal.example.com", "kontak006@massal.example.com", "kontak012@massal.example.com"]
        assert len(found(tag="massal")) == 24
        assert found(suppressed="yes") == ["kontak007@massal.example.com"]
        assert "kontak007@massal.example.com" not in found(suppressed="no", q="kontak00")
        assert found(owner="awang") == ["budi@beta.example.com", "dedi@delta.example.com"]
        hostile = {"q": "x" * 5000, "city": "\x00", "after": "z" * 9000}
        assert client.get("/app/contacts", params=hostile).status_code == 200


def test_a_contacts_page_has_its_fields_and_its_history(team: Path) -> None:
    with app_client(team, "sari") as client:
        page = client.get("/app/contacts/ANI@alpha.example.com")
        assert page.status_code == 200
        text = page.text
        for field, value in (("phone", "+622155500001"), ("company", "PT Alpha Teknik"), ("custom.region", "west")):
            assert re.search(rf'data-field="{re.escape(field)}"><dt>[^<]*</dt><dd>{re.escape(value)}</dd>', text), field
        messages = re.search(r'<section class="card" id="messages">(.*?)</section>', text, re.S)
        assert messages and "promo" in messages.group(1) and '<span class="state">sent</span>' in messages.group(1)
        replies = re.search(r'<section class="card" id="replies">(.*?)</section>', text, re.S)
        assert replies and "Tolong telepon saya minggu depan." in replies.group(1) and "intent" in replies.group(1)
        tasks = re.search(r'<section class="card" id="tasks">(.*?)</section>', text, re.S)
        assert tasks and "<strong>call</strong>" in tasks.group(1)
        contact_id = re.search(r'href="/app/contacts/(\d+)/edit"', text)
        assert contact_id and client.get(f"/app/contacts/{contact_id.group(1)}").text.count("Ani Lestari") >= 1
        for missing in ("nobody@example.com", "999999", "../../outreach.yaml", "%00", "a" * 400):
            assert client.get(f"/app/contacts/{missing}").status_code == 404, missing


def test_an_edit_is_parsed_recorded_and_seen_by_the_cli(team: Path) -> None:
    with app_client(team, "sari") as client:
        form = client.get("/app/contacts/ani@alpha.example.com/edit")
        base = re.search(r'name="base" value="([^"]+)"', form.text)
        assert base
        values = dict(re.findall(r'<input type="[a-z]+" id="f-\d+" name="([^"]+)" value="([^"]*)"', form.text))
        values.update({"phone": "0812-3456-7890", "title": "<b>CIO</b>", "status": "existing", "language": ""})
        saved = client.post("/app/contacts/ani@alpha.example.com/edit", data={
            "csrf_token": csrf_of(form.text), "base": base.group(1), **values,
            "new_custom_key": "kode", "new_custom_value": "K-9"})  # fmt: skip
        assert saved.status_code == 303, saved.text
        page = client.get(saved.headers["location"]).text
        assert "Saved: " in page and "&lt;b&gt;CIO&lt;/b&gt;" in page
        changes = re.search(r'<section class="card" id="changes">(.*?)</section>', page, re.S)
        assert changes and "<strong>phone</strong>: +622155500001 → +6281234567890" in changes.group(1)
        assert "sari, via app" in changes.group(1)
    shown = invoke("contacts", "show", "ani@alpha.example.com", ws=team).stdout
    assert re.search(r"phone\s+\+6281234567890\n", shown) and re.search(r"status\s+existing\n", shown)
    assert re.search(r"custom.kode\s+K-9\n", shown)
    assert "phone: +622155500001 -> +6281234567890  (sari, via app)" in shown


def test_a_bad_value_is_refused_on_its_field_and_nothing_changes(team: Path) -> None:
    with app_client(team, "sari") as client:
        form = client.get("/app/contacts/ani@alpha.example.com/edit")
        base = re.search(r'name="base" value="([^"]+)"', form.text)
        assert base
        for field, value, said in (("email", "not an address", "email"), ("email", "budi@beta.example.com",
                                   "another contact already has the address budi@beta.example.com"),
                                   ("status", "vip", "status"), ("last_contacted_at", "kemarin", "last_contacted_at"),
                                   ("first_name", "Ani\nLestari", "a value is one line")):  # fmt: skip
            refused = client.post("/app/contacts/ani@alpha.example.com/edit", data={
                "csrf_token": csrf_of(form.text), "base": base.group(1), "first_name": "Anita", field: value})
            assert refused.status_code == 400, (field, refused.text[:300])
            block = re.search(rf'data-field="{field}">(.*?)</div>', refused.text, re.S)
            assert block and 'class="field-error"' in block.group(1), field
            assert said in refused.text.replace("&#x27;", "'"), field
            assert 'value="Anita"' in refused.text or field == "first_name"  # what was typed is kept
    shown = invoke("contacts", "show", "ani@alpha.example.com", ws=team).stdout
    assert re.search(r"first_name\s+Ani\n", shown) and "No changes recorded." in shown


def test_an_edit_from_a_stale_copy_gets_409_and_overwrites_nothing(team: Path) -> None:
    with app_client(team, "sari") as client:
        form = client.get("/app/contacts/ani@alpha.example.com/edit")
        base = re.search(r'name="base" value="([^"]+)"', form.text)
        assert base
        with Workspace.open(team) as ws:  # someone else corrects the title meanwhile
            ws.change_contact("ani@alpha.example.com", {"title": "CTO"}, "boss", "cli")
        late = client.post("/app/contacts/ani@alpha.example.com/edit", data={
            "csrf_token": csrf_of(form.text), "base": base.group(1), "title": "IT Director", "first_name": "Ani"})
        assert late.status_code == 409
        assert "changed since you opened it; nothing was saved" in late.text
        assert 'value="IT Director"' in late.text and "Now: CTO" in late.text  # both versions
        fresh = re.search(r'name="base" value="([^"]+)"', late.text)
        assert fresh and fresh.group(1) != base.group(1)
    assert re.search(r"title\s+CTO\n", invoke("contacts", "show", "ani@alpha.example.com", ws=team).stdout)


def test_suppress_and_lift_with_a_reason_and_a_confirmation_for_the_persons_own_wish(team: Path) -> None:
    with app_client(team, "sari") as client:
        page = client.get("/app/contacts/citra@gamma.example.com")
        path = re.search(r'action="(/app/contacts/\d+)/suppress"', page.text)
        assert path
        nothing = client.post(path.group(1) + "/suppress", data={"csrf_token": csrf_of(page.text), "reason": "  "})
        assert nothing.status_code == 400 and "say why you suppress this contact" in nothing.text
        done = client.post(path.group(1) + "/suppress", data={"csrf_token": csrf_of(page.text),
                                                              "reason": "minta lewat telepon <b>jangan</b>"})
        assert done.status_code == 303
        shown = client.get(path.group(1)).text
        assert 'id="suppressed"' in shown and "minta lewat telepon &lt;b&gt;jangan&lt;/b&gt;" in shown
        lifted = client.post(path.group(1) + "/unsuppress", data={"csrf_token": csrf_of(shown),
                                                                  "reason": "salah orang"})
        assert lifted.status_code == 303
        # an unsubscribe by the person: the typed address is required
        with Workspace.open(team) as ws, transaction(ws.engine) as session:
            add_suppression(session, "citra@gamma.example.com", "unsubscribe", "one-click link", None, utcnow())
        shown = client.get(path.group(1)).text
        assert "The person asked for this (unsubscribe)" in shown and 'name="confirm"' in shown
        for confirm in ("", "someone@else.example.com"):
            refused = client.post(path.group(1) + "/unsuppress", data={
                "csrf_token": csrf_of(shown), "reason": "minta dikirimi lagi", "confirm": confirm})
            assert refused.status_code == 400 and "type the address to confirm it" in refused.text
        ok = client.post(path.group(1) + "/unsuppress", data={
            "csrf_token": csrf_of(shown), "reason": "minta dikirimi lagi lewat email 3 Des",
            "confirm": " CITRA@gamma.example.com "})
        assert ok.status_code == 303
    with Workspace.open(team) as ws, transaction(ws.engine) as session:
        assert session.get(Suppression, "citra@gamma.example.com") is None
        history = [(c.field, c.old, c.new, c.who, c.via) for c in session.scalars(
            select(ContactChange).order_by(ContactChange.id))]  # fmt: skip
        assert history == [
            ("suppressed", "", "manual: minta lewat telepon <b>jangan</b>", "sari", "app"),
            ("suppressed", "manual: minta lewat telepon <b>jangan</b> (by sari)", "lifted: salah orang", "sari", "app"),
            ("suppressed", "unsubscribe: one-click link", "lifted: minta dikirimi lagi lewat email 3 Des; confirmed by "
             "typing the address (the person's own request was lifted)", "sari", "app"),
        ]  # fmt: skip
        assert [r.action for r in ws.audit(subject="contact:citra@gamma.example.com")] == [
            "contact.unsuppress", "contact.unsuppress", "contact.suppress"]


def test_the_cli_suppresses_and_lifts_too(team: Path) -> None:
    said = invoke("contacts", "suppress", "eka@epsilon.example.com", "--reason", "pindah kerja", ws=team)
    assert said.stdout == "eka@epsilon.example.com is suppressed: it will not be mailed again\n"
    again = invoke("contacts", "suppress", "eka@epsilon.example.com", "--reason", "lagi", ws=team)
    assert again.exit_code == 1
    assert again.stderr == ("Error: contact eka@epsilon.example.com: eka@epsilon.example.com is already suppressed "
                            "(manual)\n")
    lifted = invoke("contacts", "unsuppress", "eka@epsilon.example.com", "--reason", "kembali", ws=team)
    assert lifted.stdout == "eka@epsilon.example.com may be mailed again (the manual suppression is lifted)\n"
    nobody = invoke("contacts", "unsuppress", "nobody@example.com", "--reason", "x", ws=team)
    assert nobody.stderr == "Error: no contact 'nobody@example.com' (the contact list shows who there is)\n"


def test_an_executive_reads_contacts_but_changes_nothing(team: Path) -> None:
    with app_client(team, "boss") as client:
        listed = client.get("/app/contacts")
        assert listed.status_code == 200 and "ani@alpha.example.com" in listed.text
        page = client.get("/app/contacts/ani@alpha.example.com")
        assert page.status_code == 200 and "Suppress…" not in page.text and "/edit" not in page.text
        token = csrf_of(page.text)
        for path in ("/app/contacts/ani@alpha.example.com/edit", "/app/contacts/ani@alpha.example.com/suppress",
                     "/app/users", "/app/contacts/import"):
            assert client.post(path, data={"csrf_token": token, "reason": "x", "name": "x"}).status_code == 403, path
    assert "No changes recorded." in invoke("contacts", "show", "ani@alpha.example.com", ws=team).stdout


# -- users ---------------------------------------------------------------------------------------------------


def test_users_add_role_password_disable_and_enable(team: Path) -> None:
    with app_client(team, "sari") as admin, app_client(team, "cali") as cali:
        page = admin.get("/app/users")
        assert page.status_code == 200 and 'data-user="cali"' in page.text
        token = csrf_of(page.text)
        added = admin.post("/app/users", data={"csrf_token": token, "name": "Dewi", "role": "writer", "sender": "",
                                               "email": "dewi@contoh-solusi.co.id", "password": "dewi-password-1"})
        assert added.status_code == 303
        assert "User dewi added (writer)" in admin.get("/app/users").text
        assert cali.get("/app/followups").status_code == 200
        moved = admin.post("/app/users/cali/role", data={"csrf_token": token, "role": "executive", "sender": "awang"})
        assert moved.status_code == 303
        assert cali.get("/app/followups").status_code == 303  # the session under the old role ended
        assert log_in(cali, "cali").headers["location"] == "/app/campaigns"
        reset = admin.post("/app/users/cali/password", data={"csrf_token": token, "password": "fresh-password-9"})
        assert reset.status_code == 303 and cali.get("/app/campaigns").status_code == 303
        assert log_in(cali, "cali", "fresh-password-9").status_code == 303
        assert admin.post("/app/users/cali/disable", data={"csrf_token": token}).status_code == 303
        assert cali.get("/app/campaigns").status_code == 303
        refused = log_in(cali, "cali", "fresh-password-9")
        assert refused.status_code == 401 and "The account cali is disabled; ask your sales admin." in refused.text
        listed = admin.get("/app/users").text
        assert re.search(r'data-user="cali">\s*<h2>cali <span class="state cancelled">disabled</span>', listed)
        assert admin.post("/app/users/cali/enable", data={"csrf_token": token}).status_code == 303
        assert log_in(cali, "cali", "fresh-password-9").status_code == 303
        records = re.search(r'<section class="card" id="records">(.*?)</section>', admin.get("/app/users").text, re.S)
        assert records
        assert [line for line in re.findall(r"<strong>(\w+)</strong>: ([^<]+)", records.group(1))][:5] == [
            ("cali", "enabled again "), ("cali", "disabled; sessions ended "),
            ("cali", "password reset; sessions ended "),
            ("cali", "caller -&gt; executive (sender awang); sessions ended "),
            ("dewi", "added as writer, email dewi@contoh-solusi.co.id ")]  # fmt: skip
    listed = invoke("users", "list", ws=team).stdout
    assert re.search(r"cali\s+executive\s+awang", listed) and re.search(r"dewi\s+writer", listed)


def test_users_bad_input_is_refused_and_changes_nothing(team: Path) -> None:
    with app_client(team, "sari") as admin:
        token = csrf_of(admin.get("/app/users").text)
        for data, said in (({"name": "../etc", "role": "writer", "password": "long enough pw"}, "user name"),
                           ({"name": "dewi", "role": "root", "password": "long enough pw"}, "is not one of"),
                           ({"name": "dewi", "role": "writer", "password": "short"}, "too short"),
                           ({"name": "dewi", "role": "writer", "password": "long enough pw", "sender": "x"},
                            "no sender"),
                           ({"name": "boss", "role": "writer", "password": "long enough pw"}, "already exists")):
            response = admin.post("/app/users", data={"csrf_token": token, **data})
            assert response.status_code == 400 and said in response.text, (data, response.text[:200])
        own = admin.post("/app/users/sari/disable", data={"csrf_token": token})
        assert "you cannot disable your own account" in admin.get(own.headers["location"]).text
        own = admin.post("/app/users/sari/role", data={"csrf_token": token, "role": "caller"})
        assert "you cannot change your own role" in admin.get(own.headers["location"]).text
        for path in ("/app/users/..%2Fboss/disable", "/app/users/boss/delete", "/app/users/BOSS!/disable"):
            assert admin.post(path, data={"csrf_token": token}).status_code == 404, path
        assert admin.post("/app/users/nobody/disable", data={"csrf_token": token}).status_code == 303
    assert invoke("users", "list", ws=team).stdout.splitlines()[-1] == "6 user(s)"
    assert "(disabled)" not in invoke("users", "list", ws=team).stdout


def test_an_admin_resetting_their_own_password_stays_logged_in_here_only(team: Path) -> None:
    with app_client(team, "sari") as here, app_client(team, "sari") as elsewhere:
        token = csrf_of(here.get("/app/users").text)
        done = here.post("/app/users/sari/password", data={"csrf_token": token, "password": "sari-password-2"})
        assert done.status_code == 303
        assert "Your password is changed; your other sessions are closed." in here.get("/app/users").text
        assert elsewhere.get("/app/users").status_code == 303  # the other session ended
        assert log_in(elsewhere, "sari", "sari-password-2").status_code == 303


def test_huge_and_odd_posts_are_refused_cleanly(team: Path) -> None:
    with app_client(team, "sari") as client:
        token = csrf_of(client.get("/app/users").text)
        for path in ("/app/contacts/ani@alpha.example.com/edit", "/app/contacts/ani@alpha.example.com/suppress",
                     "/app/users", "/app/users/cali/password"):
            huge = client.post(path, data={"csrf_token": token, "reason": "x" * (3 * 1024 * 1024), "name": "x"})
            assert huge.status_code in (400, 413), (path, huge.status_code)
            many = client.post(path, data={"csrf_token": token, **{f"f{n}": "x" for n in range(5000)}})
            assert many.status_code in (400, 413), (path, many.status_code)
        odd = client.post("/app/contacts/import", content=b"--nope\r\n\r\n", headers={
            "content-type": "multipart/form-data; boundary=nope", "x-csrf-token": token})
        assert odd.status_code in (400, 403)
        lying = client.post("/app/contacts/import", content=b"x" * 100, headers={
            "content-type": "multipart/form-data; boundary=nope", "content-length": str(50 * 1024 * 1024)})
        assert lying.status_code == 413
    assert "No changes recorded." in invoke("contacts", "show", "ani@alpha.example.com", ws=team).stdout
