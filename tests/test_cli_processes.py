"""The process commands' local state: beat's schedule file and ``oncall up``'s folder lock."""

from __future__ import annotations

import os
from pathlib import Path

import click
import pytest

from oncall.cli.run import _hold_data_dir, beat_schedule_file
from oncall.config import Settings


def settings_in(folder: Path) -> Settings:
    return Settings(database_url="sqlite:///x", broker_url="sqla+sqlite:///y",
                    public_url="http://x", secret_key="k", data_dir=folder)


def test_beat_keeps_its_schedule_in_its_own_data_folder(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONCALL_BEAT_SCHEDULE", raising=False)
    one = beat_schedule_file(settings_in(tmp_path / "one"))
    two = beat_schedule_file(settings_in(tmp_path / "two"))
    assert one == tmp_path / "one" / "beat-schedule" and one.parent.is_dir()
    assert one != two


def test_beat_schedule_can_be_placed_explicitly(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCALL_BEAT_SCHEDULE", str(tmp_path / "state" / "beat"))
    assert beat_schedule_file(settings_in(tmp_path / "data")) == tmp_path / "state" / "beat"


def test_a_beat_folder_that_cannot_be_made_is_a_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("ONCALL_BEAT_SCHEDULE", str(tmp_path / "a-file" / "beat"))
    with pytest.raises(click.ClickException, match="ONCALL_BEAT_SCHEDULE or ONCALL_DATA_DIR"):
        beat_schedule_file(settings_in(tmp_path))


def test_the_data_folder_is_held_by_one_oncall_up_at_a_time(tmp_path: Path) -> None:
    first = _hold_data_dir(tmp_path)
    try:
        with pytest.raises(click.ClickException,
                           match=rf"already running on .* \(pid {os.getpid()}\)"):
            _hold_data_dir(tmp_path)
    finally:
        first.close()
    _hold_data_dir(tmp_path).close()  # free again once the first is gone
