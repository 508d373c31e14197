"""Escalation arithmetic: levels in order, the repeat count, and when each step is due."""

from datetime import UTC, datetime, timedelta

from oncall.paging.next_level import next_step
from oncall.paging.policy_snapshot import Policy, Target

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
POLICY = Policy.from_json({"repeat": 1, "levels": [
    {"escalate_after": 300, "targets": [{"type": "user", "ref": "a@x"}]},
    {"escalate_after": 600, "targets": [{"type": "user", "ref": "b@x"}]},
]})


def walk(policy: Policy, now: datetime = NOW) -> list[tuple[int, int, datetime | None]]:
    level, loop, steps = 0, 0, []
    while (step := next_step(policy, level, loop, now)) is not None:
        steps.append((step.level, step.loop, step.next_action_at))
        level, loop = step.level, step.loop
        now = step.next_action_at or now
    return steps


def test_it_climbs_the_ladder_then_repeats_it_then_stops() -> None:
    assert walk(POLICY) == [
        (1, 0, NOW + timedelta(seconds=300)),
        (2, 0, NOW + timedelta(seconds=900)),
        (1, 1, NOW + timedelta(seconds=1200)),
        (2, 1, None),
    ]


def test_the_first_step_pages_level_one_targets() -> None:
    step = next_step(POLICY, 0, 0, NOW)
    assert step is not None and step.targets == (Target("user", "a@x"),)


def test_a_policy_without_levels_pages_nobody() -> None:
    assert next_step(Policy(repeat=3), 0, 0, NOW) is None
    assert next_step(None, 0, 0, NOW) is None


def test_a_single_level_without_repeat_is_due_never_again() -> None:
    step = next_step(Policy.from_json({"levels": [{"escalate_after": 60, "targets": []}]}),
                     0, 0, NOW)
    assert step is not None and step.next_action_at is None


def test_a_snapshot_reads_back_the_json_it_was_stored_as() -> None:
    stored = {"id": 3, "name": "billing-critical", "repeat": 2, "ack_timeout": 900,
              "levels": [{"escalate_after": 300,
                          "targets": [{"type": "schedule", "ref": "primary"},
                                      {"type": "slack", "ref": "#billing"}]}],
              "loop_base": 4}
    policy = Policy.from_json(stored)
    assert policy.to_json() == stored
    assert policy.levels[0].targets[1] == Target("slack", "#billing")
    restarted, loop = policy.restarted(6)
    assert (restarted.loop_base, loop) == (7, 7) and policy.loop_base == 4  # frozen
    # One stored by an earlier release, without the keys added since, reads as their defaults.
    old = Policy.from_json({"name": "x", "levels": [{"targets": [{"type": "user", "ref": "a"}]}]})
    assert (old.repeat, old.ack_timeout, old.loop_base, old.levels[0].escalate_after) == (
        0, None, None, 300)
