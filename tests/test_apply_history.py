"""`oncall apply` changes a file-managed rotation from each layer's next handoff (or
`--effective now|TIME`), never before: past shifts and `oncall who --at` stay; dry runs and
real runs print the shift diff, warn when the person on call now would change, and warn of
coverage gaps on schedules that a policy pages."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from oncall.cli import admin, cli, config, run  # noqa: F401 - attach the commands
from oncall.config import Settings
from oncall.models import utcnow

USERS = """
users:
  - {user: alice@example.com, name: Alice}
  - {user: bob@example.com, name: Bob}
  - {user: carol@example.com, name: Carol}
"""
SCHEDULE = """
schedule: primary
timezone: America/New_York
layers:
  - name: weekly
    rotation: weekly
    handoff: "Mon 09:00"
    start: "2026-01-05"
    members: [{members}]
"""
POLICY = """
policies:
  - policy: critical
    levels:
      - notify: [schedule:primary]
"""


@pytest.fixture
def oncall(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("ONCALL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ONCALL_BROKER_URL", settings.broker_url)
    monkeypatch.setenv("ONCALL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> Any:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def write(tmp_path: Path, members: str, extra: str = "") -> None:
    (tmp_path / "schedules").mkdir(exist_ok=True)
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "schedules" / "team.yaml").write_text(USERS)
    (tmp_path / "schedules" / "primary.yaml").write_text(
        SCHEDULE.format(members=members) + extra)
    (tmp_path / "rules" / "policies.yaml").write_text(POLICY)


def who_at(oncall: Any, at: Any) -> str:
    rows = json.loads(oncall("who", "primary", "--at", at.isoformat(), "--json").output)
    return str(rows[0]["on_call"])


NOW = utcnow()


def history(oncall: Any, days: int = 42) -> list[str]:
    """Who was on call at an hour of each of the ``days`` days before the tests started."""
    now = NOW
    return [who_at(oncall, now - timedelta(hours=h)) for h in range(1, days * 24, 23)]


def test_a_dry_run_prints_the_shift_diff_and_changes_nothing(oncall: Any,
                                                             tmp_path: Path) -> None:
    write(tmp_path, "alice@example.com, bob@example.com")
    oncall("apply")
    write(tmp_path, "alice@example.com, bob@example.com, carol@example.com")
    in_two_weeks = utcnow() + timedelta(days=14)
    expected = who_at(oncall, in_two_weeks)
    out = oncall("apply", "--dry-run").output
    assert "~ schedule primary" in out
    assert "layer weekly: changed from Mon " in out and "09:00 E" in out
    assert "shifts, next 4 weeks (+ gained, - lost):" in out
    assert "carol@example.com: + " in out and "(weekly)" in out
    assert "WARNING: the person on call now changes" not in out
    assert "would change 1 object(s)" in out
    assert who_at(oncall, in_two_weeks) == expected  # nothing saved


def test_apply_keeps_past_shifts_and_the_current_shift(oncall: Any, tmp_path: Path) -> None:
    write(tmp_path, "alice@example.com, bob@example.com")
    oncall("apply")
    past, now_user = history(oncall), who_at(oncall, utcnow())
    write(tmp_path, "carol@example.com, bob@example.com, alice@example.com")
    out = oncall("apply").output
    assert "shifts, next 4 weeks" in out and "applied 1 object(s)" in out
    assert history(oncall) == past
    assert who_at(oncall, utcnow()) == now_user
    assert "carol@example.com" in {who_at(oncall, utcnow() + timedelta(days=d))
                                   for d in range(0, 36, 3)}
    assert "no changes: up to date" in oncall("apply").output


def test_effective_now_warns_that_the_person_on_call_changes(oncall: Any,
                                                             tmp_path: Path) -> None:
    write(tmp_path, "alice@example.com, bob@example.com")
    oncall("apply")
    past, now_user = history(oncall), who_at(oncall, utcnow())
    other = ({"alice@example.com", "bob@example.com"} - {now_user}).pop()
    write(tmp_path, other)
    out = oncall("apply", "--effective", "now").output
    assert (f"WARNING: the person on call now changes at once: {now_user} -> "
            in out)
    assert who_at(oncall, utcnow()) != now_user
    assert history(oncall) == past


def test_an_effective_time_in_the_past_is_refused(oncall: Any, tmp_path: Path) -> None:
    write(tmp_path, "alice@example.com, bob@example.com")
    oncall("apply")
    write(tmp_path, "bob@example.com")
    result = oncall("apply", "--effective", "2020-01-01T00:00:00Z", ok=False)
    assert result.exit_code == 2 and "in the past" in result.output
    result = oncall("apply", "--effective", "tomorrow", ok=False)
    assert result.exit_code == 2 and "--effective" in result.output


def test_coverage_gaps_are_warned_about(oncall: Any, tmp_path: Path) -> None:
    write(tmp_path, "alice@example.com", extra="""
    restrictions: [{days: Mon-Fri, from: "09:00", to: "17:00"}]
""")
    out = oncall("apply", "--dry-run").output
    assert "WARNING: nobody on call on schedule primary from " in out
    assert "(paged by critical)" in out
    out = oncall("apply").output
    assert out.count("WARNING: nobody on call on schedule primary") >= 20  # 4 weeks of nights
