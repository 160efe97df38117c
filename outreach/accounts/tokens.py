"""Bearer tokens of the JSON API: ``outreach users token NAME``, printed once, kept only as a hash.

* A token is ``otk_`` and 43 characters of ``secrets.token_urlsafe(32)`` (256
  random bits). Only its SHA-256 is stored: nothing in the database (a
  backup, a leaked copy) lets anyone call the API.
* A request is one indexed look-up of that hash, joined to the user, so the
  token acts with its user's role as it is now, and stops working the moment
  the user is removed (the tokens go with it) or disabled.
* ``--revoke`` removes every token of the user: simpler to reason about
  than picking one, and the user gets a new one at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select

from outreach.accounts.users import Account, named_user
from outreach.storage import changed_rows, transaction, utcnow
from outreach.storage.models import ApiToken, User

PREFIX = "otk_"
MAX_TOKEN = 128  # characters: a genuine token has 47; longer is refused before any hashing


@dataclass(frozen=True)
class Bearer:
    """Whom a request's token speaks for: the account and which of its tokens (the rate limit's key)."""

    account: Account
    token_id: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token(engine: Engine, name: str) -> tuple[Account, str]:
    """A new token for user ``name``: (the account, the token). The token is not stored; show it once."""
    account = named_user(engine, name)
    token = PREFIX + secrets.token_urlsafe(32)
    with transaction(engine) as session:
        session.add(ApiToken(user_id=account.id, token_hash=token_hash(token), hint=token[:8], created_at=utcnow()))
    return account, token


def revoke_tokens(engine: Engine, name: str) -> tuple[Account, int]:
    """Remove every token of user ``name``: (the account, how many there were)."""
    account = named_user(engine, name)
    with transaction(engine) as session:
        return account, changed_rows(session.execute(delete(ApiToken).where(ApiToken.user_id == account.id)))


def bearer(engine: Engine, token: str) -> Bearer | None:
    """The account a token speaks for, or None (unknown, revoked, malformed): never raises for any input."""
    if not token.startswith(PREFIX) or len(token) > MAX_TOKEN:
        return None
    with transaction(engine) as session:
        row = session.execute(
            select(User, ApiToken.id).join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == token_hash(token), User.disabled.is_(False))
        ).first()  # fmt: skip
        return Bearer(Account.of(row[0]), row[1]) if row is not None else None

