"""`oncall apply` with rules: stored in file order, idempotent, a dry run diffs, and an invalid
rule fails the whole apply naming file, line and reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from oncall.apply import ConfigError
from oncall.models import AuditEntry, EscalationPolicy, SystemState, ThresholdRule
from tests.conftest import apply, shipped


def stored(factory: Any) -> list[tuple[str, int, str | None]]:
    with factory() as s:
        return [(r.name, r.position, r.managed_by) for r in s.scalars(
            select(ThresholdRule).order_by(ThresholdRule.position))]


def edit(config: Path, old: str, new: str) -> None:
    path = config / "rules" / "billing.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_the_billing_rules_apply_in_file_order_and_reapply_as_no_change(
        factory: Any, config: Path) -> None:
    changes = apply(factory, *shipped(config))
    assert "+ rule charge-failure-spike" in changes
    assert stored(factory) == [
        ("charge-failure-spike", 0, "rules/billing.yaml"),
        ("api-error-budget-fast-burn", 1, "rules/billing.yaml"),
        ("api-error-budget-slow-burn", 2, "rules/billing.yaml"),
        ("cron-miss", 3, "rules/billing.yaml")]
    assert apply(factory, *shipped(config)) == []
    with factory() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.object_type == "rule")).all()
        assert {(e.action, e.actor) for e in entries} == {("create", "file:rules/billing.yaml")}
        assert s.get(SystemState, "rules") is not None  # intake caches see the change


def test_a_dry_run_shows_the_diff_and_changes_nothing(factory: Any, config: Path) -> None:
    apply(factory, *shipped(config))
    edit(config, 'when: {count: ">= 10", within: 5m, per: [merchant_id]}',
         'when: {count: ">= 20", within: 5m, per: [merchant_id]}')
    changes = apply(factory, *shipped(config), dry_run=True)
    assert changes == ["~ rule charge-failure-spike\n    when: {'count': '>= 10', 'within': "
                       "'5m', 'per': ['merchant_id']} -> {'count': '>= 20', 'within': '5m', "
                       "'per': ['merchant_id']}"]
    with factory() as s:
        spec = s.scalar(select(ThresholdRule.spec).where(
            ThresholdRule.name == "charge-failure-spike"))
    assert spec["when"]["count"] == ">= 10"
    assert apply(factory, *shipped(config)) == changes  # and now for real
    assert apply(factory, *shipped(config)) == []


def test_a_rule_no_file_names_is_deleted(factory: Any, config: Path) -> None:
    apply(factory, *shipped(config))
    text = (config / "rules" / "billing.yaml").read_text()
    start = text.index("  # A missed or failed billing cron run")
    (config / "rules" / "billing.yaml").write_text(text[:start])
    assert apply(factory, *shipped(config)) == ["- rule cron-miss"]
    assert [name for name, _, _ in stored(factory)] == [
        "charge-failure-spike", "api-error-budget-fast-burn", "api-error-budget-slow-burn"]


def line_of(config: Path, needle: str) -> int:
    lines = (config / "rules" / "billing.yaml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line
                and not line.rstrip().endswith(needle + "l"))


@pytest.mark.parametrize(("old", "new", "needle", "reason"), [
    ('count: ">= 10"', 'count: "< 10"', 'count: "< 10"',
     "rules[0].when.count: a count condition is"),
    ('count: ">= 10"', 'count: "at least 10"', 'count: "at least 10"',
     "rules[0].when.count: 'at least 10' is not valid here"),
    ("factor: 14.4, min_events: 100", "factor: 14.4, min_events: 100, oops: 1", "oops: 1",
     "rules[1].when.burn_rate: unknown key oops"),
    ("long: 1h, short: 5m", "long: 5m, short: 1h", "long: 5m, short: 1h",
     "rules[1].when.burn_rate.short: the short window must be shorter"),
    ("    policy: billing-critical\n    summary: \"{count}",
     "    policy: billing-critica\n    summary: \"{count}", "    policy: billing-critica",
     "rules[0].policy: no policy 'billing-critica'"),
    ('summary: "{count} charge failures', 'summary: "{count charge failures',
     "{count charge failures", "rules[0].summary: unexpected '{' in field name"),
    ("match: {type: charge_failure, service: billing-charges}",
     "match: {type: charge_failure, service: billing-charge}", "service: billing-charge}",
     "rules[0].match.service: no service 'billing-charge'"),
])
def test_an_invalid_rule_names_file_line_and_reason_and_nothing_applies(
        factory: Any, config: Path, old: str, new: str, needle: str, reason: str) -> None:
    edit(config, old, new)
    with pytest.raises(ConfigError) as err:
        apply(factory, *shipped(config))
    assert str(err.value).startswith(f"rules/billing.yaml:{line_of(config, needle)}: ")
    assert reason in str(err.value)
    with factory() as s:  # not even the valid policies and schedules beside it
        assert s.scalar(select(func.count()).select_from(EscalationPolicy)) == 0
        assert s.scalar(select(func.count()).select_from(ThresholdRule)) == 0


def test_the_cli_reports_a_bad_rule_and_applies_nothing(config: Path, settings: Any,
                                                        monkeypatch: Any) -> None:
    from click.testing import CliRunner

    import oncall.cli.config  # noqa: F401 - attaches `apply`
    from oncall.cli import cli

    edit(config, "hold_down: 10m", "hold_down: soon")
    monkeypatch.chdir(config)
    monkeypatch.setenv("ONCALL_DATABASE_URL", settings.database_url)
    result = CliRunner().invoke(cli, ["apply"])
    assert result.exit_code == 1
    assert f"rules/billing.yaml:{line_of(config, 'hold_down: soon')}: " \
           "rules[0].hold_down: 'soon' is not valid here" in result.output
    assert "nothing was applied" in result.output
