"""Accounts of the team app: ``outreach users ...`` and the face's methods, on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import invoke
from sqlalchemy import select

from outreach.accounts.tokens import bearer
from outreach.accounts.users import authenticate, calendar_account, calendar_token, rotate_calendar
from outreach.errors import AuthError, InputError, NotFoundError, StateError
from outreach.storage import transaction
from outreach.storage.models import User
from outreach.workspace import Workspace


def test_users_add_with_password_stdin_list_and_remove(example_ws: Path) -> None:
    added = invoke("users", "add", "Boss", "--role", "executive", "--password-stdin", ws=example_ws,
                   input="a long enough password\n")  # fmt: skip
    assert (added.exit_code, added.stdout) == (0, "User boss added (executive)\n")
    caller = invoke("users", "add", "cali", "--role", "caller", "--sender", "awang", "--password-stdin",
                    ws=example_ws, input="another password\r\n")  # fmt: skip
    assert caller.stdout == "User cali added (caller, sender awang)\n"
    listed = invoke("users", "list", ws=example_ws)
    assert listed.stdout.splitlines() == [
        f"{'name':<24}{'role':<11}{'sender':<16}email",
        f"{'cali':<24}{'caller':<11}{'awang':<16}-", f"{'boss':<24}{'executive':<11}{'-':<16}-", "2 user(s)",
    ]  # fmt: skip
    with Workspace.open(example_ws) as ws:
        assert authenticate(ws.engine, "boss", "a long enough password").role == "executive"
        assert authenticate(ws.engine, "cali", "another password").sender == "awang"  # the CR was not kept
        with transaction(ws.engine) as session:
            hashes = [u.password_hash for u in session.scalars(select(User))]
        assert all(h.startswith("$argon2id$") for h in hashes) and "a long enough password" not in str(hashes)
    removed = invoke("users", "remove", "boss", ws=example_ws)
    assert removed.stdout == "User boss removed\n"
    assert invoke("users", "list", ws=example_ws).stdout.splitlines()[-1] == "1 user(s)"


def test_users_add_prompts_twice_without_echo(example_ws: Path) -> None:
    result = invoke("users", "add", "wina", "--role", "writer", ws=example_ws,
                    input="typed twice here\ntyped twice here\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "typed twice here" not in result.output  # hidden input
    assert result.stdout.endswith("User wina added (writer)\n")
    mismatch = invoke("users", "add", "wanda", "--role", "writer", ws=example_ws,
                      input="first password\nsecond password\nfirst password\nfirst password\n")  # fmt: skip
    assert mismatch.exit_code == 0 and "do not match" in mismatch.output


@pytest.mark.parametrize(("args", "stdin", "error"), [
    (["bad name!", "--role", "caller"], "long enough pw\n", "Error: user name 'bad name!': use 1-64 lowercase"),
    (["cali", "--role", "caller", "--sender", "nobody"], "long enough pw\n",
     "Error: no sender 'nobody' in outreach.yaml"),
    (["cali", "--role", "caller"], "short\n", "Error: the password is too short: use at least 8 characters"),
    (["cali", "--role", "caller"], "", "Error: --password-stdin: nothing on standard input"),
    (["cali", "--role", "writer", "--email", "not-an-address"], "long enough pw\n", "Error: --email: invalid email"),
])  # fmt: skip
def test_users_add_refuses_bad_input_and_changes_nothing(example_ws: Path, args: list[str], stdin: str,
                                                         error: str) -> None:  # fmt: skip
    result = invoke("users", "add", *args, "--password-stdin", ws=example_ws, input=stdin)
    assert result.exit_code in (1, 2) and error in result.stderr, result.stderr
    assert invoke("users", "list", ws=example_ws).stdout == "0 user(s)\n"


def test_a_second_user_of_the_same_name_and_unknown_users(example_ws: Path) -> None:
    assert invoke("users", "add", "cali", "--role", "caller", "--password-stdin", ws=example_ws,
                  input="long enough pw\n").exit_code == 0  # fmt: skip
    again = invoke("users", "add", "CALI", "--role", "writer", "--password-stdin", ws=example_ws,
                   input="long enough pw\n")  # fmt: skip
    assert again.exit_code == 1
    assert again.stderr == "Error: user 'cali' already exists; `outreach users remove cali` first\n"
    gone = invoke("users", "remove", "nobody", ws=example_ws)
    assert gone.stderr == "Error: no user 'nobody'; `outreach users list` shows them\n"
    role = invoke("users", "add", "x", "--role", "boss", "--password-stdin", ws=example_ws, input="long enough pw\n")
    assert role.exit_code == 2
    admin = invoke("users", "add", "sari", "--role", "admin", "--password-stdin", ws=example_ws,
                   input="long enough pw\n")  # fmt: skip
    assert admin.exit_code == 0 and admin.output == "User sari added (admin)\n", admin.output


def test_password_change_and_wrong_passwords(example_ws: Path) -> None:
    with Workspace.open(example_ws) as ws:
        first = ws.add_user("boss", "executive", "first password")
        changed = invoke("users", "password", "boss", "--password-stdin", ws=example_ws, input="second password\n")
        assert changed.stdout == "Password of boss changed; its open sessions are closed\n"
        after = authenticate(ws.engine, "boss", "second password")
        assert after.session_gen == first.session_gen + 1
        for name, password in (("boss", "first password"), ("nobody", "second password"), ("boss", "x" * 5000)):
            with pytest.raises(AuthError, match="wrong user name or password"):
                authenticate(ws.engine, name, password)
        with pytest.raises(InputError):
            ws.set_password("boss", "short")
        with pytest.raises(NotFoundError):
            ws.set_password("nobody", "long enough pw")


def test_calendar_tokens_open_one_feed_until_rotated(example_ws: Path) -> None:
    with Workspace.open(example_ws) as ws:
        secret = ws.secret()
        cali = ws.add_user("cali", "caller", "long enough pw")
        other = ws.add_user("cala", "caller", "long enough pw")
        token = calendar_token(secret, cali)
        assert calendar_account(ws.engine, secret, token) == cali
        assert calendar_account(ws.engine, b"another secret", token) is None
        ident, mac = token.split("-", 1)
        for forged in (f"{other.id}-{mac}", f"{ident}-{mac[:-1]}", f"{ident}-{mac}é", "x-y", "", "-", f"{ident}"):
            assert calendar_account(ws.engine, secret, forged) is None, forged
        rotated = rotate_calendar(ws.engine, cali.id)
        assert calendar_account(ws.engine, secret, token) is None
        assert calendar_account(ws.engine, secret, calendar_token(secret, rotated)) == rotated


def test_a_missing_choice_is_said_on_one_line(example_ws: Path) -> None:
    """click's own message puts each choice on a tab-indented line of its own."""
    result = invoke("users", "add", "dewi", "--password-stdin", ws=example_ws, input="long enough pw\n")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == ("Error: Missing option '--role'. Choose from: executive, writer, caller, "
                                              "admin.")
    result = invoke("content", "new", "launch", ws=example_ws)
    assert result.stderr.splitlines()[-1] == ("Error: Missing option '--kind'. Choose from: press-release, "
                                              "product-offer, event-invitation, follow-up.")  # fmt: skip


# -- the sales admin's changes: role, disable, and the record of who did what ----------------


def test_users_role_disable_and_enable_on_the_command_line(example_ws: Path) -> None:
    with Workspace.open(example_ws) as ws:
        before = ws.add_user("cali", "caller", "long enough pw")
        token = ws.new_api_token("cali")[1]
    role = invoke("users", "role", "cali", "executive", "--sender", "awang", ws=example_ws)
    assert role.stdout == "User cali is now executive, sender awang; its open sessions are closed\n"
    disabled = invoke("users", "disable", "CALI", ws=example_ws)
    assert disabled.stdout == ("User cali disabled; its open sessions are closed (`outreach users enable cali` "
                               "undoes it)\n")  # fmt: skip
    listed = invoke("users", "list", ws=example_ws).stdout.splitlines()
    assert listed[1] == f"{'cali':<24}{'executive':<11}{'awang':<16}-  (disabled)"
    with Workspace.open(example_ws) as ws:
        with pytest.raises(AuthError, match="the account cali is disabled; ask your sales admin"):
            authenticate(ws.engine, "cali", "long enough pw")
        with pytest.raises(AuthError, match="wrong user name or password"):  # nothing said without the password
            authenticate(ws.engine, "cali", "not the password")
        assert bearer(ws.engine, token) is None  # the API token does nothing while disabled
    assert invoke("users", "enable", "cali", ws=example_ws).stdout == "User cali enabled\n"
    with Workspace.open(example_ws) as ws:
        after = authenticate(ws.engine, "cali", "long enough pw")
        assert after.session_gen == before.session_gen + 2  # the role change and the disabling each ended them
        assert bearer(ws.engine, token) is not None
        done = [(r.who, r.via, r.action, r.detail) for r in ws.audit(subject="user:cali")]
    assert done == [("cli", "cli", "user.enable", "enabled again"),
                    ("cli", "cli", "user.disable", "disabled; sessions ended"),
                    ("cli", "cli", "user.role", "caller -> executive (sender awang); sessions ended"),
                    ("cli", "cli", "user.add", "added as caller")]  # fmt: skip


def test_role_and_disable_refuse_bad_input_and_change_nothing(example_ws: Path) -> None:
    with Workspace.open(example_ws) as ws:
        ws.add_user("sari", "admin", "long enough pw")
    for args, code, error in [
        (["role", "nobody", "caller"], 1, "Error: no user 'nobody'; `outreach users list` shows them\n"),
        (["role", "sari", "boss"], 2, "Invalid value for 'ROLE'"),
        (["role", "sari", "executive", "--sender", "nobody"], 1, "Error: no sender 'nobody' in outreach.yaml"),
        (["disable", "nobody"], 1, "Error: no user 'nobody'; `outreach users list` shows them\n"),
    ]:  # fmt: skip
        result = invoke("users", *args, ws=example_ws)
        assert result.exit_code == code and error in result.stderr, (args, result.stderr)
    with Workspace.open(example_ws) as ws:
        (sari,) = ws.users()
        assert (sari.role, sari.sender, sari.disabled) == ("admin", None, False)
        with pytest.raises(StateError, match="you cannot disable your own account"):
            ws.disable_user("sari", who="sari", via="app")
        with pytest.raises(StateError, match="you cannot change your own role"):
            ws.set_role("sari", "caller", who="sari", via="app")
        assert [r.action for r in ws.audit(prefix="user:")] == ["user.add"]
