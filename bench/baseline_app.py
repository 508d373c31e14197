"""The baselines ``bench/ingest.py`` compares the real intake against, served by gunicorn with
the same settings as ``oncall web`` (``-c python:oncall.web.gunicorn_conf``):

- ``BENCH_BASELINE=parse``: parse the JSON body, answer 202. The web stack's ceiling.
- ``BENCH_BASELINE=insert``: also INSERT the body into ``bench_baseline`` (a JSONB column) and
  commit, through the app's own engine (``oncall.db``: SQLAlchemy 2, psycopg 3, same pool),
  one session per request. The durability floor: one commit per alert, in three round trips
  (BEGIN, INSERT, COMMIT).
- ``BENCH_BASELINE=insert-autocommit``: the same INSERT in autocommit (``db.single_statement``,
  as the intake stores a lone alert): one round trip. For reference.

    gunicorn -c python:oncall.web.gunicorn_conf --pythonpath bench baseline_app:app
"""

from __future__ import annotations

import json
import os
from typing import Any

from flask import Flask, request
from sqlalchemy import BigInteger, Column, DateTime, MetaData, Table, func, insert
from sqlalchemy.dialects.postgresql import JSONB

MODE = os.environ.get("BENCH_BASELINE", "parse")
DATABASE_URL = os.environ.get("ONCALL_DATABASE_URL", "")

metadata = MetaData()
bench_baseline = Table(
    "bench_baseline", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("body", JSONB, nullable=False),
)

app = Flask("baseline")


def _factory():  # type: ignore[no-untyped-def]
    from oncall import db

    return db.session_factory(DATABASE_URL)


if MODE.startswith("insert"):
    _factory()  # the engine per worker, built after the fork as the real app does


@app.get("/health")
def health() -> dict[str, Any]:
    return {"status": "ok", "mode": MODE}


@app.post("/integrations/<token>")
def receive(token: str) -> tuple[dict[str, Any], int]:
    payload = json.loads(request.get_data())
    if MODE == "insert":
        with _factory()() as s, s.begin():
            row_id = s.execute(insert(bench_baseline).values(body=payload)
                               .returning(bench_baseline.c.id)).scalar_one()
        return {"accepted": 1, "id": row_id}, 202
    if MODE == "insert-autocommit":
        from oncall import db

        with _factory()() as s, db.single_statement(s) as conn:
            row_id = conn.execute(insert(bench_baseline).values(body=payload)
                                  .returning(bench_baseline.c.id)).scalar_one()
        return {"accepted": 1, "id": row_id}, 202
    return {"accepted": 1}, 202
