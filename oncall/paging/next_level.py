"""Where escalation chooses the next level: which level comes next and when. Pure; ``now``
is explicit.

An incident carries its escalation state: ``level`` (the level last paged, 1-based; 0 means
none yet), ``loop`` (how many times the ladder has restarted) and ``next_action_at``. The
policy is the frozen snapshot taken when the incident triggered (``policy_snapshot``).

An escalation that restarts (an acknowledgement timed out, a reassignment) continues with a
new loop number, so that its pages never collide with earlier ones in the outbox; the
snapshot's ``loop_base`` is the loop it restarted at, and ``repeat`` counts from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from oncall.paging.policy_snapshot import Policy, Target


@dataclass(frozen=True, slots=True)
class Step:
    """Page ``level`` (1-based) of loop ``loop`` now; then act again at ``next_action_at``
    (None: the ladder is exhausted and nothing more will be paged)."""

    level: int
    loop: int
    targets: tuple[Target, ...]
    next_action_at: datetime | None


def following(policy: Policy | None, level: int, loop: int) -> tuple[int, int] | None:
    """The (level, loop) that comes after ``(level, loop)``, or None when there is none."""
    if policy is None or not policy.levels:
        return None
    if level < len(policy.levels):
        return level + 1, loop
    if loop < (policy.loop_base or 0) + policy.repeat:
        return 1, loop + 1
    return None


def next_step(policy: Policy | None, level: int, loop: int, now: datetime) -> Step | None:
    """What to do when an incident at ``(level, loop)`` is due at ``now``."""
    nxt = following(policy, level, loop)
    if policy is None or nxt is None:
        return None
    new_level, new_loop = nxt
    rung = policy.levels[new_level - 1]
    due: datetime | None = None
    if following(policy, new_level, new_loop) is not None:
        due = now + timedelta(seconds=rung.escalate_after)
    return Step(new_level, new_loop, rung.targets, due)
