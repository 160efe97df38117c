"""Opening a database: one query when its schema is current, alembic only when it is not."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, inspect

from outreach.storage import alembic_config, head_revision, open_engine, stored_revision


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every statement any engine sends while inside."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def test_the_head_read_from_the_files_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_current_schema_costs_one_query(db: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'outreach.db'}" if db == "sqlite" else request.getfixturevalue("pg_url")
    open_engine(url).dispose()  # created and migrated
    with statements() as seen:
        engine = open_engine(url)
    assert seen == ["SELECT version_num FROM alembic_version"]
    assert stored_revision(engine) == head_revision()


def test_a_current_schema_does_not_load_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'outreach.db'}"
    open_engine(url).dispose()
    code = ("import sys; from outreach.storage import open_engine; open_engine(sys.argv[1]); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, check=True)
    assert done.stdout == "[]\n"


def test_an_older_schema_is_brought_to_the_head(tmp_path: Path) -> None:
    from alembic import command

    url = f"sqlite:///{tmp_path / 'outreach.db'}"
    old = create_engine(url)
    command.upgrade(alembic_config(old), "0001")
    assert stored_revision(old) == "0001"
    assert "language" not in {c["name"] for c in inspect(old).get_columns("contacts")}
    old.dispose()
    engine = open_engine(url)
    assert stored_revision(engine) == head_revision()
    assert "language" in {c["name"] for c in inspect(engine).get_columns("contacts")}


def test_a_new_database_is_created(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert stored_revision(engine) == head_revision()
    assert "contacts" in inspect(engine).get_table_names()
