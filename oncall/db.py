"""Engines and sessions. One engine per database URL per process."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, any_, bindparam, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 15})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        # No pre-ping: it costs a round trip per request. A connection the server dropped
        # fails its first statement instead (invalidated, answered 503, the sender retries).
        pool_recycle=1800,
        pool_size=5,
        max_overflow=10,
        pool_timeout=5,
        # Fail fast when the database is gone, so the web answers 503 and senders retry.
        connect_args={"connect_timeout": 3},
    )


def get_engine(url: str) -> Engine:
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
            _factories[url] = sessionmaker(engine, expire_on_commit=False)
        return engine


def session_factory(url: str) -> sessionmaker[Session]:
    get_engine(url)
    return _factories[url]


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on error."""
    with session_factory(url)() as session, session.begin():
        yield session


def dispose_all(close: bool = True) -> None:
    """Drop pooled connections (between tests; after a fork with ``close=False``, which
    leaves the parent's connections alone instead of closing them under it)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose(close=close)
        _engines.clear()
        _factories.clear()


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def insert_for(session: Session) -> Any:
    """The dialect's ``insert`` (PostgreSQL's or SQLite's), for ``ON CONFLICT`` upserts."""
    return postgresql.insert if is_postgres(session) else sqlite.insert


@contextmanager
def claiming(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction that reads, then writes what it read (claiming due incidents or
    pages), committed on success. On SQLite it takes the write lock first, waiting for it
    up to the busy timeout: otherwise, should another connection write between its read and
    its write, SQLite fails the write at once ("database is locked", no waiting).
    PostgreSQL needs nothing: such transactions lock the rows they read."""
    with factory() as session, session.begin():
        if not is_postgres(session):
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        yield session


@contextmanager
def single_statement(session: Session) -> Iterator[Connection]:
    """The connection for a unit of work that is one statement. If the session has not begun
    a transaction, a connection of its pool in autocommit: the statement is its own
    transaction, as atomic and as durable (committed before it returns), in one round trip
    where a transaction takes three (BEGIN, the statement, COMMIT). Otherwise the session's
    connection, in its transaction (which the caller commits)."""
    bind = session.get_bind()
    if session.in_transaction() or not isinstance(bind, Engine):
        yield session.connection()
        return
    with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        yield conn


# PostgreSQL batches take their rows as one JSON parameter (``json_to_recordset``), and
# ``IN`` lists one array parameter: a statement's text is then the same whatever the batch
# size, so SQLAlchemy and psycopg convert it once and psycopg has the server prepare it. A
# statement of hundreds of parameters (a long IN list, a multi-row VALUES) is rendered,
# parsed and planned again on every execution; and JSON costs one ``json.dumps`` where
# psycopg would quote and escape every element of an array in Python.


def among(column: Any, name: str, postgres: bool) -> ColumnElement[bool]:
    """``column IN (the list given as parameter name)``, for a statement built once per
    dialect; on PostgreSQL ``column = ANY(array)``, one parameter whatever the list's
    length."""
    if postgres:
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


class Recordset:
    """Rows handed to a PostgreSQL statement as the one JSON parameter ``:rows``: ``sql`` is
    the FROM item (``json_to_recordset(..) AS alias(name type, ..)``), ``params`` the
    parameters for some rows (dicts holding at least these names; datetimes in ISO 8601,
    policy snapshots as their JSON)."""

    def __init__(self, alias: str, columns: str) -> None:
        self.names = tuple(c.split()[0] for c in columns.split(","))
        self.sql = f"json_to_recordset(CAST(:rows AS json)) AS {alias}({columns})"

    def params(self, rows: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
        return {"rows": json.dumps([{n: r[n] for n in self.names} for r in rows],
                                   default=_iso), **more}


def _iso(value: Any) -> Any:
    """JSON for what ``json`` does not know: datetimes in ISO 8601, values that say how
    (``to_json``: a policy snapshot)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "to_json"):
        return value.to_json()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
