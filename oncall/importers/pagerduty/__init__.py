"""PagerDuty (REST API v2) -> config-as-code.

What maps to what (docs/migrating.md has the table for operators):

- users -> ``users:`` (email, name, time zone, role, the first phone or SMS contact method);
- schedules -> one ``schedules/<name>.yaml`` each; every layer becomes a layer in the same
  order (later layers win in both), its turn length a rotation (whole days: ``daily``,
  ``weekly``, ``{days: N}``, ``{weeks: N}``, kept at the local handoff time across DST; whole
  hours: ``{hours: N}``, real elapsed hours), its ``rotation_virtual_start`` the handoff
  and the member order, its start, end and restrictions;
- overrides (now on) -> ``overrides.json``, the API requests to make them: config files do not
  hold overrides (docs/config-as-code.md);
- escalation policies -> ``policies:`` (rules -> levels, delays, user and schedule targets,
  ``num_loops`` -> ``repeat``); services -> ``services:`` with their policy;
- services' integrations -> ``integrations.sh``/``.json`` where one of our kinds takes what
  the sender sends (Events API v2 -> ``pagerduty``), reported otherwise;
- ``--team``: only what those teams' services need (:class:`TeamScope`).

Anything that cannot be said exactly goes into the report, never silently.
"""
