"""``--log-format json`` on the real ``worker`` and ``serve`` processes: every line one JSON object."""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from engine_support import FaultySink, bulk_workspace, prepare, running
from helpers import Spawned, invoke, served_port, wait_for

from outreach.operations.logs import json_handler

DUE = "schedule: 2026-01-05T09:00\n"


def records(lines: list[str]) -> list[dict[str, Any]]:
    """Each line parsed; each must be one JSON object with time, level, logger and message first."""
    out = []
    for line in lines:
        record = json.loads(line)
        assert list(record)[:4] == ["time", "level", "logger", "message"], line
        assert datetime.fromisoformat(record["time"]).utcoffset() is not None  # ISO 8601, with its zone
        assert record["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        out.append(record)
    return out


def test_the_worker_logs_json_lines_with_campaign_and_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = bulk_workspace(tmp_path / "ws", 5, DUE)
    shutil.copy(root / "campaigns" / "year-end-licensing.md", root / "campaigns" / "broken.md")
    (root / "campaigns" / "broken.yaml").write_text("segment: all\ncontent: broken.md\nsender: sari\n" + DUE)
    with running(FaultySink()) as sink:
        _ws, engine = prepare(root, sink.port, monkeypatch)
        assert invoke("campaign", "build", "broken", "--ignore-policy", "--yes", ws=root).exit_code == 0
        (root / "campaigns" / "broken.md").unlink()  # its content is gone: each run fails, logged as an error
        worker = Spawned(["-w", str(root), "worker", "--interval", "1", "--log-format", "json"])
        worker.wait_line(r'"campaign": "blast", "sent": 5', stream="err")
        worker.wait_line(r'"level": "ERROR", "logger": "outreach.worker", "message": "campaign broken: ', stream="err")
        worker.signal()
        assert worker.finish() == 0, worker.output()
    engine.dispose()

    assert worker.out == []  # nothing but JSON, and that on stderr
    logged = records(worker.err)
    assert logged[0] == {"time": logged[0]["time"], "level": "INFO", "logger": "outreach.worker", "interval": 1.0,
                         "message": "Worker started: due campaigns, retries and follow-up steps every 1s; Ctrl-C or "
                                    "SIGTERM stops it cleanly"}  # fmt: skip
    (sent,) = [r for r in logged if r.get("campaign") == "blast"]
    assert {k: v for k, v in sent.items() if k != "time"} == {
        "level": "INFO", "logger": "outreach.worker", "message": "blast: 5 sent, 0 failed, 0 to retry; state done",
        "campaign": "blast", "sent": 5, "failed": 0, "retried": 0, "state": "done", "reason": None}  # fmt: skip
    broken = [r for r in logged if r.get("campaign") == "broken"]
    assert broken and all(r["level"] == "ERROR" and r["failures"] >= 1 for r in broken), broken
    assert "broken.md" in broken[0]["message"]
    last = logged[-1]
    assert re.fullmatch(r"Worker stopped: 5 sent, 0 failed in \d+ pass\(es\)", last["message"])
    assert (last["sent"], last["failed"]) == (5, 0) and last["passes"] >= 1


def test_serve_logs_json_lines_and_its_access_log_keeps_no_token(example_ws: Path) -> None:
    serve = Spawned(["-w", str(example_ws), "serve", "--port", "0", "--log-format", "json"])  # any free port
    port = served_port(serve, stream="err")
    wait_for(lambda: _get(port, "/u/SECRET-TOKEN-abc") == 404, what="the server answering", context=serve.output)
    assert _get(port, "/metrics") == 200
    serve.wait_line(r'"path": "/metrics"', stream="err")
    serve.signal()
    assert serve.finish() == 0, serve.output()

    assert serve.out == []
    logged = records(serve.err)
    assert logged[0]["message"].startswith(f"Serving on http://127.0.0.1:{port}/: team app at ")
    assert logged[0]["url"] == f"http://127.0.0.1:{port}/" and logged[0]["logger"] == "outreach.web"
    assert logged[1]["level"] == "WARNING" and logged[1]["message"].startswith("No accounts yet")
    access = [r for r in logged if r["logger"] == "outreach.unsubscribe"]
    assert {(r["method"], r["path"], r["status"], r["client"]) for r in access} >= {
        ("GET", "/…", 404, "127.0.0.1"), ("GET", "/metrics", 200, "127.0.0.1")}
    assert "SECRET-TOKEN" not in "\n".join(serve.err)


def _get(port: int, path: str) -> int:
    try:
        return httpx2.get(f"http://127.0.0.1:{port}{path}", timeout=30).status_code
    except httpx2.HTTPError:
        return 0


def test_a_traceback_stays_inside_its_one_line() -> None:
    stream = io.StringIO()
    handler = json_handler()
    handler.setStream(stream)  # type: ignore[attr-defined]
    log = logging.getLogger("outreach.test-json")
    log.addHandler(handler)
    try:
        try:
            raise ValueError("naïve\nsecond line")
        except ValueError:
            log.error("job %s failed", "send:blast", exc_info=True, extra={"campaign": "blast"})
    finally:
        log.removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert (record["message"], record["campaign"], record["level"]) == ("job send:blast failed", "blast", "ERROR")
    assert record["exc_info"].startswith("Traceback (most recent call last):")
    assert record["exc_info"].endswith("ValueError: naïve\nsecond line")
