"""Opsgenie integrations -> ``integrations.sh`` where the sender calls Opsgenie's Alert API
(ours serves it); the others reported, with why."""

from __future__ import annotations

from typing import Any

from oncall.importers.output import integration_entry
from oncall.importers.report import Report

# Integration types whose senders call Opsgenie's Alert API (POST /v2/alerts with a
# GenieKey): Opsgenie's own API integration, Alertmanager's opsgenie_configs (Opsgenie's
# "Prometheus" integration) and Grafana's Opsgenie contact point. Ours serves that API
# (kind opsgenie), so the sender only changes its API URL and key.
ALERT_API = {"API", "Prometheus", "Grafana"}
TICKETING = {"Jira", "JiraServiceDesk", "ServiceNow", "ServiceNowV2", "ServiceNowV3",
             "Zendesk", "Freshdesk", "Freshservice", "BMCRemedy", "BMCRemedyForce",
             "BMCRemedyOnDemand", "BMCFootPrintsV11", "BMCFootPrintsV12", "Cherwell",
             "ConnectWise", "ConnectWiseManage", "ConnectWiseManageV2", "ConnectWiseAutomate",
             "Kayako", "Desk", "SalesForceServiceCloud", "HPServiceManager", "Planio",
             "SolarWindsWebHelpDesk", "TrackIt", "Magentrix"}
CHAT = {"Slack", "SlackApp", "MSTeams", "MSTeamsV2", "HipChat", "HipChatAddOn", "HipChatV2",
        "Mattermost", "Flock", "Flowdock", "FlowdockV2", "Campfire", "RingCentralGlip",
        "Moxtra", "Xmpp", "Kore"}
OUTGOING = {"Webhook", "AmazonSnsOutgoing"}


def integration_label(i: dict[str, Any]) -> str:
    return f"{i.get('name') or i.get('id')} ({i.get('type')})"


def _unmapped_why(kind: str) -> str:
    """Why an integration of this Opsgenie type has no equivalent here."""
    if kind == "Email" or kind.endswith("Email"):
        return ("email intake (alerts sent to an Opsgenie address): we read no email; have "
                "the sender post to an integration instead (docs/alerting.md)")
    if kind == "Heartbeat":
        return ("a heartbeat: define ours in rules (`heartbeats:`, docs/heartbeats.md); the "
                "job pings its new URL")
    if kind in TICKETING:
        return "a ticketing integration (two-way sync with tickets): no such thing here"
    if kind in CHAT:
        return ("a chat integration: ours is Slack (docs/slack.md), set up on our side; "
                "other chat tools are not served")
    if kind in OUTGOING:
        return "an outgoing integration (Opsgenie sends to it): no outgoing webhooks here"
    return (f"its sender posts {kind}'s own format to Opsgenie's endpoint for it, not the "
            "Alert API; ours takes generic JSON, Alertmanager, Grafana, PagerDuty Events v2 "
            "and Opsgenie Alert API requests: point the tool at one of those by hand "
            "(docs/alerting.md)")


def map_integrations(items: list[dict[str, Any]], teams: list[dict[str, Any]],
                  services: dict[str, str], report: Report) -> list[dict[str, str]]:
    """The integrations to create (``integrations.sh``): each Alert API sender of an
    imported team's service becomes an ``opsgenie`` integration of that service."""
    team_names = {t["id"]: str(t.get("name") or t["id"]) for t in teams}
    taken: set[str] = set()
    out = []
    for i in items:
        label, kind = integration_label(i), str(i.get("type"))
        team = i.get("teamId")
        if kind not in ALERT_API:
            report.not_mapped("integration", label, _unmapped_why(kind))
        elif i.get("enabled") is False:
            report.not_mapped("integration", label, "disabled in Opsgenie: not created (add "
                              "it with `oncall integration add SERVICE --kind opsgenie` if "
                              "it is still wanted)")
        elif not team:
            report.not_mapped("integration", label, "belongs to no team, so to no service "
                              "here (Opsgenie routes its alerts by the request's responders "
                              "or alert policies): add it with `oncall integration add "
                              "SERVICE --kind opsgenie` for the service that should get them")
        elif team not in services:
            report.not_mapped("integration", label, f"its team {team_names.get(team, team)} "
                              "has no service here (see that team's entry)")
        else:
            entry = integration_entry(services[team], "opsgenie",
                                      f"Opsgenie integration {label}", taken)
            out.append(entry)
            report.mapped("integration", label, f"-> kind opsgenie on service "
                          f"{entry['service']} ({entry['name']}), in integrations.sh; the "
                          "sender changes its API URL and key to ours")
    return out
