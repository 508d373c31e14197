"""``oncall import opsgenie`` against the fake Opsgenie API (every answer validated against
Opsgenie's swagger document): the files, ``oncall apply`` of them, and the proof."""

from __future__ import annotations

import json
import shlex
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from oncall.cli import cli, config  # noqa: F401 - attach the commands
from oncall.config import Settings
from oncall.importers.files import schedule_specs
from oncall.importers.verify import compare
from oncall.models import Schedule
from oncall.schedules.rotation import final_shifts
from oncall.schedules.store import spec_for
from tests.importers.og_fake import FakeOpsgenie, SwaggerValidator, final_timeline
from tests.importers.og_fixture import NOW, account
from tests.importers.runner import apply_folder, import_runner

KEY = "og-test-key"
IDS = {"billing-primary": "s-primary", "ops-london": "s-london", "secondary": "s-secondary",
       "april-cover": "s-cover"}


@pytest.fixture
def fake() -> Any:
    with FakeOpsgenie(account(), token=KEY) as f:
        yield f
    assert f.invalid == [], f.invalid  # every answer the fake sent matched the swagger


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    return import_runner(monkeypatch, tmp_path, "opsgenie", "OG_KEY", KEY, NOW)


def _expected(fake: FakeOpsgenie, og_id: str, with_overrides: bool = True
              ) -> list[tuple[Any, Any, str | None]]:
    """The fake's final timeline as (start, end, username): one person at a time here."""
    sched = next(s for s in fake.data["schedules"] if s["id"] == og_id)
    overrides = fake.data["overrides"].get(og_id, []) if with_overrides else []
    start, end = NOW, NOW + timedelta(weeks=8)
    out = [(a, b, w["username"]) for _, periods in final_timeline(sched, overrides, start, end)
           for a, b, w, _ in periods]
    return sorted(out)


def test_full_import_writes_files_that_match_opsgenie(fake: Any, run: Any,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "og"
    result = run("--url", fake.url, "--out", str(out), "--verify", "8")
    assert result.exit_code == 0, result.output
    assert "verify: 0 difference(s) over 8 week(s) in 4 schedule(s)" in result.output
    assert fake.validated > 15 and fake.invalid == []
    assert any("offset=2" in p for p, _ in fake.log) and any("offset=4" in p for p, _ in fake.log)
    assert all(p.startswith("/v2/") for p, _ in fake.log)

    rules = yaml.safe_load((out / "rules/opsgenie.yaml").read_text())
    users = {u["user"]: u for u in rules["users"]}
    assert users["alice@example.com"] == {
        "user": "alice@example.com", "name": "Alice Moreau", "phone": "+14155550101",
        "timezone": "America/New_York", "role": "admin"}
    assert users["bob@example.com"]["phone"] == "+14155550102"  # SMS first (applyOrder 0)
    assert users["dave@example.com"]["phone"] == "+447700900123"
    assert "phone" not in users["carol@example.com"] and "phone" not in users["erin@example.com"]
    assert users["erin@example.com"]["role"] == "responder"
    assert rules["policies"] == [
        {"policy": "billing-critical", "repeat": 2, "levels": [
            {"notify": ["schedule:billing-primary"], "escalate_after": "5m"},
            {"notify": ["schedule:secondary", "user:alice@example.com"],
             "escalate_after": "25m"},
            {"notify": ["user:erin@example.com"], "escalate_after": "10m"}]},
        {"policy": "ops", "levels": [{"notify": ["schedule:ops-london"]}]}]
    assert rules["services"] == [
        {"service": "billing", "description": "Billing services", "policy": "billing-critical"},
        {"service": "ops", "policy": "ops"}]

    primary = yaml.safe_load((out / "schedules/billing-primary.yaml").read_text())
    layers = {x["name"]: x for x in primary["layers"]}
    assert list(layers) == ["Weekdays", "Weekends"]  # "Old nights" ended
    assert layers["Weekdays"] == {
        "name": "Weekdays", "rotation": "daily", "handoff": "09:00", "start": "2027-03-01",
        "members": ["carol@example.com", "alice@example.com", "bob@example.com"],  # turn 56
        "restrictions": [{"from": f"{d} 09:00", "to": f"{d} 17:00"}
                         for d in ("Mon", "Tue", "Wed", "Thu", "Fri")]}
    assert layers["Weekends"] == {
        "name": "Weekends", "rotation": "weekly", "handoff": "Fri 17:00", "start": "2027-02-26",
        "members": ["bob@example.com", "dave@example.com"],
        "restrictions": [{"from": "Fri 17:00", "to": "Mon 09:00"}]}
    cover = yaml.safe_load((out / "schedules/april-cover.yaml").read_text())
    assert cover["layers"] == [{
        "name": "Evenings", "rotation": {"days": 2}, "handoff": "09:00", "start": "2027-04-05",
        "end": "2027-04-19", "members": ["erin@example.com", "bob@example.com"],
        "restrictions": [{"from": "18:00", "to": "08:00"}]}]
    london = yaml.safe_load((out / "schedules/ops-london.yaml").read_text())
    assert london["layers"][0]["rotation"] == {"hours": 12}

    overrides = json.loads((out / "overrides.json").read_text())
    assert [(o["schedule"], o["user"]) for o in overrides] == [
        ("billing-primary", "dave@example.com"), ("billing-primary", "erin@example.com"),
        ("ops-london", "erin@example.com")]  # the past one is left out
    assert (out / "overrides.sh").read_text().splitlines()[-1] == (
        "oncall override ops-london --user erin@example.com --from 2027-03-27T20:00:00+00:00 "
        "--until 2027-03-28T09:00:00+00:00 --note 'imported from Opsgenie (ov-london)'")

    report = (out / "REPORT.txt").read_text()
    assert "Import from Opsgenie: " in report
    assert "rotation Billing Primary / Old nights: ended 2027-01-31" in report
    assert "rotation Billing Primary / Weekends: weekly x1: every 1 week(s), Fri 17:00, 2 " \
        "participant(s), 1 restriction(s)" in report
    assert "contact carol@example.com: no enabled SMS or voice contact" in report
    assert "contact carol@example.com: mobile app contact: no such channel here" in report
    assert "contact bob@example.com: other phone numbers ['+14155550199']" in report
    assert "user erin@example.com: custom role 'Stakeholder' -> responder" in report
    assert "rule Billing Critical rule 4: pages the next on-call of schedule Billing " \
        "Primary: no such target here" in report
    assert "rule Ops rule 2: team Ops (default): no such target here" in report
    assert "team Marketing: no imported escalation owned by the team" in report
    assert "rotation overlap" not in report
    assert "0 difference(s)" in (out / "VERIFY.txt").read_text()
    assert not list(tmp_path.glob(".og.importing-*"))


def test_the_comparison_finds_a_wrong_import(fake: Any, run: Any, tmp_path: Path) -> None:
    """The proof is not vacuous: the timeline has people in it, and a swapped member
    shows up as differences."""
    out = tmp_path / "og"
    assert run("--url", fake.url, "--out", str(out)).exit_code == 0
    start, end = NOW, NOW + timedelta(weeks=8)
    specs = schedule_specs(out)
    for name, og_id in IDS.items():
        expected = _expected(fake, og_id)
        assert len({u for _, _, u in expected}) >= 2, name
    fake.data["schedules"][0]["rotations"][0]["participants"].reverse()
    ours = [(x.start, x.end, x.user) for x in final_shifts(specs["billing-primary"], start, end)]
    diffs = compare("billing-primary", _expected(fake, "s-primary"), ours, start, end)
    assert diffs and all(d.end > d.start for d in diffs)


def test_applied_files_give_the_same_schedule(fake: Any, run: Any, tmp_path: Path,
                                              settings: Settings, factory: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`oncall apply` accepts the files on a fresh database, and the stored schedules put
    the same people on call as Opsgenie (overrides aside: made through the API), across
    both DST changes."""
    out = tmp_path / "og"
    assert run("--url", fake.url, "--out", str(out)).exit_code == 0
    assert "+ schedule billing-primary" in apply_folder(out, settings, tmp_path, monkeypatch)
    start, end = NOW, NOW + timedelta(weeks=8)
    with factory() as s:
        for name, og_id in IDS.items():
            stored = spec_for(s, s.scalars(select(Schedule).where(Schedule.name == name)).one(),
                              start, end)
            ours = [(x.start, x.end, x.user) for x in final_shifts(stored, start, end)]
            theirs = _expected(fake, og_id, with_overrides=False)
            assert compare(name, theirs, ours, start, end) == [], name


def test_team_and_none_participants_are_reported_and_verify_shows_them(
        run: Any, tmp_path: Path) -> None:
    """A team in a rotation, or a `none` participant (a deliberately empty turn), cannot be
    said in our layers: the report says how it was approximated (the turn goes to the
    participant before it, every other turn stays), and --verify prints exactly those turns
    and exits 1."""
    with FakeOpsgenie(account(inexpressible=True), token=KEY) as fake:
        result = run("--url", fake.url, "--out", str(tmp_path / "og"), "--schedule",
                     "Team Rota", "--schedule", "Gap Weekends", "--verify", "4")
    assert fake.invalid == []
    assert result.exit_code == 1
    assert "approximated: participant Team Rota / Days: participant 2, team Ops (Opsgenie " \
        "gives the turn to the team): our layers hold users and have no empty turn; that " \
        "turn goes to dave@example.com" in result.output
    assert "approximated: participant Gap Weekends / Weekends: participant 2, 'none' (a " \
        "deliberately empty turn)" in result.output
    team_days = [line for line in result.output.splitlines() if line.startswith("team-rota:")]
    assert team_days[0] == ("team-rota: Tue 2027-03-02 09:00 GMT -> Wed 2027-03-03 09:00 GMT "
                            "(1440 min): source has team Ops, ours has dave@example.com")
    assert len(team_days) == 14  # every other day of 4 weeks (and the rest of today's turn)
    gaps = [line for line in result.output.splitlines() if line.startswith("gap-weekends:")]
    assert gaps == ["gap-weekends: Fri 2027-03-19 17:00 EDT -> Mon 2027-03-22 09:00 EDT "
                    "(3840 min): source has nobody, ours has dave@example.com"]
    rota = yaml.safe_load((tmp_path / "og/schedules/team-rota.yaml").read_text())
    assert rota["layers"][0]["members"] == ["dave@example.com", "dave@example.com"]
    rules = yaml.safe_load((tmp_path / "og/rules/opsgenie.yaml").read_text())
    assert rules["policies"][0]["levels"][0] == {
        "notify": ["user:alice@example.com"], "escalate_after": "25m"}
    assert "schedule Billing Primary: not among the imported schedules (--schedule)" in \
        (tmp_path / "og/REPORT.txt").read_text()


def test_overlapping_rotations_are_reported_and_shown(fake: Any, run: Any,
                                                       tmp_path: Path) -> None:
    """Opsgenie has everyone of overlapping rotations on call at once; ours one person."""
    primary = fake.data["schedules"][0]
    primary["rotations"].append({**primary["rotations"][0], "id": "r9", "name": "Shadow",
                                 "participants": [{"type": "user", "id": "u-erin",
                                                   "username": "erin@example.com"}]})
    result = run("--url", fake.url, "--out", str(tmp_path / "og"), "--schedule",
                 "Billing Primary", "--verify", "1")
    assert result.exit_code == 1
    assert "approximated: rotation overlap Billing Primary: rotations overlap for" in \
        result.output
    assert "source has bob@example.com + erin@example.com, ours has erin@example.com" in \
        result.output


def test_a_wrong_key_is_one_line_and_writes_nothing(fake: Any, run: Any,
                                                    tmp_path: Path) -> None:
    out = tmp_path / "og"
    result = run("--url", fake.url, "--out", str(out), token="wrong")
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert "Opsgenie refused the token (401 unauthorized) for GET /v2/teams" in result.output
    assert "nothing was written" in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_rate_limits_and_server_errors_are_retried(fake: Any, run: Any,
                                                   tmp_path: Path) -> None:
    fake.fail_once = {"/v2/users": [(429, {"Retry-After": "1"})],
                      "/v2/escalations": [(500, {})],
                      "/v2/schedules/s-london/timeline": [(503, {}), (502, {})]}
    began = time.monotonic()
    result = CliRunner().invoke(cli, ["import", "opsgenie", "--url", fake.url, "--token-env",
                                      "OG_KEY", "--out", str(tmp_path / "og"), "--verify",
                                      "2", "--retries", "3"], env={"OG_KEY": KEY})
    assert result.exit_code == 0, result.output
    assert time.monotonic() - began >= 1.0  # Retry-After was honoured
    statuses = [status for _, status in fake.log]
    assert statuses.count(429) == 1 and statuses.count(500) == 1
    assert statuses.count(503) == 1 and statuses.count(502) == 1
    assert (tmp_path / "og/rules/opsgenie.yaml").exists()


def test_an_unknown_schedule_is_refused(fake: Any, run: Any, tmp_path: Path) -> None:
    result = run("--url", fake.url, "--out", str(tmp_path / "x"), "--schedule", "Nope")
    assert result.exit_code == 1 and "Opsgenie has no schedule named 'Nope'" in result.output
    assert not (tmp_path / "x").exists()


def test_the_swagger_validator_catches_a_wrong_answer() -> None:
    v = SwaggerValidator()
    good = {"data": [{"id": "u", "username": "a@b.c"}], "took": 0.1, "requestId": "r"}
    assert v.errors("/v2/users", 200, good) == []
    assert v.errors("/v2/users", 200, {"data": []})  # no requestId / took
    assert v.errors("/v2/users", 200, {**good, "data": [{"id": 5}]})
    bad_rotation = {"data": [{"id": "s", "rotations": [{"type": "monthly"}]}],
                    "took": 0, "requestId": "r", "expandable": []}
    assert v.errors("/v2/schedules", 200, bad_rotation)


def _lines(script: Path) -> list[str]:
    return [line for line in script.read_text().splitlines() if not line.startswith("#")]


def test_alert_api_integrations_become_ours_and_the_rest_are_reported(
        fake: Any, run: Any, tmp_path: Path, settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """API, Prometheus and Grafana integrations (their senders call Opsgenie's Alert API)
    become `opsgenie` integrations of their team's service; running integrations.sh after
    `oncall apply` creates them."""
    out = tmp_path / "og"
    assert run("--url", fake.url, "--out", str(out)).exit_code == 0
    assert _lines(out / "integrations.sh") == [
        "set -e",
        "oncall integration add billing --kind opsgenie --name billing-opsgenie",
        "oncall integration add billing --kind opsgenie --name billing-opsgenie-2",
        "oncall integration add ops --kind opsgenie --name ops-opsgenie"]
    assert "# Opsgenie integration Billing Grafana (Grafana)" in \
        (out / "integrations.sh").read_text()
    assert [i["source"] for i in json.loads((out / "integrations.json").read_text())] == [
        "Opsgenie integration Billing API (API)", "Opsgenie integration Billing Grafana "
        "(Grafana)", "Opsgenie integration Ops Alertmanager (Prometheus)"]
    report = (out / "REPORT.txt").read_text()
    assert "integration Ops Alertmanager (Prometheus): -> kind opsgenie on service ops " \
        "(ops-opsgenie), in integrations.sh; the sender changes its API URL and key" in report
    for expected in (
            "integration Marketing API (API): its team Marketing has no service here",
            "integration Shared API (API): belongs to no team, so to no service here",
            "integration Old API (API): disabled in Opsgenie: not created",
            "integration Billing email (Email): email intake",
            "integration Ops Jira (Jira): a ticketing integration",
            "integration Ops Slack (Slack): a chat integration",
            "integration Datadog (Datadog): its sender posts Datadog's own format"):
        assert expected in report, expected
    assert "integrations Billing" not in report  # the old "not read" entry is gone

    apply_folder(out, settings, tmp_path, monkeypatch)
    for line in _lines(out / "integrations.sh")[1:]:
        result = CliRunner().invoke(cli, shlex.split(line)[1:], catch_exceptions=False)
        assert result.exit_code == 0 and "GenieKey" in result.output, result.output
    listed = CliRunner().invoke(cli, ["integration", "list", "--json"])
    assert sorted((i["name"], i["service"], i["kind"]) for i in json.loads(listed.output)) == [
        ("billing-opsgenie", "billing", "opsgenie"), ("billing-opsgenie-2", "billing",
                                                      "opsgenie"),
        ("ops-opsgenie", "ops", "opsgenie")]


def test_team_imports_only_what_the_team_reaches(fake: Any, run: Any, tmp_path: Path,
                                                 settings: Settings,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """--team Ops: its service and escalation, the schedule it owns, the users its
    schedule, overrides and members name; Billing's things and Bob are left out and
    reported; the files apply and match Opsgenie."""
    out = tmp_path / "og"
    result = run("--url", fake.url, "--out", str(out), "--team", "Ops", "--verify", "8")
    assert result.exit_code == 0, result.output
    assert "verify: 0 difference(s) over 8 week(s) in 1 schedule(s)" in result.output
    assert sorted(p.name for p in (out / "schedules").iterdir()) == ["ops-london.yaml"]
    rules = yaml.safe_load((out / "rules/opsgenie.yaml").read_text())
    assert [u["user"] for u in rules["users"]] == [  # rotation, override (Erin), member
        "alice@example.com", "carol@example.com", "dave@example.com", "erin@example.com"]
    assert [p["policy"] for p in rules["policies"]] == ["ops"]
    assert rules["services"] == [{"service": "ops", "policy": "ops"}]
    assert [o["user"] for o in json.loads((out / "overrides.json").read_text())] == [
        "erin@example.com"]
    assert _lines(out / "integrations.sh")[1:] == [
        "oncall integration add ops --kind opsgenie --name ops-opsgenie"]
    report = (out / "REPORT.txt").read_text()
    why = "not in team(s) Ops (--team)"
    for left in ("user bob@example.com", "team Billing", "team Marketing",
                 "escalation Billing Critical", "schedule Billing Primary", "schedule Secondary",
                 "schedule April Cover", "integration Billing API (API)",
                 "integration Shared API (API)"):
        assert f"{left}: {why}" in report, left
    assert "integration Ops Jira (Jira): a ticketing integration" in report
    asked = [p for p, _ in fake.log]
    assert "/v2/teams/t-ops" in asked and "/v2/teams/t-billing" not in asked
    assert not any(p.startswith(("/v2/users/u-bob", "/v2/schedules/s-primary"))
                   for p in asked)  # nothing read about what is left out
    assert "+ schedule ops-london" in apply_folder(out, settings, tmp_path, monkeypatch)


def test_an_unknown_team_is_refused_naming_the_known_ones(fake: Any, run: Any,
                                                          tmp_path: Path) -> None:
    result = run("--url", fake.url, "--out", str(tmp_path / "x"), "--team", "Ops",
                 "--team", "Nope")
    assert result.exit_code == 1
    assert "Opsgenie has no team named 'Nope' (there are: Billing, Marketing, Ops)" in \
        result.output
    assert not (tmp_path / "x").exists() and [p for p, _ in fake.log] == ["/v2/teams"]


def test_team_and_schedule_together_are_refused(fake: Any, run: Any, tmp_path: Path) -> None:
    result = run("--url", fake.url, "--out", str(tmp_path / "x"), "--team", "Ops",
                 "--schedule", "Ops London")
    assert result.exit_code == 2 and "--team and --schedule cannot be combined" in \
        result.output
    assert fake.log == [] and not (tmp_path / "x").exists()


def test_since_takes_the_account_as_of_that_moment(fake: Any, run: Any,
                                                  tmp_path: Path) -> None:
    """--since 2027-03-10 (nine days after NOW): 8 verified weeks from then cross both
    spring-forwards; the override of March 9 is over by then and left out, the layers and
    Opsgenie's timeline are taken from then."""
    out = tmp_path / "og"
    result = run("--url", fake.url, "--out", str(out), "--since", "2027-03-10",
                 "--verify", "8")
    assert result.exit_code == 0, result.output
    assert "verify: 0 difference(s) over 8 week(s) in 4 schedule(s)" in result.output
    assert [o["note"] for o in json.loads((out / "overrides.json").read_text())] == [
        "imported from Opsgenie (ov-dst)", "imported from Opsgenie (ov-london)"]
    assert "2027-03-10 00:00 UTC + 8 week(s)" in (out / "VERIFY.txt").read_text()
    timelines = [p for p, _ in fake.log if "/timeline" in p]
    assert timelines and all("date=2027-03-10T00%3A00%3A00Z" in p for p in timelines), \
        timelines
    primary = yaml.safe_load((out / "schedules/billing-primary.yaml").read_text())
    weekdays = next(x for x in primary["layers"] if x["name"] == "Weekdays")
    assert weekdays["start"] == "2027-03-09"  # the turn in force on March 10, not on NOW's
