"""Plain SQL on the DB-API driver, for the statements that run once per batch of many rows.

Through SQLAlchemy's compiled statements, each row of an ``executemany`` costs
tens of microseconds of Python (a parameter set built per row, each value
through its type's processor): more than the database's own work for a simple
upsert. A statement run thousands of times a second is therefore written here
once as SQL with ``?`` placeholders (``%s`` for drivers that want them) and its
values converted by the same SQLAlchemy type processors, so they are stored
exactly as SQLAlchemy would store them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import JSON, Connection, Date, DateTime
from sqlalchemy.types import TypeEngine


def _same(value: Any) -> Any:
    return value


def _bind(type_: TypeEngine[Any], conn: Connection) -> Callable[[Any], Any]:
    return type_.dialect_impl(conn.dialect).bind_processor(conn.dialect) or _same


class Driver:
    """One connection's plain SQL, with the value converters of its dialect."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self.qmark = conn.dialect.paramstyle == "qmark"
        self.ts = _bind(DateTime(), conn)
        self.day = _bind(Date(), conn)
        self.json = _bind(JSON(), conn)
        self.from_json: Callable[[Any], Any] = JSON().dialect_impl(conn.dialect).result_processor(
            conn.dialect, None) or _same  # fmt: skip

    def run(self, sql: str, params: Sequence[Any] = ()) -> Iterable[Sequence[Any]]:
        """One statement; ``params`` a tuple for its placeholders."""
        return self.conn.exec_driver_sql(sql if self.qmark else sql.replace("?", "%s"), tuple(params))

    def among(self, column: str, values: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
        """``column IN (?,?,...)`` and its values; on PostgreSQL ``column = ANY(?)`` with one array,
        which psycopg sends without parsing a placeholder per value."""
        if self.dialect == "postgresql":
            return f"{column} = ANY(?)", (list(values),)
        return f"{column} IN ({marks(len(values))})", tuple(values)

    def many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """The statement once per row (the driver's ``executemany``)."""
        if rows:
            self.conn.exec_driver_sql(sql if self.qmark else sql.replace("?", "%s"), rows)

    def insert(self, table: str, columns: Sequence[tuple[str, str]], rows: list[tuple[Any, ...]],
               tail: str = "") -> None:  # fmt: skip
        """``INSERT INTO table (columns) ... tail`` for many rows. On PostgreSQL one statement reads one
        array a column (``unnest``; ``columns`` are (name, SQL type) for their casts), about a third of
        the server's work of a statement a row; elsewhere the driver's ``executemany``."""
        if not rows:
            return
        names = ", ".join(name for name, _type in columns)
        if self.dialect == "postgresql":
            arrays = ", ".join(f"?::{type_}[]" for _name, type_ in columns)
            self.run(f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {tail}",
                     [list(values) for values in zip(*rows, strict=True)])  # fmt: skip
        else:
            self.many(f"INSERT INTO {table} ({names}) VALUES ({marks(len(columns))}) {tail}", rows)


def marks(n: int) -> str:
    """``?,?,?`` for an ``IN (...)`` or ``VALUES (...)`` of ``n`` values."""
    return ",".join("?" * n)
