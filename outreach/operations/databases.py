"""A consistent copy of the database while it is in use, and putting one back: SQLite and PostgreSQL.

* SQLite: the online backup API (``sqlite3.Connection.backup``) copies every
  page in one step, inside one read transaction: the copy is the database as
  it was at one commit. In WAL mode (ours) writers are not held up meanwhile,
  so a send goes on at full speed. The copy is switched out of WAL (one file)
  and checked (``PRAGMA quick_check``).
* PostgreSQL: ``pg_dump --format=custom`` in the snapshot of a REPEATABLE READ
  transaction we hold open (``pg_export_snapshot``, then ``pg_dump
  --snapshot``), so the row counts written into the manifest are those of the
  dump itself: a restore can be checked against them. Restoring runs
  ``pg_restore --single-transaction``: the database gets all of it or nothing.

The password of a PostgreSQL URL goes to the tools in their environment
(``PGPASSWORD``), never on a command line that ``ps`` shows.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from outreach.errors import BackupError

PG_BIN = Path("/usr/lib/postgresql")  # Debian's versioned client tools, when none is on PATH
TOOL_TIMEOUT = 6 * 3600  # seconds: a dump or restore that takes longer than this is stuck


@dataclass(frozen=True)
class Snapshot:
    """What a copy holds: rows per table, outbox messages per state, the schema revision."""

    tables: dict[str, int]
    outbox_states: dict[str, int]
    revision: str | None


def kind_of(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"backup knows SQLite and PostgreSQL databases, not {backend!r} ({hide_password(url)})")
    return backend


def hide_password(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"cannot back up the SQLite database {url!r}: not a file")
    return Path(database)


# -- reading what a database holds --------------------------------------------------------------


def _count(conn: Connection, tables: Iterable[str]) -> Snapshot:
    counts = {t: int(conn.exec_driver_sql(f'SELECT count(*) FROM "{t}"').scalar_one()) for t in sorted(tables)}
    states = ({str(s): int(n) for s, n in conn.exec_driver_sql("SELECT state, count(*) FROM outbox GROUP BY state")}
              if "outbox" in counts else {})  # fmt: skip
    revision = None
    if "alembic_version" in counts:
        revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return Snapshot(counts, states, revision)


def _sqlite_tables(conn: Connection) -> list[str]:
    return [r[0] for r in conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]  # fmt: skip


def _pg_tables(conn: Connection) -> list[str]:
    return [r[0] for r in conn.exec_driver_sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]  # fmt: skip


def sqlite_counts(path: Path) -> Snapshot:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return _count(conn, _sqlite_tables(conn))
    finally:
        engine.dispose()


def postgres_counts(url: str) -> Snapshot:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return _count(conn, _pg_tables(conn))
    finally:
        engine.dispose()


# -- SQLite ---------------------------------------------------------------------------------------


def sqlite_snapshot(source: Path, target: Path) -> Snapshot:
    """Copy the database at ``source`` into the new file ``target`` (one step of the backup API: one
    read transaction), switch the copy out of WAL, check it, and count what it holds."""
    if not source.is_file():
        raise BackupError("the SQLite database file is missing", path=source)
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")
        check = dst.execute("PRAGMA quick_check").fetchone()
        if not check or check[0] != "ok":
            raise BackupError(f"the copy of the database fails SQLite's check: {check}", path=source)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"cannot copy the SQLite database: {exc}", path=source) from None
    finally:
        dst.close()
        src.close()
    return sqlite_counts(target)


def sqlite_check(path: Path) -> None:
    """A restored copy must open and pass SQLite's own check."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            check = conn.execute("PRAGMA quick_check").fetchone()
        conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the database in the archive is not a sound SQLite database: {exc}") from None
    if not check or check[0] != "ok":
        raise BackupError(f"the database in the archive fails SQLite's check: {check}")


# -- PostgreSQL -----------------------------------------------------------------------------------


def pg_tool(name: str) -> str:
    """pg_dump or pg_restore: on PATH, else the newest of Debian's /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(PG_BIN.glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if versions:
        return str(versions[-1])
    raise BackupError(f"{name} is not installed; a PostgreSQL database is backed up and restored with "
                      "PostgreSQL's own tools (Debian, Ubuntu: apt-get install postgresql-client)")  # fmt: skip


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The conninfo URI for pg_dump/pg_restore without its password, and the environment that carries it."""
    parsed: URL = make_url(url)
    env = {**os.environ, "PGCONNECT_TIMEOUT": os.environ.get("PGCONNECT_TIMEOUT", "15")}
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    uri = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise BackupError(f"{what}: {Path(argv[0]).name} did not finish within {TOOL_TIMEOUT // 3600} hours") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise BackupError(f"{what}: {Path(argv[0]).name} failed (exit {done.returncode}): "
                          f"{lines[-1] if lines else 'no message'}")  # fmt: skip


def postgres_snapshot(engine: Engine, target: Path) -> Snapshot:
    """``pg_dump -Fc`` into ``target`` in a snapshot we hold, and the counts of that same snapshot."""
    tool = pg_tool("pg_dump")
    uri, env = _libpq(engine.url.render_as_string(hide_password=False))
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            snapshot_id = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            counts = _count(conn, _pg_tables(conn))
            _run([tool, "--format=custom", f"--snapshot={snapshot_id}", f"--file={target}", f"--dbname={uri}"],
                 env, "backup of the PostgreSQL database")  # fmt: skip
    except DBAPIError as exc:
        raise BackupError(f"the PostgreSQL database does not answer: {str(exc.orig).strip()}") from None
    return counts


def postgres_target_empty(url: str) -> None:
    """Restore only into an existing, empty database: a clear error for anything else."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            n = conn.execute(text(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
                "AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')")).scalar_one()  # fmt: skip
    except DBAPIError as exc:
        raise BackupError(f"cannot open the database to restore into ({hide_password(url)}): "
                          f"{str(exc.orig).strip().splitlines()[0]}; create it first (createdb), empty") from None
    finally:
        engine.dispose()
    if n:
        raise BackupError(f"the database {hide_password(url)} is not empty ({n} tables, sequences or views); "
                          "restore into a new, empty database (createdb NAME, then OUTREACH_DATABASE_URL or "
                          "database_url in the restored outreach.yaml)")  # fmt: skip


def postgres_restore(dump: Path, url: str) -> None:
    """``pg_restore`` the dump into the (empty) database, in one transaction: all of it or nothing."""
    uri, env = _libpq(url)
    _run([pg_tool("pg_restore"), "--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges",
          f"--dbname={uri}", str(dump)], env, "restore of the PostgreSQL database")  # fmt: skip
