"""A bounded fuzz of every route of ``outreach serve``, as a black box: the real server process, raw HTTP.

A few thousand seeded random and hostile requests — methods, paths (the
click and unsubscribe routes with genuine, altered, non-ASCII, oversized and
malformed tokens, under proxy prefixes; anything else), query strings
(redirect targets that were never signed, signatures of other links),
headers and bodies (lying lengths, chunked, huge, binary). They go over raw
sockets, so a malformed request reaches the server exactly as written, and
the test only speaks HTTP: it holds when the server is rewritten (issue 13).

For every answer: no redirect leaves for a target whose signature did not
verify (a redirect off-site must be a genuine link's own target, with that
link's token and signature in the request); no 5xx while the database is up;
and afterwards the server still answers genuine requests. With the database
gone (PostgreSQL, dropped), a genuine link still takes its reader where it
points, nothing else is redirected, and 5xx means 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import random
import re
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from engine_support import FaultySink, bulk_workspace, prepare, running
from helpers import Spawned, wait_for

from outreach.sending.engine import send_campaign

REQUESTS = 3000
SEED = 20261130
EVIL = ["https://evil.example/phish", "//evil.example/", "http://evil.example", "https:evil.example",
        "/\\evil.example", "javascript:alert(1)", "HTTPS://EVIL.EXAMPLE/x", " https://evil.example",
        "https://127.0.0.1@evil.example/", "data:text/html,<script>alert(1)</script>",
        "https://evil.example\r\nX-Injected: 1", "https://evil.example/\u00e9\u202e"]  # fmt: skip
HOSTILE_TOKENS = ["1-1-%C3%A9", "1-1-x", "%D9%A1-1-abc", "1-1-" + "A" * 5000, "", "-", "--", "1--", "1-1-%00",
                  "1-1-%0d%0aX-Injected:%201", "..%2f..%2fetc%2fpasswd", "1-1-" + "%F0%9F%98%80" * 10,
                  "9" * 40 + "-1-abc", "1%20-1-abc", "+1-1-abc", "1_0-1-abc", "%ff%fe-%c0%af", "1-1-" + "%" * 3,
                  "0-0-AAAAAAAAAAAAAAAAAAAAAA", "1-1-\u00e9"]  # fmt: skip
METHODS = ["GET"] * 6 + ["HEAD", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "get",
                         "FOO", "G\u00c9T", ""]  # fmt: skip


@dataclass(frozen=True)
class Link:
    token: str  # as it appears in the URL
    target: str  # where it redirects to
    mac: str


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no status line (nothing, or an HTTP/0.9 answer)
    headers: dict[str, str]


@dataclass
class Site:
    port: int
    clicks: list[Link]
    unsubscribes: list[str]  # /u/TOKEN paths

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def genuine_links(raws: list[bytes]) -> tuple[list[Link], list[str]]:
    clicks, unsubscribes = [], []
    for raw in raws:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        html = next(p.get_content() for p in msg.walk() if p.get_content_type() == "text/html")  # type: ignore[attr-defined]
        for href in re.findall(r'href="[^"]*(/c/[^"]+)"', html):
            split = urlsplit(href.replace("&amp;", "&"))
            query = parse_qs(split.query)
            clicks.append(Link(split.path.rsplit("/", 1)[1], query["u"][0], query["s"][0]))
        url = re.search(r"<(https?://[^>]+)>", str(msg["List-Unsubscribe"])).group(1)  # type: ignore[union-attr]
        unsubscribes.append("/" + url.split("/", 3)[3])
    return clicks, unsubscribes


def sent_campaign(root: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Link], list[str]]:
    """A campaign with tracked links really sent; its genuine links, from the messages."""
    bulk_workspace(root, 4, "throttle: {rate: 2000/s}\n", settings_extra="tracking: {clicks: true}\n")
    md = root / "campaigns" / "year-end-licensing.md"
    md.write_text(md.read_text() + "\nSee [the offer](https://www.example.com/promo/lisensi-2027?utm_source=outreach"
                  "&utm_campaign={{ campaign.name }}) and [the price list](https://shop.example.co.id/harga#2027).\n")
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        asyncio.run(send_campaign(ws, engine, "blast"))
    engine.dispose()
    clicks, unsubscribes = genuine_links(sink.raw)
    assert len(clicks) >= 8 and len(unsubscribes) == 4
    return clicks, unsubscribes


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Site, Spawned]]:
    """``outreach serve`` running on the workspace of a sent campaign."""
    clicks, unsubscribes = sent_campaign(tmp_path / "ws", monkeypatch)
    proc, port = serve(tmp_path / "ws")
    try:
        yield Site(port, clicks, unsubscribes), proc
    finally:
        proc.kill()


def serve(root: Path) -> tuple[Spawned, int]:
    proc = Spawned(["-w", str(root), "serve", "--host", "127.0.0.1", "--port", "0"])  # any free port
    port = int(re.match(r"Serving on http://127\.0\.0\.1:(\d+)/", proc.wait_line(r"^Serving on "))[1])  # type: ignore[index]
    wait_for(lambda: exchange(port, b"GET / HTTP/1.0\r\n\r\n").status is not None or proc.proc.poll() is not None,
             what="the server answering", context=proc.output)  # fmt: skip
    assert proc.proc.poll() is None, proc.output()
    return proc, port


# -- the client: raw bytes out, a status line and headers back --------------------------------


def exchange(port: int, request: bytes, timeout: float = 30) -> Answer:
    data = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            with contextlib.suppress(OSError):  # the server may answer and close before it has read it all
                sock.sendall(request)
                sock.shutdown(socket.SHUT_WR)  # a body shorter than its Content-Length ends here
            with contextlib.suppress(OSError):
                while len(data) < 65536 and (chunk := sock.recv(65536)):
                    data += chunk
                    if b"\r\n\r\n" in data:
                        break
    except OSError:  # refused: the server is gone (the checks after the fuzz say so)
        return Answer(None, {})
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    match = re.match(r"HTTP/\d\.\d (\d{3})", lines[0])
    if match is None:
        return Answer(None, {})
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(match.group(1)), headers)


# -- the requests ---------------------------------------------------------------------------


class Fuzzer:
    def __init__(self, site: Site, seed: int) -> None:
        self.site, self.rng = site, random.Random(seed)

    def pick(self, *options: object) -> object:
        return self.rng.choice(options)

    def junk(self, n: int) -> str:
        return "".join(self.rng.choice("abcXYZ019-_.~%/?#&=;:@!$'()*+,[]\\\"<> é\u202e\x00\t") for _ in range(n))

    def encoded(self, n: int) -> str:
        return "".join(f"%{self.rng.randrange(256):02X}" for _ in range(n))

    def token(self) -> str:
        link = self.rng.choice(self.site.clicks)
        n = self.rng.randrange(1, 30)
        return str(self.pick(link.token, link.token, self.rng.choice(HOSTILE_TOKENS), link.token[:-1],
                             link.token + "x", link.token.upper(), link.token.replace("-", "%2D"), self.junk(n),
                             self.encoded(n)))  # fmt: skip

    def target(self) -> str:
        link = self.rng.choice(self.site.clicks)
        evil = self.rng.choice(EVIL)
        return str(self.pick(quote(link.target, safe=""), quote(evil, safe=""), evil, quote(evil, safe="") * 50,
                             link.target, self.junk(10)))  # fmt: skip

    def mac(self) -> str:
        link = self.rng.choice(self.site.clicks)
        return str(self.pick(link.mac, link.mac, "x", "", "%C3%A9", link.mac + "A", link.mac[:-1], "A" * 5000,
                             self.encoded(16), self.junk(8)))  # fmt: skip

    def click_path(self) -> str:
        """A genuine link with one, two or all three of its parts altered: near misses are the real attacks."""
        link = self.rng.choice(self.site.clicks)
        parts = {"token": link.token, "target": quote(link.target, safe=""), "mac": link.mac}
        for part in self.rng.sample(sorted(parts), self.rng.randint(1, 3)):
            parts[part] = {"token": self.token, "target": self.target, "mac": self.mac}[part]()
        query = [f"u={parts['target']}", f"s={parts['mac']}"]
        if self.rng.random() < 0.2:
            query.append(self.rng.choice([f"u={quote(self.rng.choice(EVIL), safe='')}", f"s={self.mac()}", "x=1"]))
        self.rng.shuffle(query)
        if self.rng.random() < 0.1:
            query.pop()
        return f"/c/{parts['token']}" + str(self.pick("?", "/?", "?", "?&")) + "&".join(query)

    def path(self) -> str:
        prefix = str(self.pick("", "", "", "/outreach", "/a/b", "//", "/..", "/%2e%2e"))
        kind = self.rng.random()
        if kind < 0.45:
            path = self.click_path()
        elif kind < 0.65:
            path = str(self.pick(self.rng.choice(self.site.unsubscribes), f"/u/{self.token()}",
                                 self.rng.choice(self.site.unsubscribes) + "/", "/u/", "/u//x"))  # fmt: skip
        else:
            path = str(self.pick("/", "/c/", "/c", "/u", "/app", "/app/login", "/favicon.ico", "/../../etc/passwd",
                                 "/" + self.junk(self.rng.randrange(1, 60)), "/" + self.encoded(30), "*",
                                 "http://evil.example/c/1-1-x?u=https://evil.example&s=x",
                                 "/" + "a" * self.rng.choice([300, 5000, 20000])))  # fmt: skip
        return (prefix + path) if path.startswith("/") else path

    def headers(self, body: bytes) -> list[str]:
        lines = [str(self.pick("Host: 127.0.0.1", "Host: evil.example", "Host: " + "h" * 3000, "Host:"))]
        length = str(self.pick(len(body), len(body), len(body), len(body) + 10, -1, "abc", 10**12, "1, 2"))
        if body or self.rng.random() < 0.3:
            lines.append(f"Content-Length: {length}")
        extra = ["Content-Type: application/x-www-form-urlencoded", "Content-Type: multipart/form-data; boundary=x",
                 "Transfer-Encoding: chunked", "Expect: 100-continue", "Cookie: session=" + self.junk(20),
                 "X-Forwarded-For: 10.0.0.1", "X-Forwarded-Host: evil.example", "Referer: https://evil.example/",
                 "Accept: */*", "Connection: keep-alive", "X-" + "z" * 8000 + ": 1", "Bad Header Name: x",
                 ": empty", "X-Nul: a\x00b", "X-Utf8: \u00e9"]  # fmt: skip
        lines += self.rng.sample(extra, self.rng.randrange(0, 4))
        return lines

    def request(self) -> tuple[str, bytes]:
        body = bytes(self.pick(b"", b"", b"List-Unsubscribe=One-Click", self.rng.randbytes(self.rng.randrange(1, 200)),
                               b"0\r\n\r\n", b"x" * 70000))  # fmt: skip
        method = str(self.rng.choice(METHODS))
        version = str(self.pick(*["HTTP/1.1"] * 6, *["HTTP/1.0"] * 3, "", "HTTP/9.9", "HTTP/1.1 extra"))
        line = f"{method} {self.path()} {version}".rstrip()
        head = "\r\n".join([line, *self.headers(body)]) + "\r\n\r\n"
        encoding = str(self.pick("utf-8", "utf-8", "latin-1"))
        return line, head.encode(encoding, "replace") + body


def offsite_ok(site: Site, line: str, location: str) -> bool:
    """A redirect is fine inside the site, or to a genuine link's target with its token and signature sent."""
    if location.startswith(site.origin + "/") or (location.startswith("/") and not location.startswith(("//", "/\\"))):
        return True
    sent = line + " " + unquote(line)  # the token may come percent-encoded: it still verifies
    return any(location == link.target and link.token in sent and link.mac in sent for link in site.clicks)


def fuzz(site: Site, n: int, seed: int, database_up: bool = True) -> list[str]:
    """Send ``n`` requests; the problems found, each with the request line that caused it."""
    fuzzer = Fuzzer(site, seed)
    requests = [fuzzer.request() for _ in range(n)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda r: exchange(site.port, r[1]), requests))
    problems = []
    for (line, _raw), answer in zip(requests, answers, strict=True):
        if answer.status is None:
            continue
        if answer.status >= 500 and (database_up or answer.status != 503):
            problems.append(f"{answer.status} for {line[:300]!r}")
        if "x-injected" in answer.headers:
            problems.append(f"header injected by {line[:300]!r}")
        if 300 <= answer.status < 400 and not offsite_ok(site, line, answer.headers.get("location", "")):
            problems.append(f"redirect to {answer.headers.get('location')!r} for {line[:300]!r}")
    return problems


def genuine_answers(site: Site, database_up: bool = True) -> None:
    """The server still does its job for real links."""
    for link in site.clicks[:3]:
        answer = exchange(site.port, f"GET /c/{link.token}?u={quote(link.target, safe='')}&s={link.mac} HTTP/1.1\r\n"
                                     "Host: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())  # fmt: skip
        assert (answer.status, answer.headers.get("location")) == (302, link.target)
    answer = exchange(site.port, f"GET {site.unsubscribes[0]} HTTP/1.0\r\n\r\n".encode())
    assert answer.status == (200 if database_up else 503)
    assert exchange(site.port, b"GET /no/such/page HTTP/1.0\r\n\r\n").status == 404


def test_the_reported_open_redirect_is_a_404(site: tuple[Site, Spawned]) -> None:
    port = site[0].port
    for path in ("/c/1-1-%C3%A9?u=https://evil.example/phish&s=x", "/c/1-1-x?u=https://evil.example/phish&s=%C3%A9",
                 "/c/%D9%A1-1-x?u=https://evil.example&s=x", "/c/1-1-" + "A" * 190 + "?u=https://evil.example&s=x",
                 "/u/1-1-%C3%A9", "/u/" + "1-1-" + "A" * 5000):  # fmt: skip
        answer = exchange(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        assert (answer.status, answer.headers.get("location")) == (404, None), path


def test_fuzzing_every_route_finds_no_open_redirect_and_no_server_error(site: tuple[Site, Spawned]) -> None:
    running_site, proc = site
    problems = fuzz(running_site, REQUESTS, SEED)
    assert not problems, f"{len(problems)} problem(s), seed {SEED}:\n" + "\n".join(problems[:20])
    assert proc.proc.poll() is None, proc.output()
    genuine_answers(running_site)
    assert not [line for line in proc.err if "Traceback" in line], proc.output()


@pytest.mark.postgres
def test_with_the_database_down_only_genuine_links_redirect(tmp_path: Path, pg_url: str, pg_admin_url: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from sqlalchemy import create_engine, text

    monkeypatch.setenv("OUTREACH_DATABASE_URL", pg_url)
    clicks, unsubscribes = sent_campaign(tmp_path / "ws", monkeypatch)
    proc, port = serve(tmp_path / "ws")
    running_site = Site(port, clicks, unsubscribes)
    try:
        genuine_answers(running_site)
        admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:  # the database goes away under the running server
            conn.execute(text(f'DROP DATABASE "{pg_url.rsplit("/", 1)[1]}" WITH (FORCE)'))
        admin.dispose()
        genuine_answers(running_site, database_up=False)  # the reader still gets where the link points
        problems = fuzz(running_site, REQUESTS // 6, SEED + 1, database_up=False)
        assert not problems, f"{len(problems)} problem(s), seed {SEED + 1}:\n" + "\n".join(problems[:20])
        assert proc.proc.poll() is None, proc.output()
    finally:
        proc.kill()
