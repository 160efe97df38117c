"""Opening the database: any SQLAlchemy URL, migrated to the newest schema on first use.

Every command opens the database, so the check that the schema is current costs
one query: the revision stored in ``alembic_version`` compared with the newest
revision of ``migrations/versions`` (read from the files, without alembic).
Alembic itself, a third of a second to import, is loaded only to migrate.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session

from outreach.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def utcnow() -> datetime:
    """Naive UTC: every timestamp in the database is UTC without tzinfo."""
    return datetime.now(UTC).replace(tzinfo=None)


def open_engine(url: str, *, migrate: bool = True, busy_timeout: float = 30.0) -> Engine:
    """Create the engine and bring the schema up to date (alembic, idempotent).

    ``busy_timeout`` (SQLite): how long a statement waits for another process's lock before "database
    is locked", which storage/outage.py treats as an outage. A PostgreSQL server that does not answer
    a connection within ``CONNECT_TIMEOUT`` is one too, instead of a hang.
    """
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": busy_timeout})
            event.listen(engine, "connect", functools.partial(_sqlite_pragmas, busy_ms=int(busy_timeout * 1000)))
        else:
            engine = create_engine(url, pool_pre_ping=True, connect_args=_connect_args(url))
    except (ArgumentError, ModuleNotFoundError, ImportError) as exc:
        raise ConfigError(f"database_url {url!r}: {exc}") from None
    if migrate:
        try:
            upgrade(engine)
        except OperationalError as exc:
            raise ConfigError(f"cannot open database {engine.url!r}: {exc.orig}") from None
    return engine


CONNECT_TIMEOUT = 10  # seconds: PostgreSQL's connect_timeout


def _connect_args(url: str) -> dict[str, Any]:
    """A connect timeout for PostgreSQL unless the URL sets one (other servers: their driver's defaults)."""
    if url.startswith(("postgresql://", "postgresql+psycopg")) and "connect_timeout" not in url:  # libpq's parameter
        return {"connect_timeout": CONNECT_TIMEOUT}
    return {}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any, busy_ms: int = 30000) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    cur.close()


def alembic_config(engine: Engine | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; one ``SELECT`` when it is there already."""
    if stored_revision(engine) == head_revision():
        return
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def stored_revision(engine: Engine) -> str | None:
    """The database's revision, or None (a new database, or one alembic must look at)."""
    with engine.connect() as conn:  # a server that cannot be reached raises here, as it should
        try:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        except DBAPIError:  # no such table yet: alembic creates it, or says what is wrong
            return None
    return rows[0][0] if len(rows) == 1 else None


_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision\s*(?::[^=]*)?=(.*)$", re.M)


@cache
def head_revision() -> str | None:
    """The newest revision of ``migrations/versions``: the one no other revision comes after.

    Read from the files' ``revision = ...`` and ``down_revision = ...`` lines (as alembic writes
    them; tests/storage checks the answer against alembic's own), None when there is no single one.
    """
    revisions: set[str] = set()
    earlier: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        found, down = _REVISION.search(source), _DOWN.search(source)
        if found is None:
            return None
        revisions.add(found.group(1))
        earlier.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)) if down else [])
    heads = revisions - earlier
    return heads.pop() if len(heads) == 1 else None


def changed_rows(result: Any) -> int:
    """Rows an UPDATE or DELETE changed (``Session.execute`` is typed as a plain ``Result``)."""
    return int(getattr(result, "rowcount", 0) or 0)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: committed on success, rolled back on any error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session
