"""PagerDuty services -> ``services:``, and their integrations -> ``integrations.sh`` where
one of our kinds takes what the sender sends (reported otherwise, with why)."""

from __future__ import annotations

from typing import Any

from oncall.importers.common import slug, unique
from oncall.importers.output import integration_entry
from oncall.importers.report import Report

# PagerDuty's integration types (a reference's type without ``_reference``; a full object,
# with ``include[]=integrations``, has the same type) -> the kind of ours whose payload the
# sender already sends.
INTEGRATION_KINDS = {"events_api_v2_inbound_integration": "pagerduty"}
_OWN_ENDPOINT = ("PagerDuty's own {} endpoint, which takes that tool's payload: we have no "
                 "such intake; make the tool send PagerDuty Events API v2 (then `oncall "
                 "integration add SERVICE --kind pagerduty`) or a webhook (`--kind generic`)")
NO_INTEGRATION = {
    "generic_events_api_inbound_integration": "PagerDuty Events API v1: our /v2/enqueue "
    "speaks Events API v2 only; switch the sender to Events API v2, then `oncall "
    "integration add SERVICE --kind pagerduty`",
    "generic_email_inbound_integration": "email intake: we take no alerts by email; send "
    "them from the monitoring tool as a webhook (`oncall integration add SERVICE --kind "
    "generic`) or Events API v2 (`--kind pagerduty`)",
    "event_transformer_api_inbound_integration": "a custom event transformer (code PagerDuty "
    "runs on each event): no equivalent here; send Events API v2 or a webhook instead",
    "inbound_integration": "PagerDuty does not say which API this integration's sender "
    "uses: if it sends Events API v2, `oncall integration add SERVICE --kind pagerduty`",
    **{f"{k}_inbound_integration": _OWN_ENDPOINT.format(v) for k, v in (
        ("aws_cloudwatch", "Amazon CloudWatch"), ("cloudkick", "Cloudkick"),
        ("keynote", "Keynote"), ("nagios", "Nagios"), ("pingdom", "Pingdom"),
        ("sql_monitor", "SQL Monitor"))},
}


def map_integration(i: dict[str, Any], service_label: str, service: str,
                 out: list[dict[str, str]], report: Report) -> None:
    """One of a service's integrations: to ``out`` (for integrations.sh) when one of our
    kinds takes what its sender sends, otherwise reported with why."""
    kind_of = str(i.get("type", "")).removesuffix("_reference")
    vendor = (i.get("vendor") or {}).get("summary")
    name = i.get("summary") or i.get("name") or i["id"]
    label = f"{service_label} / {name}"
    kind = INTEGRATION_KINDS.get(kind_of)
    if kind is None:
        why = NO_INTEGRATION.get(kind_of, f"type {kind_of!r}: not one we know")
        report.not_mapped("integration", label, why)
        return
    source = (f"PagerDuty integration {name!r} ({i['id']}, {kind_of}"
              + (f", vendor {vendor}" if vendor else "") + f") of service {service_label!r}")
    entry = integration_entry(service, kind, source, {x["name"] for x in out})
    out.append(entry)
    report.mapped("integration", label, f"-> kind {kind} ({entry['name']}), in "
                  "integrations.sh; the sender changes its URL to our /v2/enqueue and its "
                  "routing key to the new integration's key")


def map_services(services: list[dict[str, Any]], policy_names: dict[str, str], report: Report
                 ) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Each service whose policy was imported (our name unique), with its integrations to
    create; a service without its policy is reported, not imported (it could page nobody)."""
    services_out: list[dict[str, Any]] = []
    integrations_out: list[dict[str, str]] = []
    used: set[str] = set()
    for svc in services:
        label = svc.get("name") or svc["id"]
        policy_ref = (svc.get("escalation_policy") or {}).get("id")
        if policy_ref not in policy_names:
            report.not_mapped("service", label, "its escalation policy was not imported "
                              "(see that policy's entry)")
            continue
        sname = unique(slug(label), used)
        used.add(sname)
        out: dict[str, Any] = {"service": sname}
        if svc.get("description"):
            out["description"] = str(svc["description"])
        out["policy"] = policy_names[policy_ref]
        services_out.append(out)
        report.mapped("service", label, f"service {sname}, policy {out['policy']}")
        for i in svc.get("integrations") or []:
            map_integration(i, label, sname, integrations_out, report)
        if svc.get("status") == "disabled":
            report.approximated("service", label, "disabled in PagerDuty; imported enabled")
    return services_out, integrations_out
