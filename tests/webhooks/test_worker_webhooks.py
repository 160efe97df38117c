"""A real ``outreach worker`` delivering to a real receiver that fails, hangs and comes back, while it sends.

The receiver answers 500 while the first campaign goes out, then hangs (longer
than the webhook's 1 s timeout) while a second campaign goes out and a reply
comes in; both campaigns are sent in full meanwhile. When it answers again,
every event arrives, signed, each contact's in order, and nothing is left
pending or dead.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

from conftest import Hooked
from helpers import Spawned, invoke, wait_for, write

from outreach.workspace import Workspace


def status(root: Path) -> dict:  # type: ignore[type-arg]
    result = invoke("webhooks", "status", "--json", ws=root)
    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()
    return json.loads(line)  # type: ignore[no-any-return]


def sent(ws: Workspace, name: str) -> int:
    return ws.status(name).counts["sent"]


def test_a_failing_then_hanging_receiver_never_holds_up_sending_and_gets_everything_when_back(
        hooked: Hooked, tmp_path: Path) -> None:  # fmt: skip
    root, receiver = hooked.root, hooked.receiver
    settings = (root / "outreach.yaml").read_text(encoding="utf-8")
    (root / "outreach.yaml").write_text(settings.replace("backoff: 1m", "backoff: 0.2s")
                                        .replace("max_backoff: 1h", "max_backoff: 1s"), encoding="utf-8")  # fmt: skip
    write(root / "segments" / "customers.yaml", "where:\n  status: existing\n")
    write(root / "campaigns" / "launch.yaml", "segment: customers\ncontent: promo.md\nsender: awang\n"
                                              "throttle: {rate: 1000/s}\n")  # fmt: skip
    receiver.set_mode("fail")
    worker = Spawned(["-w", str(root), "worker", "--interval", "0.3"])
    worker.wait_line("Worker started")
    wait_for(lambda: status(root)["seen"], what="the worker to take up the receiver", context=worker.output)

    with Workspace.open(root) as ws:
        ws.build("promo")
        ws.send_via_worker("promo")
        wait_for(lambda: sent(ws, "promo") == 4, what="promo sent", context=worker.output)
        wait_for(lambda: receiver.count("fail") >= 8, what="the failing receiver tried again", context=worker.output)
        assert status(root)["failing"] == 4 and receiver.delivered == []

        receiver.set_mode("hang")
        rows = hooked.sent_rows()
        ws.ingest([hooked.reply(tmp_path / "in", rows["ani@alpha.example.com"], 1, "Tolong hubungi saya.")])
        ws.build("launch")
        ws.send_via_worker("launch")
        wait_for(lambda: sent(ws, "launch") == 2, what="launch sent while the receiver hangs", context=worker.output)
        wait_for(lambda: (status(root)["last_error"] or "").startswith("no answer within 1 s"),
                 what="a timed-out delivery recorded", context=worker.output)  # fmt: skip
        assert receiver.count("hang") >= 1 and receiver.delivered == []

        receiver.set_mode("ok")
        expected = {e.id for e in ws.events(limit=1000).events}
        wait_for(lambda: set(receiver.ids()) >= expected, what="every event delivered", context=worker.output)
        wait_for(lambda: status(root)["backlog"] == 0, what="the backlog recorded as empty", context=worker.output)

    assert len(expected) == 4 + 2 + 1  # six sent, one reply
    assert all(d.signature_ok for d in receiver.delivered)
    final = status(root)
    assert (final["backlog"], final["failing"], final["dead"], final["delivered"]) == (0, 0, 0, 7)
    first_seen: dict[str, list[int]] = {}
    for delivery in receiver.delivered:
        event = delivery.event
        ids = first_seen.setdefault(event["contact"], [])
        if event["id"] not in ids:
            ids.append(event["id"])
    assert all(ids == sorted(ids) for ids in first_seen.values())  # in order for each contact
    assert first_seen["ani@alpha.example.com"] == sorted(first_seen["ani@alpha.example.com"])
    assert len(first_seen["ani@alpha.example.com"]) == 2

    # killed in the middle of a POST, restarted at once: the event is delivered (at least once)
    receiver.set_mode("hang")
    hanging = receiver.count("hang")
    with Workspace.open(root) as ws:
        ws.ingest([hooked.reply(tmp_path / "in", rows["budi@beta.example.com"], 2, "Kirim penawarannya.")])
        last = ws.events(after=max(expected), types=["reply"]).events[0].id
    wait_for(lambda: receiver.count("hang") > hanging, what="a POST hanging", context=worker.output)
    worker.kill()
    receiver.set_mode("ok")
    worker = Spawned(["-w", str(root), "worker", "--interval", "0.3"])
    wait_for(lambda: last in receiver.ids(), what="the event delivered after the restart", context=worker.output)
    wait_for(lambda: status(root)["backlog"] == 0, what="nothing left", context=worker.output)
    worker.signal(signal.SIGTERM)
    assert worker.finish() == 0
