"""Opsgenie (REST API v2, ``GenieKey`` auth) -> config-as-code.

What maps to what (docs/migrating.md has the table for operators):

- users -> ``users:`` (username = email, full name, time zone, role, the first enabled SMS
  or voice contact as the phone);
- schedules -> one ``schedules/<name>.yaml`` each; every rotation becomes a layer in the
  same order: ``daily``/``weekly`` rotations of ``length`` days/weeks keep the local handoff
  time across DST, ``hourly`` ones are elapsed hours; the rotation's ``startDate`` is the
  handoff and the participant order, its ``endDate`` the layer's end, its time restriction
  (``time-of-day`` or ``weekday-and-time-of-day``) the layer's restrictions. A ``none``
  participant (a deliberately empty turn) or a team cannot be said in our layers (users
  only, no empty turn, and a turn cycle of N turns is not a weekly pattern restrictions
  could cut): its turn goes to the participant before it, reported as approximated, and
  ``--verify`` shows those turns;
- overrides (now on) -> ``overrides.json`` / ``overrides.sh`` (config files hold none);
- escalations -> ``policies:`` (rules with the same delay form a level, delays become the
  waits between levels, ``repeat`` -> ``repeat`` after ``waitInterval``); teams -> services
  with the team's escalation;
- integrations whose senders call Opsgenie's Alert API (API, Prometheus/Alertmanager,
  Grafana) -> ``integrations.sh`` lines for our ``opsgenie`` kind on the team's service (the
  sender only changes its API URL and key); the others are reported with the reason.

``--team NAME`` narrows all of it to those teams: their escalations, the schedules they own
and the schedules and users their escalations reach, the users those schedules (rotations,
overrides in force) name, the teams' members, and their integrations; whatever it leaves out
is reported.

Opsgenie puts the participants of ALL rotations in force on call at once where rotations
overlap (its on-call answer is a list); our layers give one person at a time (the later
layer). Overlaps are found in Opsgenie's own timeline for the next weeks and reported.
"""
