"""The benchmark's account (200 users, 50 schedules and 50 policies, paged 100 at a time)
imports and verifies. Its time is measured by ``bench/importers.py``, not asserted here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import oncall.cli.importers as importers_cli
from oncall.cli import cli
from tests.importers.pd_fake import FakePagerDuty
from tests.importers.pd_fixture import (
    NOW,
    daily_r,
    layer,
    obj,
    phone,
    ref,
    schedule,
    sref,
    user,
    weekly_r,
)

pytestmark = pytest.mark.slow


def big_account() -> dict[str, Any]:
    zones = ["America/New_York", "Europe/London"]
    users = [user(f"PU{i:03d}", f"User {i}", f"user{i}@example.com", zones[i % 2])
             for i in range(200)]
    contacts = {u["id"]: [phone(f"PC{i}", "phone_contact_method", 1, f"41555{i:05d}")]
                for i, u in enumerate(users)}
    schedules, policies = [], []
    for i in range(50):
        members = [users[(i * 4 + j) % 200]["id"] for j in range(4)]
        schedules.append(schedule(f"PS{i:03d}", f"Team {i}", zones[i % 2], [
            layer(f"PL{i}a", "Primary", members, 7 * 86400, "2027-01-04T09:00:00-05:00",
                  "2027-01-04T09:00:00-05:00"),
            layer(f"PL{i}b", "Nights", members[::-1], 12 * 3600, "2027-01-04T20:00:00Z",
                  "2027-01-04T20:00:00Z", restrictions=[daily_r("20:00:00", 10 * 3600)]),
            layer(f"PL{i}c", "Weekend", members[1:3], 86400, "2027-01-02T10:00:00Z",
                  "2027-01-02T10:00:00Z", restrictions=[weekly_r(6, "10:00:00", 2 * 86400)]),
        ]))
        policies.append({**obj("escalation_policy", f"PE{i:03d}", f"Team {i}",
                                "escalation_policies"),
                         "name": f"Team {i}", "num_loops": 1, "escalation_rules": [
                             {"escalation_delay_in_minutes": 10,
                              "targets": [sref(f"PS{i:03d}"), ref(members[0])]}]})
    return {"users": users, "contact_methods": contacts, "notification_rules": {},
            "schedules": schedules, "overrides": {}, "policies": policies, "services": []}


def test_a_large_account_imports_and_verifies(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(importers_cli, "utcnow", lambda: NOW)
    with FakePagerDuty(big_account(), page_size=100) as fake:
        result = CliRunner().invoke(cli, [
            "import", "pagerduty", "--url", fake.url, "--token-env", "PD", "--out",
            str(tmp_path / "out"), "--verify", "8"], env={"PD": fake.token},
            catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "verify: 0 difference(s) over 8 week(s) in 50 schedule(s)" in result.output
    assert len(list((tmp_path / "out/schedules").iterdir())) == 50
    assert any("offset=100" in path for path, _ in fake.log)
    assert fake.invalid == []
