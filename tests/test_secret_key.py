"""Without ONCALL_SECRET_KEY the production processes refuse to start, saying how to make one;
``oncall up`` (embedded) makes a random key once and keeps it in its data directory."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from oncall.cli import cli
from oncall.config import ConfigError, load_settings
from tests.conftest import ROOT


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("ONCALL_SECRET_KEY", "ONCALL_SECRET_KEY_FILE"):
        monkeypatch.setenv(name, "")  # so that monkeypatch restores what was there after
        monkeypatch.delenv(name)
    monkeypatch.setenv("ONCALL_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.mark.parametrize("command", ["web", "worker", "beat"])
@pytest.mark.parametrize("key", [None, "dev-only-insecure-key"])
def test_a_production_process_refuses_to_start_without_a_key(
        no_key: Path, monkeypatch: pytest.MonkeyPatch, command: str, key: str | None) -> None:
    if key:
        monkeypatch.setenv("ONCALL_SECRET_KEY", key)
    execs: list[object] = []
    monkeypatch.setattr(os, "execv", lambda *a: execs.append(a))
    from oncall.cli import run  # noqa: F401 - attaches the commands

    result = CliRunner().invoke(cli, [command])
    assert result.exit_code == 1 and execs == []
    assert f"ONCALL_SECRET_KEY is {'the old development value' if key else 'not set'}; " \
           f"oncall {command} will not start" in result.output
    assert "secrets.token_hex(32)" in result.output
    assert "ONCALL_SECRET_KEY_FILE" in result.output


@pytest.mark.parametrize("module", ["oncall.web.wsgi", "worker.app"])
def test_the_gunicorn_and_celery_entry_points_refuse_too(no_key: Path, module: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONCALL_SECRET_KEY")}
    out = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "ConfigError: ONCALL_SECRET_KEY is not set" in out.stderr


def test_with_a_key_file_the_key_is_read_from_it(no_key: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "key").write_text("k" * 64 + "\n")
    monkeypatch.setenv("ONCALL_SECRET_KEY_FILE", str(tmp_path / "key"))
    assert load_settings().secret_key == "k" * 64


def use_embedded_secret_key() -> None:
    from oncall.cli.run import use_embedded_secret_key

    use_embedded_secret_key()


def test_oncall_up_makes_a_key_once_and_keeps_it(no_key: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().secret_key == ""
    use_embedded_secret_key()
    key_file = no_key / "secret_key"
    first = load_settings().secret_key
    assert len(first) == 64 and key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    monkeypatch.delenv("ONCALL_SECRET_KEY_FILE")  # a restart: the same key again
    use_embedded_secret_key()
    assert load_settings().secret_key == first


def test_oncall_up_uses_a_key_it_is_given(no_key: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCALL_SECRET_KEY", "given-" + "x" * 40)
    use_embedded_secret_key()
    assert load_settings().secret_key == "given-" + "x" * 40
    assert not (no_key / "secret_key").exists()


def test_an_emptied_key_file_is_refused_not_replaced(no_key: Path) -> None:
    no_key.mkdir()
    (no_key / "secret_key").write_text("")
    with pytest.raises(ConfigError, match="secret_key is empty"):
        use_embedded_secret_key()
