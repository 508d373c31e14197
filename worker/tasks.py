"""Thin tasks: ids in, one domain call. What a change needs next (a step already due, Slack
messages rewritten, pages out now) is enqueued after its commit by the one after-commit hook
(``oncall.incidents.followups``): no task enqueues follow-ups of its own."""

from __future__ import annotations

import logging
import urllib.request

from celery import Task, shared_task
from sqlalchemy.orm import Session, sessionmaker

from oncall import db, jobs
from oncall.channels import slack
from oncall.channels.slack import respond, store
from oncall.heartbeats import store as heartbeats_store
from oncall.models import utcnow
from oncall.paging import runs, sweeper
from oncall.rules import tick
from oncall.schedules import handoff_notices
from worker.app import settings

log = logging.getLogger(__name__)


def _factory() -> sessionmaker[Session]:
    return db.session_factory(settings.database_url)


@shared_task(name="oncall.escalate")
def escalate(incident_id: int, level: int = 0, loop: int = 0) -> None:
    result = runs.escalate_incident(_factory(), incident_id, expect=(level, loop))
    if result is None:
        return
    # Deliver here rather than through one more task each: a page out sooner, and far less
    # work per page. Anything this misses (a crash, an error) the sweeper delivers.
    for page_id in result.page_ids:
        runs.deliver_page(_factory(), page_id)


@shared_task(name="oncall.deliver")
def deliver(incident_id: int) -> None:
    """The pages a manual escalate or reassign queued: out now, not at the next sweep."""
    runs.deliver_incident(_factory(), incident_id)


@shared_task(name="oncall.sweep")
def sweep() -> None:
    sweeper.sweep(_factory())


def dispatch() -> None:
    """What a new incident's notification or the escalation timer runs
    (``oncall.paging.wake_listener``, in the worker's listener thread): step everything due
    and send its console pages, then hand the pages for providers (SMS, voice, Slack) to the
    pool, a deliver task per incident (sent here instead while the broker is unreachable)."""
    report = sweeper.dispatch(_factory(), limit=100, local_only=True)
    runs.hand_over(_factory(), report.to_deliver, jobs.deliver)


@shared_task(name="oncall.rules")
def rules() -> None:
    """Re-evaluate windowed threshold rules: open on a crossing, resolve after a hold-down."""
    tick.run(_factory(), utcnow())  # its follow-ups: ``oncall.incidents.followups``


@shared_task(name="oncall.heartbeats")
def heartbeats() -> None:
    """Late and down heartbeats: open their incidents, then escalate them."""
    heartbeats_store.run_checks(_factory())  # its follow-ups: ``oncall.incidents.followups``


@shared_task(name="oncall.handoffs")
def handoffs() -> None:
    """Tell people whose on-call shift has just started."""
    handoff_notices.announce(_factory(), utcnow())


@shared_task(name="oncall.deadman")
def deadman() -> None:
    """Ping ONCALL_DEADMAN_URL: if this pager stops, something outside it notices."""
    if not settings.deadman_url:
        return
    try:
        with urllib.request.urlopen(settings.deadman_url, timeout=10) as response:
            response.read(1024)
    except OSError as exc:
        log.warning("dead-man's switch ping to %s failed: %s", settings.deadman_url, exc)


@shared_task(name="oncall.slack_refresh", bind=True, max_retries=8)
def slack_refresh(self: Task, incident_id: int) -> None:
    """Rewrite the incident's Slack messages; Slack's transient failures are retried."""
    if not slack.enabled():
        return
    report = store.refresh(slack.factory(), slack.client(), incident_id)
    if report.retry is not None:
        raise self.retry(countdown=respond.backoff(self.request.retries, report.retry))


@shared_task(name="oncall.slack_respond", bind=True, max_retries=3)
def slack_respond(self: Task, response_url: str, text: str) -> None:
    """A private answer to a Slack user (through the interaction's ``response_url``)."""
    error = respond.ephemeral(response_url, text)
    if error is not None and not error.permanent:
        raise self.retry(countdown=respond.backoff(self.request.retries, error))
