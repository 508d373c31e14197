"""Opsgenie mapping cases that the fixture account does not show: a repeated local hour,
rule delays and conditions, the end of a rotation off midnight, and the timeline's overlaps."""

from __future__ import annotations

from datetime import UTC, datetime

from oncall.importers.opsgenie.account import Account
from oncall.importers.opsgenie.mapping import map_account
from oncall.importers.opsgenie.teams import TeamScope
from oncall.importers.opsgenie.timeline import timeline_entries

NOW = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)  # 02:00 EST, just after New York falls back
USERS = [{"id": "u1", "username": "a@example.com", "role": {"name": "User"}},
         {"id": "u2", "username": "b@example.com", "role": {"name": "Admin"}}]


def account(**kw: object) -> Account:
    acc = Account(users=[dict(u) for u in USERS])
    for k, v in kw.items():
        setattr(acc, k, v)
    return acc


def schedule(rotation: dict[str, object]) -> dict[str, object]:
    return {"id": "s1", "name": "Nights", "timezone": "America/New_York",
            "rotations": [{"id": "r1", "name": "R", "participants": [
                {"type": "user", "id": "u1"}, {"type": "user", "id": "u2"}], **rotation}]}


def test_an_hourly_turn_in_the_repeated_hour_starts_a_turn_later() -> None:
    # 01:30 EST (06:30 UTC) is the second 01:30 of the night: our hourly rotation cannot
    # start there, so the layer starts at the next handoff and the report says so.
    result = map_account(account(schedules=[schedule({
        "type": "hourly", "length": 2, "startDate": "2026-11-01T06:30:00Z"})]), NOW)
    layer = next(iter(result.files.values()))
    assert "handoff: 03:30" in layer and "- b@example.com\n  - a@example.com" in layer
    assert any(e.status == "approximated" and "(a repeated local hour)" in e.detail
               for e in result.report.entries)


def test_an_end_off_midnight_is_rounded_up_and_reported() -> None:
    result = map_account(account(schedules=[schedule({
        "type": "daily", "length": 1, "startDate": "2026-10-01T09:00:00-04:00",
        "endDate": "2026-11-20T12:00:00-05:00"})]), NOW)
    assert "end: '2026-11-21'" in result.files["schedules/nights.yaml"]
    assert "rotation Nights / R: ends at 2026-11-20 12:00 EST; our layers end at local " \
        "midnight: imported to end at 2026-11-21 00:00 (the last 12h00m more)" in \
        result.report.text()


def rule(delay: dict[str, object], recipient: dict[str, object], **kw: str) -> dict[str, object]:
    return {"condition": "if-not-acked", "notifyType": "default", "delay": delay,
            "recipient": recipient, **kw}


def test_escalation_delays_conditions_and_repeats() -> None:
    user = {"type": "user", "id": "u1"}
    result = map_account(account(escalations=[{"id": "e1", "name": "Web", "rules": [
        rule({"timeAmount": 2, "timeUnit": "minutes"}, user, condition="if-not-closed"),
        rule({"timeAmount": 90, "timeUnit": "seconds"}, {"type": "user", "id": "u2"}),
        rule({"timeAmount": 1, "timeUnit": "hours"}, {"type": "user", "id": "u2"}),
        rule({"timeAmount": 5}, {"type": "escalation", "id": "e2", "name": "Other"})],
        "repeat": {"waitInterval": 0, "count": 30}}]), NOW)
    text = result.report.text()
    rules = result.files["rules/opsgenie.yaml"]
    assert "repeat: 20" in rules and "escalate_after: 58m" in rules
    assert "rule Web rule 2: delay of 90 s is not whole minutes" in text
    assert "rule Web rule 4: escalation Other (default): no such target here" in text
    assert "policy Web: its first rule waits 2 min after the alert" in text
    assert "rule Web rule 1: escalates if not closed" in text
    assert "policy Web: repeats 30 times; ours at most 20" in text
    assert "policy Web: repeats with no wait" in text


def test_the_timeline_shows_overlaps_as_everyone_on_call() -> None:
    def period(a: str, b: str, name: str) -> dict[str, object]:
        return {"startDate": a, "endDate": b, "recipient": {"type": "user", "name": name}}

    data = {"finalTimeline": {"rotations": [
        {"periods": [period("2026-11-02T00:00:00Z", "2026-11-02T10:00:00Z", "a")]},
        {"periods": [period("2026-11-02T08:00:00Z", "2026-11-02T12:00:00Z", "b"),
                     {"startDate": "2026-11-02T12:00:00Z", "endDate": "2026-11-02T13:00:00Z",
                      "recipient": {"type": "none"}}]}]}}
    at = datetime.fromisoformat
    assert timeline_entries(data) == [
        (at("2026-11-02T00:00:00+00:00"), at("2026-11-02T08:00:00+00:00"), "a"),
        (at("2026-11-02T08:00:00+00:00"), at("2026-11-02T10:00:00+00:00"), "a + b"),
        (at("2026-11-02T10:00:00+00:00"), at("2026-11-02T12:00:00+00:00"), "b")]


def test_many_users_left_out_by_team_are_one_report_entry() -> None:
    """Up to 10 users left out by --team get a line each; more get one line naming them."""
    team = {"id": "t1", "name": "Web"}
    escalation = {"id": "e1", "name": "Web", "ownerTeam": team, "rules": [
        {"delay": {"timeAmount": 0}, "recipient": {"type": "user", "id": "u1"}}]}
    for extra, lines in ((9, 10), (10, 1)):  # b@example.com is left out too
        acc = account(teams=[team, {"id": "t2", "name": "Data"}], escalations=[escalation])
        acc.users += [{"id": f"x{i}", "username": f"x{i}@example.com"} for i in range(extra)]
        scope = TeamScope.of([team], {}, acc.escalations, [])
        scope.narrow(acc)
        assert [u["id"] for u in acc.users] == ["u1"]
        left = [x for x in acc.left_out if x[0] == "user"]
        assert len(left) == lines, left
        assert ("team", "Data", "not in team(s) Web (--team)") in acc.left_out
    assert left == [("user", "11 users", "not in team(s) Web (--team): b@example.com, "
                     + ", ".join(f"x{i}@example.com" for i in range(10)))]
    text = map_account(acc, NOW).report.text()
    assert "user 11 users: not in team(s) Web (--team): b@example.com" in text
    assert "service web, policy web" in text
