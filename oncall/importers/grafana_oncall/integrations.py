"""Grafana OnCall integrations -> ``services:`` (with their default route's chain) and
``integrations.sh`` lines where one of our kinds takes what the senders send."""

from __future__ import annotations

from typing import Any

from oncall.importers.common import slug, unique
from oncall.importers.grafana_oncall.account import SOURCE
from oncall.importers.output import integration_entry
from oncall.importers.report import Report

# says what of theirs ours does not take (docs/alerting.md).
KINDS = {"alertmanager": "alertmanager", "grafana_alerting": "grafana", "grafana": "grafana",
         "webhook": "generic", "formatted_webhook": "generic"}
KIND_GAPS = {
    "grafana": "this is Grafana's legacy (dashboard) alerting: ours takes Grafana Alerting's "
               "webhook contact point (version 1), not legacy alerts (ruleName, evalMatches); "
               "move the rules to Grafana Alerting first",
    "webhook": "Grafana OnCall takes any JSON here and reads it through its templates; ours "
               "(generic) needs `summary` (and reads status, dedup_key, labels): a body "
               "without `summary` is refused (400), so the sender must send our JSON",
    "formatted_webhook": "its body (title, message, state, alert_uid, image_url, "
                         "link_to_upstream_details) has no `summary`: ours (generic) refuses "
                         "it (400); the sender must send our JSON (title -> summary, state ok "
                         "-> status resolved, alert_uid -> dedup_key)",
}
NO_KIND = {
    "heartbeat": "a heartbeat (alerts when pings stop): ours has no heartbeat intake",
    "inbound_email": "email intake: ours takes alerts over HTTP only",
    "direct_paging": "it has no sender (people page by hand in Grafana OnCall)",
}


def map_integration(i: dict[str, Any], label: str, service: str, taken: set[str],
                 report: Report) -> dict[str, str] | None:
    """The integration of ours that ``i``'s senders can send to, or None (reported)."""
    kind = str(i.get("type"))
    if kind not in KINDS:
        why = NO_KIND.get(kind, "its senders' own payload has no adapter here: point them at "
                          "a `generic` integration with our JSON, or at our PagerDuty "
                          "(/v2/enqueue) or Opsgenie (/v2/alerts) API if they speak one")
        report.not_mapped("integration", label, f"{kind}: {why}")
        return None
    entry = integration_entry(service, KINDS[kind], f"{SOURCE} integration {label!r} "
                              f"({i['id']}, {kind})", taken)
    done = (f"{kind} -> kind {KINDS[kind]}, {entry['name']} in integrations.sh; the sender "
            "changes its URL to ours")
    if kind in KIND_GAPS:
        report.approximated("integration", label, f"{done}; {KIND_GAPS[kind]}")
    else:
        report.mapped("integration", label, done)
    return entry


def map_services(items: list[dict[str, Any]], chain_names: dict[str, str], report: Report
                 ) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """A service for each integration whose default route's chain was imported (the
    integration to create for it where one of our kinds fits); the rest reported."""
    services: list[dict[str, Any]] = []
    integrations: list[dict[str, str]] = []
    for i in items:
        label = i.get("name") or i["id"]
        chain = (i.get("default_route") or {}).get("escalation_chain_id")
        if i.get("type") == "direct_paging":
            report.not_mapped("integration", label, f"direct_paging: {NO_KIND['direct_paging']}"
                              "; no service is made for it")
            continue
        if chain not in chain_names:
            report.not_mapped("service", label, "its default route has no escalation chain "
                              "that was imported" if chain else "its default route has no "
                              "escalation chain")
            continue
        sname = unique(slug(label), {x["service"] for x in services})
        services.append({"service": sname, "policy": chain_names[chain]})
        report.mapped("service", label, f"service {sname}, policy {chain_names[chain]}"
                      "; routes other than the default one are not read")
        entry = map_integration(i, label, sname, {x["name"] for x in integrations}, report)
        if entry is not None:
            integrations.append(entry)
    return services, integrations
