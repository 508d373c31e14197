"""Heartbeats: cron jobs check in (``/ping/<uuid>``); a job that does not, opens an incident.

Pure logic first (``schedule``: when the next run is expected; ``state``: the state machine),
then storage and the beat check (``store``), then the web views (``oncall.web.heartbeats``).
"""
