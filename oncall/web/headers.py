"""Security headers on every response, errors included.

Nothing we serve is meant to be framed, sniffed into another type, cached or followed with a
``Referer``: API answers carry personal data, and several URLs carry a secret (integration
tokens in ``/integrations/<token>``, feed tokens in ``?token=``, heartbeat ping uuids), which
a ``Referer`` or a shared cache would hand on. A view that sets its own value keeps it.

Console pages (HTML) get a strict Content-Security-Policy: scripts, styles and everything
else only from this site's own files, no inline script or style, so that text an alert
sender controls can never run even if it slipped past autoescaping. They send a
``Referer`` to this site only (Flask-WTF checks it on https form posts), never elsewhere."""

from __future__ import annotations

from flask import Flask, Response, request

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

CONSOLE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
               "frame-ancestors 'none'")
CONSOLE_HEADERS = {**HEADERS, "Content-Security-Policy": CONSOLE_CSP,
                   "Referrer-Policy": "same-origin"}


def init_app(app: Flask) -> None:
    @app.after_request
    def _security_headers(response: Response) -> Response:
        console = request.blueprint == "console" and response.mimetype == "text/html"
        for name, value in (CONSOLE_HEADERS if console else HEADERS).items():
            response.headers.setdefault(name, value)
        return response
