"""``heartbeats:`` and ``maintenance:`` in config files: idempotent, the uuid kept across
applies, dry runs, errors with file and line; and ``oncall heartbeat list``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from oncall import maintenance
from oncall.apply import ConfigError
from oncall.cli import cli
from oncall.cli import heartbeats as _commands  # noqa: F401 - attach the commands
from oncall.config import Settings
from oncall.models import AuditEntry, Heartbeat, MaintenanceWindow
from tests.conftest import apply, shipped


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    yield
    maintenance.invalidate()


def heartbeats(factory: Any) -> dict[str, Heartbeat]:
    with factory() as s:
        return {hb.name: hb for hb in s.scalars(select(Heartbeat))}


def write(config: Path, text: str, name: str = "extra.yaml") -> Path:
    path = config / "rules" / name
    path.write_text(text)
    return path


def test_the_example_heartbeats_apply_with_their_schedules(factory: Any, config: Path) -> None:
    changes = apply(factory, *shipped(config))
    assert "+ heartbeat nightly-charge-run\n    cron 0 2 * * * UTC, grace 1800s " \
           "(`oncall heartbeat list` prints its URL)" in changes
    found = heartbeats(factory)
    assert set(found) == {"nightly-charge-run", "invoice-run", "dunning-retries"}
    nightly = found["nightly-charge-run"]
    assert (nightly.cron, nightly.timezone, nightly.grace, nightly.state) == \
        ("0 2 * * *", "UTC", 1800, "new")
    assert nightly.managed_by == "rules/billing.yaml"
    assert nightly.next_due_at is not None and nightly.next_due_at.hour == 2


def test_reapplying_changes_nothing_and_keeps_the_ping_urls(factory: Any, config: Path) -> None:
    apply(factory, *shipped(config))
    before = {n: hb.uuid for n, hb in heartbeats(factory).items()}
    assert apply(factory, *shipped(config)) == []
    assert {n: hb.uuid for n, hb in heartbeats(factory).items()} == before


def test_an_edit_is_an_update_and_a_removal_a_delete(factory: Any, config: Path) -> None:
    apply(factory, *shipped(config))
    uuid = heartbeats(factory)["nightly-charge-run"].uuid
    rules = config / "rules" / "billing.yaml"
    text = rules.read_text().replace("grace: 30m", "grace: 45m")
    start = text.index("  - heartbeat: dunning-retries")
    end = text.index("\n\n", start)
    rules.write_text(text[:start] + text[end + 2:])
    changes = apply(factory, *shipped(config))
    assert len(changes) == 2, changes
    assert "~ heartbeat nightly-charge-run\n    grace: 1800 -> 2700" in changes
    assert "- heartbeat dunning-retries" in changes
    assert heartbeats(factory)["nightly-charge-run"].uuid == uuid
    with factory() as s:
        actors = s.scalars(select(AuditEntry.actor).where(
            AuditEntry.object_type == "heartbeat", AuditEntry.action == "update")).all()
    assert actors == ["file:rules/billing.yaml"]


def test_a_dry_run_changes_nothing(factory: Any, config: Path) -> None:
    changes = apply(factory, *shipped(config), dry_run=True)
    assert any(c.startswith("+ heartbeat nightly-charge-run") for c in changes)
    assert heartbeats(factory) == {}


def test_a_pinned_uuid_is_used(factory: Any, config: Path) -> None:
    write(config, """
heartbeats:
  - heartbeat: ledger-export
    period: 1h
    uuid: 5b1d3c8e-6f0a-4b7e-9a51-2f4c8d7e6a10
    service: billing-cron
""")
    apply(factory, *shipped(config))
    assert heartbeats(factory)["ledger-export"].uuid == "5b1d3c8e-6f0a-4b7e-9a51-2f4c8d7e6a10"


@pytest.mark.parametrize("text,where", [
    ("heartbeats:\n  - heartbeat: x\n    cron: '0 25 * * *'\n    service: billing-cron\n",
     "rules/extra.yaml:3: heartbeats[0].cron:"),
    ("heartbeats:\n  - heartbeat: x\n    period: 1h\n    service: billing-cron\n"
     "    timezone: Mars/Base\n", "rules/extra.yaml:5: heartbeats[0].timezone:"),
    ("heartbeats:\n  - heartbeat: x\n    service: billing-cron\n",
     "rules/extra.yaml:2: heartbeats[0]"),
    ("heartbeats:\n  - heartbeat: x\n    period: 1h\n    service: nope\n",
     "rules/extra.yaml:4: heartbeats[0].service: no service 'nope'"),
    ("heartbeats:\n  - heartbeat: x\n    period: 1h\n    sevrity: critical\n",
     "rules/extra.yaml:2: heartbeats[0]: unknown key sevrity"),
    ("maintenance:\n  - maintenance: m\n    ends_at: '2026-12-01T01:00:00Z'\n"
     "    starts_at: '2026-12-01T02:00:00Z'\n", "rules/extra.yaml:3: maintenance[0].ends_at:"),
    ("maintenance:\n  - maintenance: m\n    ends_at: '2026-12-01T01:00:00Z'\n"
     "    match: {team: x}\n", "rules/extra.yaml:4: maintenance[0].match: unknown key team"),
])
def test_errors_name_file_line_and_field_and_nothing_is_applied(
        factory: Any, config: Path, text: str, where: str) -> None:
    write(config, text)
    with pytest.raises(ConfigError) as err:
        apply(factory, *shipped(config))
    assert str(err.value).startswith(where), str(err.value)
    assert heartbeats(factory) == {}


def test_maintenance_windows_apply_idempotently_and_are_removed_with_their_file(
        factory: Any, config: Path) -> None:
    extra = write(config, """
maintenance:
  - maintenance: stripe-migration
    match: {service: billing-charges, labels: {processor: stripe}}
    starts_at: "2030-12-05T01:00:00Z"
    ends_at: "2030-12-05T03:00:00Z"
    reason: Moving to the new Stripe API version
""")
    changes = apply(factory, *shipped(config))
    assert "+ maintenance stripe-migration\n    2030-12-05T01:00:00+00:00 to " \
           "2030-12-05T03:00:00+00:00" in changes
    assert apply(factory, *shipped(config)) == []
    with factory() as s:
        [window] = s.scalars(select(MaintenanceWindow)).all()
        assert window.matchers == {"service": "billing-charges",
                                   "labels": {"processor": "stripe"}}
        assert window.managed_by == "rules/extra.yaml"
    extra.write_text(extra.read_text().replace("03:00:00Z", "04:00:00Z"))
    [change] = apply(factory, *shipped(config))
    assert change.startswith("~ maintenance stripe-migration\n    ends_at:")
    extra.unlink()
    assert apply(factory, *shipped(config)) == ["- maintenance stripe-migration"]


def test_a_file_managed_window_cannot_be_changed_through_the_api(
        factory: Any, config: Path, client: Any, cast: Any) -> None:
    write(config, "maintenance:\n  - maintenance: m\n    starts_at: '2030-01-01T00:00:00Z'\n"
                  "    ends_at: '2030-01-02T00:00:00Z'\n")
    apply(factory, *shipped(config))
    with factory() as s:
        window_id = s.scalar(select(MaintenanceWindow.id))
    r = client.post(f"/api/v1/maintenance/{window_id}/end", headers=cast.auth("manager"))
    assert r.status_code == 409 and "rules/extra.yaml" in r.json["error"]


def test_heartbeat_list_prints_the_ping_urls(factory: Any, config: Path, settings: Settings,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    apply(factory, *shipped(config))
    monkeypatch.setenv("ONCALL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ONCALL_PUBLIC_URL", "https://oncall.example.com")
    result = CliRunner().invoke(cli, ["heartbeat", "list", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    uuid = heartbeats(factory)["nightly-charge-run"].uuid
    assert rows["nightly-charge-run"]["ping_url"] == f"https://oncall.example.com/ping/{uuid}"
    assert rows["nightly-charge-run"]["schedule"] == "cron 0 2 * * * UTC"
    text = CliRunner().invoke(cli, ["heartbeat", "list"]).output
    assert f"https://oncall.example.com/ping/{uuid}" in text


def test_a_billing_cron_heartbeat_going_down_is_routed_by_the_cron_miss_rule(
        factory: Any, config: Path) -> None:
    """The shipped cron-miss rule covers heartbeats as well as cron alerts sent by a monitor:
    a failed dunning run (no severity of its own) pages as critical, with the runbook."""
    from oncall.heartbeats import store
    from oncall.models import Incident

    apply(factory, *shipped(config))
    hb = heartbeats(factory)["dunning-retries"]
    with factory() as s, s.begin():
        [opened] = store.record_ping(s, hb.uuid, "fail", datetime.now(UTC), exit_status=1)
    with factory() as s:
        incident = s.get(Incident, opened)
        assert incident is not None
        assert (incident.severity, incident.runbook) == ("critical",
                                                         "docs/runbooks/cron-misses.md")
        assert incident.summary == ("Billing cron: Heartbeat dunning-retries is down: the job "
                                    "reported failure (exit status 1)")
        assert incident.policy is None or incident.policy.name == "billing-critical"
