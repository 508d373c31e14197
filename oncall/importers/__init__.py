"""Importers (PagerDuty, Opsgenie, Grafana OnCall): read another on-call service's public
REST API and write config-as-code files (``schedules/*.yaml``, ``rules/*.yaml``) for review
and ``oncall apply``, with a report of what was mapped, approximated (and how) or left out
(and why).

The source-independent parts are shared by every source: ``http`` (a small JSON client with
pagination, rate-limit and 5xx retries, timeouts), ``report``, ``writer`` (an all-or-nothing
output folder) and ``verify`` (the minute-by-minute comparison of the source's own final
schedule with ours). ``pagerduty`` is the PagerDuty REST API v2 source, ``grafana_oncall``
the Grafana OnCall public API v1 source.
"""
