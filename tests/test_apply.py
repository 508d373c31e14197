"""Config as code: apply is idempotent, dry runs change nothing, errors name file and line,
and nothing is half-applied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from oncall.apply import ConfigError
from oncall.models import EscalationPolicy, Schedule, Service, User
from tests.conftest import apply


def counts(factory: Any) -> tuple[int, ...]:
    with factory() as s:
        return tuple(s.scalar(select(func.count()).select_from(m))
                     for m in (User, Schedule, EscalationPolicy, Service))


def test_the_shipped_examples_apply_and_reapply_as_no_change(factory: Any, config: Path) -> None:
    first = apply(factory, config / "rules", config / "schedules")
    assert "+ policy billing-critical" in "\n".join(first)
    assert counts(factory) == (5, 2, 1, 3)
    assert apply(factory, config / "rules", config / "schedules") == []


def test_applied_changes_are_in_the_audit_log(factory: Any, config: Path) -> None:
    from oncall.models import AuditEntry

    apply(factory, config / "rules", config / "schedules")
    with factory() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.object_type == "schedule")
                            .order_by(AuditEntry.id)).all()
        assert [(e.action, e.object_name, e.actor) for e in entries] == [
            ("create", "billing-primary", "file:schedules/billing-primary.yaml"),
            ("create", "billing-secondary", "file:schedules/billing-secondary.yaml")]
        assert entries[0].object_id is not None


def test_a_dry_run_changes_nothing(factory: Any, config: Path) -> None:
    changes = apply(factory, config / "rules", config / "schedules", dry_run=True)
    assert len(changes) == 18  # 5 users, 2 schedules, 1 policy, 3 services, 4 rules, 3 heartbeats
    assert counts(factory) == (0, 0, 0, 0)


def test_an_edit_shows_as_an_update_and_a_removal_as_a_delete(factory: Any,
                                                              config: Path) -> None:
    apply(factory, config / "rules", config / "schedules")
    rules = config / "rules" / "billing.yaml"
    rules.write_text(rules.read_text().replace("repeat: 2", "repeat: 1"))
    (config / "schedules" / "billing-secondary.yaml").unlink()
    text = (config / "rules" / "billing.yaml").read_text()
    rules.write_text(text.replace("schedule:billing-secondary, ", ""))
    changes = apply(factory, config / "rules", config / "schedules")
    assert "~ policy billing-critical\n    repeat: 2 -> 1\n    levels: 3 -> 3" in changes
    assert "- schedule billing-secondary" in changes


def test_the_policy_levels_keep_targets_and_delays(factory: Any, config: Path) -> None:
    apply(factory, config / "rules", config / "schedules")
    with factory() as s:
        policy = s.scalar(select(EscalationPolicy))
        assert [lvl.escalate_after for lvl in policy.levels] == [300, 600, 300]
        assert policy.levels[1].targets == [
            {"type": "schedule", "ref": "billing-secondary"},
            {"type": "user", "ref": "manager@example.com"}]
        assert s.scalar(select(Service).where(Service.name == "billing-cron")).policy_id == \
            policy.id


def write(dir_: Path, name: str, text: str) -> Path:
    dir_.mkdir(parents=True, exist_ok=True)
    (dir_ / name).write_text(text)
    return dir_


@pytest.mark.parametrize(("text", "expected"), [
    ("policies:\n  - policy: p\n    levels:\n      - notify: [pager:me]\n",
     "bad.yaml:4: policies[0].levels[0].notify[0]:"),
    ("schedule: s\ntimezone: Mars/Olympus\nlayers:\n  - name: l\n    members: [a@x.io]\n",
     "bad.yaml:2: timezone: unknown timezone 'Mars/Olympus'"),
    ("schedule: s\ntimezone: UTC\nlayers:\n  - name: l\n    handoff: '25:00'\n"
     "    members: [a@x.io]\n", "bad.yaml:5: layers[0].handoff:"),
    ("schedule: s\ntimezone: UTC\nlayers:\n  - name: l\n    start: '2026-01-05'\n"
     "    end: '2026-01-01'\n    members: [a@x.io]\n", "bad.yaml:6: layers[0].end: must be after"),
    ("schedule: s\ntimezone: UTC\nlayers:\n  - name: l\n    members: [nobody@x.io]\n",
     "bad.yaml:5: layers[0].members[0]: no user 'nobody@x.io'"),
    ("services:\n  - service: api\n    policy: missing\n",
     "bad.yaml:3: services[0].policy: no policy 'missing'"),
    ("services:\n  - service: api\n    polcy: x\n", "bad.yaml:2: services[0]: unknown key polcy"),
    ("services: [\n", "bad.yaml:2: not valid YAML"),
    ("schedule: s\ntimezone: UTC\nlayers:\n  - name: l\n    members: [a@x.io]\n"
     "    restrictions:\n      - {from: '09:00', to: '09:00'}\n",
     "bad.yaml:7: layers[0].restrictions[0]"),
    ("schedule: s\ntimezone: UTC\nlayers:\n  - name: l\n    members: [a@x.io]\n"
     "    restrictions:\n      - {days: [Funday], from: '09:00', to: '10:00'}\n",
     "bad.yaml:7: layers[0].restrictions[0].days"),
    ("schedule: s\ntimezone: UTC\nlayers:\n  - name: l\n    members: []\n",
     "bad.yaml:5: layers[0].members:"),
])
def test_an_invalid_file_names_file_line_and_field(factory: Any, tmp_path: Path, text: str,
                                                  expected: str) -> None:
    d = write(tmp_path / "rules", "bad.yaml", text)
    with pytest.raises(ConfigError) as err:
        apply(factory, d)
    assert expected in str(err.value).replace("rules/", "")


def test_nothing_is_half_applied(factory: Any, config: Path) -> None:
    write(config / "rules", "zz-broken.yaml",
          "services:\n  - service: extra\n    policy: no-such-policy\n")
    with pytest.raises(ConfigError):
        apply(factory, config / "rules", config / "schedules")
    assert counts(factory) == (0, 0, 0, 0)


def test_a_name_defined_twice_is_refused(factory: Any, tmp_path: Path) -> None:
    d = write(tmp_path / "rules", "a.yaml", "services:\n  - service: api\n")
    write(d, "b.yaml", "services:\n  - service: api\n")
    with pytest.raises(ConfigError, match=r"already defined in rules/a\.yaml"):
        apply(factory, d)


def test_users_and_services_dropped_from_files_are_kept_but_unmanaged(
        factory: Any, tmp_path: Path) -> None:
    d = write(tmp_path / "rules", "a.yaml",
              "users:\n  - user: a@x.io\n    name: A\nservices:\n  - service: api\n")
    apply(factory, d)
    (d / "a.yaml").write_text("{}\n")
    changes = apply(factory, d)
    assert any(c.startswith("! user a@x.io") for c in changes)
    with factory() as s:
        assert s.scalar(select(User.managed_by).where(User.email == "a@x.io")) is None
