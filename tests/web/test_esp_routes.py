"""``POST /hooks/SERVICE`` over HTTP: the ASGI app with every service configured, a fuzz of hostile posts,
and a real ``outreach serve`` process that a service posts a bounce to (then killed, restarted, replayed).

The SES route gets the fake AWS of esp_support as its fetcher (tests never reach the internet); the others
need nothing from outside.
"""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from esp_support import (
    SETTINGS_YAML,
    FakeAws,
    body,
    environ,
    load,
    mailgun_sign,
    postmark_headers,
    sendgrid_headers,
    sns_notification,
    sns_sign,
    swap,
)
from helpers import Spawned, invoke, served_port
from sqlalchemy import func, select
from starlette.testclient import TestClient

from outreach.storage import open_engine, transaction
from outreach.storage.models import Event, Outbox, Suppression
from outreach.web.app import create_app
from outreach.workspace import Workspace


@pytest.fixture
def hooked(sent: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, dict[str, Outbox], FakeAws]]:
    """The app of a sent campaign's workspace with all four services configured; SES's fetcher is fake AWS."""
    ws, _engine, rows, _ = sent
    with (ws.root / "outreach.yaml").open("a") as fh:
        fh.write(SETTINGS_YAML + "  max_body: 64KB\n")
    for name, value in environ().items():
        monkeypatch.setenv(name, value)
    aws = FakeAws()
    with Workspace.open(ws.root) as face:
        app = create_app(face)
        app.state.hooks = face.email_hooks(aws)
        with TestClient(app, follow_redirects=False) as client:
            yield client, rows, aws


def recorded(client: TestClient) -> int:
    engine = client.app.state.hooks.engine  # type: ignore[attr-defined]
    with transaction(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Event).where(Event.kind != "sent")) or 0)


def genuine_posts(rows: dict[str, Outbox]) -> dict[str, tuple[bytes, dict[str, str]]]:
    """One genuine post per service, each about another sent message."""
    emails = sorted(rows)
    ses = swap(load("ses-bounce-with-dsn.json"), {"jane@example.com": emails[0],
                                                  "custom-message-ID": f"<{rows[emails[0]].message_id}>"})  # fmt: skip
    mailgun = swap(load("mailgun-failed-bounce.json"), {"invalid@example.com": emails[1]})
    sendgrid = json.dumps(swap(load("sendgrid-events.json"), {"example@test.com": emails[2]})).encode()
    postmark = swap(load("postmark-spam-complaint.json"), {"john@example.com": emails[3]})
    return {"ses": (body(sns_notification(ses)), {}), "mailgun": (body(mailgun_sign(mailgun)), {}),
            "sendgrid": (sendgrid, sendgrid_headers(sendgrid)), "postmark": (body(postmark), postmark_headers())}


def test_each_service_posts_over_http(hooked: tuple[TestClient, dict[str, Outbox], FakeAws]) -> None:
    client, rows, _aws = hooked
    answers = {service: client.post(f"/hooks/{service}", content=raw, headers=headers)
               for service, (raw, headers) in genuine_posts(rows).items()}  # fmt: skip
    assert {s: (a.status_code, a.json()["recorded"]) for s, a in answers.items()} == {
        "ses": (200, 1), "mailgun": (200, 1), "sendgrid": (200, 5), "postmark": (200, 1)}
    assert all(a.headers["content-type"] == "application/json" for a in answers.values())
    assert recorded(client) == 8


def test_refusals_over_http(hooked: tuple[TestClient, dict[str, Outbox], FakeAws]) -> None:
    client, rows, _aws = hooked
    posts = genuine_posts(rows)
    assert client.post("/hooks/postmark", content=posts["postmark"][0]).status_code == 401
    assert client.post("/hooks/sendgrid", content=posts["sendgrid"][0]).status_code == 401
    assert client.post("/hooks/mailgun", content=b"{}").status_code == 401
    assert client.post("/hooks/ses", content=b'{"Type": "Notification"}').status_code == 403
    assert client.post("/hooks/mailgun", content=b"{not json").status_code == 400
    assert client.post("/hooks/mailgun", content=b"x" * (64 * 1024 + 1)).status_code == 413
    assert client.post("/hooks/elsewhere", content=b"{}").status_code == 404
    assert client.get("/hooks/ses").status_code == 404  # GET is no hook: the public "invalid link" page
    assert recorded(client) == 0


def test_a_workspace_without_email_events_has_no_hooks(example_ws: Path) -> None:
    with Workspace.open(example_ws) as ws, TestClient(create_app(ws)) as client:
        for service in ("ses", "mailgun", "sendgrid", "postmark"):
            answer = client.post(f"/hooks/{service}", content=b"{}")
            assert (answer.status_code, answer.json()) == (404, {
                "error": "no such email service is configured (email_events)"})


# -- fuzz ----------------------------------------------------------------------------------------------

SEED = 20261210
PER_SERVICE = 120
STRINGS = ["", "a", "Bounce", "permanent", "failed", "bounce", "SpamComplaint", "HardBounce", "Notification",
           "x@y", "alice@example.com", "<a@b>", "\u0000", "\ud800", "é" * 300, "A" * 20000, "1e999", "null",
           "arn:aws:sns:us-west-2:123456789012:MyTopic", "https://evil.example/x.pem", "\r\nX-Injected: 1",
           "../../etc/passwd", "%00", "5.1.1", "550 5.1.1 user unknown"]  # fmt: skip
KEYS = ["Type", "Message", "TopicArn", "Signature", "SigningCertURL", "SignatureVersion", "SubscribeURL",
        "notificationType", "bounce", "bouncedRecipients", "emailAddress", "event-data", "signature", "event",
        "severity", "recipient", "delivery-status", "message", "headers", "email", "sg_event_id", "type",
        "RecordType", "Email", "ID", "Details", "reason", "status", "complaint", "mail"]  # fmt: skip


def hostile_json(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 4 or roll < 0.3:
        return rng.choice([*STRINGS, 0, -1, 2**70, 1.5, True, False, None, [], {}])
    if roll < 0.55:
        return [hostile_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(KEYS): hostile_json(rng, depth + 1) for _ in range(rng.randint(0, 6))}


def hostile_body(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.1:
        return rng.randbytes(rng.randint(0, 3000))
    if roll < 0.15:
        return b"[" * 40000 + b"]" * 40000  # nesting deeper than the parser's recursion
    if roll < 0.2:
        return b'{"a": NaN, "b": Infinity}'
    if roll < 0.25:
        return b'{"Type": "Notification", "Message": "\xff\xfe"}'
    text = json.dumps(hostile_json(rng), ensure_ascii=rng.random() < 0.5)
    if roll < 0.35:
        text = text[: rng.randint(0, len(text))]  # cut short
    return text.encode("utf-8", "surrogatepass")


def signed_variant(service: str, raw: bytes, rng: random.Random) -> tuple[bytes, dict[str, str]]:
    """The hostile content, carrying valid credentials: the route's parsing is what is tested."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = raw.decode("latin-1")
    if service == "sendgrid":
        return raw, sendgrid_headers(raw)
    if service == "postmark":
        return raw, postmark_headers()
    if service == "mailgun":
        return body(mailgun_sign({"event-data": data})), {}
    message = json.dumps(data) if rng.random() < 0.8 else raw.decode("latin-1")
    envelope = {**load("sns-notification.json"), "Message": message}
    envelope.pop("Subject")
    return body(sns_sign(envelope, rng.choice(["1", "2"]))), {}


def test_hostile_posts_never_get_a_server_error(hooked: tuple[TestClient, dict[str, Outbox], FakeAws]) -> None:
    client, rows, _aws = hooked
    rng = random.Random(SEED)
    seen: dict[int, int] = {}
    for service in ("ses", "mailgun", "sendgrid", "postmark"):
        for n in range(PER_SERVICE):
            raw = hostile_body(rng)
            raw, headers = signed_variant(service, raw, rng) if n % 2 else (raw, {})
            if rng.random() < 0.1:
                headers = {**headers, "content-type": rng.choice(["text/plain", "application/x-www-form-urlencoded"])}
            answer = client.post(f"/hooks/{service}", content=raw, headers=headers)
            seen[answer.status_code] = seen.get(answer.status_code, 0) + 1
            assert answer.status_code < 500, (service, raw[:300], answer.text)
            assert answer.headers["content-type"] == "application/json"
    assert recorded(client) == 0  # nothing hostile names a message we sent
    assert set(seen) <= {200, 400, 401, 403, 413} and seen.get(200, 0) > 0 and seen.get(400, 0) > 0
    for service, (raw, headers) in genuine_posts(rows).items():  # and genuine posts still work
        assert client.post(f"/hooks/{service}", content=raw, headers=headers).status_code == 200, service


# -- a real outreach serve ---------------------------------------------------------------------------------


def post(port: int, service: str, raw: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/hooks/{service}", data=raw, method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def serve(root: Path, env: dict[str, str]) -> tuple[Spawned, int]:
    proc = Spawned(["-w", str(root), "serve", "--host", "127.0.0.1", "--port", "0"], env=env)  # any free port
    return proc, served_port(proc)


def status(root: Path) -> dict[str, Any]:
    result = invoke("campaign", "status", "blast", "--json", ws=root)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def suppressions(ws: Any) -> dict[str, str]:
    engine = open_engine(ws.database_url)
    try:
        with transaction(engine) as session:
            return {s.email: s.reason for s in session.scalars(select(Suppression))}
    finally:
        engine.dispose()


def test_a_service_posts_a_bounce_to_a_real_server(sent: Any) -> None:
    """Sent message -> the service posts its bounce -> counts and suppression; a forged post changes nothing;
    the server is killed and restarted at once, and the captured post replayed is refused."""
    ws, _engine, rows, _ = sent
    root = ws.root
    with (root / "outreach.yaml").open("a") as fh:
        fh.write(SETTINGS_YAML)
    emails = sorted(rows)
    env = environ()
    proc, port = serve(root, env)
    assert (status(root)["bounced"], status(root)["complained"]) == (0, 0)

    bounce = body(mailgun_sign(swap(load("mailgun-failed-bounce.json"), {
        "invalid@example.com": emails[1], "20180812214658.1.0DF563D0B3597700@example.org": rows[emails[1]].message_id,
    })))  # fmt: skip
    code, answer = post(port, "mailgun", bounce)
    assert (code, answer["recorded"], answer["suppressed"]) == (200, 1, 1)
    forged = body(mailgun_sign(swap(json.loads(bounce), {emails[1]: emails[2]}), key="key-forger"))
    assert post(port, "mailgun", forged)[0] == 403
    counts = status(root)
    assert (counts["bounced"], counts["sent"]) == (1, len(rows))
    assert suppressions(ws) == {emails[1]: "hard_bounce:user_unknown"}

    proc.kill()  # a crash, then an immediate restart
    proc, port = serve(root, env)
    assert post(port, "mailgun", bounce)[0] == 403  # the captured post, replayed: its token is remembered
    events = json.dumps(swap(load("sendgrid-events.json")[7:8], {
        "example@test.com": emails[3], "14c5d75ce93.dfd.64b469@ismtpd-555": rows[emails[3]].message_id}))  # spamreport
    code, answer = post(port, "sendgrid", events.encode(), sendgrid_headers(events.encode()))
    assert (code, answer["recorded"]) == (200, 1)
    assert (status(root)["bounced"], status(root)["complained"]) == (1, 1)
    proc.signal()
    assert proc.finish() == 0


def test_serve_says_at_start_which_secret_is_missing(sent: Any) -> None:
    ws, _engine, _rows, _ = sent
    with (ws.root / "outreach.yaml").open("a") as fh:
        fh.write(SETTINGS_YAML)
    env = {k: v for k, v in environ().items() if k != "POSTMARK_WEBHOOK_PASSWORD"}
    proc, port = serve(ws.root, {**env, "POSTMARK_WEBHOOK_PASSWORD": ""})
    line = proc.wait_line("POSTMARK_WEBHOOK_PASSWORD", stream="err")
    assert "email_events.postmark: $POSTMARK_WEBHOOK_PASSWORD is not set" in line
    assert post(port, "postmark", body(load("postmark-bounce.json")), postmark_headers())[0] == 503
    proc.signal()
    assert proc.finish() == 0
