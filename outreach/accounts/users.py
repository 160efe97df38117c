"""Accounts of the team app: who may log in, with which role, and their calendar's secret address.

Why it works as it does:

* Only an argon2id hash of a password is kept (argon2-cffi's defaults, which
  follow RFC 9106's recommendation); a hash made with older parameters is
  upgraded at the next good login.
* A login for a name that does not exist still verifies a password against a
  dummy hash, so the answer takes as long as for a real user and the login
  form does not tell which names exist.
* ``session_gen`` goes into every session cookie; bumping it (logout, a new
  password, removal) ends all of that user's sessions at once, although the
  cookies themselves are not stored anywhere.
* A disabled account (``disable_user``) cannot log in, its open sessions
  end at once and its API tokens do nothing; enabling it again needs no new
  password. Disabling keeps the account's name, so its history still says who.
* Every change to an account is recorded (``outreach.audit``): who did it,
  through the app or the CLI, and what changed (never a password).
* The calendar feed's address is derived (HMAC of the workspace secret, the
  user id and ``calendar_gen``), so nothing secret is stored, and rotating it
  is one increment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Collection
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from outreach import audit
from outreach.errors import AuthError, InputError, NotFoundError, StateError
from outreach.storage import transaction, utcnow
from outreach.storage.models import User

# admin: the sales admin (contacts, users, every executive's numbers)
ROLES = ("executive", "writer", "caller", "admin")
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # argon2 takes any length; a megabyte "password" is a denial of service, not a secret
_HASHER = PasswordHasher()  # stateless: its parameters only
_DUMMY_HASH = _HASHER.hash("not a password anyone has")


@dataclass(frozen=True)
class Account:
    """A user as the app sees it: never the password hash."""

    id: int
    name: str
    role: str
    sender: str | None
    email: str | None
    session_gen: int
    calendar_gen: int
    disabled: bool = False

    @classmethod
    def of(cls, row: User) -> Account:
        return cls(row.id, row.name, row.role, row.sender, row.email, row.session_gen, row.calendar_gen,
                   bool(row.disabled))  # fmt: skip


def check_name(name: str) -> str:
    """Lowercase letters, digits, ``.``, ``_`` and ``-``; what a person types at the login form."""
    cleaned = name.strip().lower()
    if not NAME.match(cleaned):
        raise InputError(f"user name {name!r}: use 1-64 lowercase letters, digits, '.', '_' or '-'")
    return cleaned


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InputError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InputError(f"the password is too long: at most {MAX_PASSWORD} characters")
    return password


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def check_sender(sender: str | None, senders: Collection[str]) -> str | None:
    """``sender`` if it is a key of outreach.yaml's senders (or None: no sender)."""
    if sender is not None and sender not in senders:
        known = ", ".join(senders) or "none"
        raise NotFoundError(f"no sender {sender!r} in outreach.yaml (senders: {known})")
    return sender


def add_user(engine: Engine, name: str, role: str, password: str, *, sender: str | None = None,
             email: str | None = None, senders: Collection[str] = (), who: str = "cli",
             via: str = "cli") -> Account:  # fmt: skip
    """A new account; ``senders`` are the keys of outreach.yaml's senders, which ``sender`` must be one of."""
    name = check_name(name)
    check_role(role)
    check_sender(sender, senders)
    now = utcnow()
    row = User(name=name, role=role, sender=sender, email=email, password_hash=_HASHER.hash(check_password(password)),
               session_gen=1, calendar_gen=1, created_at=now, updated_at=now, disabled=False)  # fmt: skip
    try:
        with transaction(engine) as session:
            session.add(row)
            session.flush()
            extra = "".join(f", {k} {v}" for k, v in (("sender", sender), ("email", email)) if v)
            audit.record(session, who, via, "user.add", f"user:{name}", f"added as {role}{extra}", now)
            return Account.of(row)
    except IntegrityError:
        raise InputError(f"user {name!r} already exists; `outreach users remove {name}` first") from None


def list_users(engine: Engine) -> list[Account]:
    with transaction(engine) as session:
        return [Account.of(u) for u in session.scalars(select(User).order_by(User.role, User.name))]


def get_user(engine: Engine, user_id: int) -> Account | None:
    with transaction(engine) as session:
        row = session.get(User, user_id)
        return Account.of(row) if row is not None else None


def named_user(engine: Engine, name: str) -> Account:
    """The account called ``name``; NotFoundError saying how to list them otherwise."""
    return Account.of(_named(engine, name))


def _named(engine: Engine, name: str) -> User:
    with transaction(engine) as session:
        row = session.scalar(select(User).where(User.name == name.strip().lower()))
    if row is None:
        raise NotFoundError(f"no user {name!r}; `outreach users list` shows them")
    return row


def remove_user(engine: Engine, name: str, *, who: str = "cli", via: str = "cli") -> None:
    row = _named(engine, name)
    with transaction(engine) as session:
        session.delete(session.get(User, row.id))
        audit.record(session, who, via, "user.remove", f"user:{row.name}", f"removed ({row.role})")


def set_password(engine: Engine, name: str, password: str, *, who: str = "cli", via: str = "cli") -> Account:
    """A new password; every open session of the user ends."""
    row = _named(engine, name)
    hashed = _HASHER.hash(check_password(password))
    with transaction(engine) as session:
        user = session.get(User, row.id)
        assert user is not None  # read just above; a concurrent removal would make this a NotFound
        user.password_hash, user.session_gen, user.updated_at = hashed, user.session_gen + 1, utcnow()
        audit.record(session, who, via, "user.password", f"user:{user.name}", "password reset; sessions ended")
        return Account.of(user)


def set_role(engine: Engine, name: str, role: str, *, sender: str | None = None, senders: Collection[str] = (),
             who: str = "cli", via: str = "cli") -> Account:  # fmt: skip
    """A new role (and sender: None leaves it as it is, "" clears it); the user's open sessions end, so
    no page opened under the old role stays usable."""
    check_role(role)
    new_sender = None if sender in (None, "") else check_sender(sender, senders)
    row = _named(engine, name)
    if who == row.name and role != row.role:
        raise StateError(f"you cannot change your own role ({row.role}); another admin can, or `outreach users role`")
    with transaction(engine) as session:
        user = session.get(User, row.id)
        if user is None:
            raise NotFoundError(f"no user {name!r}; `outreach users list` shows them")
        before = (user.role, user.sender)
        user.role = role
        if sender is not None:
            user.sender = new_sender
        if (user.role, user.sender) != before:
            user.session_gen, user.updated_at = user.session_gen + 1, utcnow()
            audit.record(session, who, via, "user.role", f"user:{user.name}",
                         f"{_role_text(*before)} -> {_role_text(user.role, user.sender)}; sessions ended")  # fmt: skip
        return Account.of(user)


def _role_text(role: str, sender: str | None) -> str:
    return f"{role} (sender {sender})" if sender else role


def set_disabled(engine: Engine, name: str, disabled: bool, *, who: str = "cli", via: str = "cli") -> Account:
    """Disable an account (it cannot log in, its sessions end, its API tokens stop working) or enable it again.
    Nobody disables their own account: an admin locked out of the app would need the CLI to get back in."""
    row = _named(engine, name)
    if disabled and who == row.name:
        raise StateError("you cannot disable your own account; another admin can, or `outreach users disable`")
    with transaction(engine) as session:
        user = session.get(User, row.id)
        if user is None:
            raise NotFoundError(f"no user {name!r}; `outreach users list` shows them")
        if bool(user.disabled) != disabled:
            user.disabled, user.updated_at = disabled, utcnow()
            if disabled:
                user.session_gen += 1
            audit.record(session, who, via, "user.disable" if disabled else "user.enable", f"user:{user.name}",
                         "disabled; sessions ended" if disabled else "enabled again")  # fmt: skip
        return Account.of(user)


def authenticate(engine: Engine, name: str, password: str) -> Account:
    """The account for a correct name and password; AuthError otherwise, the same for both mistakes."""
    refused = AuthError("wrong user name or password")
    if len(password) > MAX_PASSWORD:
        raise refused
    with transaction(engine) as session:
        row = session.scalar(select(User).where(User.name == name.strip().lower()[:64]))
        try:
            _HASHER.verify(row.password_hash if row is not None else _DUMMY_HASH, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            raise refused from None
        if row is None:
            raise refused
        if row.disabled:  # said only to whoever knows the password: it tells nobody else the name exists
            raise AuthError(f"the account {row.name} is disabled; ask your sales admin")
        if _HASHER.check_needs_rehash(row.password_hash):
            row.password_hash, row.updated_at = _HASHER.hash(password), utcnow()
        return Account.of(row)


def end_sessions(engine: Engine, user_id: int) -> None:
    """Log the user out everywhere: cookies carrying the old generation stop working."""
    with transaction(engine) as session:
        user = session.get(User, user_id)
        if user is not None:
            user.session_gen, user.updated_at = user.session_gen + 1, utcnow()


# -- the calendar feed's secret address ------------------------------------------------------


def calendar_token(secret: bytes, account: Account) -> str:
    """``ID-MAC``: what the feed's address carries; changes when the user rotates it."""
    return f"{account.id}-{_calendar_mac(secret, account.id, account.calendar_gen)}"


def _calendar_mac(secret: bytes, user_id: int, gen: int) -> str:
    digest = hmac.new(secret, f"calendar:{user_id}:{gen}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode("ascii")


def calendar_account(engine: Engine, secret: bytes, token: str) -> Account | None:
    """The account whose feed ``token`` opens; None for anything else (compared as bytes, never raising)."""
    ident, _, mac = token.partition("-")
    if not ident.isascii() or not ident.isdigit() or len(ident) > 12 or len(mac) > 64:
        return None
    account = get_user(engine, int(ident))
    if account is None:
        return None
    good = _calendar_mac(secret, account.id, account.calendar_gen).encode()
    return account if hmac.compare_digest(mac.encode("utf-8", "replace"), good) else None


def rotate_calendar(engine: Engine, user_id: int) -> Account:
    """A new secret address for the user's feed; the old one stops working."""
    with transaction(engine) as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFoundError(f"no user with id {user_id}")
        user.calendar_gen, user.updated_at = user.calendar_gen + 1, utcnow()
        return Account.of(user)
