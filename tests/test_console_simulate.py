"""The console's simulator page (``/simulate``) without a browser, on the shipped billing
example: the answer and its ladder, time zones, bad input, escaping, roles, and no writes."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from oncall.models import User
from tests.conftest import apply, shipped
from tests.fakes import install
from tests.test_console import add_user, sign_in
from tests.test_simulate import BOB, CAROL, MANAGER, NIGHT, charge_failures, snapshot

# Tuesday 8 December 2026, 03:00 in New York (tests/test_simulate.py works the ladder out).
ASK = {"service": "billing-charges", "type": "charge_failure", "severity": "critical",
       "labels": "merchant_id=acme", "at": "2026-12-08T03:00",
       "timezone": "America/New_York"}


@pytest.fixture
def billing(factory: Any, config: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    install(monkeypatch, "sms", "voice")
    apply(factory, *shipped(config))
    return factory


@pytest.fixture
def viewer(client: Any, billing: Any, session: Any) -> Any:
    add_user(session, "vic@example.com", "viewer")
    assert sign_in(client, "vic@example.com").status_code == 302
    return client


def rows(page: str, kind: str = "page-line") -> list[list[str]]:
    """The text of each cell of each ``kind`` row of the page's timelines."""
    found = []
    for row in re.findall(rf'<tr class="{kind}">(.*?)</tr>', page, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        found.append([" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split())
                      .replace(" ,", ",") for c in cells])
    return found


def loop(start: int, n: int) -> list[list[str]]:
    """One run of billing-critical from 03:``start`` (repeat ``n``), as the page shows it."""
    def at(minute: int) -> str:
        return f"03:{start + minute:02d}"

    level = (lambda k: f"Level {k} repeat {n}") if n else (lambda k: f"Level {k}")
    return [[at(0), level(1), f"Carol Ng {CAROL}", f"sms, voice at {at(2)}"],
            [at(5), level(2), f"Bob Okafor {BOB}", f"sms, voice at {at(7)}"],
            [at(5), level(2), f"Maria Manager {MANAGER}", f"sms, voice at {at(7)}"],
            [at(15), level(3), f"Maria Manager {MANAGER}", f"sms, voice at {at(17)}"]]


def test_a_single_charge_failure_at_3am_is_held_and_shows_whom_it_would_page(
        viewer: Any) -> None:
    r = viewer.get("/simulate", query_string=ASK)
    page = r.get_data(as_text=True)
    assert r.status_code == 200, page
    assert "It is held" in page
    assert "held by rule charge-failure-spike" in page
    assert "Were the threshold crossed" in page
    assert rows(page)[:4] == loop(0, 0)


def test_the_tenth_charge_failure_pages_the_whole_ladder_three_times(
        viewer: Any, billing: Any) -> None:
    charge_failures(billing, NIGHT, 9)
    page = viewer.get("/simulate", query_string=ASK).get_data(as_text=True)
    assert "It pages" in page and "charge-failure-spike" in page
    assert "billing-critical" in page
    assert rows(page) == loop(0, 0) + loop(20, 1) + loop(40, 2)
    assert rows(page, "note")[-1][2].startswith("the ladder ends")


def test_the_time_is_read_and_shown_in_the_zone_asked_for(viewer: Any) -> None:
    # 09:00 in Berlin is 03:00 in New York: the same ladder, shown in Berlin time.
    page = viewer.get("/simulate", query_string={
        **ASK, "at": "2026-12-08T09:00", "timezone": "Europe/Berlin"}).get_data(as_text=True)
    assert "Tue 8 Dec 2026, 09:00 Europe/Berlin" in page
    assert rows(page)[0] == ["09:00", "Level 1", f"Carol Ng {CAROL}", "sms, voice at 09:02"]


def test_the_form_opens_in_the_viewers_zone_at_the_current_time(viewer: Any,
                                                                session: Any) -> None:
    page = viewer.get("/simulate").get_data(as_text=True)
    assert 'value="UTC"' in page  # add_user's default zone
    assert re.search(r'name="at" type="datetime-local" value="\d{4}-\d\d-\d\dT\d\d:\d\d"',
                     page)
    assert '<option value="billing-charges">' in page
    assert "It pages" not in page and "It is held" not in page


@pytest.mark.parametrize(("change", "error"), [
    ({"labels": "merchant_id acme"}, "Line 1 is not key=value."),
    ({"timezone": "Mars/Olympus"}, "Not an IANA time zone"),
    ({"service": "nope"}, "Not a valid choice"),
    ({"at": "tomorrow"}, "Not a valid datetime value"),
    ({"value": "lots"}, "Not a valid float value"),
    ({"value": "nan"}, "must be a finite number"),  # the simulator's own refusal
    ({"type": ""}, "This field is required."),
])
def test_bad_input_is_shown_beside_its_field(viewer: Any, change: dict[str, str],
                                             error: str) -> None:
    r = viewer.get("/simulate", query_string={**ASK, **change})
    page = r.get_data(as_text=True)
    assert r.status_code == 400
    assert error in page
    assert 'aria-invalid="true"' in page
    assert "It pages" not in page and "It is held" not in page


def test_what_an_alert_sender_wrote_is_escaped(viewer: Any, billing: Any) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    charge_failures(billing, NIGHT - timedelta(minutes=1), 10, merchant=hostile)
    page = viewer.get("/simulate", query_string={
        **ASK, "summary": hostile, "labels": f"merchant_id={hostile}\n<script>=<script>x"
    }).get_data(as_text=True)
    assert "It joins incident #" in page
    assert "<img src=x" not in page and "<script>" not in page
    assert html.escape(hostile, quote=False) in page


def test_a_visitor_is_sent_to_sign_in_and_any_role_may_ask(client: Any, billing: Any,
                                                           session: Any) -> None:
    r = client.get("/simulate", query_string=ASK)
    assert r.status_code == 302 and "/signin" in r.headers["Location"]
    session.add(User(email="nobody@example.com", name="N", role="viewer"))
    add_user(session, "rita@example.com", "responder")
    sign_in(client, "rita@example.com")
    page = client.get("/schedules").get_data(as_text=True)
    assert 'href="/simulate"' in page  # the navigation
    assert client.get("/simulate", query_string=ASK).status_code == 200


def test_asking_writes_nothing(viewer: Any, billing: Any) -> None:
    charge_failures(billing, NIGHT - timedelta(minutes=30), 10)
    with billing() as s:
        before = snapshot(s)
    for at in ("2026-12-08T03:00", "2026-12-08T02:40", ""):
        assert viewer.get("/simulate", query_string={**ASK, "at": at}).status_code == 200
    with billing() as s:
        assert snapshot(s) == before


def test_console_pages_are_explained_only_where_there_is_no_provider(
        viewer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from oncall.channels import registry

    with_providers = viewer.get("/simulate", query_string=ASK).get_data(as_text=True)
    assert "no paging provider" not in with_providers
    for name in ("sms", "voice"):
        monkeypatch.delitem(registry._CHANNELS, name)
    monkeypatch.setattr(registry, "_console_always", True)  # as under `oncall up`
    bare = viewer.get("/simulate", query_string=ASK).get_data(as_text=True)
    assert "console" in " ".join(" ".join(r) for r in rows(bare))
    assert "no paging provider" in bare and "oncall up" in bare
