"""Fixtures: a real SMTP server (aiosmtpd on 127.0.0.1), real workspaces, real SQLite files."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import browser  # noqa: F401 - one chromium per test module, for every browser test
from engine_support import FaultySink, bulk_workspace, prepare, running
from helpers import OVERRIDES, SendWorkspace, SmtpController, SmtpServer, Spawned, invoke, make_workspace, refused_port
from imap_server import Dovecot, start_dovecot
from pg_server import own_pg, pg_admin_url, pg_url, stoppable_pg, throwaway_pg  # noqa: F401 - the PostgreSQL fixtures
from sqlalchemy import select

from outreach.sending.engine import send_campaign
from outreach.settings.tokens import Signer, workspace_secret
from outreach.settings.workspace import init_workspace
from outreach.storage import transaction
from outreach.storage.models import Outbox

MIN_WORKERS = 4  # `-n auto`'s floor (pytest_xdist_auto_num_workers)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A recording SMTP server on a free port; see SmtpServer for fault injection."""
    server = SmtpServer()
    controller = SmtpController(server)
    controller.start()
    server.port = controller.port
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 where connections are refused throughout the test (helpers.refused_port)."""
    with refused_port() as port:
        yield port


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A private dovecot (imap_server.py); each test takes its own user with ``new_user()``."""
    server = start_dovecot()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _no_process_left() -> Iterator[None]:
    """Processes a test started are gone after it, even when it failed half-way."""
    yield
    while Spawned.started:
        Spawned.started.pop().kill()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No OUTREACH_* variable of the developer's shell leaks in; cwd is a scratch folder."""
    for var in OVERRIDES:
        monkeypatch.delenv(var, raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)


@pytest.fixture
def example_ws(tmp_path: Path) -> Path:
    """A copy of the repository's example workspace (content/)."""
    root = tmp_path / "ws"
    init_workspace(root)
    return root


@pytest.fixture
def send_ws(tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> SendWorkspace:
    """A workspace whose relay is the fixture server, with the small contact set imported."""
    root = make_workspace(tmp_path / "ws")
    monkeypatch.setenv("OUTREACH_SMTP_PORT", str(smtp_server.port))
    result = invoke("contacts", "import", str(root / "small.csv"), ws=root)
    assert result.exit_code == 0, result.output
    return SendWorkspace(root, smtp_server)


@pytest.fixture
def sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    root = bulk_workspace(tmp_path / "ws", 6, "throttle: {rate: 2000/s}\n")
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        asyncio.run(send_campaign(ws, engine, "blast"))
    with transaction(engine) as session:
        rows = {r.email: r for r in session.scalars(select(Outbox))}
    signer = Signer(workspace_secret(engine, ws.settings.unsubscribe.secret_env))
    return ws, engine, rows, signer


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (`make test`): one worker per core, but at least 4. Most tests wait on real servers and
    processes (SMTP, PostgreSQL, dovecot, chromium), so even 2 cores keep 4 workers busy (docs/testing.md has
    the measurements). ``PYTEST_XDIST_AUTO_NUM_WORKERS=N`` still chooses N, as it does without this hook."""
    chosen = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "")
    if chosen.isdigit() and int(chosen) > 0:
        return int(chosen)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(MIN_WORKERS, cores)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI=true a skipped test is a failed one (`.ci/run` sets it): a missing server or tool must be
    installed there, never silently left out. Its reason stays the report's text."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {reason}"
