"""``outreach users token NAME [--revoke]``: printed once as the last word, kept only as a hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

from helpers import invoke
from sqlalchemy import select

from outreach.accounts.tokens import bearer
from outreach.storage import transaction
from outreach.storage.models import ApiToken
from outreach.workspace import Workspace


def add(ws: Path, name: str, role: str) -> None:
    assert invoke("users", "add", name, "--role", role, "--password-stdin", ws=ws,
                  input="a long enough password\n").exit_code == 0  # fmt: skip


def test_a_token_is_printed_once_as_the_last_word_and_stored_hashed(example_ws: Path) -> None:
    add(example_ws, "boss", "executive")
    made = invoke("users", "token", "Boss", ws=example_ws)
    assert made.exit_code == 0, made.output
    lines = made.stdout.splitlines()
    token = made.stdout.split()[-1]
    assert lines == ["API token for boss (executive); it is shown only this once, keep it secret:", token]
    assert token.startswith("otk_") and len(token) == 47
    second = invoke("users", "token", "boss", ws=example_ws).stdout.split()[-1]
    assert second != token
    with Workspace.open(example_ws) as ws:
        with transaction(ws.engine) as session:
            stored = [t.token_hash for t in session.scalars(select(ApiToken))]
        assert stored == [hashlib.sha256(t.encode()).hexdigest() for t in (token, second)]
        found = bearer(ws.engine, token)
        assert found is not None and (found.account.name, found.account.role) == ("boss", "executive")
        assert bearer(ws.engine, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert token not in (example_ws / "outreach.db").read_bytes().decode("latin-1")


def test_revoke_ends_every_token_of_the_user_and_removing_the_user_ends_them_too(example_ws: Path) -> None:
    add(example_ws, "boss", "executive")
    add(example_ws, "cali", "caller")
    tokens = [invoke("users", "token", "boss", ws=example_ws).stdout.split()[-1] for _ in range(2)]
    other = invoke("users", "token", "cali", ws=example_ws).stdout.split()[-1]
    revoked = invoke("users", "token", "boss", "--revoke", ws=example_ws)
    assert (revoked.exit_code, revoked.stdout) == (0, "Revoked 2 API token(s) of boss\n")
    with Workspace.open(example_ws) as ws:
        assert [bearer(ws.engine, t) for t in tokens] == [None, None]
        assert bearer(ws.engine, other) is not None
    assert invoke("users", "remove", "cali", ws=example_ws).exit_code == 0
    with Workspace.open(example_ws) as ws:
        assert bearer(ws.engine, other) is None
        with transaction(ws.engine) as session:
            assert session.scalars(select(ApiToken)).all() == []


def test_a_token_for_nobody_is_a_clear_error(example_ws: Path) -> None:
    result = invoke("users", "token", "ghost", ws=example_ws)
    assert result.exit_code == 1
    assert result.stderr == "Error: no user 'ghost'; `outreach users list` shows them\n"
    assert result.stdout == ""
