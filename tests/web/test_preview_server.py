"""The writer's live preview: a real server on a free port, driven over HTTP with urllib.

Nothing is mocked: the workspace is the example one (``outreach init``), the
contacts are imported through the CLI, the content is edited on disk exactly as
the writer's editor would, and one test loads the page in headless Chromium.
"""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser_support import CHROMIUM_ARGS, chromium_path
from helpers import invoke, write_csv

from outreach.errors import InputError
from outreach.settings.workspace import init_workspace, load_workspace
from outreach.storage import open_engine
from outreach.web.preview_server import PreviewServer, make_server, serve_forever

NAME = "solusi-jaringan"
FIRST = "budi.santoso@majujaya.example.co.id"  # the segment's first contact
OTHER = "rina@sinarlogistik.example.com"
HOSTILE = "mallory@evil.example.com"
HOSTILE_NAME = "<script>alert(1)</script>"


@dataclass
class Live:
    root: Path
    server: PreviewServer

    @property
    def md(self) -> Path:
        return self.root / "campaigns" / f"{NAME}.md"

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.server.url.rstrip("/") + path, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def page(self, path: str = "/") -> str:
        status, body = self.get(path)
        assert status == 200, body
        return body

    def edit(self, old: str, new: str) -> None:
        self.md.write_text(self.md.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    init_workspace(root)
    write_csv(root / "hostile.csv", ["email", "first_name", "company", "status", "city"],
              [[HOSTILE, HOSTILE_NAME, "Evil & Co", "prospect", "Jakarta"]])  # fmt: skip
    for csv in ("contacts.csv", "hostile.csv"):
        result = invoke("contacts", "import", str(root / csv), ws=root)
        assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def live(root: Path) -> Iterator[Live]:
    ws = load_workspace(root)
    engine = open_engine(ws.database_url)
    server = make_server(ws, engine, NAME, "127.0.0.1", 0)
    thread = threading.Thread(target=serve_forever, args=(server, 0.05), daemon=True)
    thread.start()
    try:
        yield Live(root, server)
    finally:
        server.shutdown()
        thread.join(5)
        engine.dispose()


def subject_of(page: str) -> str:
    match = re.search(r'<dd id="subject">(.*?)</dd>', page)
    assert match, page
    return html.unescape(match.group(1))


def test_page_shows_the_default_contacts_message(live: Live) -> None:
    page = live.page()
    assert subject_of(page) == "Solusi jaringan aman untuk PT Maju & Jaya Elektronik"
    assert "Wi-Fi 6, firewall generasi terbaru" in page  # the preheader
    assert f'<option value="{FIRST}" selected>' in page
    assert page.count("<option value=") >= 10  # the segment's contacts to switch between
    assert re.search(r'<dd id="size">\d+\.\d KB', page)
    assert '<iframe id="message"' in page and "Yth. Bapak/Ibu Budi Santoso" in html.unescape(page)
    assert 'class="error"' not in page


def test_contact_parameter_switches_contact(live: Live) -> None:
    page = live.page(f"/?contact={OTHER.upper()}")
    assert subject_of(page) == "Solusi jaringan aman untuk PT Sinar Logistik Nusantara"
    assert "Yth. Bapak/Ibu Rina Marpaung" in html.unescape(page)
    assert f'<option value="{OTHER}" selected>' in page

    missing = live.page("/?contact=nobody%40example.com")
    assert 'class="error"' in missing and "no contact &#x27;nobody@example.com&#x27;" in missing


def test_text_view_shows_the_text_part(live: Live) -> None:
    page = live.page(f"/?contact={OTHER}&view=text")
    text = re.search(r'<pre id="text">(.*?)</pre>', page, re.S)
    assert text, page
    body = html.unescape(text.group(1))
    assert body.startswith("Yth. Bapak/Ibu Rina Marpaung,\n")
    assert "Berhenti berlangganan: http://127.0.0.1:8025/u/" in body  # the text footer
    assert "<iframe" not in page


def test_editing_the_markdown_reloads_without_restart(live: Live) -> None:
    previewer = live.server.previewer
    version = live.page("/version")
    live.page()
    compiled = previewer.current()
    assert live.page("/version") == version and previewer.current() is compiled  # no change: no recompile

    live.edit("Yth. Bapak/Ibu", "Halo Bapak/Ibu yang terhormat")
    assert live.page("/version") != version
    page = live.page()
    assert "Halo Bapak/Ibu yang terhormat Budi Santoso" in html.unescape(page)
    recompiled = previewer.current()
    assert recompiled is not compiled
    live.page(f"/?contact={OTHER}")
    assert previewer.current() is recompiled  # compiled once for the change, not per request


def test_template_errors_show_in_a_box_until_fixed(live: Live) -> None:
    live.edit("Hormat kami,", "Hormat kami, {{ nickname }}")
    page = live.page()
    box = re.search(r'<div class="error" role="alert" id="error">(.*?)</div>', page, re.S)
    assert box, page
    # named from the workspace: the page never shows the server's own folders
    assert html.unescape(box.group(1)).startswith("campaigns/solusi-jaringan.md, line ") and "nickname" in box.group(1)
    assert str(live.root) not in html.unescape(page)
    assert "<iframe" not in page and 'name="contact"' in page  # the toolbar stays usable

    live.edit("{{ nickname }}", "{% if %}")
    page = live.page()
    assert "campaigns/solusi-jaringan.md, line " in html.unescape(page) and "template syntax error" in page
    assert str(live.root) not in html.unescape(page)
    assert f'<option value="{FIRST}" selected>' in page  # the contact list survives a content that won't compile

    live.edit("{% if %}", "")
    page = live.page()
    assert 'class="error"' not in page and subject_of(page).startswith("Solusi jaringan aman")


def test_follow_up_steps_are_watched_and_switchable(live: Live) -> None:
    (live.root / "campaigns" / "followup.md").write_text(
        '---\nsubject: "Re: {{ contact.company }}"\n---\nSekadar mengingatkan, {{ contact.first_name }}.\n',
        encoding="utf-8",
    )
    yaml = live.root / "campaigns" / f"{NAME}.yaml"
    yaml.write_text(yaml.read_text(encoding="utf-8") + "steps:\n  - after: 3 business days\n    content: followup.md\n",
                    encoding="utf-8")  # fmt: skip
    assert '<select name="step">' in live.page()
    page = live.page(f"/?contact={OTHER}&step=1&view=text")
    assert subject_of(page) == "Re: PT Sinar Logistik Nusantara" and "Sekadar mengingatkan, Rina." in page

    version = live.page("/version")
    followup = live.root / "campaigns" / "followup.md"
    followup.write_text(followup.read_text(encoding="utf-8").replace("Sekadar", "Hanya"), encoding="utf-8")
    assert live.page("/version") != version  # the step's file is watched too
    assert "Hanya mengingatkan, Rina." in live.page(f"/?contact={OTHER}&step=1&view=text")
    assert "has no step 7" in live.page("/?step=7")


def test_hostile_contact_is_escaped_and_the_message_sandboxed(live: Live) -> None:
    page = live.page(f"/?contact={HOSTILE}")
    toolbar = page[page.index('<header id="toolbar">') : page.index("</header>")]
    assert HOSTILE_NAME not in page
    assert html.escape(HOSTILE_NAME) in toolbar and "Evil &amp; Co" in toolbar
    iframe = re.search(r"<iframe [^>]*>", page)
    assert iframe and 'sandbox="' in iframe.group(0)
    assert "allow-scripts" not in iframe.group(0) and "allow-same-origin" not in iframe.group(0)
    assert len(re.findall(r"<script\b", page)) == 1  # only the page's own, nonce-tagged poller

    status, _ = live.get("/?contact=%22%3E%3Cscript%3Ealert(1)%3C/script%3E")
    assert status == 200


def test_unknown_paths_methods_and_hosts_are_refused(live: Live) -> None:
    assert live.get("/nope")[0] == 404
    assert live.get("/../outreach.yaml")[0] == 404
    request = urllib.request.Request(live.server.url, data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as post:
        urllib.request.urlopen(request, timeout=30)
    assert post.value.code == 405
    rebound = urllib.request.Request(live.server.url, headers={"Host": "attacker.example:80"})
    with pytest.raises(urllib.error.HTTPError) as host:
        urllib.request.urlopen(rebound, timeout=30)
    assert host.value.code == 400


def test_message_html_serves_the_html_part_alone(live: Live) -> None:
    with urllib.request.urlopen(live.server.url + f"message.html?contact={OTHER}", timeout=30) as resp:
        assert resp.headers["Content-Security-Policy"].startswith("sandbox")
        body = resp.read().decode()
    assert body.startswith("<!DOCTYPE html>") and "Rina Marpaung" in body


def test_port_in_use_and_bad_port_are_user_errors(live: Live) -> None:
    port = str(live.server.server_port)
    result = invoke("content", "preview", NAME, "--serve", "--port", port, ws=live.root)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}")
    result = invoke("content", "preview", NAME, "--serve", "--port", "70000", ws=live.root)
    assert result.exit_code == 1 and "Error: --port 70000" in result.stderr
    with pytest.raises(InputError):
        make_server(load_workspace(live.root), open_engine("sqlite://"), NAME, "127.0.0.1", -1)


def test_cli_serves_and_stops_on_ctrl_c(root: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "outreach", "-w", str(root), "content", "preview", NAME, "--serve", "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.fullmatch(rf"Previewing {NAME} at (http://127\.0\.0\.1:\d+/) \(Ctrl-C to stop\)\n", line)
        assert match, line + proc.stderr.read() if proc.stderr else line
        with urllib.request.urlopen(match.group(1), timeout=30) as resp:
            assert resp.status == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_page_loads_and_reloads_in_headless_chromium(live: Live, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The real browser: the toolbar and the sandboxed iframe are there, and the poller reloads after an edit."""
    previewer = live.server.previewer
    polled = previewer.version
    calls: list[int] = []

    def version() -> str:
        calls.append(1)
        if len(calls) == 2:  # the writer saves while the page is open
            live.edit("Hormat kami,", "Salam hangat,")
        return polled()

    monkeypatch.setattr(previewer, "version", version)
    cmd = [chromium_path(), *CHROMIUM_ARGS, "--disable-quic", f"--user-data-dir={tmp_path / 'profile'}",
           "--virtual-time-budget=5000", "--dump-dom", live.server.url]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert '<header id="toolbar">' in dom and '<select name="contact">' in dom
    iframe = re.search(r"<iframe [^>]*>", dom)
    assert iframe and 'id="message"' in iframe.group(0) and 'sandbox="' in iframe.group(0)
    assert "Solusi jaringan aman untuk PT Maju &amp; Jaya Elektronik" in dom
    assert len(calls) >= 2 and "Salam hangat," in dom  # polled /version, saw the change, reloaded
