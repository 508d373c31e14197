"""The migrations build exactly the models' schema, on SQLite and on the test database."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from oncall.migrate import downgrade, upgrade
from oncall.models import Base


def diff(url: str) -> list[object]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    return found


def test_a_fresh_sqlite_database_migrates_to_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fresh.sqlite"
    upgrade(url)
    assert diff(url) == []
    downgrade(url, "base")
    engine = create_engine(url)
    assert inspect(engine).get_table_names() == ["alembic_version"]
    engine.dispose()


def test_the_test_database_matches_the_models(migrated: str) -> None:
    assert diff(migrated) == []
