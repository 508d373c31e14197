"""Every answer, errors included, says: don't sniff, don't frame, don't send a Referer, don't
store (API answers carry personal data; integration, feed and ping URLs carry secrets)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Cast, alert

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def test_every_kind_of_answer_carries_the_security_headers(client: Any, cast: Cast) -> None:
    feed = client.post("/api/v1/users/me/feed-token", headers=cast.auth()).json["my_shifts"]
    answers = {
        "api": client.get("/api/v1/incidents", headers=cast.auth()),
        "api 401": client.get("/api/v1/incidents"),
        "api 404": client.get("/api/v1/incidents/999", headers=cast.auth()),
        "intake 202": client.post(f"/integrations/{cast.integration_token}", json=alert()),
        "intake 400": client.post(f"/integrations/{cast.integration_token}", json={}),
        "intake 404": client.post("/integrations/oci_nope", json=alert()),
        "calendar feed": client.get(feed.removeprefix("http://oncall.test")),
        "ping": client.get("/ping/00000000-0000-0000-0000-000000000000"),
        "health": client.get("/health"),
        "unknown path": client.get("/nowhere"),
        "openapi": client.get("/api/v1/openapi.json"),
    }
    for what, r in answers.items():
        got = {name: r.headers.get(name) for name in EXPECTED}
        assert got == EXPECTED, (what, r.status_code, got)
    assert answers["calendar feed"].status_code == 200
    assert answers["intake 202"].status_code == 202
