"""``oncall import grafana-oncall`` against the fake Grafana OnCall API: the files, the
report, ``oncall apply`` of them, and the proof against the fake's own final shifts."""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

import oncall.cli.importers as importers_cli
from oncall.cli import cli, config  # noqa: F401 - attach the commands
from oncall.config import Settings
from oncall.importers.files import schedule_specs, spec_from_doc
from oncall.importers.grafana_oncall.account import Account
from oncall.importers.grafana_oncall.mapping import map_account
from oncall.importers.grafana_oncall.teams import for_teams
from oncall.importers.verify import compare
from oncall.models import Schedule
from oncall.schedules.rotation import ScheduleSpec, final_shifts
from oncall.schedules.store import spec_for
from tests.importers.gf_fake import FakeGrafanaOnCall
from tests.importers.gf_fake import final_shifts as gf_final
from tests.importers.gf_fixture import NOW, account, shift, user
from tests.importers.runner import apply_folder

TOKEN = "gf-test-token"
IDS = {"billing-primary": "SBILLING", "ops-london": "SLONDON", "secondary": "SSECOND",
       "search": "SSEARCH"}
EMAILS = {u["id"]: u["email"] for u in account()["users"]}
WEEKS8 = (NOW, NOW + timedelta(weeks=8))


@pytest.fixture
def fake() -> Any:
    with FakeGrafanaOnCall(account(), token=TOKEN) as f:
        yield f
    assert f.invalid == [], f.invalid


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """``oncall import grafana-oncall --token-env GF_TOKEN ARGS`` at NOW, in tmp_path."""
    monkeypatch.setattr(importers_cli, "utcnow", lambda: NOW)
    monkeypatch.chdir(tmp_path)
    command = ["import", "grafana-oncall", "--token-env", "GF_TOKEN"]
    return lambda *args, token=TOKEN: CliRunner().invoke(
        cli, [*command, *args], env={"GF_TOKEN": token}, catch_exceptions=False)


def _theirs(fake: FakeGrafanaOnCall, sid: str, overrides: bool = True) -> list[Any]:
    """The fake's final shifts as (start, end, email), without overrides if asked."""
    sched = next(s for s in fake.data["schedules"] if s["id"] == sid)
    shifts = {x["id"]: x for x in fake.data["on_call_shifts"]}
    kept = [i for i in sched["shifts"] if overrides or shifts[i]["type"] in
            ("rolling_users", "recurrent_event")]
    return [(a, b, EMAILS[u]) for a, b, u in
            gf_final({**sched, "shifts": kept}, shifts, *WEEKS8)]


def test_full_import_matches_grafana_oncall(fake: Any, run: Any, tmp_path: Path) -> None:
    out = tmp_path / "gf"
    result = run("--url", fake.url, "--out", str(out), "--verify", "8")
    assert result.exit_code == 0, result.output
    assert "verify: 0 difference(s) over 8 week(s) in 4 schedule(s)" in result.output
    assert fake.invalid == [] and fake.validated > 10
    assert any("page=3" in path for path, _ in fake.log)  # pages of 2, every one read
    assert any("final_shifts" in path and "page=2" in path for path, _ in fake.log)

    rules = yaml.safe_load((out / "rules/grafana-oncall.yaml").read_text())
    users = {u["user"]: u for u in rules["users"]}
    assert users["alice@example.com"] == {"user": "alice@example.com", "name": "alice",
                                          "timezone": "America/New_York", "role": "admin"}
    assert users["bob@example.com"]["role"] == "responder"
    # A viewer in Grafana OnCall, but on call here: a viewer could not acknowledge.
    assert users["erin@example.com"]["role"] == "responder"
    # Role "none" (a viewer here), but paged by a policy: a responder, both reported below.
    assert users["frank@example.com"]["role"] == "responder"
    assert rules["policies"] == [
        {"policy": "billing-critical", "repeat": 5, "levels": [
            {"notify": ["schedule:billing-primary", "user:alice@example.com"],
             "escalate_after": "5m"},
            {"notify": ["user:bob@example.com", "user:carol@example.com"],
             "escalate_after": "15m"},
            {"notify": ["user:erin@example.com"]}]},
        {"policy": "ops", "levels": [{"notify": ["schedule:ops-london"],
                                      "escalate_after": "10m"},
                                     {"notify": ["user:dave@example.com"]}]},
        {"policy": "search-escalation", "levels": [
            {"notify": ["schedule:search"], "escalate_after": "5m"},
            {"notify": ["user:frank@example.com"]}]}]
    assert [(x["service"], x["policy"]) for x in rules["services"]] == [
        ("billing-api", "billing-critical"), ("ops-alertmanager", "ops"),
        ("billing-grafana", "billing-critical"), ("ops-legacy-grafana", "ops"),
        ("ops-formatted", "ops"), ("billing-heartbeat", "billing-critical"),
        ("ops-mailbox", "ops"), ("ops-zabbix", "ops"),
        ("search-prometheus", "search-escalation")]  # no service for direct paging

    primary = yaml.safe_load((out / "schedules/billing-primary.yaml").read_text())
    layers = {x["name"]: x for x in primary["layers"]}
    assert list(layers) == ["Weekly", "Weekdays", "April cover"]  # by level, lowest first
    assert layers["Weekly"] == {"name": "Weekly", "rotation": "weekly", "handoff": "Mon 09:00",
                                "start": "2027-01-04", "members": [
                                    "bob@example.com", "carol@example.com",
                                    "alice@example.com"]}  # from user index 1
    assert layers["Weekdays"]["restrictions"] == [
        {"from": "09:00", "to": "17:00", "days": ["Mon", "Tue", "Wed", "Thu", "Fri"]}]
    assert layers["April cover"] == {"name": "April cover", "rotation": "daily",
                                     "handoff": "00:00", "start": "2027-04-05",
                                     "end": "2027-04-19",
                                     "members": ["bob@example.com", "erin@example.com"]}
    london = yaml.safe_load((out / "schedules/ops-london.yaml").read_text())
    assert london["layers"][0]["rotation"] == {"hours": 12}
    assert london["layers"][1]["restrictions"] == [
        {"from": "09:00", "to": "17:00", "days": ["Mon", "Wed"]}]
    assert not (out / "schedules/legacy.yaml").exists()

    overrides = json.loads((out / "overrides.json").read_text())
    assert [(o["schedule"], o["user"], o["start"]) for o in overrides] == [
        ("billing-primary", "dave@example.com", "2027-03-08T12:00:00+00:00"),
        ("billing-primary", "erin@example.com", "2027-03-14T03:00:00+00:00"),
        ("ops-london", "erin@example.com", "2027-03-27T20:00:00+00:00")]  # past one left out
    assert overrides[1]["end"] == "2027-03-14T14:00:00+00:00"  # 10:00 EDT: wall-clock 12 h
    assert "oncall override ops-london --user erin@example.com" in (
        out / "overrides.sh").read_text()

    report = (out / "REPORT.txt").read_text()
    for line in ("shift Billing Primary / Old nights: ended (until 2027-01-31T20:00:00)",
                 "schedule Legacy: an iCal schedule",
                 "step Billing Critical step 4: one person each time (round robin)",
                 "step Billing Critical step 6: important notification",
                 "step Ops step 3: trigger_webhook: outgoing webhooks",
                 "step Resolver step 1: resolve: resolves the alert group",
                 "policy Resolver: no step with a target we imported",
                 "service Unrouted: its default route has no escalation chain",
                 "contact carol@example.com: phone: no verified phone number there",
                 "user frank@example.com: role 'none' (no access there): imported as viewer",
                 "user frank@example.com: a read-only role in Grafana OnCall (viewer here), but "
                 "on call or paged (schedule search): imported as responder"):
        assert line in report, line
    assert "0 approximated" not in report.splitlines()[0]
    assert (out / "VERIFY.txt").read_text().count("0 difference(s)") == 4


def test_the_comparison_finds_a_wrong_import(fake: Any, run: Any, tmp_path: Path) -> None:
    """The proof is not vacuous: every schedule has several people on call, across the DST
    changes, and one swapped member shows up as differences."""
    out = tmp_path / "gf"
    assert run("--url", fake.url, "--out", str(out)).exit_code == 0
    specs = schedule_specs(out)
    for name, sid in IDS.items():
        theirs = _theirs(fake, sid)
        assert len({u for _, _, u in theirs}) >= (2 if name == "search" else 3), name
        ours = [(x.start, x.end, x.user) for x in final_shifts(specs[name], *WEEKS8)]
        assert compare(name, theirs, ours, *WEEKS8) == []
    london = specs["ops-london"]
    hourly = london.layers[0]
    wrong = replace(london, layers=(replace(hourly, members=hourly.members[::-1]),
                                    *london.layers[1:]))
    diffs = compare("ops-london", _theirs(fake, "SLONDON"),
                    [(x.start, x.end, x.user) for x in final_shifts(wrong, *WEEKS8)], *WEEKS8)
    assert diffs and {d.source for d in diffs} >= {"dave@example.com", "alice@example.com"}


def test_applied_files_give_the_same_schedule(fake: Any, run: Any, tmp_path: Path,
                                              settings: Settings, factory: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`oncall apply` accepts the files on a fresh database, and the stored schedules put the
    same people on call as Grafana OnCall (overrides aside: they go through the API), across
    both DST changes."""
    out = tmp_path / "gf"
    assert run("--url", fake.url, "--out", str(out)).exit_code == 0
    monkeypatch.setenv("ONCALL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ONCALL_BROKER_URL", settings.broker_url)
    monkeypatch.setenv("ONCALL_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(cli, ["apply", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "+ schedule ops-london" in result.output
    files = schedule_specs(out)
    with factory() as s:
        for name, sid in IDS.items():
            stored = spec_for(s, s.scalars(select(Schedule).where(Schedule.name == name)).one(),
                              *WEEKS8)
            ours = [(x.start, x.end, x.user) for x in final_shifts(stored, *WEEKS8)]
            assert compare(name, _theirs(fake, sid, overrides=False), ours, *WEEKS8) == [], name
            plain = ScheduleSpec(name, files[name].timezone, files[name].layers)
            assert final_shifts(plain, *WEEKS8) == final_shifts(stored, *WEEKS8)


def test_a_wrong_token_is_one_line_and_writes_nothing(fake: Any, run: Any,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "gf"
    result = run("--url", fake.url, "--out", str(out), token="wrong")
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert "Grafana OnCall refused the token (401 unauthorized)" in result.output
    assert "nothing was written" in result.output
    assert list(tmp_path.iterdir()) == []


def test_rate_limits_and_server_errors_are_retried(fake: Any, run: Any,
                                                   tmp_path: Path) -> None:
    fake.fail_once = {"/oncall/api/v1/users/": [(429, {"Retry-After": "1"})],
                      "/oncall/api/v1/escalation_policies/": [(500, {})],
                      "/oncall/api/v1/schedules/SLONDON/final_shifts": [(503, {}), (502, {})]}
    began = time.monotonic()
    result = run("--url", fake.url, "--out", str(tmp_path / "gf"), "--verify", "2")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - began >= 1.0
    statuses = [status for _, status in fake.log]
    assert [statuses.count(x) for x in (429, 500, 503, 502)] == [1, 1, 1, 1]
    assert "verify: 0 difference(s)" in result.output


def test_a_filtered_import_reports_what_it_leaves_out(fake: Any, run: Any,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "gf"
    result = run("--url", fake.url, "--out", str(out), "--schedule", "Ops London",
                 "--verify", "8")
    assert result.exit_code == 0, result.output
    assert [p.name for p in (out / "schedules").iterdir()] == ["ops-london.yaml"]
    rules = yaml.safe_load((out / "rules/grafana-oncall.yaml").read_text())
    assert rules["policies"][0]["levels"][0] == {"notify": ["user:alice@example.com"],
                                                 "escalate_after": "5m"}
    assert "target Billing Critical step 1: SBILLING: not among the imported schedules " \
        "(--schedule)" in (out / "REPORT.txt").read_text()
    unknown = run("--url", fake.url, "--out", str(tmp_path / "x"), "--schedule", "Nope")
    assert unknown.exit_code == 1 and "no schedule named 'Nope'" in unknown.output
    assert not (tmp_path / "x").exists()


def test_what_cannot_be_expressed_is_reported_and_a_difference_exits_1(
        fake: Any, run: Any, tmp_path: Path) -> None:
    """Two people together in one turn, a monthly rotation, a gapped rotation: reported, and
    --verify shows the approximation as differences (who, when) and exits 1."""
    fake.data["on_call_shifts"] += [
        shift("XPAIR", "Pair", "rolling_users", "2027-03-01T08:00:00", 86400, level=3,
              frequency="daily", interval=1, time_zone="Europe/London",
              groups=[["UDAVE", "UALICE"]], until="2027-03-02T08:00:00"),
        shift("XMONTH", "Monthly", "rolling_users", "2027-01-01T09:00:00", 86400,
              frequency="monthly", interval=1, groups=[["UBOB"]]),
        shift("XGAP", "Every other day", "rolling_users", "2027-01-01T09:00:00", 3600,
              frequency="daily", interval=2, groups=[["UBOB"]])]
    fake.data["schedules"][1]["shifts"] += ["XPAIR", "XMONTH", "XGAP"]
    out = tmp_path / "gf"
    result = run("--url", fake.url, "--out", str(out), "--verify", "1")
    assert result.exit_code == 1
    assert ("approximated: shift Ops London / Pair: dave@example.com, alice@example.com are "
            "on call together in one turn") in result.output
    assert "not mapped: shift Ops London / Monthly: frequency 'monthly'" in result.output
    assert "not mapped: shift Ops London / Every other day: events of 1:00:00 every 2" \
        in result.output
    assert ("approximated: shift Ops London / Pair: its last event ends 2027-03-03 08:00; "
            "our layers end at local midnight") in result.output
    assert "ours has dave@example.com" in result.output  # Alice's half is the difference
    assert "verify: " in result.output and "verify: 0 difference" not in result.output


def test_map_account_on_an_empty_account() -> None:
    result = map_account(Account(), NOW)
    assert result.report.summary() == "0 mapped, 0 approximated, 0 not mapped"
    assert yaml.safe_load(result.files["rules/grafana-oncall.yaml"].split("\n", 2)[2]) == {
        "users": []}


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/London"])
@pytest.mark.parametrize("by_day", [None, ["MO", "TH"]])
def test_until_across_a_dst_change_ends_where_grafana_ends(zone: str, by_day: Any) -> None:
    """Rotations that end (until) after a DST change: hourly (elapsed) and weekly (local),
    with and without by_day (the last period's last listed day). Their last events do not
    end at local midnight: reported approximated, and ours differs only by going on from
    the last event's end to that midnight (an exact end is in the fixture: April cover)."""
    users = account()["users"]
    shifts = [shift("H", "Hours", "rolling_users", "2027-03-01T00:00:00", 6 * 3600,
                    frequency="hourly", interval=6, groups=[["UBOB"], ["UERIN"]],
                    until="2027-04-04T18:00:00"),
              shift("W", "Weeks", "rolling_users", "2027-03-01T08:00:00", 8 * 3600, level=1,
                    frequency="weekly", interval=1, by_day=by_day,
                    groups=[["UALICE"], ["UCAROL"]], until="2027-04-05T08:00:00")]
    sched = {"id": "S", "name": "S", "type": "web", "time_zone": zone, "shifts": ["H", "W"]}
    result = map_account(Account(users=users, schedules=[sched],
                                 shifts={x["id"]: x for x in shifts}), NOW)
    doc = yaml.safe_load(result.files["schedules/s.yaml"].split("\n", 2)[2])
    spec = spec_from_doc(doc, [])
    ours = [(x.start, x.end, x.user) for x in final_shifts(spec, *WEEKS8)]
    theirs = [(a, b, EMAILS[u]) for a, b, u in
              gf_final(sched, {x["id"]: x for x in shifts}, *WEEKS8)]
    diffs = compare("s", theirs, ours, *WEEKS8)
    approximated = [e for e in result.report.of("approximated") if e.kind == "shift"]
    assert {e.name for e in approximated} == {"S / Hours", "S / Weeks"}
    # Nobody is lost or swapped: ours only goes on after a last event, to local midnight.
    assert diffs and all(d.source is None and d.end.astimezone(ZoneInfo(zone)).hour == 0
                         for d in diffs), diffs
    assert doc["layers"][0]["end"] == "2027-04-05"
    assert doc["layers"][1]["end"] == ("2027-04-09" if by_day else "2027-04-06")


def test_since_imports_the_account_as_of_that_moment(fake: Any, run: Any,
                                                     tmp_path: Path) -> None:
    """--since three weeks on (across the UK change on 2027-03-28, the 8 weeks after it):
    overrides that are over by then and a layer that ended by then are left out, Grafana's
    final shifts are asked from then, and they match ours."""
    fake.data["on_call_shifts"].append(
        shift("XSHORT", "Until mid-March", "rolling_users", "2027-02-01T09:00:00", 3600,
              level=5, frequency="daily", interval=1, groups=[["UBOB"]],
              until="2027-03-15T09:00:00"))
    fake.data["schedules"][2]["shifts"].append("XSHORT")
    out = tmp_path / "gf"
    result = run("--url", fake.url, "--out", str(out), "--since", "2027-03-22", "--verify",
                 "8")
    assert result.exit_code == 0, result.output
    assert "verify: 0 difference(s) over 8 week(s) in 4 schedule(s)" in result.output
    assert (out / "VERIFY.txt").read_text().startswith(
        "Grafana OnCall's final schedule against ours, 2027-03-22 00:00 UTC + 8 week(s)")
    asked = [path for path, _ in fake.log if "final_shifts" in path]
    assert asked and all("start_date=2027-03-22&end_date=2027-05-17" in p for p in asked)
    overrides = json.loads((out / "overrides.json").read_text())
    assert [(o["user"], o["start"]) for o in overrides] == [
        ("erin@example.com", "2027-03-27T20:00:00+00:00")]  # 03-08 and 03-14 are over
    report = (out / "REPORT.txt").read_text()
    assert "shift Secondary / Until mid-March: ended (until 2027-03-15T09:00:00)" in report
    assert "Until mid-March" not in (out / "schedules/secondary.yaml").read_text()
    # Without --since the same layer is imported (it has not ended at NOW).
    now = run("--url", fake.url, "--out", str(tmp_path / "now"), "--verify", "8")
    assert "verify: 0 difference(s)" in now.output, now.output
    assert "Until mid-March" in (tmp_path / "now/schedules/secondary.yaml").read_text()


def test_a_team_import_keeps_what_the_team_reaches(
        fake: Any, run: Any, tmp_path: Path, settings: Settings, factory: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """--team Search: its service, the chain it routes to, the schedule that reaches, and
    the users of those (Frank, and Alice of its rotation); the rest is reported left out.
    The files apply and verify with 0 differences."""
    out = tmp_path / "gf"
    result = run("--url", fake.url, "--out", str(out), "--team", "Search", "--verify", "8")
    assert result.exit_code == 0, result.output
    assert "verify: 0 difference(s) over 8 week(s) in 1 schedule(s)" in result.output
    assert any(path.startswith("/oncall/api/v1/teams/") for path, _ in fake.log)
    assert [p.name for p in (out / "schedules").iterdir()] == ["search.yaml"]
    rules = yaml.safe_load((out / "rules/grafana-oncall.yaml").read_text())
    assert [u["user"] for u in rules["users"]] == ["alice@example.com", "frank@example.com"]
    assert [p["policy"] for p in rules["policies"]] == ["search-escalation"]
    assert rules["services"] == [{"service": "search-prometheus",
                                  "policy": "search-escalation"}]
    assert json.loads((out / "integrations.json").read_text()) == [
        {"service": "search-prometheus", "kind": "alertmanager",
         "name": "search-prometheus-alertmanager",
         "source": "Grafana OnCall integration 'Search Prometheus' (ISEARCH, alertmanager)"}]
    report = (out / "REPORT.txt").read_text()
    for line in ("user bob@example.com: not in team(s) Search",
                 "user erin@example.com: not in team(s) Search",
                 "schedule Billing Primary: not in team(s) Search, nor reached by their "
                 "policies",
                 "schedule Legacy: not in team(s) Search",
                 "policy Ops: not in team(s) Search, nor used by their services",
                 "service Billing API: not in team(s) Search",
                 "service Unrouted: not in team(s) Search"):
        assert line in report, line
    assert "alice@example.com: not in team" not in report
    assert "+ schedule search" in apply_folder(out, settings, tmp_path, monkeypatch)

    # Ops: its schedule's shifts name Billing's people too, so they are all kept.
    ops = run("--url", fake.url, "--out", str(tmp_path / "ops"), "--team", "Ops")
    assert ops.exit_code == 0, ops.output
    assert len(yaml.safe_load((tmp_path / "ops/rules/grafana-oncall.yaml").read_text())[
        "users"]) == 5  # Frank is left out
    assert sorted(p.name for p in (tmp_path / "ops/schedules").iterdir()) == [
        "ops-london.yaml"]


def test_an_unknown_team_or_team_with_schedule_is_refused(fake: Any, run: Any,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "gf"
    unknown = run("--url", fake.url, "--out", str(out), "--team", "Search", "--team", "Nope")
    assert unknown.exit_code == 1
    assert "Grafana OnCall has no team named 'Nope' (there are: Billing, Ops, Search)" in \
        unknown.output
    assert not out.exists()
    both = run("--url", fake.url, "--out", str(out), "--team", "Search", "--schedule",
               "Search")
    assert both.exit_code == 2 and "--team and --schedule cannot be combined" in both.output
    assert not out.exists()


def test_a_team_chain_no_team_service_uses_is_left_out_as_such() -> None:
    chains = [{"id": "C1", "team_id": "TA", "name": "Unused"},
              {"id": "C2", "team_id": None, "name": "Other"}]
    kept = for_teams(Account(chains=chains), [{"id": "TA", "name": "A"}], ("A",))
    assert kept.chains == []
    assert kept.left_out == [("policy", "Unused", "no service of the team(s) routes to it"),
                             ("policy", "Other", "not in team(s) A, nor used by their "
                              "services")]


def test_many_users_left_out_by_team_are_one_entry() -> None:
    users = [user(f"U{n}", f"u{n}", f"u{n}@example.com", "editor", "UTC", False, ["TB"])
             for n in range(25)]
    teams = [{"id": "TA", "name": "A"}, {"id": "TB", "name": "B"}]
    kept = for_teams(Account(users=users), teams, ("A",))
    assert kept.users == []
    assert len(kept.left_out) == 1
    kind, name, why = kept.left_out[0]
    assert (kind, name) == ("users", "25 users")
    assert why.startswith("not in team(s) A: u0@example.com, u1@example.com")


def test_integrations_sh_creates_the_integrations(
        fake: Any, run: Any, tmp_path: Path, settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each source integration whose senders speak a payload we take is one line of
    integrations.sh; running those lines after `oncall apply` creates them."""
    out = tmp_path / "gf"
    assert run("--url", fake.url, "--out", str(out)).exit_code == 0
    script = (out / "integrations.sh").read_text().splitlines()
    commands = [line for line in script if line.startswith("oncall ")]
    assert commands == [
        "oncall integration add billing-api --kind generic --name billing-api-generic",
        "oncall integration add ops-alertmanager --kind alertmanager "
        "--name ops-alertmanager-alertmanager",
        "oncall integration add billing-grafana --kind grafana --name billing-grafana-grafana",
        "oncall integration add ops-legacy-grafana --kind grafana "
        "--name ops-legacy-grafana-grafana",
        "oncall integration add ops-formatted --kind generic --name ops-formatted-generic",
        "oncall integration add search-prometheus --kind alertmanager "
        "--name search-prometheus-alertmanager"]
    assert "# Grafana OnCall integration 'Ops formatted' (IFORM, formatted_webhook)" in script
    report = (out / "REPORT.txt").read_text()
    for line in ("integration Ops Alertmanager: alertmanager -> kind alertmanager, "
                 "ops-alertmanager-alertmanager in integrations.sh; the sender changes its "
                 "URL to ours",
                 "integration Ops formatted: formatted_webhook -> kind generic",
                 "ours (generic) refuses it (400)",
                 "integration Ops legacy Grafana: grafana -> kind grafana",
                 "not legacy alerts (ruleName, evalMatches)",
                 "integration Billing heartbeat: heartbeat: a heartbeat",
                 "integration Ops mailbox: inbound_email: email intake",
                 "integration Direct paging: direct_paging: it has no sender",
                 "integration Ops Zabbix: zabbix: its senders' own payload has no adapter"):
        assert line in report, line

    apply_folder(out, settings, tmp_path, monkeypatch)
    for command in commands:
        done = CliRunner().invoke(cli, shlex.split(command)[1:], catch_exceptions=False)
        assert done.exit_code == 0 and "added integration" in done.output, done.output
    listed = CliRunner().invoke(cli, ["integration", "list", "--json"],
                                catch_exceptions=False)
    rows = {(r["name"], r["service"], r["kind"]) for r in json.loads(listed.output)}
    assert rows == {("billing-api-generic", "billing-api", "generic"),
                    ("ops-alertmanager-alertmanager", "ops-alertmanager", "alertmanager"),
                    ("billing-grafana-grafana", "billing-grafana", "grafana"),
                    ("ops-legacy-grafana-grafana", "ops-legacy-grafana", "grafana"),
                    ("ops-formatted-generic", "ops-formatted", "generic"),
                    ("search-prometheus-alertmanager", "search-prometheus", "alertmanager")}


def test_shifts_limited_to_months_or_starting_later_are_reported() -> None:
    """by_month / by_monthday have no equivalent; a rotation whose rotation_start is after
    the import would be on call before it starts here. Both are reported, not imported;
    a rotation_start already passed changes nothing."""
    shifts = [shift("M", "First of the month", "recurrent_event", "2027-01-01T09:00:00",
                    3600, frequency="daily", interval=1, by_monthday=[1], users=["UBOB"]),
              shift("L", "Later", "rolling_users", "2027-01-01T09:00:00", 86400,
                    frequency="daily", interval=1, groups=[["UBOB"], ["UERIN"]],
                    rotation_start="2027-03-20T09:00:00"),
              shift("P", "Passed", "rolling_users", "2027-01-01T09:00:00", 86400,
                    frequency="daily", interval=1, groups=[["UBOB"], ["UERIN"]],
                    rotation_start="2027-02-20T09:00:00")]
    sched = {"id": "S", "name": "S", "type": "web", "time_zone": "UTC",
             "shifts": ["M", "L", "P"]}
    result = map_account(Account(users=account()["users"], schedules=[sched],
                                 shifts={x["id"]: x for x in shifts}), NOW)
    why = {e.name: e.detail for e in result.report.of("not mapped") if e.kind == "shift"}
    assert why["S / First of the month"].startswith("limited to some months or days")
    assert why["S / Later"].startswith("its rotation starts 2027-03-20 09:00, after the "
                                       "import, on a pattern from 2027-01-01 09:00")
    doc = yaml.safe_load(result.files["schedules/s.yaml"].split("\n", 2)[2])
    assert [x["name"] for x in doc["layers"]] == ["Passed"]


def test_a_named_schedule_that_cannot_be_imported_is_an_error(fake: Any, run: Any,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "gf"
    result = run("--url", fake.url, "--out", str(out), "--schedule", "Legacy")
    assert result.exit_code == 1
    assert ("Error: Grafana OnCall schedule 'Legacy' (--schedule) cannot be imported: an iCal "
            "schedule") in result.output
    assert not out.exists()
