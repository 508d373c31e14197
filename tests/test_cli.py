"""The oncall command against the same database the service uses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from oncall.cli import admin, cli, config, run  # noqa: F401 - attach the commands
from oncall.config import Settings
from tests.conftest import ROOT


@pytest.fixture
def oncall(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("ONCALL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ONCALL_BROKER_URL", settings.broker_url)
    monkeypatch.setenv("ONCALL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ONCALL_PUBLIC_URL", "https://oncall.example.com")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> Any:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def test_users_are_added_listed_and_removed(oncall: Any) -> None:
    oncall("user", "add", "alice@example.com", "--name", "Alice", "--phone", "+14155550101",
           "--tz", "America/New_York", "--role", "manager")
    rows = json.loads(oncall("user", "list", "--json").output)
    assert rows == [{"email": "alice@example.com", "name": "Alice", "role": "manager",
                     "phone": "+14155550101", "slack": None, "timezone": "America/New_York",
                     "managed_by": None}]
    assert "alice@example.com" in oncall("user", "list").output
    again = oncall("user", "add", "alice@example.com", "--name", "A", ok=False)
    assert again.exit_code == 1 and "already exists" in again.output
    oncall("user", "remove", "alice@example.com")
    assert json.loads(oncall("user", "list", "--json").output) == []


@pytest.mark.parametrize(("args", "message"), [
    (["user", "add", "not-an-email", "--name", "X"], "not an email address"),
    (["user", "add", "a@b.c", "--name", "X", "--phone", "555-1234"], "E.164"),
    (["user", "add", "a@b.c", "--name", "X", "--tz", "Nowhere/Land"], "unknown timezone"),
    (["user", "add", "a@b.c", "--name", "X", "--role", "god"], "'god' is not one of"),
    (["token", "add", "ghost@example.com"], "no user ghost@example.com"),
    (["user", "remove", "ghost@example.com"], "no user ghost@example.com"),
])
def test_bad_input_is_refused_with_a_reason(oncall: Any, args: list[str], message: str) -> None:
    result = oncall(*args, ok=False)
    assert result.exit_code != 0 and message in result.output


def test_an_integration_prints_its_url_once_and_lists_without_the_token(oncall: Any) -> None:
    out = oncall("integration", "add", "billing-api").output
    assert "https://oncall.example.com/integrations/oci_" in out
    token = out.split("/integrations/")[1].split()[0]
    rows = json.loads(oncall("integration", "list", "--json").output)
    assert rows[0]["name"] == "billing-api-generic" and rows[0]["service"] == "billing-api"
    assert token not in json.dumps(rows)
    second = oncall("integration", "add", "billing-api").output
    assert "billing-api-generic-2" in second
    oncall("integration", "remove", "billing-api-generic")
    assert len(json.loads(oncall("integration", "list", "--json").output)) == 1


def test_an_opsgenie_integration_prints_its_api_url_and_genie_key(oncall: Any) -> None:
    out = oncall("integration", "add", "billing-api", "--kind", "opsgenie").output
    assert "https://oncall.example.com/v2/alerts" in out and "GenieKey" in out
    key = out.split()[-1]
    assert len(key) == 36 and key.count("-") == 4  # a UUID, as Opsgenie's API keys


def test_tokens_are_created_listed_and_revoked(oncall: Any, app: Any) -> None:
    oncall("user", "add", "bob@example.com", "--name", "Bob")
    token = oncall("token", "add", "bob@example.com", "--label", "laptop").output.split()[-1]
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/incidents", headers=auth).status_code == 200
    [row] = json.loads(oncall("token", "list", "--json").output)
    assert row["user"] == "bob@example.com" and row["label"] == "laptop"
    oncall("token", "remove", str(row["id"]))
    assert client.get("/api/v1/incidents", headers=auth).status_code == 401


def test_apply_and_who_use_the_shipped_examples(oncall: Any, tmp_path: Path) -> None:
    for name in ("rules", "schedules"):
        shutil.copytree(ROOT / name, tmp_path / name)
    dry = oncall("apply", "--dry-run").output
    assert "would change 18 object(s)" in dry
    assert "applied 18 object(s)" in oncall("apply").output
    assert "no changes: up to date" in oncall("apply").output
    rows = json.loads(oncall("who", "billing-primary", "--at", "2026-11-10T15:00:00Z",
                             "--json").output)
    assert rows[0]["on_call"] == "bob@example.com"
    everyone = json.loads(oncall("who", "--at", "2026-11-03T15:00:00Z", "--json").output)
    assert {r["schedule"]: r["on_call"] for r in everyone} == {
        "billing-primary": "alice@example.com", "billing-secondary": "carol@example.com"}
    weekend = json.loads(oncall("who", "billing-primary", "--at", "2026-11-14T12:00:00-05:00",
                                "--json").output)
    assert weekend[0]["on_call"] == "dave@example.com"  # the restricted weekend layer
    assert "no schedule nope" in oncall("who", "nope", ok=False).output


def test_apply_reports_file_and_line_and_applies_nothing(oncall: Any, tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "x.yaml").write_text("services:\n  - service: a\n    policy: nope\n")
    result = oncall("apply", ok=False)
    assert result.exit_code == 1
    assert "rules/x.yaml:3: services[0].policy: no policy 'nope'" in result.output
    assert "nothing was applied" in result.output


def test_migrate_brings_the_schema_up_to_date(oncall: Any) -> None:
    assert "database is up to date" in oncall("migrate").output
