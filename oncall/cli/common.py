"""Helpers shared by the commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from oncall.config import Settings, env_str, load_settings

if TYPE_CHECKING:  # the responders' commands import this module without SQLAlchemy
    from sqlalchemy.orm import Session

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
# Where `oncall up` notes the address it serves on, for the commands run beside it.
PUBLIC_URL_FILE = "public_url"


def settings() -> Settings:
    """The service's settings; without ``ONCALL_PUBLIC_URL``, the address the last
    ``oncall up`` on this data folder served on (its links are the ones that work)."""
    s = load_settings()
    if env_str("ONCALL_PUBLIC_URL") is None and s.embedded:
        try:
            noted = (s.data_dir / PUBLIC_URL_FILE).read_text().strip()
        except OSError:
            noted = ""
        if noted:
            return replace(s, public_url=noted.rstrip("/"))
    return s


def public_url() -> str:
    """The address printed in links (integration URLs, ping URLs, sign-in links); a warning
    on stderr, once the command is done, when it is only the built-in guess."""
    s = settings()
    if env_str("ONCALL_PUBLIC_URL") is None and not (s.data_dir / PUBLIC_URL_FILE).is_file():
        message = (f"warning: ONCALL_PUBLIC_URL is not set, so the links above use "
                   f"{s.public_url}; set it to the address people and senders reach the "
                   "service at")
        ctx = click.get_current_context(silent=True)
        if ctx is None:
            click.echo(message, err=True)
        else:  # after what the command prints, which scripts read from its start
            ctx.find_root().call_on_close(lambda: click.echo(message, err=True))
    return s.public_url


def database_file(s: Settings) -> Path | None:
    """The embedded (SQLite) database's file, or None for a server database or memory."""
    if not s.embedded:
        return None
    from sqlalchemy.engine import make_url

    name = make_url(s.database_url).database
    return Path(name).resolve() if name and name != ":memory:" else None


def require_database(s: Settings) -> None:
    """Refuse (one line, naming the path) to work on an embedded database that does not
    exist: a command run from the wrong folder must not make a new empty one and answer
    "(none)". Only ``oncall up``, ``oncall migrate`` and ``oncall apply`` create it."""
    path = database_file(s)
    if path is not None and not path.exists():
        raise click.ClickException(
            f"no database at {path}: run this in the folder where `oncall up` runs, or set "
            "ONCALL_DATA_DIR (--data) or ONCALL_DATABASE_URL; `oncall migrate` creates a new "
            "one")


@contextmanager
def session(create: bool = False) -> Iterator[Session]:
    """A committed-on-success session on the configured database, migrated first when it is
    the embedded one. A missing embedded database is refused unless ``create``."""
    from oncall import db

    s = settings()
    if s.embedded:
        from oncall.migrate import upgrade

        if not create:
            require_database(s)

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
        require_database(s)
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


def echo_json(value: Any) -> None:
    """``value`` as indented JSON (``--json`` output)."""
    click.echo(json.dumps(value, indent=2))
