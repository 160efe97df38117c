"""The team's workspace, made once per session and copied for each test that uses it; the app serving it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import SmtpServer
from team_support import Running, build_template, copy_template, running_server


@pytest.fixture(scope="session")
def team_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("team-template"))


@pytest.fixture
def team(team_template: Path, tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the team's workspace; its relay is this test's SMTP server."""
    monkeypatch.setenv("OUTREACH_SMTP_PORT", str(smtp_server.port))
    return copy_template(team_template, tmp_path / "team")


@pytest.fixture
def server(team: Path) -> Iterator[Running]:
    """``outreach serve``'s server on the team's workspace, on a free 127.0.0.1 port, for the browser tests."""
    with running_server(team) as srv:
        yield srv
