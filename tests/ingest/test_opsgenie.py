"""The Opsgenie CreateAlertPayload mapping, field by field (the web tests cover the answers)."""

from __future__ import annotations

import pytest

from oncall.ingest import opsgenie


def test_limits_are_applied_as_opsgenie_documents_them() -> None:
    alert, act = opsgenie.parse_create({
        "message": "  " + "m" * 200, "tags": [f"t{i}" + "x" * 60 for i in range(25)],
        "entity": "e" * 600, "user": "u" * 150, "note": "", "source": "  "})
    assert alert.summary == "m" * 130
    tags = alert.labels["tags"].split(",")
    assert len(tags) == 20 and all(len(t) == 50 for t in tags)
    assert len(alert.labels["entity"]) == 512
    assert act.user == "u" * 100 and act.note is None and act.source is None
    assert "source" not in alert.labels  # blank fields are left out, not stored empty


def test_details_flatten_and_the_fixed_fields_win() -> None:
    alert, _ = opsgenie.parse_create({"message": "m", "priority": "P4", "details": {
        "region": "eu", "nested": {"a": 1}, "priority": "spoofed"}})
    assert alert.labels == {"region": "eu", "nested.a": 1, "priority": "P4"}
    assert alert.severity == "info" and alert.type == "opsgenie"


def test_a_long_alias_is_hashed_the_same_way_every_time() -> None:
    alias = "x" * 300
    assert opsgenie.dedup_key(alias) == opsgenie.dedup_key(alias)
    assert opsgenie.dedup_key(alias).startswith("opsgenie-sha256:")
    assert len(opsgenie.dedup_key(alias)) <= 255
    # Opsgenie keeps 512 characters of an alias: what differs beyond them is the same alert.
    assert opsgenie.dedup_key("y" * 512 + "a") == opsgenie.dedup_key("y" * 512 + "b")
    assert opsgenie.dedup_key("short") == "short"


def test_no_alias_is_a_new_key_each_time() -> None:
    first, _ = opsgenie.parse_create({"message": "m"})
    second, _ = opsgenie.parse_create({"message": "m"})
    assert first.dedup_key != second.dedup_key


@pytest.mark.parametrize(("value", "kind"), [(None, "id"), ("", "id"), ("alias", "alias"),
                                             ("id", "id")])
def test_identifier_types(value: str | None, kind: str) -> None:
    assert opsgenie.identifier_type(value) == kind


@pytest.mark.parametrize("value", ["tiny", "Alias", "name"])
def test_unsupported_identifier_types_are_422(value: str) -> None:
    with pytest.raises(opsgenie.OpsgenieError) as exc:
        opsgenie.identifier_type(value)
    assert exc.value.status == 422 and exc.value.field == "identifierType"
