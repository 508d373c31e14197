"""Personal notification rules: channels and delays per severity, the built-in defaults, and
users nobody can reach."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from oncall import incidents
from oncall.channels import preferences, registry
from oncall.channels.preferences import Rule
from oncall.models import Incident, Page, User, utcnow
from oncall.paging import runs, sweeper
from tests.conftest import Cast
from tests.fakes import install
from tests.test_engine import timeline, trigger


def set_contacts(factory: Any, email: str, phone: str | None = "+14155550101",
                 slack_id: str | None = "U0ALICE") -> None:
    with factory() as s, s.begin():
        user = s.scalar(select(User).where(User.email == email))
        user.phone, user.slack_id = phone, slack_id


def set_rules(factory: Any, user_id: int, wanted: dict[str, list[Rule]]) -> None:
    with factory() as s, s.begin():
        preferences.replace(s, user_id, wanted)


def planned(factory: Any, incident_id: int) -> list[tuple[int, str, float]]:
    """(level, channel, seconds after the first page) of every page, in order."""
    with factory() as s:
        found = list(s.scalars(select(Page).where(Page.incident_id == incident_id)
                               .order_by(Page.next_attempt_at, Page.channel)))
    start = min(p.created_at for p in found)
    return [(p.level, p.channel, (p.next_attempt_at - start).total_seconds()) for p in found]


def step(factory: Any, incident_id: int, now: datetime) -> Any:
    return runs.escalate_incident(factory, incident_id, now=now)


def test_by_default_critical_is_sms_and_slack_now_and_a_call_two_minutes_later(
        factory: Any, cast: Cast, monkeypatch: Any) -> None:
    install(monkeypatch, "sms", "voice", "slack")
    set_contacts(factory, "alice@example.com")
    incident_id = trigger(factory, severity="critical")
    result = step(factory, incident_id, utcnow())
    assert planned(factory, incident_id) == [
        (1, "slack", 0.0), (1, "sms", 0.0), (1, "voice", 120.0)]
    assert result is not None and len(result.page_ids) == 2  # the call waits for the sweeper


def test_by_default_a_warning_goes_to_slack_only_else_by_sms(factory: Any, cast: Cast,
                                                              monkeypatch: Any) -> None:
    install(monkeypatch, "sms", "voice", "slack")
    set_contacts(factory, "alice@example.com")
    first = trigger(factory, severity="warning", dedup_key="w1")
    step(factory, first, utcnow())
    assert [c for _, c, _ in planned(factory, first)] == ["slack"]
    set_contacts(factory, "alice@example.com", slack_id=None)
    second = trigger(factory, severity="warning", dedup_key="w2")
    step(factory, second, utcnow())
    assert [c for _, c, _ in planned(factory, second)] == ["sms"]


def test_rules_are_chosen_by_severity_with_default_for_the_others(factory: Any, cast: Cast,
                                                                  monkeypatch: Any) -> None:
    install(monkeypatch, "sms", "voice", "slack")
    set_contacts(factory, "alice@example.com")
    set_rules(factory, cast.alice.id, {"critical": [Rule("voice"), Rule("sms", 30)],
                                       "default": [Rule("slack", 60)]})
    critical = trigger(factory, severity="critical", dedup_key="c")
    step(factory, critical, utcnow())
    assert planned(factory, critical) == [(1, "voice", 0.0), (1, "sms", 30.0)]
    info = trigger(factory, severity="info", dedup_key="i")
    step(factory, info, utcnow())
    assert planned(factory, info) == [(1, "slack", 60.0)]


def test_a_rule_for_a_channel_that_is_not_configured_is_skipped(factory: Any, cast: Cast,
                                                                 monkeypatch: Any) -> None:
    install(monkeypatch, "sms")  # no voice provider
    set_contacts(factory, "alice@example.com")
    set_rules(factory, cast.alice.id, {"critical": [Rule("voice"), Rule("sms", 10)]})
    incident_id = trigger(factory)
    step(factory, incident_id, utcnow())
    assert planned(factory, incident_id) == [(1, "sms", 10.0)]


def test_a_delayed_page_goes_out_when_due_and_not_before(factory: Any, cast: Cast,
                                                         monkeypatch: Any) -> None:
    fakes = install(monkeypatch, "sms", "voice")
    set_contacts(factory, "alice@example.com", slack_id=None)
    incident_id = trigger(factory)
    now = utcnow()
    step(factory, incident_id, now)
    sweeper.sweep(factory, now + timedelta(seconds=1))
    assert (fakes["sms"].who(), fakes["voice"].who()) == (["alice@example.com"], [])
    sweeper.sweep(factory, now + timedelta(seconds=121))
    assert fakes["voice"].who() == ["alice@example.com"]


def test_acknowledging_cancels_the_delayed_call(factory: Any, cast: Cast,
                                                monkeypatch: Any) -> None:
    fakes = install(monkeypatch, "sms", "voice")
    set_contacts(factory, "alice@example.com", slack_id=None)
    incident_id = trigger(factory)
    now = utcnow()
    step(factory, incident_id, now)
    sweeper.sweep(factory, now + timedelta(seconds=1))
    with factory() as s, s.begin():
        incidents.acknowledge(s, incident_id, "user:alice@example.com", now)
    sweeper.sweep(factory, now + timedelta(seconds=121))
    assert fakes["voice"].sent == []
    with factory() as s:
        assert s.scalar(select(Page.status).where(Page.channel == "voice")) == "cancelled"


def test_a_user_nobody_can_reach_is_reported_and_the_level_still_escalates(
        factory: Any, cast: Cast, client: Any, monkeypatch: Any) -> None:
    fakes = install(monkeypatch, "sms")
    set_contacts(factory, "alice@example.com", phone=None, slack_id=None)
    set_contacts(factory, "bob@example.com", phone="+14155550102", slack_id=None)
    incident_id = trigger(factory)
    now = utcnow()
    step(factory, incident_id, now)
    assert "user_unreachable" in timeline(factory, incident_id)
    body = client.get(f"/api/v1/incidents/{incident_id}", headers=cast.auth()).json
    [unreachable] = body["unreachable"]
    assert unreachable["user"] == "alice@example.com"
    assert unreachable["reasons"] == {}  # no channel reaches her: nothing even to skip
    user = client.get(f"/api/v1/users/{cast.alice.id}", headers=cast.auth()).json
    assert user["reachable"] is False and user["notification"]["critical"]["steps"] == []
    with factory() as s:
        assert s.get(Incident, incident_id).next_action_at == now + timedelta(seconds=300)
    step(factory, incident_id, now + timedelta(seconds=300))
    sweeper.sweep(factory, now + timedelta(seconds=301))
    assert fakes["sms"].who() == ["bob@example.com"]


def test_without_any_provider_everyone_is_paged_on_the_console(factory: Any,
                                                                cast: Cast) -> None:
    assert registry.console_pages()
    incident_id = trigger(factory, severity="warning")
    step(factory, incident_id, utcnow())
    assert [c for _, c, _ in planned(factory, incident_id)] == ["console"]


@pytest.mark.parametrize(("body", "field"), [
    ({"rules": {"urgent": []}}, "rules.urgent"),
    ({"rules": {"critical": [{"channel": "pigeon"}]}}, "rules.critical[0].channel"),
    ({"rules": {"critical": [{"channel": "sms", "delay_seconds": -1}]}},
     "rules.critical[0].delay_seconds"),
    ({"rules": {"critical": [{"channel": "sms"}, {"channel": "sms", "delay_seconds": 60}]}},
     "rules.critical[1].channel"),
])
def test_bad_rules_are_refused_naming_the_field(client: Any, cast: Cast, body: Any,
                                                field: str) -> None:
    r = client.put(f"/api/v1/users/{cast.alice.id}/notification-rules", json=body,
                   headers=cast.auth())
    assert r.status_code == 400 and r.json["field"] == field


def test_rules_are_edited_by_the_user_or_an_admin_only(client: Any, cast: Cast,
                                                       factory: Any) -> None:
    body = {"rules": {"critical": [{"channel": "sms"}, {"channel": "voice",
                                                        "delay_seconds": 120}]}}
    url = f"/api/v1/users/{cast.alice.id}/notification-rules"
    assert client.put(url, json=body, headers=cast.auth("bob")).status_code == 403
    assert client.get(url, headers=cast.auth("bob")).status_code == 403
    r = client.put(url, json=body, headers=cast.auth("alice"))
    assert r.status_code == 200
    assert r.json["rules"] == {"critical": [{"channel": "sms", "delay_seconds": 0},
                                            {"channel": "voice", "delay_seconds": 120}]}
    with factory() as s:
        assert preferences.load(s, cast.alice.id) == {"critical": [Rule("sms"), Rule("voice", 120)]}
    audit = client.get("/api/v1/audit?object_type=notification_rules",
                       headers=cast.auth("manager")).json["entries"]
    assert audit[0]["actor"] == "user:alice@example.com"
    assert client.put(url, json={"rules": {}}, headers=cast.auth()).json["rules"] == {}


def test_rules_in_a_file_are_applied_read_only_and_removed_with_the_key(
        factory: Any, client: Any, tmp_path: Any) -> None:
    import shutil

    from oncall.apply import ConfigError, apply_config, load_tree
    from tests.conftest import ROOT

    shutil.copytree(ROOT / "schedules", tmp_path / "schedules")
    team = tmp_path / "schedules" / "team.yaml"

    def apply() -> list[str]:
        with factory() as s, s.begin():
            return [str(c) for c in apply_config(s, load_tree([tmp_path / "schedules"],
                                                              base=tmp_path))]

    changes = apply()
    assert any("notification rules: critical: sms+0s, voice+120s, slack+0s" in c
               for c in changes)
    assert apply() == []  # idempotent
    with factory() as s:
        alice = s.scalar(select(User).where(User.email == "alice@example.com"))
        assert preferences.load(s, alice.id)["warning"] == [Rule("slack")]
        assert preferences.managed_by(s, alice.id) == "schedules/team.yaml"
    from oncall.cli.admin import create_token

    with factory() as s, s.begin():
        token = create_token(s, "alice@example.com")
    r = client.put(f"/api/v1/users/{alice.id}/notification-rules", json={"rules": {}},
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 409 and "schedules/team.yaml" in r.json["error"]

    text = team.read_text()
    team.write_text(text.replace("{channel: slack}]\n      warning", "{channel: sms}]\n"
                                 "      warning"))
    with pytest.raises(ConfigError, match="sms is already listed"):
        apply()
    team.write_text(text.replace("      warning: [{channel: slack}]\n", "")
                    .replace("    notification_rules:\n      critical: [{channel: sms}, "
                             "{channel: voice, after: 2m}, {channel: slack}]\n", ""))
    assert any("notification rules: removed" in c for c in apply())
    with factory() as s:
        assert preferences.load(s, alice.id) == {} and preferences.managed_by(s, alice.id) is None


@pytest.mark.parametrize(("steps", "field"), [
    ([{"channel": "console"}], "rules.critical[0].channel"),
    ([{"channel": "sms"}, {"channel": "console", "delay_seconds": 60}],
     "rules.critical[1].channel"),
])
def test_console_is_not_a_personal_channel_where_a_provider_is_configured(
        client: Any, cast: Cast, factory: Any, monkeypatch: Any, steps: Any,
        field: str) -> None:
    url = f"/api/v1/users/{cast.alice.id}/notification-rules"
    install(monkeypatch, "sms")
    r = client.put(url, json={"rules": {"critical": steps}}, headers=cast.auth())
    assert r.status_code == 400 and r.json["field"] == field
    assert "server's log" in r.json["error"] and "use sms" in r.json["error"]
    with factory() as s:
        assert preferences.load(s, cast.alice.id) == {}


def test_without_a_provider_the_console_may_be_chosen(client: Any, cast: Cast) -> None:
    r = client.put(f"/api/v1/users/{cast.alice.id}/notification-rules",
                   json={"rules": {"critical": [{"channel": "console"}]}}, headers=cast.auth())
    assert r.status_code == 200


@pytest.mark.parametrize("stored", [[Rule("console")], [Rule("slack"), Rule("console")]])
def test_rules_that_reach_no_real_channel_fall_back_to_one_rather_than_nowhere(
        factory: Any, cast: Cast, client: Any, monkeypatch: Any, stored: list[Rule]) -> None:
    fakes = install(monkeypatch, "sms")  # Twilio only: the console prints to a log
    set_contacts(factory, "alice@example.com", slack_id=None)
    set_rules(factory, cast.alice.id, {"default": stored})  # e.g. from before, or a file
    incident_id = trigger(factory, severity="critical")
    now = utcnow()
    step(factory, incident_id, now)
    sweeper.sweep(factory, now + timedelta(seconds=1))
    assert [c for _, c, _ in planned(factory, incident_id)] == ["sms"]
    assert fakes["sms"].who() == ["alice@example.com"]
    user = client.get(f"/api/v1/users/{cast.alice.id}", headers=cast.auth()).json
    critical = user["notification"]["critical"]
    assert critical["source"] == "fallback" and user["reachable"] is True
    assert critical["steps"] == [{"channel": "sms", "delay_seconds": 0}]
    assert critical["skipped"]["console"] == "prints only to the server's log"


def test_config_files_take_every_installed_channel_and_its_rooms(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The config schema's channel names and room targets come from the channel packages
    (``registry.PACKAGES``): ``webhook`` is a notification step, and a channel package with
    rooms adds its ``<name>:#room`` targets with no edit to the schema file."""
    import dataclasses
    import json
    from importlib import resources

    from jsonschema import Draft202012Validator

    from oncall.apply.loader import with_channels

    def schema() -> Draft202012Validator:
        raw = json.loads(resources.files("oncall").joinpath("schema/config.schema.json")
                         .read_text())
        full = with_channels(raw)
        return Draft202012Validator({**full["$defs"]["notification_steps"],
                                     "$defs": full["$defs"]})

    def step_ok(channel: str) -> bool:
        return schema().is_valid([{"channel": channel}])

    assert step_ok("webhook") and step_ok("sms") and not step_ok("pigeon")
    target = {"$ref": "#/$defs/target"}

    def target_ok(text: str) -> bool:
        full = with_channels(json.loads(resources.files("oncall")
                                        .joinpath("schema/config.schema.json").read_text()))
        return Draft202012Validator({**target, "$defs": full["$defs"]}).is_valid(text)

    assert target_ok("slack:#billing") and not target_ok("teams:#billing")
    known = dict(registry.known())
    known["teams"] = dataclasses.replace(known["slack"], name="teams")
    monkeypatch.setattr(registry, "known", lambda: known)
    assert target_ok("teams:#billing") and step_ok("teams")


def test_policies_take_the_rooms_of_every_channel_that_has_them(
        factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from oncall.manage import Refused, policies

    with factory() as s:
        with pytest.raises(Refused, match=r"user:EMAIL, schedule:NAME or slack:#CHANNEL"):
            policies._levels(s, [{"targets": ["teams:#billing"]}])
        monkeypatch.setattr(registry, "room_channels", lambda: ("slack", "teams"))
        assert policies._levels(s, [{"targets": ["teams:#billing"]}])[0]["targets"] == [
            {"type": "teams", "ref": "#billing"}]
        with pytest.raises(Refused, match="a Teams channel starts with #"):
            policies._levels(s, [{"targets": ["teams:billing"]}])
        assert policies.target_help() == ("user:EMAIL, schedule:NAME, slack:#CHANNEL or "
                                          "teams:#CHANNEL")
