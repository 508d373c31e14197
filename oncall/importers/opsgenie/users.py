"""Opsgenie users -> ``users:`` (phone from the first enabled SMS or voice contact, zone,
role)."""

from __future__ import annotations

import re
from typing import Any

from oncall.importers.common import valid_zone
from oncall.importers.report import Report

ROLES = {"owner": "admin", "admin": "admin", "user": "responder"}


def map_user(u: dict[str, Any], contacts: list[dict[str, Any]], report: Report) -> dict[str, Any]:
    label = u["username"]
    out: dict[str, Any] = {"user": label, "name": u.get("fullName") or label}
    notes: list[str] = []
    phones = sorted((c for c in contacts if c.get("method") in ("sms", "voice")
                     and (c.get("status") or {}).get("enabled", True)),
                    key=lambda c: int(c.get("applyOrder") or 0))
    numbers = list(dict.fromkeys("+" + re.sub(r"\D", "", str(c.get("to", ""))) for c in phones))
    if not numbers:
        report.not_mapped("contact", label, "no enabled SMS or voice contact: SMS and voice "
                          "pages cannot reach this user until a phone is added")
    elif re.fullmatch(r"\+[1-9][0-9]{6,14}", numbers[0]):
        out["phone"] = numbers[0]
        notes.append(f"phone {numbers[0]}")
        if numbers[1:]:
            report.not_mapped("contact", label, f"other phone numbers {numbers[1:]}: we keep "
                              "one phone per user")
    else:
        report.not_mapped("contact", label, f"phone {phones[0].get('to')!r} is not a valid "
                          "E.164 number")
    for c in contacts:
        if c.get("method") == "mobile":
            report.not_mapped("contact", label, "mobile app contact: no such channel here")
    out["timezone"] = valid_zone(u.get("timeZone") or "UTC", f"user {label}", report)
    role = str((u.get("role") or {}).get("name") or "user")
    out["role"] = ROLES.get(role.lower(), "responder")
    if role.lower() not in ROLES:
        report.approximated("user", label, f"custom role {role!r} -> responder")
    notes.append(f"role {role} -> {out['role']}")
    report.mapped("user", label, ", ".join(notes))
    report.not_mapped("notification rules", label, "not read: our defaults apply")
    return out
