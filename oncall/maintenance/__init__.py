"""Maintenance windows: alerts that match one are stored and shown but page nobody until it
ends. Pure matching in ``window``; intake's hook and the cache in ``holding``; changes (API and
``oncall apply``) in ``service``."""

from oncall.maintenance.holding import (
    JOINED_OUTSIDE,
    active,
    hold,
    hold_opened,
    holding_window,
    invalidate,
)

__all__ = ["JOINED_OUTSIDE", "active", "hold", "hold_opened", "holding_window", "invalidate"]
