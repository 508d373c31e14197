"""Grafana OnCall (public API v1) -> config-as-code.

What maps to what (docs/migrating.md has the table for operators):

- users -> ``users:`` (email, username as the name, time zone, legacy role). The public API
  gives no full name and no phone numbers (only whether one is verified): every user is
  reported, phones are added here by hand;
- web and calendar schedules -> one ``schedules/<name>.yaml`` each, built from their on-call
  shifts: each ``rolling_users`` or ``recurrent_event`` shift becomes a layer (lower ``level``
  first: a later layer wins, as a higher level wins in Grafana OnCall), its ``frequency`` and
  ``interval`` a rotation (daily and weekly keep the local start time across DST, hourly are
  elapsed hours), its ``start`` the handoff, its user groups (from
  ``start_rotation_from_user_index``) the members, a ``duration`` shorter than the turn and
  ``by_day`` restrictions, its ``until`` the layer's end; ``ical`` schedules, ``by_month`` /
  ``by_monthday`` limits and a ``rotation_start`` after the import are not mapped;
- ``single_event`` and ``override`` shifts (from ``now``: ``--since``) ->
  ``overrides.json``/``overrides.sh``;
- escalation chains and their policies -> ``policies:``: notify steps up to the next ``wait``
  make one level (so a schedule and a user notified at one step stay together), the wait its
  ``escalate_after``, ``repeat_escalation`` -> ``repeat: 5`` (Grafana repeats 5 times);
- integrations -> ``services:`` with their default route's escalation chain, and each one
  whose senders speak a payload we take -> an ``oncall integration add`` line in
  ``integrations.sh`` (``INTEGRATION_KINDS``); the others are reported with why;
- ``--team``: teams (``GET /teams/``), ``team_id`` on schedules, chains and integrations,
  users' ``teams`` (:func:`for_teams`).

Datetimes in shifts are local (``"2027-03-01T09:00:00"``) in the shift's ``time_zone`` or
else its schedule's. Anything that cannot be said exactly goes into the report.
"""
