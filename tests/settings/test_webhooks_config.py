"""``webhooks:`` and ``api:`` in outreach.yaml: checked when the file is loaded, errors naming the line."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_config import SETTINGS, error_of, settings_ws

from outreach.settings.workspace import load_workspace

GOOD = """\
webhooks:
  - url: https://crm.example.co.id/hooks/outreach
    events: [reply, bounce, unsubscribe]
    secret_env: CRM_WEBHOOK_SECRET
  - url: http://127.0.0.1:9000/hook
    events: [sent, outcome, sent]
    secret_env: LOCAL_HOOK_SECRET
    timeout: 5s
    retry_for: 12h
api:
  rate: 5/s
  burst: 20
"""


def test_receivers_load_with_their_defaults_and_read_the_secret_from_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    settings = load_workspace(settings_ws(tmp_path, SETTINGS + GOOD)).settings
    crm, local = settings.webhooks
    assert (crm.timeout, crm.backoff, crm.max_backoff, crm.retry_for, crm.concurrency) == (10, 10, 3600, 86400, 4)
    assert local.events == ("sent", "outcome") and (local.timeout, local.retry_for) == (5, 43200)
    assert (settings.api.rate, settings.api.burst) == (5, 20)
    monkeypatch.delenv("CRM_WEBHOOK_SECRET", raising=False)
    assert crm.secret() is None
    monkeypatch.setenv("CRM_WEBHOOK_SECRET", "s3cret")
    assert crm.secret() == b"s3cret"


@pytest.mark.parametrize(("entry", "line", "message"), [
    ("  - url: http://crm.example.co.id/hook\n    events: [reply]\n    secret_env: S\n", 22,
     "webhooks.0.url: plain http is only for a receiver on this machine (127.0.0.1, ::1, localhost); "
     "use https://crm.example.co.id/hook"),
    ("  - url: ftp://crm.example.co.id/hook\n    events: [reply]\n    secret_env: S\n", 22,
     "webhooks.0.url: must be an https:// URL (or http:// to a loopback address such as 127.0.0.1)"),
    ("  - url: https://user:pw@crm.example.co.id/hook\n    events: [reply]\n    secret_env: S\n", 22,
     "webhooks.0.url: must not carry a user name, password or #fragment (the signature authenticates)"),
    ("  - url: https://crm.example.co.id/hook\n    events: [reply, gossip]\n    secret_env: S\n", 23,
     "webhooks.0.events: unknown event type(s) 'gossip'; the types are: sent, failed, bounce, complaint, reply, "
     "unsubscribe, outcome"),
    ("  - url: https://crm.example.co.id/hook\n    events: []\n    secret_env: S\n", 23,
     "webhooks.0.events: Tuple should have at least 1 item after validation, not 0"),
    ("  - url: https://crm.example.co.id/hook\n    events: [reply]\n    secret_env: not a name\n", 24,
     "webhooks.0.secret_env: String should match pattern '^[A-Za-z_][A-Za-z0-9_]*$'"),
    ("  - url: https://crm.example.co.id/hook\n    events: [reply]\n    secret_env: S\n    secret: hunter2\n", 25,
     "webhooks.0.secret: unknown key"),
])  # fmt: skip
def test_a_bad_receiver_is_refused_at_load_naming_its_line(tmp_path: Path, entry: str, line: int,
                                                            message: str) -> None:  # fmt: skip
    root = settings_ws(tmp_path, SETTINGS + "webhooks:\n" + entry)
    assert error_of(root) == f"Error: {root.resolve() / 'outreach.yaml'}, line {line}: {message}"


def test_a_receiver_listed_twice_is_refused(tmp_path: Path) -> None:
    entry = "  - url: https://crm.example.co.id/hook\n    events: [reply]\n    secret_env: S\n"
    root = settings_ws(tmp_path, SETTINGS + "webhooks:\n" + entry + entry.replace("reply", "bounce"))
    assert error_of(root).endswith("webhooks: https://crm.example.co.id/hook is listed more than once; "
                                   "list each receiver once, with all its events")  # fmt: skip
