"""Schedules as stored: loading them into the pure model (``oncall.rotations``), editing them
with an audit trail, calendar feeds and handoff notices."""
