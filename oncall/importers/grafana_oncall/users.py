"""Grafana OnCall users -> ``users:`` (zone, legacy role; the public API gives no phone)."""

from __future__ import annotations

from typing import Any

from oncall.importers.common import valid_zone
from oncall.importers.report import Report

ROLES = {"admin": "admin", "editor": "responder", "viewer": "viewer"}  # legacy role names


def map_user(u: dict[str, Any], report: Report) -> dict[str, Any]:
    label = u["email"]
    # The public API gives no full name: the username is the name (edit it in the file).
    out: dict[str, Any] = {"user": u["email"], "name": u.get("username") or u["email"]}
    out["timezone"] = valid_zone(u.get("timezone") or "UTC", f"user {label}", report)
    role = ROLES.get(str(u.get("role")), "viewer")
    out["role"] = role
    if str(u.get("role")) in ROLES:
        report.mapped("user", label, f"role {u.get('role')} -> {role}")
    else:
        report.approximated("user", label, f"role {u.get('role')!r} (no access there): "
                            "imported as viewer, the least of ours")
    why = ("its public API does not give phone numbers" if u.get("is_phone_number_verified")
           else "no verified phone number there")
    report.not_mapped("contact", label, f"phone: {why}; SMS and voice pages cannot reach "
                      "this user until a phone is added")
    return out
