"""The declarative base every model shares: the constraint naming convention the migrations
use, and aware UTC datetimes on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

from oncall.paging.policy_snapshot import Policy

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class PolicyJSON(TypeDecorator[Policy]):
    """An incident's frozen escalation policy (``oncall.paging.policy_snapshot``), stored as
    its JSON; a plain dict of that JSON is accepted too (a statement's parameters)."""

    impl = JSON(none_as_null=True)
    cache_ok = True

    def process_bind_param(self, value: Policy | dict[str, Any] | None,
                           dialect: Dialect) -> dict[str, Any] | None:
        return value.to_json() if isinstance(value, Policy) else value

    def process_result_value(self, value: dict[str, Any] | None,
                             dialect: Dialect) -> Policy | None:
        return None if value is None else Policy.from_json(value)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}
