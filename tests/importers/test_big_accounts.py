"""The benchmark's Opsgenie and Grafana OnCall accounts import and verify with 0
differences (their time is measured by ``bench/importers.py``, never asserted here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import oncall.cli.importers as importers_cli
from oncall.cli import cli
from tests.importers import gf_fixture, og_fixture
from tests.importers.big_accounts import grafana_account, opsgenie_account
from tests.importers.gf_fake import FakeGrafanaOnCall
from tests.importers.og_fake import FakeOpsgenie

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("source", "fake", "account", "now"), [
    ("opsgenie", FakeOpsgenie, opsgenie_account, og_fixture.NOW),
    ("grafana-oncall", FakeGrafanaOnCall, grafana_account, gf_fixture.NOW),
])
def test_a_large_account_imports_and_verifies(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: str, fake: Any,
        account: Any, now: Any) -> None:
    monkeypatch.setattr(importers_cli, "utcnow", lambda: now)
    with fake(account(), page_size=100) as f:
        result = CliRunner().invoke(cli, [
            "import", source, "--url", f.url, "--token-env", "KEY", "--out",
            str(tmp_path / "out"), "--verify", "8"], env={"KEY": f.token},
            catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "verify: 0 difference(s) over 8 week(s) in 50 schedule(s)" in result.output
    assert len(list((tmp_path / "out/schedules").iterdir())) == 50
    assert f.invalid == []
