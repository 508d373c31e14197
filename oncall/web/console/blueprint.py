"""The console's one blueprint: its pages, templates and static files (``/static/...``,
vendored libraries included)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("console", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")
# Pages, not API: out of the OpenAPI document (apiflask reads this flag on every blueprint).
bp.enable_openapi = False  # type: ignore[attr-defined]
