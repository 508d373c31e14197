"""Taking due incidents a step up their ladder: claim each step with a conditional UPDATE,
then write its timeline entries and queue its pages (``page_outbox``) in one statement each.
What a step pages is worked out first, reading only (``step_plan``); sending the pages is
``delivery``.

Every entry point takes ids and an explicit ``now``, reloads state, re-checks its
precondition and claims work with a conditional UPDATE, so a task delivered twice, a task and
the sweeper racing, or a worker killed half way can never page anyone twice for the same
(incident, level, loop, recipient, channel): that key is unique in the outbox.

What a step needs once committed (its next level if already due, its Slack messages
rewritten) is noted on the session for the one after-commit hook
(``oncall.incidents.followups.stepped``), whoever took the step.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session

from oncall import db, metrics
from oncall.incidents import followups, record_many
from oncall.models import Incident
from oncall.paging import page_outbox, unpaged
from oncall.paging.step_plan import Lookups, Plan, StepResult, plan_step

log = logging.getLogger(__name__)


def escalate(session: Session, incident_id: int, now: datetime,
             expect: tuple[int, int] | None = None) -> StepResult | None:
    """Run the incident's step if it is due. ``expect`` is the (level, loop) the caller
    believes the incident is at; if it has moved on, someone else took the step.

    Returns None when the incident needs nothing more from this caller; a result with no
    pages and a future ``next_action_at`` when it is not due yet; else the step taken.
    """
    query = select(Incident).where(Incident.id == incident_id)
    if db.is_postgres(session):
        # NO KEY UPDATE: alerts joining the incident hold KEY SHARE locks on its row (their
        # foreign key); those must not make the escalation skip it.
        query = query.with_for_update(skip_locked=True, key_share=True, of=Incident)
    incident = session.scalars(query.execution_options(populate_existing=True)).first()
    if incident is None or incident.status != "triggered" or incident.next_action_at is None:
        return None
    if expect is not None and (incident.level, incident.loop) != tuple(expect):
        return None
    if incident.next_action_at > now:
        return StepResult(level=incident.level, loop=incident.loop,
                          next_action_at=incident.next_action_at)
    try:
        [result] = take_steps(session, [incident], now)
    except Contended:  # someone else took the step (nothing was written)
        return None
    return result


def due_incidents(session: Session, now: datetime, limit: int = 200) -> list[Incident]:
    """Claim due incidents (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so several sweepers
    share the work; SQLite has one writer at a time and the steps' conditional UPDATE)."""
    return list(session.scalars(_DUE_INCIDENTS[db.is_postgres(session)],
                                {"now": now, "limit": limit}))


_DUE = (select(Incident)
        .where(Incident.status == "triggered", Incident.next_action_at <= bindparam("now"))
        .order_by(Incident.next_action_at).limit(bindparam("limit"))
        .execution_options(populate_existing=True))
_DUE_INCIDENTS = {True: _DUE.with_for_update(skip_locked=True, key_share=True, of=Incident),
                  False: _DUE}


class Contended(RuntimeError):
    """An incident of a batch changed between being read and being claimed (SQLite, which
    locks no rows on reading; or a step someone else took): the sweeper steps its batch
    again one incident at a time."""


def take_steps(session: Session, incidents: list[Incident], now: datetime,
               actor: str = "system", lookups: Lookups | None = None) -> list[StepResult]:
    """Claim the due step of each incident (a batch of one is one incident) and page its
    level, in a few statements for the whole batch. A level that names nobody to page
    (nobody on call, no such user) is skipped at once, with a timeline entry, to the next
    level of the same loop; a new loop keeps its schedule. Raises ``Contended`` if any
    incident was not due any more or changed meanwhile: nothing of a batch of one was
    written then; a bigger batch must be rolled back by the caller."""
    if not incidents:
        return []
    lookups = lookups or Lookups()
    plans = [plan_step(session, incident, now, actor, lookups) for incident in incidents]
    if not _claim(session, plans):
        raise Contended(f"{len(plans)} incidents read, fewer claimed")
    return _apply(session, plans, now)


def _claim(session: Session, plans: list[Plan]) -> bool:
    """Move every planned incident from the state it was read in to its state after the
    step, each only if still due and unchanged; whether all of them were."""
    claims = [p.claim().row() for p in plans]
    if db.is_postgres(session):
        claimed = session.connection().execute(_PG_CLAIM_DUE,
                                               _CLAIMS.params(claims)).rowcount
    else:
        claimed = session.connection().execute(_CLAIM_DUE, claims).rowcount
    return bool(claimed == len(plans))


def _apply(session: Session, plans: list[Plan], now: datetime) -> list[StepResult]:
    """Write the claimed steps' timeline entries and pages, one statement each."""
    record_many(session, [e for plan in plans for e in plan.events])
    for plan in plans:
        if plan.unpaged is not None:
            unpaged.warn(plan.unpaged, next(e for e in plan.events if e.kind == "unpaged"))
    made = page_outbox.insert(session, [page for plan in plans for page in plan.pages])
    for plan in plans:
        for page in plan.pages:
            page_id = made.get(page.key)
            if page_id is not None and page.at <= now:
                plan.result.page_ids.append(page_id)
    for plan in plans:
        assert plan.due is not None
        metrics.ESCALATION_LAG.observe(max(0.0, (now - plan.due).total_seconds()))
        result = plan.result
        followups.stepped(session, plan.incident_id, result.level, result.loop,
                          result.next_action_at)
    return [plan.result for plan in plans]


_CLAIM_DUE = (update(Incident)
              .where(Incident.id == bindparam("incident_id"), Incident.status == "triggered",
                     Incident.level == bindparam("level"), Incident.loop == bindparam("loop"),
                     Incident.next_action_at <= bindparam("now"))
              .values(level=bindparam("new_level"), loop=bindparam("new_loop"),
                      next_action_at=bindparam("next_action_at"), policy=bindparam("policy"),
                      updated_at=bindparam("now")))
# PostgreSQL: the same statement text for any batch size.
_CLAIMS = db.Recordset("c", "incident_id int, level int, loop int, now timestamptz, "
                            "new_level int, new_loop int, next_action_at timestamptz, "
                            "policy json")
_PG_CLAIM_DUE = text(f"""
UPDATE incidents AS i
SET level = c.new_level, loop = c.new_loop, next_action_at = c.next_action_at,
    policy = c.policy, updated_at = c.now
FROM {_CLAIMS.sql}
WHERE i.id = c.incident_id AND i.status = 'triggered' AND i.level = c.level
  AND i.loop = c.loop AND i.next_action_at <= c.now
""")

