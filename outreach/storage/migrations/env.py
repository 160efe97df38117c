"""Alembic environment: the engine is handed in by outreach.storage.upgrade."""

from __future__ import annotations

from alembic import context

from outreach.storage.models import Base

config = context.config
engine = config.attributes.get("engine")


def run() -> None:
    if engine is None:
        url = config.get_main_option("sqlalchemy.url")
        context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
