"""`outreach demo`: the whole flow on the embedded example, nothing to configure."""

from __future__ import annotations

import csv
import io
import mailbox
import re
import tempfile
from pathlib import Path

import pytest
from helpers import OVERRIDES, invoke
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.devtools.demo import holding, run_demo
from outreach.followups.queue import CSV_COLUMNS
from outreach.settings.workspace import load_workspace
from outreach.storage import open_engine
from outreach.storage.models import Outbox, Suppression


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    target = tmp_path_factory.mktemp("demo") / "run"
    with pytest.MonkeyPatch.context() as mp:
        for var in OVERRIDES:
            mp.delenv(var, raising=False)
        result = invoke("demo", "--dir", str(target))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return target, result.stdout


def test_demo_prints_the_summary_with_paths(demo_run: tuple[Path, str]) -> None:
    target, out = demo_run
    lines = out.splitlines()
    assert lines[0] == f"outreach demo in {target}"
    assert lines[1] == "  contacts imported     40"
    m = re.fullmatch(r"  campaign              solusi-jaringan \((\d+) recipients\)", lines[2])
    assert m and int(m[1]) > 2
    recipients = int(m[1])
    assert re.fullmatch(rf"  sent                  {recipients} \(\d+ msg/s to the local sink\)", lines[3])
    assert lines[4] == "  replies / bounces     1 / 1"
    assert lines[5] == "  call list             1 item(s)"
    assert lines[6] == "Files:"
    assert lines[7:] == [
        f"  delivered mail        {target / 'sink-maildir'}",
        f"  inbound samples       {target / 'inbox'}",
        f"  call list (CSV)       {target / 'call-list.csv'}",
        f"  database              {target / 'outreach.db'}",
    ]


def test_demo_leaves_a_consistent_workspace(demo_run: tuple[Path, str]) -> None:
    target, out = demo_run
    recipients = int(re.search(r"solusi-jaringan \((\d+) recipients\)", out)[1])  # type: ignore[index]
    box = mailbox.Maildir(target / "sink-maildir", create=False)
    assert len(box) == recipients  # one delivered message per recipient
    delivered = sorted(
        m.split(":", 1)[1].strip().lower() for k in box.iterkeys() for m in
        box.get_bytes(k).decode("ascii", "replace").splitlines()[:2] if m.startswith("Delivered-To:")
    )  # fmt: skip
    assert len(delivered) == len(set(delivered)) == recipients

    ws = load_workspace(target)
    engine = open_engine(ws.database_url)
    with Session(engine) as s:
        rows = list(s.scalars(select(Outbox)))
        suppressed = list(s.scalars(select(Suppression)))
    assert len(rows) == recipients and {r.state for r in rows} == {"sent"}
    assert sorted(r.email for r in rows) == delivered
    (sup,) = suppressed
    assert sup.reason.startswith("hard_bounce")
    assert sup.email in delivered

    status = invoke("campaign", "status", "solusi-jaringan", "--json", ws=target)
    assert status.exit_code == 0, status.output
    assert f'"sent": {recipients}' in status.stdout
    assert '"replied": 1' in status.stdout and '"bounced": 1' in status.stdout

    raw = (target / "call-list.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows_csv = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows_csv[0] == [*CSV_COLUMNS, "payment_terms"]  # the example workspace's derived field, for callers
    assert len(rows_csv) == 2
    item = dict(zip(rows_csv[0], rows_csv[1], strict=True))
    assert item["queue"] == "call" and item["reason"] == "replied (interested)"
    assert item["campaign"] == "solusi-jaringan"
    assert item["email"] != sup.email
    assert item["reply_excerpt"].startswith("Selamat siang Pak Awang")


def test_run_demo_api(tmp_path: Path) -> None:
    r = run_demo(tmp_path / "api")
    s = r.status.counts
    assert r.imported == 40
    assert r.report.sent == r.built == s["sent"] == s["total"]
    assert (s["replied"], s["bounced"], s["failed"], s["queued"]) == (1, 1, 0, 0)
    assert r.call_items == 1
    assert r.ingest.suppressed == 1
    assert r.status.state == "done"


def test_demo_refuses_an_existing_workspace(tmp_path: Path) -> None:
    invoke("init", str(tmp_path / "ws"))
    result = invoke("demo", "--dir", str(tmp_path / "ws"))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "already exists" in result.stderr


def test_each_demo_keeps_only_the_last_temporary_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make demo` left an outreach-demo-* folder behind every time; now the next run removes the earlier ones
    (this user's demos only, never one still running) and says so."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    stranger = temp / "outreach-demo-not-ours"  # same prefix, not a demo: left alone
    (stranger / "notes").mkdir(parents=True)
    legacy = temp / "outreach-demo-old"  # left by an earlier version, without the marker
    for sub in ("sink-maildir", "inbox"):
        (legacy / sub).mkdir(parents=True)
    (legacy / "outreach.yaml").write_text("organization: {}\n")

    first = invoke("demo")
    assert first.exit_code == 0, first.output
    one = Path(first.stdout.splitlines()[0].removeprefix("outreach demo in "))
    assert one.parent == temp and one.name.startswith("outreach-demo-")
    assert first.stdout.splitlines()[-1] == ("The next `outreach demo` removes this folder; it removed 1 earlier "
                                             "one(s) now (--dir DIR keeps a demo for good)")  # fmt: skip
    assert not legacy.exists() and stranger.exists()

    with holding(one):  # as if that demo were still running: it is kept
        second = invoke("demo")
    two = Path(second.stdout.splitlines()[0].removeprefix("outreach demo in "))
    assert second.stdout.splitlines()[-1] == ("The next `outreach demo` removes this folder (--dir DIR keeps a demo "
                                              "for good)")  # fmt: skip
    assert one.exists() and two.exists()

    third = invoke("demo")
    three = Path(third.stdout.splitlines()[0].removeprefix("outreach demo in "))
    assert "it removed 2 earlier one(s) now" in third.stdout.splitlines()[-1]
    assert sorted(p.name for p in temp.iterdir()) == sorted([three.name, stranger.name])
