"""The escalation policy an incident carries: a frozen snapshot taken when it triggered, so
that later edits to the policy do not change an incident already paging.

Immutable values (``Policy``, ``Level``, ``Target``), read from and written to the incident's
``policy`` column by its type (``oncall.models.PolicyJSON``), which stores this JSON:

    {"id": 3, "name": "billing-critical", "repeat": 2, "ack_timeout": null,
     "levels": [{"escalate_after": 300, "targets": [{"type": "schedule", "ref": "primary"}]}]}

and, for an escalation restarted (an acknowledgement timed out, a reassignment), the loop it
restarted at: ``"loop_base": 3``. Pure: no database, no models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oncall.models import EscalationPolicy

DEFAULT_ESCALATE_AFTER = 300  # seconds, for a stored level that does not say


@dataclass(frozen=True, slots=True)
class Target:
    """Whom a level names: ``user`` (an email), ``schedule`` (whoever is on call on it), or
    a room on a channel that has rooms (``slack``, ``#billing``)."""

    type: str
    ref: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Target:
        return cls(str(data.get("type")), str(data.get("ref")))

    def to_json(self) -> dict[str, str]:
        return {"type": self.type, "ref": self.ref}


@dataclass(frozen=True, slots=True)
class Level:
    """One rung of the ladder: its targets, paged together, and how long it waits for an
    acknowledgement before the next level is paged."""

    escalate_after: int
    targets: tuple[Target, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Level:
        return cls(int(data.get("escalate_after", DEFAULT_ESCALATE_AFTER)),
                   targets(data.get("targets") or ()))

    def to_json(self) -> dict[str, Any]:
        return {"escalate_after": self.escalate_after,
                "targets": [t.to_json() for t in self.targets]}


@dataclass(frozen=True, slots=True)
class Policy:
    """The ladder: ``levels``, run ``repeat`` more times after the first pass (counted from
    ``loop_base``, the loop an escalation restarted at); ``ack_timeout``: seconds after
    which an acknowledgement lapses and escalation restarts (None: never)."""

    name: str | None = None
    repeat: int = 0
    levels: tuple[Level, ...] = ()
    id: int | None = None
    ack_timeout: int | None = None
    loop_base: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Policy:
        base = data.get("loop_base")
        timeout = data.get("ack_timeout")
        found = data.get("id")
        return cls(name=data.get("name"), repeat=int(data.get("repeat") or 0),
                   levels=tuple(Level.from_json(lvl) for lvl in data.get("levels") or ()),
                   id=int(found) if found is not None else None,
                   ack_timeout=int(timeout) if timeout else None,
                   loop_base=int(base) if base is not None else None)

    @classmethod
    def of(cls, policy: EscalationPolicy | None) -> Policy:
        """The snapshot of a stored policy (none: an empty ladder that pages nobody)."""
        if policy is None:
            return cls()
        return cls(name=policy.name, repeat=policy.repeat, id=policy.id,
                   ack_timeout=policy.ack_timeout,
                   levels=tuple(Level(lvl.escalate_after, targets(lvl.targets or ()))
                                for lvl in policy.levels))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name, "repeat": self.repeat,
                               "ack_timeout": self.ack_timeout,
                               "levels": [lvl.to_json() for lvl in self.levels]}
        if self.loop_base is not None:
            out["loop_base"] = self.loop_base
        return out

    def restarted(self, loop: int) -> tuple[Policy, int]:
        """This ladder run again from level 1 after ``loop``: the snapshot, and its loop."""
        return replace(self, loop_base=loop + 1), loop + 1

    def with_first(self, first: Iterable[Target], name: str) -> Policy:
        """This ladder with a level naming ``first`` put in front (a reassignment): it waits
        as long as the current first level does."""
        after = self.levels[0].escalate_after if self.levels else DEFAULT_ESCALATE_AFTER
        return replace(self, name=name, levels=(Level(after, tuple(first)), *self.levels))


def targets(items: Iterable[Mapping[str, Any]]) -> tuple[Target, ...]:
    return tuple(Target.from_json(t) for t in items)


def to_json(value: Any) -> Any:
    """A snapshot as its JSON (anything else unchanged): for statements that take the
    policy as JSON text."""
    return value.to_json() if isinstance(value, Policy) else value
