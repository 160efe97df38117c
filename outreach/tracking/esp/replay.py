"""The tokens of signed posts already taken, so the same post sent again (a replay) is refused.

A token is remembered only once its post was recorded: a post that could not
be recorded (the database was down) is accepted again when the service
retries it. Tokens older than the accepted window are dropped as new ones
come in; a post that old is refused for its age anyway.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError

from outreach.storage import transaction
from outreach.storage.models import HookToken


def used(engine: Engine, key: str) -> bool:
    with transaction(engine) as session:
        return session.get(HookToken, key[:160]) is not None


def remember(engine: Engine, key: str, now: datetime, keep: timedelta) -> None:
    """Keep ``key`` (and forget tokens older than ``keep``); a token remembered twice at once is no error."""
    try:
        with transaction(engine) as session:
            session.execute(delete(HookToken).where(HookToken.seen_at < now - keep))
            session.add(HookToken(key=key[:160], seen_at=now))
    except IntegrityError:
        pass  # the same post, recorded by a concurrent request: it is remembered already
