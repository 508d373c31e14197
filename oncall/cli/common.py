"""Helpers shared by the commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.orm import Session

from oncall import db
from oncall.config import Settings, load_settings

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def settings() -> Settings:
    return load_settings()


@contextmanager
def session() -> Iterator[Session]:
    """A committed-on-success session on the configured database, migrated first when it is
    the embedded one (so `oncall user add` works before `oncall up` ever ran)."""
    s = settings()
    if s.embedded:
        from oncall.migrate import upgrade

        upgrade(s.database_url)
    with db.session_scope(s.database_url) as sess:
        yield sess


def secret_key() -> str:
    """The installation's secret key, which signs console links: ``ONCALL_SECRET_KEY``, or
    for the embedded installation the key ``oncall up`` keeps in the data directory."""
    s = settings()
    if s.secret_key:
        return s.secret_key
    if s.embedded:
        from oncall.config import embedded_secret_key

        return embedded_secret_key(s.data_dir).read_text().strip()
    raise click.ClickException("ONCALL_SECRET_KEY is not set: links signed without the "
                               "installation's key would not work on its web server")


def table(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        click.echo("(none)")
        return
    widths = {c: max(len(c), *(len(str(r.get(c) if r.get(c) is not None else "")) for r in rows))
              for c in columns}
    click.echo("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for r in rows:
        click.echo("  ".join(str(r.get(c) if r.get(c) is not None else "").ljust(widths[c])
                             for c in columns).rstrip())
