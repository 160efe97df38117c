"""Upgrading: a database made by an older release keeps every record when the current code opens it.

A database is built at an older alembic revision (0001, the first release's schema, and 0003) and
filled with rows in every table that revision has, every column set (non-ASCII text, JSON, dates,
foreign keys). Then the current code opens it, as any command does: it migrates on first use. Every
row must still be there with every value it had, and the schema must be exactly the current one
(the newest revision, and what the models describe). On SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from helpers import invoke
from sqlalchemy import JSON, Engine, MetaData, Table, select

from outreach.storage import alembic_config, head_revision, open_engine, stored_revision
from outreach.storage.models import Base

OLDER = ["0001", "0003"]


def _value(table: Table, column: Any, i: int, parents: dict[str, list[dict[str, Any]]]) -> Any:
    """A value for one column of row ``i``: a reference to an existing row for a foreign key, else one of its type."""
    for fk in column.foreign_keys:
        return parents[fk.column.table.name][0][fk.column.name]
    try:
        kind = column.type.python_type
    except NotImplementedError:
        kind = str
    if isinstance(column.type, JSON) or kind is object:  # reflected JSON says ``object`` on SQLite
        kind = dict
    if kind is bool:
        return i % 2 == 0
    if kind is int:
        return i + 1 if column.primary_key else 100 + i
    if kind is datetime:
        return datetime(2026, 1, 2, 3, 4, 5 + i, 678_000)
    if kind is date:
        return date(2026, 1, 2 + i)
    if kind in (dict, list):
        return {"row": i, "teks": "Pemeliharaan ✓", "list": [1, 2]}
    text = f"{table.name}.{column.name} {i} — ü"
    length = getattr(column.type, "length", None)
    return text[:length] if length else text


def fill(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Two rows in every table of the database's schema (but alembic's own): what was inserted, by table."""
    meta = MetaData()
    meta.reflect(engine)
    inserted: dict[str, list[dict[str, Any]]] = {}
    with engine.begin() as conn:
        for table in meta.sorted_tables:  # parents first, so foreign keys point to rows that exist
            if table.name == "alembic_version":
                continue
            rows = [{c.name: _value(table, c, i, inserted) for c in table.columns} for i in range(2)]
            conn.execute(table.insert(), rows)
            inserted[table.name] = rows
    return inserted


def check_upgraded(url: str, start: str) -> None:
    old = open_engine(url, migrate=False)
    command.upgrade(alembic_config(old), start)
    assert stored_revision(old) == start
    inserted = fill(old)
    assert len(inserted) >= 7  # contacts, companies, campaigns, outbox, events, suppressions, followups, meta...
    old.dispose()

    engine = open_engine(url)  # what every command does: migrate on first use
    try:
        assert stored_revision(engine) == head_revision()
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            for name, rows in inserted.items():
                table = meta.tables[name]
                key = [c.name for c in table.primary_key.columns]
                found = {tuple(r[k] for k in key): dict(r) for r in conn.execute(select(table)).mappings()}
                assert len(found) == len(rows), name
                for row in rows:
                    now = found[tuple(row[k] for k in key)]
                    assert {c: now[c] for c in row} == row, name  # every value as it was written
    finally:
        engine.dispose()


@pytest.mark.parametrize("start", OLDER)
def test_a_sqlite_database_of_an_older_schema_keeps_every_record(tmp_path: Path, start: str) -> None:
    check_upgraded(f"sqlite:///{tmp_path / 'old.db'}", start)


@pytest.mark.postgres
@pytest.mark.parametrize("start", OLDER)
def test_a_postgresql_database_of_an_older_schema_keeps_every_record(pg_url: str, start: str) -> None:
    check_upgraded(pg_url, start)


def test_a_workspace_of_the_first_release_works_with_the_first_command(example_ws: Path) -> None:
    """The user's view: the database of a 0001 workspace, and the first command run on it."""
    old = open_engine(f"sqlite:///{example_ws / 'outreach.db'}", migrate=False)
    command.upgrade(alembic_config(old), "0001")
    inserted = fill(old)
    old.dispose()
    result = invoke("contacts", "list", "--format", "csv", ws=example_ws)
    assert result.exit_code == 0, result.output
    assert [line.split(",")[0] for line in result.stdout.splitlines()[1:]] == [r["email"] for r in inserted["contacts"]]
