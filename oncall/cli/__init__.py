"""The ``oncall`` command. Every command reads the same settings as the running service:
``ONCALL_DATABASE_URL``, or the embedded SQLite database under ``--data`` (default ``.oncall``).
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from oncall import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="oncall")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              envvar="ONCALL_DATA_DIR", default=".oncall", show_default=True,
              help="Directory of the embedded database (when ONCALL_DATABASE_URL is unset).")
def cli(data_dir: Path) -> None:
    """oncall: alerts in, the right person paged, escalation until someone acknowledges."""
    # Child processes (web, worker, beat) and later imports read the same directory.
    os.environ["ONCALL_DATA_DIR"] = str(data_dir.resolve())


def main() -> None:
    from oncall.cli import (  # noqa: F401 - they attach commands
        admin,
        config,
        heartbeats,
        remote,
        run,
        simulate,
    )

    cli(prog_name="oncall")
