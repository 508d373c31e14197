"""Incidents: their lifecycle and timeline (``lifecycle``) and the one way a person
acknowledges, resolves or escalates one from any channel (``respond``, imported from its
module: it pages through the engine, which itself records on the timeline). What follows a
committed change (Slack messages rewritten, an escalation's pages sent now, a first step) is
``followups``, the one after-commit hook.

The lifecycle's names are re-exported so that ``from oncall.incidents import record`` and
``incidents.acknowledge(...)`` keep working."""

from oncall.incidents.lifecycle import (
    NOTE_MAX,
    OPEN,
    Entry,
    NoteError,
    NotFound,
    Outcome,
    acknowledge,
    add_note,
    alert_counts,
    arm_ack_timeout,
    detail,
    event,
    lock,
    note_change,
    page_json,
    record,
    record_many,
    resolve,
    sanitized,
    summary_json,
)

__all__ = ["NOTE_MAX", "OPEN", "Entry", "NotFound", "NoteError", "Outcome", "acknowledge",
           "add_note", "alert_counts", "arm_ack_timeout", "detail", "event", "lock",
           "note_change", "page_json", "record", "record_many", "resolve", "sanitized",
           "summary_json"]
