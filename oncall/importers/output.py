"""The files an import writes: ``rules/<source>.yaml``, the schedules' YAML, and the scripts
for what config files do not hold (overrides, integrations: each made once after ``oncall
apply``)."""

from __future__ import annotations

import json
import shlex
from datetime import datetime
from typing import Any

import yaml

from oncall.importers.common import slug, unique
from oncall.importers.report import Report


def yaml_text(doc: dict[str, Any], title: str, command: str = "pagerduty") -> str:
    """A config file, headed by what it is and what to do with it before applying it."""
    return (f"# {title}. Written by `oncall import {command}`: review it, then\n"
            f"# `oncall apply --dry-run` and `oncall apply`. See REPORT.txt.\n"
            + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100))


def add_files(files: dict[str, str], report: Report, users: list[dict[str, Any]],
              policies: list[dict[str, Any]], services: list[dict[str, Any]],
              overrides: list[dict[str, Any]], source: str = "PagerDuty",
              integrations: list[dict[str, str]] | None = None) -> None:
    """``rules/<source>.yaml`` (users, policies, services), the overrides, the integrations
    to create (dicts of service, kind, name and ``source``: the source's integration) and
    the report."""
    main: dict[str, Any] = {"users": users}
    if policies:
        main["policies"] = policies
    if services:
        main["services"] = services
    files[f"rules/{source.lower()}.yaml"] = yaml_text(main, "Users, escalation policies and "
                                                  f"services imported from {source}",
                                                  source.lower())
    files["overrides.json"] = json.dumps(overrides, indent=2) + "\n"
    files["overrides.sh"] = _overrides_script(overrides, source.lower())
    files["integrations.json"] = json.dumps(integrations or [], indent=2) + "\n"
    files["integrations.sh"] = _integrations_script(integrations or [], source.lower())
    files["REPORT.txt"] = report.text()


def _integrations_script(integrations: list[dict[str, str]], command: str) -> str:
    """The integrations as `oncall integration add` commands: config files hold no
    integrations (each has a secret URL or key, shown once when it is created)."""
    lines = ["#!/bin/sh", f"# The services' integrations, imported by `oncall import {command}`.",
             "# Run once on the server, after `oncall apply` (like `oncall apply`, it uses the",
             "# service's database). Each command prints the new URL or key ONCE: keep the",
             "# output somewhere safe and give each sender its new one (docs/migrating.md).",
             "set -e"]
    for i in integrations:
        # One line whatever the source's names hold (a newline would start a command).
        lines.append(f"# {' '.join(i['source'].split())}")
        lines.append(" ".join(shlex.quote(x) for x in (
            "oncall", "integration", "add", i["service"], "--kind", i["kind"],
            "--name", i["name"])))
    return "\n".join(lines) + "\n"


def integration_entry(service: str, kind: str, label: str, taken: set[str]) -> dict[str, str]:
    """One integration to create for ``service`` (its name unique among ``taken``)."""
    name = unique(slug(f"{service}-{kind}"), taken)
    taken.add(name)
    return {"service": service, "kind": kind, "name": name, "source": label}


def _overrides_script(overrides: list[dict[str, Any]], command: str = "pagerduty") -> str:
    """The overrides as `oncall override` commands, to run once after `oncall apply` (as a
    manager, after `oncall login`): config files do not hold overrides."""
    lines = ["#!/bin/sh", f"# The overrides from now on, imported by `oncall import "
             f"{command}`.", "# Run once, after `oncall apply` and `oncall login` (as a "
             "manager).", "set -e"]
    for o in overrides:
        lines.append(" ".join(shlex.quote(x) for x in (
            "oncall", "override", o["schedule"], "--user", o["user"], "--from", o["start"],
            "--until", o["end"], "--note", o["note"])))
    return "\n".join(lines) + "\n"


def add_override(out: list[dict[str, Any]], report: Report, label: str, schedule: str,
                 user: str, start: datetime, end: datetime, source: str) -> None:
    out.append({"schedule": schedule, "user": user, "start": start.isoformat(),
                "end": end.isoformat(), "note": f"imported from {source}"})
    report.mapped("override", label, f"{user}: in overrides.sh and overrides.json (config "
                  "files do not hold overrides: run overrides.sh once after `oncall apply`)")
