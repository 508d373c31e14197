"""Contact details are personal: a person's phone number and addresses are shown to them and
to admins only. Incidents and the audit log record them too, in passing: a
``contact_disabled`` event names the address a provider refused, a provider's error may quote
the number ("The 'To' number +14155550100 is not a valid phone number"), and a change to a
user is audited with its phone or Slack id. Other readers get those hidden."""

from __future__ import annotations

import re
from typing import Any

from oncall.models import User

HIDDEN = "(hidden)"
_CONTACT_KEYS = frozenset({"address", "phone", "slack", "slack_id"})
# Phone numbers as providers quote them (E.164).
_PHONE = re.compile(r"\+\d{7,15}\b")


def may_see_contacts(me: User, email: str | None) -> bool:
    """Whether ``me`` may see the contact details of the user with ``email``."""
    return me.role == "admin" or (email is not None and email == me.email)


def scrub(value: Any) -> Any:
    """``value`` with contact details hidden: phone numbers in text, contact keys in dicts."""
    return _scrub(value)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _PHONE.sub(HIDDEN, value)
    if isinstance(value, dict):
        return {k: HIDDEN if k in _CONTACT_KEYS and v else _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def incident_detail(detail: dict[str, Any], me: User) -> dict[str, Any]:
    """``incidents.detail`` as ``me`` may read it: other people's addresses hidden in the
    timeline, the unreachable list and the pages' errors."""
    if me.role == "admin":
        return detail
    mine = f"user:{me.id}"
    out = dict(detail)
    out["timeline"] = [e if isinstance(e["detail"], dict)
                       and may_see_contacts(me, e["detail"].get("user"))
                       else {**e, "detail": _scrub(e["detail"])} for e in detail["timeline"]]
    out["unreachable"] = [u if may_see_contacts(me, u.get("user")) else _scrub(u)
                          for u in detail["unreachable"]]
    out["pages"] = [p if p["recipient"] == mine else {**p, "error": _scrub(p["error"])}
                    for p in detail["pages"]]
    return out


def audit_entries(entries: list[dict[str, Any]], me: User) -> list[dict[str, Any]]:
    """Audit entries as ``me`` may read them: other users' contact details hidden."""
    if me.role == "admin":
        return entries
    return [e if e["object_type"] in ("user", "notification_rules")
            and e["object_name"] == me.email
            else {**e, "before": _scrub(e["before"]), "after": _scrub(e["after"])}
            for e in entries]
