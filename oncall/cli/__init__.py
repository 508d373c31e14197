"""The ``oncall`` command. Every command reads the same settings as the running service:
``ONCALL_DATABASE_URL``, or the embedded SQLite database under ``--data`` (default ``.oncall``).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from oncall import __version__

# Which module defines each command: only that one is imported to run it, so that a
# responder's `oncall ack 42` starts without loading the operators' database code.
COMMANDS = {
    **dict.fromkeys(("user", "integration", "token"), "admin"),
    **dict.fromkeys(("apply", "who"), "config"),
    **dict.fromkeys(("heartbeat", "maintenance"), "heartbeats"),
    **dict.fromkeys(("login", "logout", "whoami"), "remote.account"),
    **dict.fromkeys(("incidents", "ack", "resolve", "escalate"), "remote.incidents"),
    **dict.fromkeys(("shifts", "override"), "remote.shifts"),
    **dict.fromkeys(("migrate", "web", "worker", "beat", "up"), "run"),
    "simulate": "simulate",
    "import": "importers",
}


class OneLineErrors(click.Group):
    """Commands loaded when used (``COMMANDS``). Every error is one line on stderr, naming
    what to fix, and a non-zero exit: a usage error too (click would add the usage and a
    hint on lines of their own)."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(f"oncall.cli.{COMMANDS[cmd_name]}")
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in sorted(set(COMMANDS.values())):
            importlib.import_module(f"oncall.cli.{module}")
        return super().list_commands(ctx)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "oncall"
            click.echo(f"Error: {exc.format_message()} (see `{where} --help`)", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except (click.Abort, EOFError, KeyboardInterrupt):
            click.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="oncall")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              envvar="ONCALL_DATA_DIR", default=".oncall", show_default=True,
              help="Directory of the embedded database (when ONCALL_DATABASE_URL is unset).")
def cli(data_dir: Path) -> None:
    """oncall: alerts in, the right person paged, escalation until someone acknowledges."""
    # Child processes (web, worker, beat) and later imports read the same directory.
    os.environ["ONCALL_DATA_DIR"] = str(data_dir.resolve())


def main() -> None:
    cli(prog_name="oncall")
