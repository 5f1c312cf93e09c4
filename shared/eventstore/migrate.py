"""Schema migrations (Alembic), run automatically on first use and safe under concurrency.

Several processes may start at once against a fresh database: PostgreSQL migrations run under
an advisory lock, SQLite ones inside a `BEGIN IMMEDIATE` transaction (the file's write lock).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK_KEY = 0x434C5200  # "CLR\0"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (no-op when it is already there)."""
    if current_revision(engine) == head_revision():
        return
    config = alembic_config()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
