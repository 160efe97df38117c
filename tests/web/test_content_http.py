"""The writer's editor over HTTP: who may open it, byte-exact round trips, two writers and a 409 that loses
nothing, the fields, the live preview, history and restore, pictures (a 20 MB upload refused while it streams,
on a real server), test copies, hostile names, and the build refusing content with lint errors.

The workspace is the team's (a campaign sent through aiosmtpd, replies ingested, accounts made by the face);
the browser-level editing is in test_content_browser.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import re
import socket
import time
from pathlib import Path

import pytest
from helpers import PROMO_MD, SmtpServer, png, write
from starlette.testclient import TestClient
from team_support import WRITER_EMAIL, app_client, csrf_of, running_server

from outreach.workspace import Workspace

TEXTAREA = re.compile(r'<textarea id="source"[^>]*>(.*?)</textarea>', re.S)
BASE = re.compile(r'name="base" value="([^"]*)"')


def source_of(page: str) -> str:
    """The textarea's text as a browser reads it (one newline right after the tag is the HTML syntax's own)."""
    match = TEXTAREA.search(page)
    assert match, page[:3000]
    text = html.unescape(match.group(1))
    return text[1:] if text.startswith("\n") else text


def base_of(page: str) -> str:
    match = BASE.search(page)
    assert match
    return match.group(1)


def save(client: TestClient, path: str, source: str, base: str, token: str, **extra: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": token, "source": source, "base": base, **extra})


def tree(root: Path) -> dict[str, bytes]:
    """Every file of the workspace but the database's: what a refused request must leave as it was."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith("outreach.db")}  # fmt: skip


# -- who may open it ----------------------------------------------------------------------------


def test_writers_and_executives_edit_callers_are_refused(team: Path) -> None:
    pages = ["/app/content", "/app/content/promo/edit", "/app/content/promo/history", "/app/blocks/salam/edit",
             "/app/blocks/salam/history", "/app/content/promo/edit?lang=en"]  # fmt: skip
    for user in ("wina", "boss"):
        with app_client(team, user) as client:
            for path in pages:
                response = client.get(path)
                assert response.status_code == 200, (user, path)
                csp = response.headers["content-security-policy"]
                assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
                scripts = re.findall(r"<script\b[^>]*>", response.text)
                nonce = re.search(r"'nonce-([^']+)'", csp)
                assert all(nonce and f'nonce="{nonce.group(1)}"' in s and " src=" in s for s in scripts), path
    before = tree(team)
    with app_client(team, "cali") as client:
        token = csrf_of(client.get("/app/followups").text)
        for path in pages:
            assert client.get(path).status_code == 403, path
        for path in ("/app/content/new", "/app/content/promo/edit", "/app/content/promo/preview",
                     "/app/blocks/salam/restore", "/app/content/promo/image", "/app/content/promo/test-send",
                     "/app/blocks/new"):  # fmt: skip
            response = client.post(path, data={"csrf_token": token, "name": "x", "kind": "follow-up",
                                                "source": "hacked", "base": "absent"})  # fmt: skip
            assert response.status_code == 403 and "This page is for writers and sales executives" in response.text
    assert tree(team) == before


def test_the_list_shows_every_campaigns_content_and_the_blocks_with_their_lint_state(team: Path) -> None:
    write(team / "campaigns" / "promo.en.md", PROMO_MD.replace("lang: id\n", "").replace(
        "(https://www.example.com/promo?c={{ campaign.name }})", "(catalogue.html)"))  # fmt: skip
    write(team / "blocks" / "penutup.md", "Salam,\n")
    write(team / "campaigns" / "old-draft.md", "---\nsubject: lama\n---\nIsi\n")
    with app_client(team, "wina") as client:
        page = client.get("/app/content").text
    rows = re.findall(r'<tr data-campaign="([^"]+)">', page)
    assert rows == ["launch", "promo", "solusi-jaringan", "year-end-licensing"]
    promo = page.split('<tr data-campaign="promo">')[1].split("</tr>")[0]
    assert re.search(r'data-file="campaigns/promo.md">.*first email.*lint clean', promo)
    assert re.search(r'data-file="campaigns/promo.en.md">.*first email, English.*1 error</span>', promo)
    assert '<td class="wide"><code>campaigns/promo.yaml</code></td>' in promo  # the campaign file, not "content"
    assert 'href="/app/content/promo/edit?lang=en"' in promo
    assert re.search(r'data-file="blocks/penutup.md">.*not included by any campaign', page)
    assert "Content no campaign sends" in page and 'href="/app/content/old-draft/edit"' in page


# -- starting content --------------------------------------------------------------------------


def test_new_content_from_the_app_is_what_content_new_makes(team: Path) -> None:
    with app_client(team, "wina") as client:
        token = csrf_of(client.get("/app/content").text)
        response = client.post("/app/content/new", data={"csrf_token": token, "name": "undangan-seminar",
                                                         "kind": "event-invitation", "lang": "en"})  # fmt: skip
        assert response.status_code == 303 and response.headers["location"] == "/app/content/undangan-seminar/edit"
        editor = client.get("/app/content/undangan-seminar/edit").text
    md, yaml = team / "campaigns" / "undangan-seminar.md", team / "campaigns" / "undangan-seminar.yaml"
    assert source_of(editor) == md.read_text(encoding="utf-8")
    assert yaml.read_text(encoding="utf-8").startswith("# event invitation (English), made by `outreach content new`")
    with Workspace.open(team) as ws:
        assert ws.lint(["undangan-seminar"]).errors == []
        (first,) = ws.content_history(ws.content_file("undangan-seminar"))
    assert (first.who, first.via, first.action) == ("wina", "app", "created")


@pytest.mark.parametrize(("name", "block"), [("../evil", "../evil"), ("/etc/passwd", "/etc/passwd"),
                                             ("a/b", "a/../b"), ("<script>alert(1)</script>", "<script>x</script>"),
                                             ("promo", "salam"), ("x.en", "salam.md"), ("..", ".."),
                                             ("C:\\x", "C:\\x"), ("", "")])  # fmt: skip
def test_a_bad_or_taken_name_is_refused_with_the_reason_and_nothing_is_written(team: Path, name: str,
                                                                               block: str) -> None:  # fmt: skip
    before = tree(team)
    with app_client(team, "wina") as client:
        token = csrf_of(client.get("/app/content").text)
        response = client.post("/app/content/new", data={"csrf_token": token, "name": name, "kind": "follow-up",
                                                         "lang": "id"})  # fmt: skip
        blocks = client.post("/app/blocks/new", data={"csrf_token": token, "name": block})
    assert response.status_code == 400 and 'role="alert" id="new-error"' in response.text
    assert "<script>alert" not in response.text
    assert blocks.status_code == 400 and 'id="block-error"' in blocks.text and "<script>x" not in blocks.text
    assert tree(team) == before


# -- the edit form and saving ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [PROMO_MD, PROMO_MD.replace("\n", "\r\n").rstrip("\r\n"),
                                  "\n\n" + PROMO_MD + "</textarea><script>alert(1)</script>\n"])  # fmt: skip
def test_the_textarea_holds_the_file_exactly_and_saving_it_back_changes_nothing(team: Path, text: str) -> None:
    md = team / "campaigns" / "promo.md"
    md.write_bytes(text.encode())
    with app_client(team, "wina") as client:
        page = client.get("/app/content/promo/edit").text
        assert source_of(page) == text
        assert base_of(page) == hashlib.sha256(text.encode()).hexdigest()
        assert '<textarea id="source" name="source" class="code"' in page  # monospace (textarea.code)
        assert "<script>alert" not in page
        newline = re.search(r'name="newline" value="(\w+)"', page)
        assert newline
        browser = text.replace("\r\n", "\n").replace("\n", "\r\n")  # a textarea always posts CR LF
        response = save(client, "/app/content/promo/edit", browser, base_of(page), csrf_of(page),
                        newline=newline.group(1))  # fmt: skip
        assert response.status_code == 303
        assert client.get(response.headers["location"]).text.count("No change to save in campaigns/promo.md") == 1
        plain = save(client, "/app/content/promo/edit", text, base_of(page), csrf_of(page))  # a script, no newline
        assert plain.status_code == 303
    assert md.read_bytes() == text.encode()


def test_two_writers_edit_one_file_the_second_gets_both_versions_and_loses_nothing(team: Path) -> None:
    md = team / "campaigns" / "promo.md"
    with app_client(team, "wina") as wina, app_client(team, "boss") as boss:
        first, second = wina.get("/app/content/promo/edit").text, boss.get("/app/content/promo/edit").text
        hers = source_of(first).replace("Kami menawarkan", "Dengan bangga kami menawarkan")
        assert save(wina, "/app/content/promo/edit", hers, base_of(first), csrf_of(first)).status_code == 303
        his = source_of(second) + "\nP.S. Stok terbatas.\n"
        conflict = save(boss, "/app/content/promo/edit", his, base_of(second), csrf_of(second))
        assert conflict.status_code == 409
        assert md.read_text(encoding="utf-8") == hers  # nothing overwritten
        assert "was changed by someone else" in conflict.text
        theirs = re.search(r'<textarea id="theirs"[^>]*>(.*?)</textarea>', conflict.text, re.S)
        assert theirs and html.unescape(theirs.group(1)) == hers  # theirs, side by side with...
        assert source_of(conflict.text) == his  # ...yours, still in the editor
        assert base_of(conflict.text) == hashlib.sha256(hers.encode()).hexdigest()  # a fresh base to save again
        assert "+P.S. Stok terbatas." in html.unescape(conflict.text)  # the diff theirs → yours
        merged = hers + "\nP.S. Stok terbatas.\n"
        again = save(boss, "/app/content/promo/edit", merged, base_of(conflict.text), csrf_of(conflict.text))
        assert again.status_code == 303
    assert md.read_text(encoding="utf-8") == merged
    with Workspace.open(team) as ws:
        assert [v.who for v in ws.content_history(ws.content_file("promo"))] == ["boss", "wina", "on disk"]


def test_a_file_edited_on_disk_meanwhile_is_a_conflict_too(team: Path) -> None:
    md = team / "campaigns" / "promo.md"
    with app_client(team, "wina") as client:
        page = client.get("/app/content/promo/edit").text
        md.write_text(md.read_text(encoding="utf-8") + "\nDari vim.\n", encoding="utf-8")
        response = save(client, "/app/content/promo/edit", source_of(page) + "\nDari app.\n", base_of(page),
                        csrf_of(page))  # fmt: skip
        assert response.status_code == 409
        md.unlink()
        gone = save(client, "/app/content/promo/edit", source_of(page), base_of(page), csrf_of(page))
        assert gone.status_code == 409 and "was deleted since you opened it" in gone.text
        assert not md.exists()
        forged = save(client, "/app/content/promo/edit", "x", "not-a-version", csrf_of(page))
        assert forged.status_code == 409 and not md.exists()


def test_broken_content_is_saved_as_a_draft_with_its_findings(team: Path) -> None:
    md = team / "campaigns" / "promo.md"
    with app_client(team, "wina") as client:
        page = client.get("/app/content/promo/edit").text
        broken = source_of(page).replace("{{ sender.name }}", "{{ sender.name }")
        response = save(client, "/app/content/promo/edit", broken, base_of(page), csrf_of(page))
        assert response.status_code == 303
        after = client.get("/app/content/promo/edit").text
    assert md.read_text(encoding="utf-8") == broken
    assert re.search(r'id="lint-summary" data-errors="[1-9]', after)
    assert re.search(r'<button type="button" class="goto" data-line="13">line 13</button> <span class="message">'
                     r"template syntax error in body", after)  # fmt: skip
    assert re.search(r'<button class="primary" type="submit" id="test-send-button" disabled>', after)


def test_the_fields_edit_the_front_matter_and_win_over_the_same_line_in_the_text(team: Path) -> None:
    md = team / "campaigns" / "promo.md"
    md.write_text(PROMO_MD.replace("lang: id\n", "lang: id  # bahasa\n# catatan penulis\n"), encoding="utf-8")
    with app_client(team, "wina") as client:
        page = client.get("/app/content/promo/edit").text
        assert 'id="f-subject" name="subject" value="Penawaran spesial — Tahun Baru 2027 ✓"' in page
        shown = {"subject_was": "Penawaran spesial — Tahun Baru 2027 ✓",
                 "preheader_was": "Diskon akhir tahun untuk {{ contact.company }}", "variants_was": ""}  # fmt: skip
        text = source_of(page).replace("Penawaran spesial", "Dari teks")
        response = save(client, "/app/content/promo/edit", text, base_of(page), csrf_of(page), **shown,
                        subject="Dari field: {{ contact.company }}", preheader=shown["preheader_was"],
                        variants="Varian B\nVarian C")  # fmt: skip
        assert response.status_code == 303
    saved = md.read_text(encoding="utf-8")
    assert saved.startswith('---\nsubject: "Dari field: {{ contact.company }}"\npreheader: "Diskon akhir tahun')
    assert 'lang: id  # bahasa\n# catatan penulis\nvariants: ["Varian B", "Varian C"]\n---\n' in saved
    with Workspace.open(team) as ws:
        assert ws.lint(["promo"]).errors == []


def test_the_live_preview_renders_the_draft_and_writes_nothing(team: Path) -> None:
    md = team / "campaigns" / "promo.md"
    before = md.read_bytes()
    with app_client(team, "wina") as client:
        page = client.get("/app/content/promo/edit").text
        draft = source_of(page).replace("Kami menawarkan", "Minggu ini kami menawarkan") + "\n{{ contact.nope }}\n"
        response = client.post("/app/content/promo/preview", data={
            "csrf_token": csrf_of(page), "source": draft, "contact": "budi@beta.example.com",
            "subject": "Subjek baru", "subject_was": "Penawaran spesial — Tahun Baru 2027 ✓"})  # fmt: skip
        assert response.status_code == 200
        data = response.json()
        refused = client.post("/app/content/promo/preview", data={"source": draft})
        assert refused.status_code == 403
    assert md.read_bytes() == before
    assert data["to"] == "budi@beta.example.com"
    assert data["source"].startswith('---\nsubject: "Subjek baru"\n')  # the field written into the text shown
    assert data["html"] == "" and "contact.nope" in data["error"]
    assert any(f["line"] == 15 and f["here"] and "contact.nope" in f["message"] for f in data["findings"])
    fine = draft.replace("\n{{ contact.nope }}\n", "\n")
    with app_client(team, "boss") as client:
        page = client.get("/app/content/promo/edit").text
        data = client.post("/app/content/promo/preview", data={"csrf_token": csrf_of(page), "source": fine,
                                                               "subject": "Subjek baru"}).json()  # fmt: skip
    assert "Minggu ini kami menawarkan" in data["html"] and "Yth. Ani Lestari" in data["html"]
    assert data["subject"] == "Subjek baru" and data["fields"]["subject"] == "Subjek baru"
    assert '<base target="_blank">' in data["html"] and data["errors"] == 0


# -- history ---------------------------------------------------------------------------------------


def test_history_lists_every_save_with_its_escaped_diff_and_restores(team: Path) -> None:
    md = team / "campaigns" / "promo.md"
    original = md.read_text(encoding="utf-8")
    with app_client(team, "wina") as client:
        page = client.get("/app/content/promo/edit").text
        hostile = source_of(page) + "\n<script>alert('x')</script>\n"
        assert save(client, "/app/content/promo/edit", hostile, base_of(page), csrf_of(page)).status_code == 303
        history = client.get("/app/content/promo/history").text
        assert len(re.findall(r'<tr data-version="\d+"', history)) == 2
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in history and "<script>alert" not in history
        assert re.search(r'<span class="add">\+&lt;script&gt;', history)
        first = re.findall(r'<tr data-version="(\d+)"', history)[-1]
        stale = client.post("/app/content/promo/restore", data={"csrf_token": csrf_of(history), "version": first,
                                                                "base": "0" * 64})  # fmt: skip
        assert stale.status_code == 409 and md.read_text(encoding="utf-8") == hostile
        restored = client.post("/app/content/promo/restore", data={"csrf_token": csrf_of(history), "version": first,
                                                                   "base": base_of(history)})  # fmt: skip
        assert restored.status_code == 303
        assert md.read_text(encoding="utf-8") == original
        assert client.post("/app/content/promo/restore", data={"csrf_token": csrf_of(history), "version": "x",
                                                               "base": base_of(history)}).status_code == 404
        assert client.get("/app/content/promo/history?v=999999").status_code == 404
        again = client.get("/app/content/promo/history").text
    assert len(re.findall(r'<tr data-version="\d+"', again)) == 3 and "restored (version 1 of" in again


# -- hostile addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/app/content/..%2F..%2Foutreach/edit", "/app/content/%2Fetc%2Fpasswd/edit",
                                  "/app/blocks/..%2F..%2Foutreach/edit", "/app/content/promo/edit?lang=fr",
                                  "/app/content/promo%00/edit", "/app/content/%3Cscript%3E/edit",
                                  "/app/blocks/nope/edit", "/app/content/nope/history"])  # fmt: skip
def test_names_leading_anywhere_else_are_404_with_the_reason(team: Path, path: str) -> None:
    with app_client(team, "wina") as client:
        response = client.get(path)
        token = csrf_of(client.get("/app/content").text)
        posted = client.post(path, data={"csrf_token": token, "source": "x", "base": "absent"})
    assert response.status_code == 404, path
    assert "<script>" not in response.text
    assert posted.status_code in (404, 405)
    assert not (team / "outreach.md").exists() and not (team.parent / "outreach.md").exists()


# -- pictures --------------------------------------------------------------------------------------


def upload(client: TestClient, token: str, name: str, data: bytes, kind: str = "image/png",
           json: bool = True):  # type: ignore[no-untyped-def]
    headers = {"Accept": "application/json"} if json else {}
    return client.post("/app/content/promo/image", data={"csrf_token": token}, files={"file": (name, data, kind)},
                       headers=headers)  # fmt: skip


def test_pictures_are_checked_by_their_bytes_and_kept_in_images(team: Path) -> None:
    with app_client(team, "wina") as client:
        token = csrf_of(client.get("/app/content/promo/edit").text)
        fine = upload(client, token, "../../Banner Promo.png", png(300, 100))
        assert fine.status_code == 200, fine.text
        assert fine.json() == {"markdown": "![Banner promo](images/banner-promo.png)",
                               "path": "images/banner-promo.png", "width": 300, "height": 100, "reused": False}
        fake = upload(client, token, "foto.png", b"not a picture at all" * 10)
        assert fake.status_code == 400 and "this file is not a picture" in fake.json()["error"]
        page = upload(client, token, "foto.png", b"<html><body><script>alert(1)</script></body></html>", json=False)
        assert page.status_code == 400 and "it is HTML, SVG or XML text" in page.text and "<script>" not in page.text
        none = client.post("/app/content/promo/image", data={"csrf_token": token},
                           headers={"Accept": "application/json"})  # fmt: skip
        assert none.status_code == 400 and "choose a picture" in none.json()["error"]
        plain = upload(client, token, "kedua.png", png(20, 20), json=False)
        assert plain.status_code == 303
        assert "put ![Kedua](images/kedua.png) in the text" in client.get(plain.headers["location"]).text
        forged = client.post("/app/content/promo/image", data={"csrf_token": "forged"},
                             files={"file": ("x.png", png(5, 5), "image/png")})  # fmt: skip
        assert forged.status_code == 403
    assert sorted(p.name for p in (team / "images").iterdir()) == ["banner-promo.png", "kedua.png"]
    assert (team / "images" / "banner-promo.png").read_bytes() == png(300, 100)


def _refused_while_streaming(base: str, cookie: str, token: str, chunked: bool) -> tuple[bytes, int]:
    """POST 20 MB to the upload over a raw socket, 64 KB at a time; stop sending once the server answers.
    Returns the answer and how many bytes of the body were sent by then."""
    host, port = base.removeprefix("http://").split(":")
    boundary = "----outreach-test"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + png(10, 10)  # fmt: skip
    total = 20 * 1024 * 1024
    request = (f"POST /app/content/promo/image HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n"
               f"Content-Type: multipart/form-data; boundary={boundary}\r\nAccept: application/json\r\n"
               + ("Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {len(head) + total}\r\n")
               + "\r\n").encode()  # fmt: skip
    sent = 0
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)  # what "sent" counts is near what the server got
        sock.sendall(request)
        chunk = b"\0" * 65536
        body = [head] + [chunk] * (total // len(chunk))
        sock.setblocking(False)
        answer = b""
        deadline = time.monotonic() + 120
        for piece in body:
            data = (f"{len(piece):x}\r\n".encode() + piece + b"\r\n") if chunked else piece
            view = memoryview(data)
            while view and time.monotonic() < deadline:
                with contextlib.suppress(BlockingIOError, ConnectionResetError):
                    answer += sock.recv(65536)
                if b"\r\n\r\n" in answer:
                    break
                try:
                    n = sock.send(view)
                    view = view[n:]
                except BlockingIOError:
                    time.sleep(0.001)
                except (BrokenPipeError, ConnectionResetError):
                    break
            if b"\r\n\r\n" in answer or view:
                break
            sent += len(piece)
        sock.setblocking(True)
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            try:
                more = sock.recv(65536)
            except ConnectionResetError:
                break
            if not more:
                break
            answer += more
    return answer, sent


@pytest.mark.parametrize("chunked", [False, True])
def test_a_20_mb_upload_is_refused_before_it_is_all_read(team: Path, chunked: bool) -> None:
    import httpx2

    with running_server(team) as server, httpx2.Client(base_url=server.base, follow_redirects=False) as client:
        form = client.get("/app/login")
        client.post("/app/login", data={"username": "wina", "password": "wina-password-1",
                                        "csrf_token": csrf_of(form.text)})  # fmt: skip
        token = csrf_of(client.get("/app/content/promo/edit").text)
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        answer, sent = _refused_while_streaming(server.base, cookie, token, chunked)
    assert answer.startswith(b"HTTP/1.1 413 "), (answer[:300], sent)
    assert b"The picture is larger than 5 MB; nothing was saved." in answer
    # answered long before the 20 MB were through: 5 MB read, plus what the sockets' buffers held meanwhile
    assert sent < 16 * 1024 * 1024, sent
    assert not (team / "images").exists() or list((team / "images").iterdir()) == []


# -- test copies and the build ------------------------------------------------------------------------------


def test_a_test_copy_from_the_editor_goes_to_the_writer_only_and_never_with_errors(team: Path,
                                                                                   smtp_server: SmtpServer) -> None:
    md = team / "campaigns" / "promo.md"
    with app_client(team, "wina") as client:
        page = client.get("/app/content/promo/edit").text
        assert f"to <strong>{WRITER_EMAIL}</strong> only" in page
        sent = client.post("/app/content/promo/test-send", data={"csrf_token": csrf_of(page),
                                                                 "contact": "budi@beta.example.com"})  # fmt: skip
        assert sent.status_code == 303
        assert f"Sent a test copy to {WRITER_EMAIL}: Penawaran spesial" in client.get(sent.headers["location"]).text
        md.write_text(md.read_text(encoding="utf-8").replace("(https://www.example.com/promo?c={{ campaign.name }})",
                                                             "(katalog.html)"), encoding="utf-8")  # fmt: skip
        blocked = client.post("/app/content/promo/test-send", data={"csrf_token": csrf_of(page)})
        shown = client.get(blocked.headers["location"]).text
    assert "The test copy was not sent: the saved content has 1 error(s), the first: campaigns/promo.md:10" in shown
    (received,) = smtp_server.received
    assert received.rcpt_tos == (WRITER_EMAIL,)
    assert b"Budi" in received.data


def test_the_app_refuses_to_build_content_with_lint_errors_and_says_where(team: Path) -> None:
    md = team / "campaigns" / "promo.md"
    md.write_text(md.read_text(encoding="utf-8").replace("(https://www.example.com/promo?c={{ campaign.name }})",
                                                         "(katalog.html)"), encoding="utf-8")  # fmt: skip
    with app_client(team, "boss") as client:
        confirm = client.get("/app/campaigns/launch/build").text
        response = client.post("/app/campaigns/launch/build", data={"csrf_token": csrf_of(confirm)})
        page = client.get(response.headers["location"]).text
    assert "campaign launch was not built: its content has 1 lint error; nothing was written." in html.unescape(page)
    assert "campaigns/promo.md:10: error: link [katalog kami]" in html.unescape(page)
    with Workspace.open(team) as ws:
        assert ws.campaign_summary("launch").state == "not built"


def test_a_huge_text_is_refused_before_it_is_all_read_and_nothing_changes(team: Path) -> None:
    md = team / "campaigns" / "promo.md"
    before = md.read_bytes()
    with app_client(team, "wina") as client:
        page = client.get("/app/content/promo/edit").text
        for path in ("/app/content/promo/edit", "/app/content/promo/preview"):
            response = save(client, path, "x" * (20 * 1024 * 1024), base_of(page), csrf_of(page))
            assert response.status_code == 413 and "This form is larger than 4 MB; nothing was saved." in response.text
        just_over = save(client, "/app/content/promo/edit", "y" * (1024 * 1024 + 1), base_of(page), csrf_of(page))
        assert just_over.status_code == 400 and "too big for one content file" in just_over.text
    assert md.read_bytes() == before
