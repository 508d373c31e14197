"""Importers (PagerDuty, Opsgenie, Grafana OnCall): read another on-call service's public
REST API and write config-as-code files (``schedules/*.yaml``, ``rules/*.yaml``) for review
and ``oncall apply``, with a report of what was mapped, approximated (and how) or left out
(and why).

The source-independent parts are shared by every source: ``http`` (a small JSON client with
pagination, rate-limit and 5xx retries, timeouts), ``report``, ``writer`` (an all-or-nothing
output folder) and ``verify`` (the minute-by-minute comparison of the source's own final
schedule with ours); and the mapping helpers the sources share: ``common`` (our names for
theirs, times and zones), ``layers`` (a rotation layer as one of ours), ``mapping`` (the
schedule and policy loops) and ``output`` (the files and scripts an import writes).

One package per source, each with ``fetch`` (reading the API), ``account``, one module per
kind of object (users, schedules, policies or chains, services and integrations, teams for
``--team``) and ``mapping`` (the account -> files and report): ``pagerduty`` (REST API v2),
``opsgenie`` (REST API v2) and ``grafana_oncall`` (public API v1).
"""
