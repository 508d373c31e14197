"""The "what would happen if..." simulator, on the shipped billing example (rules/ and
schedules/): held or paged and by which rule, the open incident it joins, the whole
escalation as a timeline, and a proof that it writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from oncall import incidents, maintenance
from oncall.incidents import intake
from oncall.ingest.generic import parse_one
from oncall.models import Base, MaintenanceWindow, Service, User
from oncall.paging import runs
from oncall.simulate import Answer, SimulationError, simulate
from tests.conftest import apply, shipped
from tests.fakes import install

NY = ZoneInfo("America/New_York")
# Tuesday 8 December 2026, 03:00 in New York (08:00 UTC).
NIGHT = datetime(2026, 12, 8, 3, 0, tzinfo=NY)


def ny(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=NY)


@pytest.fixture
def billing(factory: Any, config: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The shipped example team, with SMS and voice configured (fakes: nothing is sent)."""
    install(monkeypatch, "sms", "voice")
    apply(factory, *shipped(config))
    yield factory
    maintenance.invalidate()  # the windows cached for the next few seconds are gone


def charge_failures(factory: Any, at: datetime, count: int,
                    merchant: str = "acme") -> list[intake.Outcome]:
    """``count`` charge failures for ``merchant``, stored by intake, one a second up to
    ``at``."""
    with factory() as s, s.begin():
        service = s.scalar(select(Service).where(Service.name == "billing-charges"))
        source = intake.Source(None, "test", "generic", service.id, service.name, "test")
        return [intake.ingest(s, source, [parse_one(_failure(merchant))],
                              at - timedelta(seconds=count - i))[0] for i in range(count)]


def _failure(merchant: str) -> dict[str, Any]:
    return {"type": "charge_failure", "severity": "critical", "service": "billing-charges",
            "summary": f"charge failed for {merchant}", "labels": {"merchant_id": merchant}}


def ask(factory: Any, at: datetime = NIGHT, service: str = "billing-charges",
        **fields: Any) -> Answer:
    fields.setdefault("type_", "charge_failure")
    fields.setdefault("labels", {"merchant_id": "acme"})
    with factory() as s:
        return simulate(s, service, at, **fields)


def pages(entries: Any) -> list[tuple[str, int, int, str, list[tuple[str, str]]]]:
    """(local time, level, loop, recipient, [(channel, local time)]) of each page line."""
    return [(e.at.astimezone(NY).strftime("%H:%M"), e.level, e.loop, e.recipient,
             [(ch, t.astimezone(NY).strftime("%H:%M")) for ch, t in e.channels])
            for e in entries if e.note is None]


def notes(entries: Any) -> list[str]:
    return [e.note for e in entries if e.note is not None]


# Worked out by hand from the YAML, not by the code under test:
# - schedules/billing-primary.yaml: weekly, handoff Mon 09:00 New York, from Mon 2026-11-02,
#   members alice, bob, carol: weeks from 11-02 alice, 11-09 bob, 11-16 carol, 11-23 alice,
#   11-30 bob, 12-07 carol, 12-14 alice. Its weekend-days layer (dave) is Sat/Sun only.
# - schedules/billing-secondary.yaml: the same weeks with carol, alice, bob: 11-02 carol,
#   11-09 alice, 11-16 bob, 11-23 carol, 11-30 alice, 12-07 bob, 12-14 carol.
# So on Tuesday 12-08 at 03:00 the primary is carol and the secondary bob.
# - rules/billing.yaml, billing-critical: level 1 primary (5m), level 2 secondary + manager
#   (10m), level 3 manager (5m, the default), repeat 2: three loops, 20 minutes each.
# - schedules/team.yaml: carol, bob and the manager have no rules of their own: critical is
#   SMS now and a call two minutes later (Slack is not configured here).
CAROL = "carol@example.com"
BOB = "bob@example.com"
ALICE = "alice@example.com"
MANAGER = "manager@example.com"


def loop(start: int, n: int) -> list[tuple[str, int, int, str, list[tuple[str, str]]]]:
    def at(minute: int) -> str:
        return f"03:{start + minute:02d}"

    return [(at(0), 1, n, CAROL, [("sms", at(0)), ("voice", at(2))]),
            (at(5), 2, n, BOB, [("sms", at(5)), ("voice", at(7))]),
            (at(5), 2, n, MANAGER, [("sms", at(5)), ("voice", at(7))]),
            (at(15), 3, n, MANAGER, [("sms", at(15)), ("voice", at(17))])]


def test_a_critical_charge_failure_spike_at_3am_pages_the_whole_ladder_three_times(
        billing: Any) -> None:
    charge_failures(billing, NIGHT, 9)  # the tenth in five minutes crosses the threshold
    answer = ask(billing, summary="card declined")
    assert answer.outcome == "pages"
    assert answer.rule is not None and answer.rule["name"] == "charge-failure-spike"
    assert answer.rule["observed"] == {"count": 10}
    assert "charge-failure-spike" in answer.reason
    assert answer.policy == "billing-critical"
    assert pages(answer.timeline) == loop(0, 0) + loop(20, 1) + loop(40, 2)
    assert notes(answer.timeline) == [
        "the ladder ends: nobody more is paged; the incident stays open until someone "
        "acknowledges or resolves it"]


def test_a_single_charge_failure_is_held_below_the_rule_and_says_whom_it_would_page(
        billing: Any) -> None:
    answer = ask(billing)
    assert answer.outcome == "held"
    assert "held by rule charge-failure-spike" in answer.reason
    assert "count >= 10 within 5m per merchant_id; seen: count 1" in answer.reason
    assert answer.timeline == []
    assert pages(answer.if_crossed)[:4] == loop(0, 0)


def test_each_level_asks_the_schedule_at_its_own_time(billing: Any) -> None:
    # Monday 12-14 08:58: the primary is still carol (week of 12-07); the 09:00 handoff
    # gives the primary to alice and the secondary to carol (week of 12-14). Alice's own
    # rules (team.yaml): SMS, a call after 2 minutes, Slack (not configured: skipped).
    answer = ask(billing, at=ny(14, 8, 58), service="billing-cron", type_="cron_miss")
    assert answer.outcome == "pages" and answer.rule and answer.rule["name"] == "cron-miss"
    got = [(t, level, n, who) for t, level, n, who, _ in pages(answer.timeline)]
    assert got[:5] == [("08:58", 1, 0, CAROL), ("09:03", 2, 0, CAROL),
                       ("09:03", 2, 0, MANAGER), ("09:13", 3, 0, MANAGER),
                       ("09:18", 1, 1, ALICE)]
    assert pages(answer.timeline)[4][4] == [("sms", "09:18"), ("voice", "09:20")]


def test_a_maintenance_window_holds_the_incident_until_it_ends(billing: Any) -> None:
    with billing() as s, s.begin():
        s.add(MaintenanceWindow(name="processor upgrade", matchers={"service": "billing-cron"},
                                starts_at=ny(8, 2), ends_at=ny(8, 4), created_by="test"))
    maintenance.invalidate()
    answer = ask(billing, service="billing-cron", type_="cron_miss")
    assert answer.outcome == "held"
    assert answer.window is not None and answer.window["name"] == "processor upgrade"
    assert "maintenance window processor upgrade" in answer.reason
    assert pages(answer.timeline)[0] == (
        "04:00", 1, 0, CAROL, [("sms", "04:00"), ("voice", "04:02")])
    # Another service's alert is not held.
    assert ask(billing, service="billing-api", type_="latency").outcome == "pages"


def test_an_alert_joins_the_open_incident_of_its_key(billing: Any) -> None:
    [*_, tenth] = charge_failures(billing, NIGHT, 10)
    assert tenth.incident_id is not None and tenth.new
    answer = ask(billing, at=NIGHT + timedelta(minutes=1))
    assert answer.outcome == "joins"
    assert answer.incident is not None and answer.incident["id"] == tenth.incident_id
    assert f"joins incident #{tenth.incident_id}" in answer.reason
    # Not stepped yet: its escalation starts now, as the engine would run it.
    assert pages(answer.timeline)[0][1:4] == (1, 0, CAROL)
    runs.escalate_incident(billing, tenth.incident_id, now=NIGHT)
    later = ask(billing, at=NIGHT + timedelta(minutes=1))
    assert later.outcome == "joins"
    assert pages(later.timeline)[0][:4] == ("03:05", 2, 0, BOB)  # level 1 is paged already
    with billing() as s, s.begin():
        incidents.acknowledge(s, tenth.incident_id, "carol@example.com", NIGHT)
    acked = ask(billing, at=NIGHT + timedelta(minutes=2))
    assert acked.outcome == "joins" and acked.timeline == []
    assert "(acknowledged)" in acked.reason and "ack_timeout" in acked.reason  # 30m in the file


def test_a_service_without_a_policy_pages_the_admins(billing: Any) -> None:
    with billing() as s, s.begin():
        s.add_all([Service(name="orphan"),
                   User(email="root@example.com", name="Ada", role="admin",
                        phone="+14155550199")])
    answer = ask(billing, service="orphan", type_="disk_full")
    assert answer.outcome == "pages" and answer.policy is None
    assert pages(answer.timeline) == [
        ("03:00", 0, 0, "root@example.com", [("sms", "03:00"), ("voice", "03:02")])]
    assert any("its service has no escalation policy" in n and "root@example.com" in n
               for n in notes(answer.timeline))


def test_unknown_service_and_bad_fields_are_refused_naming_the_field(billing: Any) -> None:
    with pytest.raises(SimulationError) as exc:
        ask(billing, service="nope")
    assert exc.value.field == "service"
    with pytest.raises(SimulationError) as exc:
        ask(billing, severity="loud")
    assert exc.value.field == "severity"


def snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    out = {}
    for table in Base.metadata.sorted_tables:
        rows = session.execute(select(table)).all()
        out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def test_simulating_writes_nothing(billing: Any) -> None:
    with billing() as s, s.begin():
        s.add_all([Service(name="orphan"),
                   User(email="root@example.com", name="Ada", role="admin")])
        s.add(MaintenanceWindow(name="cron work", matchers={"service": "billing-cron"},
                                starts_at=ny(8, 2), ends_at=ny(8, 4), created_by="test"))
    maintenance.invalidate()
    [*_, opened] = charge_failures(billing, NIGHT - timedelta(minutes=30), 10)
    charge_failures(billing, NIGHT, 9, merchant="globex")
    assert opened.incident_id is not None
    with billing() as s:
        before = snapshot(s)
    assert sum(len(rows) for rows in before.values()) > 50
    statements: list[str] = []
    questions: list[dict[str, Any]] = [
        {"labels": {"merchant_id": "globex"}},  # pages
        {"labels": {"merchant_id": "initech"}},  # held below the rule
        {},  # joins acme's incident
        {"service": "billing-cron", "type_": "cron_miss"},  # held by the window
        {"service": "orphan"},  # nobody: the admins
    ]
    outcomes = []
    # Committed, not rolled back: a write would stay (and every statement is seen).
    with billing() as s, s.begin():
        engine = s.get_bind()

        def listen(conn: Any, cursor: Any, sql: str, *rest: Any) -> None:
            statements.append(sql)

        event.listen(engine, "before_cursor_execute", listen)
        try:
            for q in questions:
                q = {"service": "billing-charges", "type_": "charge_failure",
                     "labels": {"merchant_id": "acme"}} | q
                outcomes.append(simulate(s, q.pop("service"), NIGHT, **q).outcome)
            assert not (s.new or s.dirty or s.deleted)
        finally:
            event.remove(engine, "before_cursor_execute", listen)
    assert outcomes == ["pages", "held", "joins", "held", "pages"]
    assert statements and all(sql.lstrip().upper().startswith("SELECT")
                              for sql in statements), statements
    with billing() as s:
        after = snapshot(s)
    assert after == before


def test_a_level_whose_schedule_has_nobody_says_so_and_moves_on(billing: Any) -> None:
    with billing() as s, s.begin():
        s.add(User(email="root@example.com", name="Ada", role="admin", phone="+14155550199"))
        for name in ("alice", "bob", "carol", "manager"):
            user = s.scalar(select(User).where(User.email == f"{name}@example.com"))
            s.delete(user)
    answer = ask(billing, service="billing-cron", type_="cron_miss")
    # Nobody left to page on any level: each level is noted and skipped at once (a new
    # loop keeps its time), and the admins are paged at the first step.
    assert pages(answer.timeline) == [
        ("03:00", 0, 0, "root@example.com", [("sms", "03:00"), ("voice", "03:02")])]
    said = [(e.at.astimezone(NY).strftime("%H:%M"), e.level, e.loop, e.note)
            for e in answer.timeline if e.note]
    assert said[:6] == [
        ("03:00", 1, 0, "nobody is on call on schedule billing-primary"),
        ("03:00", 1, 0, "level 1 names nobody to page: on to the next"),
        ("03:00", 2, 0, "nobody is on call on schedule billing-secondary"),
        ("03:00", 2, 0, "no such target: user:manager@example.com"),
        ("03:00", 2, 0, "level 2 names nobody to page: on to the next"),
        ("03:00", 3, 0, "no such target: user:manager@example.com")]
    assert ("03:00", 0, 0, "nobody was paged (no level of its escalation policy named "
                           "anyone who could be paged): the admins are paged: "
                           "root@example.com") in said
    # A new loop is not started early: level 3's 5 minutes, then the next repeat.
    assert [(at, loop) for at, level, loop, note in said
            if level == 1 and "schedule" in note] == [
        ("03:00", 0), ("03:05", 1), ("03:10", 2)]
