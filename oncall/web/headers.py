"""Security headers on every response, errors included.

Nothing we serve is meant to be framed, sniffed into another type, cached or followed with a
``Referer``: API answers carry personal data, and several URLs carry a secret (integration
tokens in ``/integrations/<token>``, feed tokens in ``?token=``, heartbeat ping uuids), which
a ``Referer`` or a shared cache would hand on. A view that sets its own value keeps it."""

from __future__ import annotations

from flask import Flask, Response

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def init_app(app: Flask) -> None:
    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response
