"""``oncall import pagerduty`` against the fake PagerDuty API (every answer validated against
PagerDuty's published description): the files, ``oncall apply`` of them, and the proof."""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
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
from oncall.schedules.rotation import ScheduleSpec, final_shifts
from oncall.schedules.store import spec_for
from tests.importers.pd_fake import FakePagerDuty, SpecValidator, final_schedule
from tests.importers.pd_fixture import NOW, account
from tests.importers.runner import apply_folder, import_runner

TOKEN = "pd-test-token"


@pytest.fixture
def fake() -> Any:
    with FakePagerDuty(account(), token=TOKEN) as f:
        yield f
    assert f.invalid == [], f.invalid  # every answer the fake sent matched the spec


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    return import_runner(monkeypatch, tmp_path, "pagerduty", "PD_TOKEN", TOKEN, NOW)


def _expected(fake: FakePagerDuty, pd_id: str, emails: dict[str, str], start: datetime,
              end: datetime) -> list[tuple[datetime, datetime, str | None]]:
    sched = next(s for s in fake.data["schedules"] if s["id"] == pd_id)
    return [(s, e, emails[u]) for s, e, u in
            final_schedule(sched, fake.data["overrides"][pd_id], start, end)]


EMAILS = {u["id"]: u["email"] for u in account()["users"]}
IDS = {"billing-primary": "PSCHED1", "ops-london": "PSCHED2", "secondary": "PSCHED3",
       "payments": "PSCHED4"}


def test_full_import_writes_files_that_match_pagerduty(fake: Any, run: Any,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "pd"
    result = run("--url", fake.url, "--out", str(out), "--verify", "8")
    assert result.exit_code == 0, result.output
    assert "verify: 0 difference(s) over 8 week(s) in 4 schedule(s)" in result.output
    assert fake.validated > 20 and fake.invalid == []
    # Pagination was used (pages of 2) and every page was read.
    assert any("offset=2" in path for path, _ in fake.log)
    assert any("offset=4" in path for path, _ in fake.log)

    rules = yaml.safe_load((out / "rules/pagerduty.yaml").read_text())
    users = {u["user"]: u for u in rules["users"]}
    high = [{"channel": "voice"}, {"channel": "email", "after": "5m"}]
    assert users["alice@example.com"] == {
        "user": "alice@example.com", "name": "Alice Moreau", "phone": "+14155550101",
        "timezone": "America/New_York", "role": "admin", "notification_rules": {
            "critical": high, "error": high, "warning": [{"channel": "email"}],
            "info": [{"channel": "email"}]}}
    assert users["bob@example.com"]["notification_rules"]["critical"] == [{"channel": "sms"}]
    assert users["bob@example.com"]["notification_rules"]["info"] == [
        {"channel": "sms", "after": "3m"}]
    assert users["carol@example.com"]["notification_rules"] == {
        "critical": [{"channel": "email"}], "error": [{"channel": "email"}]}
    assert "notification_rules" not in users["dave@example.com"]
    assert users["bob@example.com"]["phone"] == "+14155550102"  # SMS contact method
    assert users["dave@example.com"]["phone"] == "+447700900123"
    assert "phone" not in users["carol@example.com"] and "phone" not in users["erin@example.com"]
    # An observer in PagerDuty, but on call here: a viewer could not acknowledge.
    assert users["erin@example.com"]["role"] == "responder"
    assert rules["policies"][0] == {
        "policy": "billing-critical", "repeat": 2, "levels": [
            {"notify": ["schedule:billing-primary"], "escalate_after": "5m"},
            {"notify": ["schedule:secondary", "user:alice@example.com"],
             "escalate_after": "10m"},
            {"notify": ["user:erin@example.com"], "escalate_after": "30m"}]}
    assert {s["service"]: s["policy"] for s in rules["services"]} == {
        "billing-api": "billing-critical", "ops-platform": "ops", "london-web": "london-only",
        "payments-api": "payments"}

    primary = yaml.safe_load((out / "schedules/billing-primary.yaml").read_text())
    layers = {x["name"]: x for x in primary["layers"]}
    assert list(layers) == ["Weekly", "Weekend days", "April cover"]  # PagerDuty's order
    assert layers["Weekend days"]["restrictions"] == [
        {"from": "Sat 09:00", "to": "Sat 21:00"}, {"from": "Sun 09:00", "to": "Sun 21:00"}]
    # Starts next month on a handoff; 35 turns after its virtual start, so Bob goes first.
    assert layers["April cover"] | {"restrictions": None} == {
        "name": "April cover", "rotation": "daily", "handoff": "09:00", "start": "2027-04-05",
        "end": "2027-04-19", "members": ["bob@example.com", "erin@example.com"],
        "restrictions": None}
    london = yaml.safe_load((out / "schedules/ops-london.yaml").read_text())
    assert london["layers"][0]["rotation"] == {"hours": 12}
    assert london["layers"][1]["rotation"] == {"weeks": 2}

    overrides = json.loads((out / "overrides.json").read_text())
    assert [(o["schedule"], o["user"]) for o in overrides] == [
        ("billing-primary", "dave@example.com"), ("billing-primary", "erin@example.com"),
        ("ops-london", "erin@example.com")]  # the past one is left out
    script = (out / "overrides.sh").read_text().splitlines()
    assert script[-1] == ("oncall override ops-london --user erin@example.com --from "
                          "2027-03-27T20:00:00+00:00 --until 2027-03-28T09:00:00+00:00 "
                          "--note 'imported from PagerDuty (POV4)'")

    report = (out / "REPORT.txt").read_text()
    table = report.split("\n\n")[1].splitlines()[1:]
    counts = {line.rsplit(maxsplit=3)[0]: line.split()[-3:] for line in table}
    assert counts["layer"] == ["7", "0", "1"]  # 3 + 2 + 1 + 1 mapped, "Old nights" not
    assert counts["schedule"] == ["4", "0", "0"] and counts["user"] == ["7", "1", "0"]
    assert counts["contact"] == ["0", "0", "2"] and counts["override"] == ["3", "0", "0"]
    assert "schedule Billing Primary: schedule billing-primary: 3 layer(s), " \
        "America/New_York" in report
    assert "layer Billing Primary / Old nights: ended 2027-01-31" in report
    assert "contact carol@example.com: no phone" in report
    assert ("user erin@example.com: a read-only role in PagerDuty (viewer here), but on call "
            "or paged (schedule billing-primary): imported as responder") in report
    assert counts["integration"] == ["3", "0", "3"]
    assert "integration Billing API / Prometheus Alertmanager: -> kind pagerduty " \
        "(billing-api-pagerduty), in integrations.sh" in report
    assert "integration Billing API / Datadog: PagerDuty Events API v1: our /v2/enqueue " \
        "speaks Events API v2 only" in report
    assert "integration Billing API / Billing email: email intake" in report
    assert "integration Ops Platform / Pingdom: PagerDuty's own Pingdom endpoint" in report
    assert "not in team(s)" not in report  # nothing is left out without --team
    assert "notification rule bob@example.com: high urgency, sms after 1 min: a second sms " \
        "step" in report
    assert "notification rule carol@example.com: high urgency, push_notification after 0 " \
        "min: no such channel here" in report
    assert "notification rules dave@example.com: no high-urgency rule in PagerDuty: our " \
        "defaults apply to critical and error" in report
    assert "0 difference(s)" in (out / "VERIFY.txt").read_text()
    assert "layer order" not in report  # listed lowest first: kept
    assert not list(tmp_path.glob(".pd.importing-*"))


def test_layers_listed_highest_priority_first_are_put_in_order(fake: Any, run: Any,
                                                              tmp_path: Path) -> None:
    """PagerDuty's API has listed layers in both orders over the years: the import writes
    the order that matches PagerDuty's own final schedule, and says so."""
    fake.reverse_layers = True
    out = tmp_path / "pd"
    result = run("--url", fake.url, "--out", str(out), "--verify", "8")
    assert result.exit_code == 0, result.output
    assert "verify: 0 difference(s)" in result.output
    primary = yaml.safe_load((out / "schedules/billing-primary.yaml").read_text())
    assert [x["name"] for x in primary["layers"]] == ["Weekly", "Weekend days", "April cover"]
    report = (out / "REPORT.txt").read_text()
    assert "layer order Billing Primary: PagerDuty listed the layers highest priority " \
        "first" in report
    assert "layer order Ops London" in report and "layer order Secondary" not in report


def test_the_comparison_finds_a_wrong_import(fake: Any, run: Any, tmp_path: Path) -> None:
    """The proof is not vacuous: the fake's final schedule has people in it, and a file
    changed by one member or one restriction shows up as differences, who and when."""
    out = tmp_path / "pd"
    assert run("--url", fake.url, "--out", str(out)).exit_code == 0
    start, end = NOW, NOW + timedelta(weeks=8)
    specs = schedule_specs(out)
    for name, pd_id in IDS.items():
        expected = _expected(fake, pd_id, EMAILS, start, end)
        assert len({u for _, _, u in expected}) >= 2
        ours = [(x.start, x.end, x.user) for x in final_shifts(specs[name], start, end)]
        assert compare(name, expected, ours, start, end) == []
    primary = specs["billing-primary"]
    weekly = primary.layers[0]
    swapped = replace(weekly, members=(weekly.members[1], weekly.members[0], weekly.members[2]))
    wrong = replace(primary, layers=(swapped, *primary.layers[1:]))
    ours = [(x.start, x.end, x.user) for x in final_shifts(wrong, start, end)]
    diffs = compare("billing-primary", _expected(fake, "PSCHED1", EMAILS, start, end), ours,
                    start, end)
    assert diffs and {d.source for d in diffs} >= {"alice@example.com", "bob@example.com"}
    assert all(d.end > d.start for d in diffs)


def test_applied_files_give_the_same_schedule(fake: Any, run: Any, tmp_path: Path,
                                              settings: Settings, factory: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`oncall apply` accepts the files on a fresh database, and the schedules it stores
    put the same people on call as PagerDuty (overrides aside: they are made through the
    API), across both DST changes."""
    out = tmp_path / "pd"
    assert run("--url", fake.url, "--out", str(out)).exit_code == 0
    assert "+ schedule billing-primary" in apply_folder(out, settings, tmp_path, monkeypatch)
    start, end = NOW, NOW + timedelta(weeks=8)
    files = schedule_specs(out)
    with factory() as s:
        for name, pd_id in IDS.items():
            stored = spec_for(s, s.scalars(select(Schedule).where(Schedule.name == name)).one(),
                              start, end)
            ours = [(x.start, x.end, x.user) for x in final_shifts(stored, start, end)]
            sched = next(x for x in fake.data["schedules"] if x["id"] == pd_id)
            theirs = [(a, b, EMAILS[u]) for a, b, u in final_schedule(sched, [], start, end)]
            assert compare(name, theirs, ours, start, end) == [], name
            no_overrides = ScheduleSpec(name, files[name].timezone, files[name].layers)
            assert final_shifts(no_overrides, start, end) == final_shifts(stored, start, end)


def test_a_wrong_token_is_one_line_and_writes_nothing(fake: Any, run: Any,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "pd"
    result = run("--url", fake.url, "--out", str(out), token="wrong")
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert "PagerDuty refused the token (401 unauthorized)" in result.output
    assert "nothing was written" in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_missing_token_variable_is_refused(fake: Any, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PD_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["import", "pagerduty", "--url", fake.url, "--token-env",
                                      "PD_TOKEN", "--out", str(tmp_path / "pd")])
    assert result.exit_code != 0 and "PD_TOKEN" in result.output
    assert not (tmp_path / "pd").exists() and fake.log == []


def test_rate_limits_and_server_errors_are_retried(fake: Any, run: Any,
                                                   tmp_path: Path) -> None:
    fake.fail_once = {"/users": [(429, {"Retry-After": "1"})],
                      "/services": [(429, {"ratelimit-reset": "1"})],
                      "/escalation_policies": [(500, {})],
                      "/schedules/PSCHED2": [(503, {})]}
    began = time.monotonic()
    result = run("--url", fake.url, "--out", str(tmp_path / "pd"), "--verify", "2")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - began >= 2.0  # Retry-After and ratelimit-reset were honoured
    statuses = [status for _, status in fake.log]
    assert statuses.count(429) == 2 and statuses.count(500) == 1 and statuses.count(503) == 1
    assert (tmp_path / "pd/rules/pagerduty.yaml").exists()


def test_a_timeout_is_a_clear_message_and_leaves_out_untouched(fake: Any, run: Any,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "pd"
    out.mkdir()  # an existing empty folder stays exactly as it was
    fake.delay = {"/services": 2.0}
    result = run("--url", fake.url, "--out", str(out), "--timeout", "0.3", "--retries", "1")
    assert result.exit_code == 1
    line = result.output.strip()
    assert "\n" not in line
    assert "PagerDuty: GET /services timed out after 0.3 s (2 attempts)" in line
    assert list(out.iterdir()) == [] and [p.name for p in tmp_path.iterdir()] == ["pd"]


def test_an_existing_folder_with_files_is_refused(fake: Any, run: Any, tmp_path: Path) -> None:
    out = tmp_path / "pd"
    out.mkdir()
    (out / "mine.yaml").write_text("{}\n")
    result = run("--url", fake.url, "--out", str(out))
    assert result.exit_code != 0 and "not an empty folder" in result.output
    assert fake.log == [] and [p.name for p in out.iterdir()] == ["mine.yaml"]


def test_a_filtered_import_reports_what_it_leaves_out(fake: Any, run: Any,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "pd"
    result = run("--url", fake.url, "--out", str(out), "--schedule", "Ops London",
                 "--verify", "8")
    assert result.exit_code == 0, result.output
    assert [p.name for p in (out / "schedules").iterdir()] == ["ops-london.yaml"]
    rules = yaml.safe_load((out / "rules/pagerduty.yaml").read_text())
    levels = {p["policy"]: p["levels"] for p in rules["policies"]}
    # Billing Critical keeps its user targets; its schedule targets are reported.
    assert levels["billing-critical"] == [
        {"notify": ["user:alice@example.com"], "escalate_after": "10m"},
        {"notify": ["user:erin@example.com"], "escalate_after": "30m"}]
    assert levels["ops"] == [{"notify": ["schedule:ops-london", "user:dave@example.com"],
                              "escalate_after": "15m"}]
    report = (out / "REPORT.txt").read_text()
    assert "target Billing Critical rule 1: PSCHED1 (schedule): not among the imported " \
        "schedules (--schedule)" in report
    assert "rule Billing Critical rule 1: no target left" in report
    unknown = run("--url", fake.url, "--out", str(tmp_path / "x"), "--schedule", "Nope")
    assert unknown.exit_code == 1 and "no schedule named 'Nope'" in unknown.output
    assert not (tmp_path / "x").exists()


def test_the_spec_validator_catches_a_wrong_answer() -> None:
    v = SpecValidator()
    good = {"schedule": {"type": "schedule", "time_zone": "UTC"}}
    assert v.errors("/schedules/{id}", 200, good) == []
    assert v.errors("/schedules/{id}", 200, {"schedule": {"type": "schedule"}})  # no zone
    bad_layer = {"schedule": {"type": "schedule", "time_zone": "UTC", "schedule_layers": [
        {"rotation_turn_length_seconds": "a day"}]}}
    assert v.errors("/schedules/{id}", 200, bad_layer)
    assert v.errors("/users", 200, {"users": [{"type": "user", "name": "x"}]})  # no email


def test_differences_are_printed_who_and_when_and_exit_1(fake: Any, run: Any,
                                                          tmp_path: Path) -> None:
    """A future layer starting mid-turn cannot be said exactly: the report says so, and
    --verify prints the difference (who, when), writes the files and exits 1."""
    primary = fake.data["schedules"][0]
    primary["schedule_layers"].append(
        {**primary["schedule_layers"][0], "id": "PL9", "name": "Mid-turn",
         "users": [{"user": {**primary["schedule_layers"][0]["users"][0]["user"],
                             "id": "PERIN05"}}],
         "start": "2027-03-10T15:00:00-05:00"})
    out = tmp_path / "pd"
    result = run("--url", fake.url, "--out", str(out), "--verify", "8")
    assert result.exit_code == 1
    assert "approximated: layer Billing Primary / Mid-turn: starts at 2027-03-10 20:00 UTC, " \
        "in the middle of a turn" in result.output
    # Erin's missing first part, where the weekly layer, the weekend layer and Erin's own
    # override (Sat 22:00 to Sun 10:00) would have had someone else.
    assert ("billing-primary: Wed 2027-03-10 15:00 EST -> Sat 2027-03-13 09:00 EST (3960 min): "
            "source has erin@example.com, ours has alice@example.com") in result.output
    assert ("billing-primary: Sat 2027-03-13 09:00 EST -> Sat 2027-03-13 21:00 EST (720 min): "
            "source has erin@example.com, ours has dave@example.com") in result.output
    assert ("billing-primary: Sun 2027-03-14 21:00 EDT -> Mon 2027-03-15 09:00 EDT (720 min): "
            "source has erin@example.com, ours has alice@example.com") in result.output
    assert (f"verify: 4 difference(s) over 8 week(s) in 4 schedule(s) (also in "
            f"{out / 'VERIFY.txt'})") in result.output
    assert "billing-primary: 4 difference(s)" in (out / "VERIFY.txt").read_text()
    # The files are written: what to do next is said all the same.
    assert f"next: review the files, then `oncall apply --dry-run {out}`" in result.output
    assert f"then `sh {out / 'overrides'}.sh` (" in result.output


def test_a_403_is_one_line(fake: Any, run: Any, tmp_path: Path) -> None:
    fake.fail_once = {"/schedules": [(403, {})]}
    result = run("--url", fake.url, "--out", str(tmp_path / "pd"))
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: PagerDuty refused the token (403 forbidden) for GET /schedules: check the "
        f"token in the environment variable and its read access, and that --url {fake.url} "
        f"is PagerDuty's API (nothing was written to {tmp_path / 'pd'})")
    assert list(tmp_path.iterdir()) == []


def test_the_fake_gives_restrictions_in_the_zone_asked_for(fake: Any) -> None:
    """Why the importer reads each schedule in its own zone: in UTC, Saturday 09:00 New York
    reads Saturday 14:00 (and a 22:00 restriction would move to the next day)."""
    import urllib.request

    def get(zone: str) -> Any:
        request = urllib.request.Request(f"{fake.url}/schedules/PSCHED1?time_zone={zone}",
                                         headers={"Authorization": f"Token token={TOKEN}"})
        with urllib.request.urlopen(request) as r:
            return json.loads(r.read())["schedule"]["schedule_layers"][1]["restrictions"][0]

    assert get("America/New_York")["start_time_of_day"] == "09:00:00"
    utc = get("UTC")
    assert (utc["start_time_of_day"], utc["start_day_of_week"]) == ("14:00:00", 6)


@pytest.mark.parametrize(("since", "message"), [
    ("2027-02-28", "is in the past: past shifts are not imported"),
    ("next monday", "is not a date (YYYY-MM-DD) or an ISO time"),
    ("2027-04-01T09:00", "has no UTC offset"),
])
def test_since_must_be_a_date_now_or_later(fake: Any, run: Any, tmp_path: Path, since: str,
                                           message: str) -> None:
    out = tmp_path / "pd"
    result = run("--url", fake.url, "--out", str(out), "--since", since)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not out.exists() and fake.log == []  # refused before anything was read


@pytest.mark.parametrize(("since", "overrides", "ended"), [
    # Three weeks on, across the UK's spring-forward night (2027-03-28): the two Billing
    # Primary overrides of March 8 and 13 are before then.
    ("2027-03-22", [("ops-london", "erin@example.com")], "Old nights"),
    # After "April cover" ended (2027-04-19): it is left out as ended, like "Old nights".
    ("2027-04-20T09:00:00-04:00", [], "April cover"),
])
def test_since_imports_the_account_as_of_then(fake: Any, run: Any, tmp_path: Path, since: str,
                                              overrides: list[tuple[str, str]],
                                              ended: str) -> None:
    out = tmp_path / "pd"
    result = run("--url", fake.url, "--out", str(out), "--since", since, "--verify", "8")
    assert result.exit_code == 0, result.output
    assert "verify: 0 difference(s) over 8 week(s) in 4 schedule(s)" in result.output
    at = datetime.fromisoformat(since if "T" in since else f"{since}T00:00:00+00:00")
    asked = at.astimezone(UTC).strftime("since=%Y-%m-%dT%H%%3A%M%%3A00Z")
    # PagerDuty was asked from then: overrides, the layer-order check and the proof.
    windows = [path for path, _ in fake.log
               if path.startswith("/schedules/PSCHED") and "since=" in path]
    assert len(windows) >= 4 * 3 and all(asked in path for path in windows)
    assert f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC + 8 week(s)" in (
        out / "VERIFY.txt").read_text()
    written = json.loads((out / "overrides.json").read_text())
    assert [(o["schedule"], o["user"]) for o in written] == overrides
    report = (out / "REPORT.txt").read_text()
    assert f"layer Billing Primary / {ended}: ended" in report
    primary = yaml.safe_load((out / "schedules/billing-primary.yaml").read_text())
    assert ended not in [x["name"] for x in primary["layers"]]


def test_a_team_import_keeps_what_the_team_needs(fake: Any, run: Any, tmp_path: Path,
                                                 settings: Settings,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """--team Billing: its service, that service's policy, the schedules the policy
    targets and everyone those reach (Carol and Dave are on Billing Primary's layers and
    overrides though they are in Ops); Ops's and Payments's objects are left out, each
    reported. The result applies and matches PagerDuty."""
    out = tmp_path / "pd"
    result = run("--url", fake.url, "--out", str(out), "--team", "Billing", "--verify", "8")
    assert result.exit_code == 0, result.output
    assert "verify: 0 difference(s) over 8 week(s) in 2 schedule(s)" in result.output
    assert sorted(p.name for p in (out / "schedules").iterdir()) == [
        "billing-primary.yaml", "secondary.yaml"]
    rules = yaml.safe_load((out / "rules/pagerduty.yaml").read_text())
    assert [u["user"] for u in rules["users"]] == [
        "alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com",
        "erin@example.com"]
    assert [p["policy"] for p in rules["policies"]] == ["billing-critical"]
    assert [s["service"] for s in rules["services"]] == ["billing-api"]
    assert [i["service"] for i in json.loads((out / "integrations.json").read_text())] == [
        "billing-api"]
    report = (out / "REPORT.txt").read_text()
    why = "not in team(s) Billing (--team)"
    for line in ("schedule Ops London", "schedule Payments", "policy Ops", "policy London only",
                 "policy Payments", "service Ops Platform", "service London Web",
                 "service Payments API"):
        assert f"{line}: {why}\n" in report, line
    for email in ("frank@example.com", "gina@example.com"):
        assert f"user {email}: {why}, nor reached by their policies and schedules" in report
    # Details were read for what is imported only.
    asked = [path for path, _ in fake.log]
    assert not any(p.startswith(("/users/PFRANK6", "/schedules/PSCHED4", "/schedules/PSCHED2"))
                   for p in asked)
    assert "+ schedule billing-primary" in apply_folder(out, settings, tmp_path, monkeypatch)


def test_a_team_import_leaving_many_users_out_says_so_once(
        fake: Any, run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import oncall.importers.pagerduty.teams as pd_teams

    monkeypatch.setattr(pd_teams, "USERS_ONE_BY_ONE", 2)
    out = tmp_path / "pd"
    result = run("--url", fake.url, "--out", str(out), "--team", "Payments", "--verify", "4")
    assert result.exit_code == 0, result.output
    rules = yaml.safe_load((out / "rules/pagerduty.yaml").read_text())
    assert [u["user"] for u in rules["users"]] == ["frank@example.com", "gina@example.com"]
    report = (out / "REPORT.txt").read_text()
    assert ("users 5 left out: not in team(s) Payments (--team), nor reached by their policies and "
            "schedules: alice@example.com, bob@example.com, carol@example.com, "
            "dave@example.com, erin@example.com") in report
    assert report.count("not in team(s) Payments (--team), nor reached") == 1


def test_an_unknown_team_or_team_with_schedule_is_refused(fake: Any, run: Any,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "pd"
    unknown = run("--url", fake.url, "--out", str(out), "--team", "Billing", "--team", "Nope")
    assert unknown.exit_code == 1
    assert "PagerDuty has no team named 'Nope' (there are: Billing, Ops, Payments)" in \
        unknown.output
    assert not out.exists() and {p.split("?")[0] for p, _ in fake.log} == {"/teams"}
    both = run("--url", fake.url, "--out", str(out), "--team", "Billing", "--schedule",
               "Secondary")
    assert both.exit_code == 2 and "--team and --schedule cannot be combined" in both.output
    assert not out.exists()


def test_integrations_sh_creates_the_mapped_integrations(fake: Any, run: Any, tmp_path: Path,
                                                          settings: Settings,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """Each line of integrations.sh, run against the applied database, creates one of our
    integrations of the kind its PagerDuty sender already speaks."""
    out = tmp_path / "pd"
    assert run("--url", fake.url, "--out", str(out)).exit_code == 0
    script = (out / "integrations.sh").read_text().splitlines()
    commands = [line for line in script if line.startswith("oncall ")]
    assert commands == [
        "oncall integration add billing-api --kind pagerduty --name billing-api-pagerduty",
        "oncall integration add ops-platform --kind pagerduty --name ops-platform-pagerduty",
        "oncall integration add payments-api --kind pagerduty --name payments-api-pagerduty"]
    assert script[script.index(commands[0]) - 1] == (
        "# PagerDuty integration 'Prometheus Alertmanager' (PI1, "
        "events_api_v2_inbound_integration) of service 'Billing API'")
    apply_folder(out, settings, tmp_path, monkeypatch)
    for line in commands:
        added = CliRunner().invoke(cli, shlex.split(line)[1:], catch_exceptions=False)
        assert added.exit_code == 0 and "/v2/enqueue" in added.output, added.output
    listed = CliRunner().invoke(cli, ["integration", "list", "--json"],
                                catch_exceptions=False)
    assert sorted((i["name"], i["service"], i["kind"]) for i in json.loads(listed.output)) == [
        ("billing-api-pagerduty", "billing-api", "pagerduty"),
        ("ops-platform-pagerduty", "ops-platform", "pagerduty"),
        ("payments-api-pagerduty", "payments-api", "pagerduty")]


def test_a_wrong_url_says_to_check_it(run: Any, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    result = run("--url", url, "--out", str(tmp_path / "pd"), "--retries", "0")
    assert result.exit_code == 1
    assert (f"could not connect ([Errno 111] Connection refused): is --url {url} right, and "
            "reachable from here? (1 attempt) (nothing was written to") in result.output


def test_a_url_that_is_not_the_api_says_so(run: Any, tmp_path: Path) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>sign in</html>")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = run("--url", url, "--out", str(tmp_path / "pd"))
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 1
    assert (f"GET /users did not answer JSON: is --url {url} PagerDuty's API (not its web "
            "app)?") in result.output


def test_a_file_as_out_is_named_as_a_file(fake: Any, run: Any, tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("mine\n")
    result = run("--url", fake.url, "--out", str(tmp_path / "README.md"))
    assert result.exit_code == 2 and "is a file: name a new folder" in result.output
    assert (tmp_path / "README.md").read_text() == "mine\n" and fake.log == []


def test_since_today_means_from_now_and_the_report_is_dated(fake: Any, run: Any,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "pd"
    result = run("--url", fake.url, "--out", str(out), "--since", "2027-03-01", "--verify", "1")
    assert result.exit_code == 0, result.output
    assert (out / "REPORT.txt").read_text().startswith(
        "Import from PagerDuty as of 2027-03-01 12:00 UTC (--since): ")
