"""Twilio, shared by the SMS and voice channels: the REST client and its failure classes
(``api``), the recording HTTP client (``http``), and status callbacks (``status``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_web(app: Flask) -> None:
    """Twilio's webhooks (``/twilio/...``: SMS replies, the voice script and its key, status
    callbacks), registered once for both channels."""
    from oncall.web import twilio as twilio_web

    if twilio_web.bp.name not in app.blueprints:
        twilio_web.init_app(app)
