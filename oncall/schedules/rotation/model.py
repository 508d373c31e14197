"""The schedule model: layers, schedules, and the shapes queries answer with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from oncall.schedules.rotation.overrides import Override, OverrideIndex
from oncall.schedules.rotation.restrictions import Restriction
from oncall.schedules.rotation.spec import RotationSpec

__all__ = ["Layer", "OnCall", "ScheduleSpec", "Shift"]


@dataclass(frozen=True)
class Layer:
    """A rotation of ``members``; with ``restrictions``, only inside their windows (the turns
    stay where the rotation puts them: whoever's turn it is is on call inside a window).

    A layer as it was, is or will be defined over [``active_from``, ``active_until``) (UTC;
    None: without bound): one version of a layer. A schedule lists every version; versions
    of one layer do not overlap, so an edit that takes effect at T leaves every shift before
    T as it was. Turns still count from the rotation's own start: a version only clips, and
    ``offset`` says which member a turn goes to (so a new version can carry the order on
    from whoever's turn it was)."""

    name: str
    rotation: RotationSpec
    members: tuple[str, ...]
    restrictions: tuple[Restriction, ...] = ()
    active_from: datetime | None = None
    active_until: datetime | None = None
    offset: int = 0  # turn ``index`` goes to ``members[(index + offset) % len(members)]``

    def __post_init__(self) -> None:
        object.__setattr__(self, "members", tuple(self.members))
        object.__setattr__(self, "restrictions", tuple(self.restrictions))
        for name in ("active_from", "active_until"):
            value = getattr(self, name)
            if value is not None:
                if value.tzinfo is None:
                    raise ValueError(f"{name} must be timezone-aware")
                object.__setattr__(self, name, value.astimezone(UTC))

    def member(self, index: int) -> str:
        """Who has turn ``index`` (members must not be empty)."""
        return self.members[(index + self.offset) % len(self.members)]

    def in_force(self, at: datetime) -> bool:
        """Whether this version is the layer's definition at the UTC instant ``at``."""
        return ((self.active_from is None or self.active_from <= at)
                and (self.active_until is None or at < self.active_until))


@dataclass(frozen=True)
class ScheduleSpec:
    """Layers in order (a later layer wins where it has someone) under ``overrides`` (the
    newest covering override wins over everything), in the IANA zone ``timezone``."""

    name: str
    timezone: str
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()
    _index: OverrideIndex | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "overrides", tuple(self.overrides))

    def override_index(self) -> OverrideIndex:
        """The overrides flattened for lookups, built on first use and kept with the spec."""
        index = self._index
        if index is None:
            index = OverrideIndex(self.overrides)
            object.__setattr__(self, "_index", index)
        return index


@dataclass(frozen=True)
class Shift:
    """[start, end) in UTC with ``user`` on call (None: nobody), from ``layer`` (a layer
    name) or from the override ``override_id`` (``layer`` None; ``override_id`` is the
    override's id, which may itself be None). A gap has all three None."""

    start: datetime
    end: datetime
    user: str | None
    layer: str | None = None
    override_id: int | None = None


@dataclass(frozen=True)
class OnCall:
    """Who is on call at an instant and why: ``user`` (None: nobody), the ``layer`` that put
    them there, or the ``override`` in effect (then ``layer`` is None), and what each layer
    alone would say (``by_layer``, keyed by layer name; a repeated name keeps the later)."""

    user: str | None
    layer: str | None
    override: Override | None
    by_layer: dict[str, str | None]

    @property
    def override_id(self) -> int | None:
        return None if self.override is None else self.override.id
