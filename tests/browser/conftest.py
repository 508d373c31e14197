"""Browser tests: the console served by a live server (the app in a thread, on the test
database) and driven by Playwright in Debian's Chromium (``/usr/bin/chromium``; Playwright's
own browser download is not used), in America/New_York as GoAlert's UI tests do.

Without Chromium (or axe-core from ``tests/tools``, ``npm ci``) these tests skip and say why,
unless ``ONCALL_TEST_REQUIRE`` names ``browser`` (CI): then they fail.

Screenshots go to ``ONCALL_SCREENSHOTS_DIR`` (default ``tests/browser/screenshots/``)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from oncall import db, jobs
from oncall.accounts import passwords
from oncall.config import Settings
from oncall.models import User
from tests.conftest import REQUIRED, ROOT

CHROMIUM = Path(os.environ.get("ONCALL_CHROMIUM", "/usr/bin/chromium"))
AXE = ROOT / "tests" / "tools" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("ONCALL_SCREENSHOTS_DIR")
                   or Path(__file__).parent / "screenshots")
PASSWORD = "a long enough passphrase"
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 800}


def _missing(what: str) -> None:
    if "browser" in REQUIRED:
        pytest.fail(f"{what}, and ONCALL_TEST_REQUIRE names browser", pytrace=False)
    pytest.skip(f"{what}: browser tests skipped")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing (apt-get install chromium)")
    if not AXE.exists():
        _missing(f"{AXE} is missing (cd tests/tools && npm ci)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        found = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                   args=["--no-sandbox", "--disable-gpu"])
        yield found
        found.close()


@dataclass
class Live:
    url: str
    settings: Settings

    def user(self, email: str, role: str, password: str | None = PASSWORD,
             name: str | None = None, timezone: str = "America/New_York") -> User:
        with db.session_scope(self.settings.database_url) as s:
            found = User(email=email, name=name or email.split("@")[0].title(), role=role,
                         timezone=timezone,
                         password_hash=passwords.hash_password(password) if password else None)
            s.add(found)
            s.flush()
            s.expunge(found)
        return found


@pytest.fixture
def live(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    """The app on a free port, in a thread; its links and the CLI's point at it."""
    from oncall.web import create_app

    holder: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda env, start: holder["app"](env, start),
                         threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    key = os.environ["ONCALL_SECRET_KEY"]
    ours = replace(settings, public_url=url, secret_key=key, signin_rate_limit="3/15minutes",
                   ratelimit_storage_url="memory://")  # counters of this server only
    holder["app"] = create_app(ours)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("ONCALL_DATABASE_URL", ours.database_url)
    monkeypatch.setenv("ONCALL_BROKER_URL", ours.broker_url)
    monkeypatch.setenv("ONCALL_PUBLIC_URL", url)
    try:
        yield Live(url, ours)
    finally:
        server.shutdown()
        thread.join(10)
        jobs._app = None


@pytest.fixture
def context_for(browser: Any) -> Iterator[Any]:
    """``context_for(viewport)``: a fresh browser profile (own cookies) in New York time."""
    made: list[Any] = []

    def make(viewport: dict[str, int] = DESKTOP) -> Any:
        ctx = browser.new_context(viewport=viewport, timezone_id="America/New_York",
                                  locale="en-US")
        ctx.set_default_timeout(10_000)
        ctx.console_errors = []  # what the browser complained of (CSP violations included)
        ctx.on("console", lambda m: m.type == "error" and ctx.console_errors.append(m.text))
        ctx.on("weberror", lambda e: ctx.console_errors.append(str(e.error)))
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture
def page(context_for: Any) -> Any:
    return context_for().new_page()


def sign_in(page: Any, live: Live, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{live.url}/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def shot(page: Any, name: str, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page, one line each."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())  # through the debugger protocol: the CSP still holds
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.filter(v => ['serious', 'critical'].includes(v.impact))
            .map(v => `${v.impact} ${v.id}: ${v.help} `
                      + `(${v.nodes.map(n => n.target.join(' ')).join(', ')})`);
    }""")
    return list(found)


def horizontal_overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the window (0: no horizontal scroll)."""
    return int(page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def page_problems(page: Any, phone: bool) -> list[str]:
    """axe's serious findings, and on a phone any sideways scrolling."""
    found = serious_violations(page)
    if phone and horizontal_overflow(page) > 0:
        found.append(f"scrolls sideways by {horizontal_overflow(page)} px")
    return found
