"""What every importer's CLI tests do: run ``oncall import <source>`` at a fixed now with
the key in an environment variable, and ``oncall apply`` the result on the test database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import oncall.cli.importers as importers_cli
from oncall.cli import cli, config  # noqa: F401 - attach the commands
from oncall.config import Settings


def import_runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: str, var: str,
                  key: str, now: datetime) -> Callable[..., Any]:
    monkeypatch.setattr(importers_cli, "utcnow", lambda: now)
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str, token: str = key) -> Any:
        return CliRunner().invoke(cli, ["import", source, "--token-env", var, *args],
                                  env={var: token}, catch_exceptions=False)

    return invoke


def apply_folder(out: Path, settings: Settings, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> str:
    """``oncall apply out`` on the test database (twice: the second has no changes)."""
    monkeypatch.setenv("ONCALL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ONCALL_BROKER_URL", settings.broker_url)
    monkeypatch.setenv("ONCALL_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(cli, ["apply", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    again = CliRunner().invoke(cli, ["apply", str(out)], catch_exceptions=False)
    assert "no changes" in again.output
    return result.output
