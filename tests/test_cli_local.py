"""Operator commands on the local database: refused, in one line naming the path, when there
is no database where they look (never a new empty one answering "(none)"); and the links they
print use the service's public address."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from oncall.cli import admin, cli, config, heartbeats, run, simulate  # noqa: F401 - commands
from tests.conftest import ROOT


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder where `oncall up` never ran, and no database settings at all."""
    for name in ("ONCALL_DATABASE_URL", "ONCALL_DATA_DIR", "ONCALL_PUBLIC_URL",
                 "ONCALL_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def oncall(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("args", [
    ["user", "list"], ["user", "add", "a@example.com", "--name", "A"],
    ["user", "invite", "a@example.com"], ["who"], ["token", "list"],
    ["integration", "add", "billing"], ["heartbeat", "list"], ["maintenance", "list"],
    ["simulate", "--service", "billing"],
])
def test_a_command_in_the_wrong_folder_refuses_and_creates_nothing(here: Path,
                                                                   args: list[str]) -> None:
    result = oncall(*args)
    assert result.exit_code == 1, result.output
    db = here / ".oncall" / "oncall.sqlite"
    assert result.stderr.strip().splitlines() == [
        f"Error: no database at {db}: run this in the folder where `oncall up` runs, or set "
        "ONCALL_DATA_DIR (--data) or ONCALL_DATABASE_URL; `oncall migrate` creates a new one"]
    assert not (here / ".oncall").exists()


def test_migrate_creates_it_and_then_the_commands_work(here: Path) -> None:
    assert oncall("migrate").exit_code == 0
    assert (here / ".oncall" / "oncall.sqlite").is_file()
    assert oncall("user", "add", "a@example.com", "--name", "A").exit_code == 0
    assert json.loads(oncall("user", "list", "--json").output)[0]["email"] == "a@example.com"
    # --data elsewhere: refused again, naming that place.
    other = oncall("--data", str(here / "elsewhere"), "user", "list")
    assert other.exit_code == 1 and f"no database at {here}/elsewhere/oncall.sqlite" in \
        other.stderr


def test_a_first_apply_creates_the_database(here: Path) -> None:
    for name in ("rules", "schedules"):
        shutil.copytree(ROOT / name, here / name)
    result = oncall("apply")
    assert result.exit_code == 0, result.output
    assert "applied 18 object(s)" in result.output
    assert (here / ".oncall" / "oncall.sqlite").is_file()


def test_links_use_the_address_oncall_up_serves_on(here: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert oncall("migrate").exit_code == 0
    plain = oncall("integration", "add", "billing")
    assert "http://127.0.0.1:8080/integrations/oci_" in plain.stdout
    assert "warning: ONCALL_PUBLIC_URL is not set" in plain.stderr
    # What `oncall up --port 9000` notes in its data folder.
    (here / ".oncall" / "public_url").write_text("http://127.0.0.1:9000\n")
    noted = oncall("integration", "add", "billing")
    assert "http://127.0.0.1:9000/integrations/oci_" in noted.stdout
    assert noted.stderr == ""
    monkeypatch.setenv("ONCALL_PUBLIC_URL", "https://oncall.example.com/")
    configured = oncall("user", "invite", "b@example.com")
    assert configured.exit_code == 0, configured.output
    assert "https://oncall.example.com/welcome/" in configured.stdout
    assert ":8080" not in configured.output and ":9000" not in configured.output


def test_a_usage_mistake_is_one_line_too(here: Path) -> None:
    result = oncall("user", "add", "a@example.com")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "Error: Missing option '--name'. (see `cli user add --help`)"]
