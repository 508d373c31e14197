"""The ``rules:`` key of config files: threshold rules, checked (every error names its file and
line), stored in evaluation order, and pruned when no file names them any more."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from oncall.apply.loader import Document
from oncall.models import EscalationPolicy, RuleState, Service, ThresholdRule, utcnow
from oncall.rules import RuleError, parse
from oncall.rules.store import bump_version


def collect(doc: Document, claim: Any, rules: dict[str, dict[str, Any]]) -> None:
    """Parse the document's rules into ``rules`` (name -> spec, in file order)."""
    for i, raw in enumerate(doc.data.get("rules") or []):
        claim("rule", raw["rule"], doc, ("rules", i))
        try:
            parse(raw)
        except RuleError as exc:
            raise doc.error(("rules", i, *exc.field.split(".")), exc.message) from None
        rules[raw["rule"]] = raw


def check(session: Session, rules: dict[str, dict[str, Any]], policies: set[str],
          services: set[str], where: Any) -> None:
    policies = policies | set(session.scalars(select(EscalationPolicy.name)))
    services = services | set(session.scalars(select(Service.name)))
    for name, raw in rules.items():
        doc, path = where[("rule", name)]
        if raw.get("policy") and raw["policy"] not in policies:
            raise doc.error((*path, "policy"), f"no policy {raw['policy']!r}")
        wanted = (raw.get("match") or {}).get("service")
        for svc in wanted if isinstance(wanted, list) else [wanted] if wanted else []:
            if svc not in services:
                raise doc.error((*path, "match", "service"), f"no service {svc!r} (add it "
                                "under services:)")


def sync(session: Session, rules: dict[str, dict[str, Any]], src: dict[tuple[str, str], str],
         changes: list[Any], change: Any) -> None:
    """Make the rules table match (position = the order files and rules come in), prune
    file-managed rules no file names, and tell intake's caches when anything changed."""
    before = len(changes)
    existing = {r.name: r for r in session.scalars(select(ThresholdRule))}
    for position, (name, spec) in enumerate(rules.items()):
        row = existing.pop(name, None)
        managed_by = src[("rule", name)]
        if row is None:
            session.add(ThresholdRule(name=name, position=position, spec=spec,
                                      managed_by=managed_by, updated_at=utcnow()))
            changes.append(change("create", "rule", name))
            continue
        detail = [f"{key}: {row.spec.get(key)!r} -> {spec.get(key)!r}"
                  for key in sorted(set(row.spec) | set(spec))
                  if row.spec.get(key) != spec.get(key)]
        if row.position != position:
            detail.append(f"position: {row.position} -> {position}")
        if row.managed_by != managed_by:
            detail.append(f"managed_by: {row.managed_by!r} -> {managed_by!r}")
        if detail:
            row.spec, row.position, row.managed_by = spec, position, managed_by
            row.updated_at = utcnow()
            changes.append(change("update", "rule", name, detail))
    for name, row in existing.items():
        if row.managed_by is not None:
            session.delete(row)
            # Its memory goes with it; incidents it opened stay open for people to resolve.
            session.execute(delete(RuleState).where(RuleState.rule == name))
            changes.append(change("delete", "rule", name))
    if len(changes) != before:
        session.flush()
        bump_version(session, utcnow(), len(rules))
