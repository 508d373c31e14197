"""Schedules: who is on call when, and the database-facing work around it.

``rotation/`` is the pure time arithmetic (no Flask, no database, ``at`` always explicit);
its ``__init__`` is the public API (``Layer``, ``ScheduleSpec``, ``final_shifts``, ...):

- ``rotation/turns.py``: when each turn starts and ends; where a handoff instant is computed,
  daylight-saving changes included (02:30 on a spring-forward day happens at 03:30)
- ``rotation/spec.py``: a layer's rotation as written in ``schedules/*.yaml``
- ``rotation/restrictions.py``: windows of local time in which a layer has someone
- ``rotation/overrides.py``: overrides and which one wins where they overlap
- ``rotation/model.py``: the dataclasses (``Layer``, ``ScheduleSpec``, ``Shift``, ...)
- ``rotation/shifts.py``: layers and overrides expanded and merged into final shifts
- ``rotation/query.py``: questions at an instant (who is on call, who is next, a swap)
- ``rotation/changes.py``: what an edit does (its default effective time, the shift diff, gaps)

The rest loads schedules from the database into that model and edits them (callers own the
transaction):

- ``store.py``: loading schedules into the pure model, and their JSON shapes
- ``service.py``: editing schedules, overrides and swaps, validated and audited
- ``layer_edits.py``: editing layers from an effective time, with a preview
- ``history.py``: layer versions, so an edit leaves every shift before it as it was
- ``handoff_notices.py``: the beat job that tells whoever's shift just started (a notice,
  not the handoff arithmetic, which is ``rotation/turns.py``)
- ``overview.py``: every schedule at a glance (on call now, next, gaps)
- ``timeline.py``: one schedule drawn over a window, lane per layer
- ``calendar.py``: iCalendar feeds of final shifts
- ``coverage.py``: stretches ahead when a paged schedule has nobody on call
"""
