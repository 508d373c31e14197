"""PagerDuty users -> ``users:`` (phone, zone, role) and their notification rules."""

from __future__ import annotations

import re
from typing import Any

from oncall.importers.common import valid_zone
from oncall.importers.report import Report

ROLES = {"owner": "admin", "admin": "admin", "user": "responder", "limited_user": "responder",
         "observer": "viewer", "read_only_user": "viewer", "read_only_limited_user": "viewer",
         "restricted_access": "viewer"}


def map_user(u: dict[str, Any], contacts: list[dict[str, Any]],
          rules: list[dict[str, Any]] | None, report: Report) -> dict[str, Any]:
    label = u["email"]
    out: dict[str, Any] = {"user": u["email"], "name": u.get("name") or u["email"]}
    phones = [c for c in contacts if c.get("type") in ("phone_contact_method",
                                                        "sms_contact_method")]
    notes: list[str] = []
    if phones:
        c = phones[0]
        number = "+" + str(c.get("country_code", "")) + re.sub(r"\D", "", c.get("address", ""))
        if re.fullmatch(r"\+[1-9][0-9]{6,14}", number):
            out["phone"] = number
            notes.append(f"phone {number} ({c.get('label') or c['type']})")
            others = {("+" + str(x.get("country_code", "")) + re.sub(r"\D", "", x["address"]))
                      for x in phones[1:]} - {number}
            if others:
                report.not_mapped("contact", label, f"other phone numbers {sorted(others)}: "
                                  "we keep one phone per user")
        else:
            report.not_mapped("contact", label, f"phone {c.get('address')!r} is not a valid "
                              "E.164 number")
    else:
        report.not_mapped("contact", label, "no phone or SMS contact method: SMS and voice "
                          "pages cannot reach this user until a phone is added")
    for c in contacts:
        if c.get("type") in ("push_notification_contact_method", "whatsapp_contact_method"):
            report.not_mapped("contact", label, f"{c['type'].replace('_contact_method', '')} "
                              f"contact {c.get('label')!r}: no such channel here")
    out["timezone"] = valid_zone(u.get("time_zone") or "UTC", f"user {label}", report)
    role = ROLES.get(u.get("role", "user"), "responder")
    out["role"] = role
    notes.append(f"role {u.get('role', 'user')} -> {role}")
    report.mapped("user", label, ", ".join(notes))
    if rules is None:
        report.not_mapped("notification rules", label, "not read: our defaults apply")
    else:
        mapped = _notification_rules(rules, label, out.get("phone"), phones, report)
        if mapped:
            out["notification_rules"] = mapped
    return out


# PagerDuty's two urgencies -> our severities.
URGENCIES = {"high": ("critical", "error"), "low": ("warning", "info")}


CHANNELS = {"phone_contact_method": "voice", "sms_contact_method": "sms",
            "email_contact_method": "email"}


def _notification_rules(rules: list[dict[str, Any]], label: str, phone: str | None,
                        phones: list[dict[str, Any]], report: Report
                        ) -> dict[str, list[dict[str, Any]]]:
    """High-urgency rules -> critical and error, low-urgency -> warning and info: each
    contact method's channel (phone: a voice call, SMS, email) after its delay."""
    kept_phone = phones[0]["id"] if phones and phone else None
    out: dict[str, list[dict[str, Any]]] = {}
    for urgency, severities in URGENCIES.items():
        steps: list[dict[str, Any]] = []
        seen: set[str] = set()
        for r in sorted((r for r in rules if r.get("urgency") == urgency),
                        key=lambda r: int(r.get("start_delay_in_minutes") or 0)):
            cm = r.get("contact_method") or {}
            kind = str(cm.get("type", "")).removesuffix("_reference")
            delay = int(r.get("start_delay_in_minutes") or 0)
            what = f"{urgency} urgency, {kind.replace('_contact_method', '')} after {delay} min"
            channel = CHANNELS.get(kind)
            if channel is None:
                report.not_mapped("notification rule", label, f"{what}: no such channel here")
                continue
            if channel in seen:
                report.approximated("notification rule", label, f"{what}: a second {channel} "
                                    "step; ours pages each channel once per severity, the "
                                    "earlier step is kept")
                continue
            if channel in ("sms", "voice") and kept_phone and cm.get("id") != kept_phone:
                report.approximated("notification rule", label, f"{what}: sent to the "
                                    f"user's one phone {phone}")
            seen.add(channel)
            step: dict[str, Any] = {"channel": channel}
            if delay:
                step["after"] = f"{delay}m"
            steps.append(step)
        if steps:
            for severity in severities:
                out[severity] = [dict(x) for x in steps]
            report.mapped("notification rules", label,
                          f"{urgency} urgency -> {' and '.join(severities)}: "
                          + ", ".join(x["channel"] + (f" after {x['after']}" if "after" in x
                                                      else "") for x in steps))
        else:
            report.approximated("notification rules", label,
                                f"no {urgency}-urgency rule in PagerDuty: our defaults apply "
                                f"to {' and '.join(severities)}")
    return out
