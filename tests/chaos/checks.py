"""What the chaos run must have kept: read back from PostgreSQL and the fake Twilio's record,
each broken promise a line in ``problems``; ``stats`` says what the run did."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, text

from oncall.channels.sms.text import ref_of
from tests.chaos.scenario import ESCALATE_AFTER, LEVELS, REPEAT, Record

MAX_LATE = 30.0  # seconds a page may go out after it was due
# A request already under way when the acknowledgement landed: the worker had re-checked the
# incident before it, and makes the request right after recording it (a few statements);
# anything later than this after the acknowledgement is not "in flight".
IN_FLIGHT = 5.0
# The two clocks compared are each a little off the moment that matters: ``acked_at`` is
# taken before the acknowledgement commits, and a request row's ``created_at`` a few
# statements after the worker re-checked the incident (when it was called without a time).
# A decision within this of the acknowledgement may have been made before it.
DECISION_SKEW = 1.0


def epoch(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        lines = [f"{k}: {v}" for k, v in self.stats.items()]
        if self.problems:
            lines.append(f"{len(self.problems)} problem(s):")
            lines += [f"  - {p}" for p in self.problems[:40]]
        return "\n".join(lines)


def load(url: str) -> dict[str, list[Any]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                "alerts": conn.execute(text("SELECT id, incident_id, labels FROM alerts")).all(),
                "incidents": conn.execute(text(
                    "SELECT id, status, created_at, acked_at FROM incidents")).all(),
                "pages": conn.execute(text(
                    "SELECT id, incident_id, level, loop, status, channel, created_at, sent_at,"
                    " provider_id, error, attempts FROM pages")).all(),
                "sends": conn.execute(text(
                    "SELECT id, body, page_ids, status, created_at, provider_id "
                    "FROM provider_sends")).all(),
                "paged": conn.execute(text(
                    "SELECT incident_id, detail FROM incident_events "
                    "WHERE kind = 'paged'")).all(),
            }
    finally:
        engine.dispose()


def check(record: Record, db: dict[str, list[Any]]) -> Report:
    report = Report()
    _stored(record, db, report)
    _pages(record, db, report)
    for exit_ in record.unexpected_exits:
        report.problems.append(f"exited by itself: {exit_}")
    if not record.settled:
        report.problems.append("the run did not settle: pages still waiting or being sent, "
                               "or escalations still due")
    report.stats.update(faults=record.faults, stream_seconds=round(record.stream_seconds, 1),
                        settle_seconds=round(record.settle_seconds, 1),
                        twilio_answers_lost=record.lost_answers,
                        twilio_lookups=record.lookups)
    return report


def _stored(record: Record, db: dict[str, list[Any]], report: Report) -> None:
    """Every 202 is stored: its alert ids exist, carry its sequence number and belong to the
    incident the answer named."""
    alerts = {row.id: row for row in db["alerts"]}
    incidents = {row.id for row in db["incidents"]}
    codes = Counter(a.status for a in record.alerts)
    accepted = [a for a in record.alerts if a.status == 202]
    for sent in accepted:
        if not sent.alert_ids:
            report.problems.append(f"alert {sent.seq}: 202 without an alert id")
        for alert_id in sent.alert_ids:
            row = alerts.get(alert_id)
            if row is None or str((row.labels or {}).get("seq")) != str(sent.seq):
                report.problems.append(f"alert {sent.seq}: answered 202 as alert {alert_id}, "
                                       "which is not stored")
        for incident in sent.incidents:
            if incident not in incidents:
                report.problems.append(f"alert {sent.seq}: incident {incident} not stored")
    other = {str(k): v for k, v in codes.items() if k not in (202, 503)}
    slowest = {str(code): round(max(a.took for a in record.alerts if a.status == code), 2)
               for code in codes}
    report.stats.update(alerts_sent=len(record.alerts), accepted_202=len(accepted),
                        refused_503=codes.get(503, 0), other_answers=other,
                        slowest_answer_seconds=slowest,
                        incidents=len(incidents), acknowledged_by_api=len(record.acks),
                        ack_retries=record.ack_failures)
    if other:
        # A 5xx other than 503, a 4xx or no answer at all: a sender would retry or give up.
        report.problems.append(f"answers other than 202 and 503: {other}")


def _pages(record: Record, db: dict[str, list[Any]], report: Report) -> None:
    pages = {row.id: row for row in db["pages"]}
    incidents = {row.id: row for row in db["incidents"]}
    sends_by_ref = {}
    for send in db["sends"]:
        ref = ref_of(send.body or "")
        if ref:
            sends_by_ref[ref] = send
    # What Twilio took (a 201, whether or not the answer reached the worker), per page.
    took: dict[int, list[tuple[float, str, Any]]] = defaultdict(list)
    messages = [r for r in record.twilio if r.kind == "message" and r.status == 201]
    calls = [r for r in record.twilio if r.kind == "call"]
    if calls:
        report.problems.append(f"{len(calls)} voice call(s) made; the users have SMS only")
    for request in messages:
        ref = ref_of(request.form.get("Body", ""))
        send = sends_by_ref.get(ref or "")
        if send is None:
            report.problems.append(f"Twilio took an SMS the database has no request for: "
                                   f"{request.form.get('Body')!r}")
            continue
        for page_id in send.page_ids or []:
            took[page_id].append((request.wall, request.sid or "", send))

    late: list[float] = []
    after_ack: list[float] = []
    for page in pages.values():
        got = sorted(took.get(page.id, []), key=lambda t: t[0])
        incident = incidents[page.incident_id]
        where = (f"page {page.id} (incident {page.incident_id}, level {page.level}, "
                 f"loop {page.loop})")
        if page.status in ("pending", "sending"):
            report.problems.append(f"{where} stuck {page.status}: {page.error}")
        elif page.status not in ("sent", "cancelled"):
            report.problems.append(f"{where} ended {page.status}: {page.error}")
        if len(got) > 1:
            report.problems.append(
                f"{where} sent {len(got)} times: " + ", ".join(
                    f"request {s.id} ({s.status}) {sid} at "
                    f"{datetime.fromtimestamp(at, UTC):%H:%M:%S.%f}" for at, sid, s in got))
        if page.status == "sent" and not got:
            report.problems.append(f"{where} is recorded sent but Twilio never took it")
        if page.status == "cancelled" and got:
            report.problems.append(f"{where} is recorded cancelled ({page.error}) but Twilio "
                                   f"took it as {got[0][1]}")
        if page.status == "sent" and got and page.provider_id not in {sid for _, sid, _ in got}:
            report.problems.append(f"{where} stores {page.provider_id}, Twilio took it as "
                                   f"{[sid for _, sid, _ in got]}")
        if incident.acked_at is not None:
            acked = epoch(incident.acked_at)
            if epoch(page.created_at) > acked:
                report.problems.append(f"{where} was made after the acknowledgement")
            for at, sid, send in got:
                # A request after the acknowledgement is allowed only when it was already
                # in flight: its request row (written when the worker had re-checked the
                # incident) is not younger than the acknowledgement (up to DECISION_SKEW),
                # and the request followed within IN_FLIGHT seconds.
                if at <= acked:
                    continue
                after_ack.append(at - acked)
                if epoch(send.created_at) - acked > DECISION_SKEW or at - acked > IN_FLIGHT:
                    report.problems.append(
                        f"{where}: {sid} requested {at - acked:.2f} s after the "
                        f"acknowledgement, decided {epoch(send.created_at) - acked:.2f} s "
                        "after it")
        if got and page.status == "sent":
            due = _due(page, incident, pages)
            if due is not None:
                late.append(got[0][0] - due)
                why = (f"{where} went out {late[-1]:.1f} s after it was due: escalated "
                       f"{epoch(page.created_at) - due:.1f} s late, first request "
                       f"{got[0][0] - epoch(page.created_at):.1f} s after that, "
                       f"{page.attempts} attempt(s), requests {[s.id for _, _, s in got]}")
                if late[-1] >= max(late):
                    report.stats["latest_page"] = why
                if late[-1] > MAX_LATE:
                    report.problems.append(why)
    _ladders(db, report)
    _timeline(db, report)
    statuses = Counter(p.status for p in pages.values())
    report.stats.update(
        pages=dict(statuses), sms_taken_by_twilio=len(messages),
        requests_in_flight_at_an_ack=[round(v, 2) for v in sorted(after_ack)],
        provider_sends=dict(Counter(s.status for s in db["sends"])),
        lateness_seconds={"max": round(max(late), 1) if late else None,
                          "median": round(statistics.median(late), 2) if late else None})


def _due(page: Any, incident: Any, pages: dict[int, Any]) -> float | None:
    """When the page was due: when the incident opened (the first level of the first loop),
    else ESCALATE_AFTER after the step before it was taken."""
    if (page.level, page.loop) == (1, 0):
        return epoch(incident.created_at)
    before = (page.level - 1, page.loop) if page.level > 1 else (LEVELS, page.loop - 1)
    steps = [epoch(p.created_at) for p in pages.values()
             if p.incident_id == page.incident_id and (p.level, p.loop) == before]
    return min(steps) + ESCALATE_AFTER if steps else None


def _ladders(db: dict[str, list[Any]], report: Report) -> None:
    """An incident nobody acknowledged has every level of every loop sent."""
    want = {(level, loop) for level in range(1, LEVELS + 1) for loop in range(REPEAT + 1)}
    sent: dict[int, set[tuple[int, int]]] = defaultdict(set)
    for page in db["pages"]:
        if page.status == "sent":
            sent[page.incident_id].add((page.level, page.loop))
    for incident in db["incidents"]:
        if incident.acked_at is None and sent[incident.id] != want:
            report.problems.append(
                f"incident {incident.id} ({incident.status}, never acknowledged) is missing "
                f"{sorted(want - sent[incident.id])}")


def _timeline(db: dict[str, list[Any]], report: Report) -> None:
    """The timeline shows what was really sent: one ``paged`` entry per sent page, with the
    SID Twilio gave it; none for a page that was not sent."""
    entries: dict[int, list[Any]] = defaultdict(list)
    for row in db["paged"]:
        detail = row.detail or {}
        if detail.get("page_id") is not None:
            entries[int(detail["page_id"])].append(detail.get("provider_id"))
    for page in db["pages"]:
        got = entries.get(page.id, [])
        if page.status == "sent" and got != [page.provider_id]:
            report.problems.append(f"page {page.id} (sent as {page.provider_id}) has "
                                   f"timeline entries {got}")
        if page.status != "sent" and got:
            report.problems.append(f"page {page.id} ({page.status}) is on the timeline as "
                                   f"paged {got}")
