"""The generic alert format: what it accepts and how it names what it refuses."""

import pytest

from oncall.ingest import PayloadError
from oncall.ingest.generic import parse


def test_it_fills_defaults_for_a_minimal_alert() -> None:
    [a] = parse({"summary": "Nightly charge run missed"})
    assert (a.type, a.severity, a.status, a.labels, a.value) == (
        "generic", "critical", "firing", {}, None)
    assert a.dedup_key.startswith("generic:")


def test_it_keeps_every_documented_field() -> None:
    [a] = parse({"type": "api_error_rate", "summary": "5xx above SLO", "severity": "warning",
                 "status": "resolved", "dedup_key": "api/5xx", "service": "billing-api",
                 "labels": {"region": "eu"}, "value": 0.02, "extra": "kept in raw"})
    assert (a.type, a.severity, a.status, a.dedup_key, a.service, a.labels, a.value) == (
        "api_error_rate", "warning", "resolved", "api/5xx", "billing-api", {"region": "eu"},
        0.02)
    assert a.raw is not None and a.raw["extra"] == "kept in raw"


def test_the_same_labels_derive_the_same_dedup_key() -> None:
    [a] = parse({"type": "charge_failure", "summary": "x", "labels": {"m": "acme"}})
    [b] = parse({"type": "charge_failure", "summary": "y", "labels": {"m": "acme"}})
    [c] = parse({"type": "charge_failure", "summary": "x", "labels": {"m": "globex"}})
    assert a.dedup_key == b.dedup_key != c.dedup_key


@pytest.mark.parametrize(("payload", "field"), [
    ({}, "summary"),
    ({"summary": ""}, "summary"),
    ({"summary": 12}, "summary"),
    ({"summary": "x", "severity": "urgent"}, "severity"),
    ({"summary": "x", "status": "open"}, "status"),
    ({"summary": "x", "labels": ["a"]}, "labels"),
    ({"summary": "x", "labels": {"m": {"nested": 1}}}, "labels.m"),
    ({"summary": "x", "value": "12"}, "value"),
    ({"summary": "x", "value": True}, "value"),
    ({"summary": "x", "dedup_key": "k" * 256}, "dedup_key"),
    ("a string", "body"),
    ([{"summary": "ok"}, {"summary": 1}], "[1].summary"),
])
def test_it_names_the_field_it_refuses(payload: object, field: str) -> None:
    with pytest.raises(PayloadError) as err:
        parse(payload)
    assert err.value.field == field


def test_it_accepts_a_batch() -> None:
    assert len(parse([{"summary": "a"}, {"summary": "b"}])) == 2


def test_it_refuses_an_empty_batch() -> None:
    # The number of alerts per request is capped before parsing (tests/test_alert_cap.py).
    with pytest.raises(PayloadError):
        parse([])
