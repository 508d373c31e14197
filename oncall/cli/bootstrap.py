"""What ``oncall up`` does before it starts the processes: apply the config files, and on the
very first start create a demo integration and an API token and say how to use them."""

from __future__ import annotations

import os
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall import db
from oncall.accounts import links, service
from oncall.apply import ConfigError
from oncall.cli.admin import create_integration, create_token
from oncall.cli.config import DEFAULT_DIRS, run_apply
from oncall.config import Settings
from oncall.models import Integration, Service, User, utcnow


def first_run(s: Settings) -> str:
    lines = []
    dirs = [Path(d) for d in DEFAULT_DIRS if Path(d).is_dir()]
    if dirs:
        try:
            changes = run_apply(dirs, dry_run=False)
        except ConfigError as exc:
            raise click.ClickException(f"{exc}\nnothing was applied; fix the file and rerun "
                                       "`oncall up`") from None
        lines.append(f"applied {', '.join(map(str, dirs))}: {len(changes)} change(s)"
                     if changes is not None else
                     f"no config files in {', '.join(map(str, dirs))}: nothing applied")
    notes = s.data_dir / "first-run.txt"
    with db.session_scope(s.database_url) as sess:
        if sess.scalar(select(Integration.id).limit(1)) is not None:
            lines.append(f"oncall is starting on {s.public_url} (data in {s.data_dir});"
                         f" first-run credentials were saved in {notes}")
            lines += admin_sign_in(sess, s)
            return "\n".join(lines)
        service = (sess.scalar(select(Service).where(Service.name == "billing-api"))
                   or sess.scalar(select(Service).order_by(Service.id)))
        found, hook_token = create_integration(sess, service.name if service else "demo",
                                               "generic", "demo")
        admin = sess.scalar(select(User).where(User.role == "admin").order_by(User.id))
        if admin is None:
            admin = User(email="admin@localhost", name="Admin", role="admin")
            sess.add(admin)
            sess.flush()
        api_token = create_token(sess, admin.email, "created by oncall up")
        service_name = found.service.name if found.service else "demo"
    url = s.public_url
    text = f"""\
oncall is up on {url} (embedded: SQLite in {s.data_dir}, pages print here)

Send a test alert to the demo integration (service {service_name}):
  curl -X POST {url}/integrations/{hook_token} \\
    -H 'Content-Type: application/json' \\
    -d '{{"type": "charge_failure", "severity": "critical", "summary": "Charge failures spiking"}}'

Then look at it, and acknowledge it, as {admin.email}:
  curl {url}/api/v1/incidents/1 -H 'Authorization: Bearer {api_token}'
  curl -X POST {url}/api/v1/incidents/1/ack -H 'Authorization: Bearer {api_token}'

These were shown once and saved in {notes} (readable by you only).
"""
    notes.write_text(text)
    os.chmod(notes, 0o600)
    lines.append(text)
    with db.session_scope(s.database_url) as sess:
        lines += admin_sign_in(sess, s)
    return "\n".join(lines)


def admin_sign_in(sess: Session, s: Settings) -> list[str]:
    """While nobody can sign in to the console yet (no user has a password), a one-time
    link for the first admin (``admin@localhost``, created if there is no admin), printed
    at every start until someone has used one. Not saved in any file."""
    if service.anyone_has_password(sess):
        return []
    admin = sess.scalar(select(User).where(User.role == "admin").order_by(User.id))
    if admin is None:
        admin = User(email="admin@localhost", name="Admin", role="admin")
        sess.add(admin)
        sess.flush()
    made = links.issue(sess, admin, "invite", created_by="oncall up", now=utcnow(),
                       secret_key=s.secret_key)
    return [f"Open the console and choose a password for {admin.email} (the link works "
            f"once, for {links.LIFETIME['invite'].days} days; `oncall user invite "
            f"{admin.email}` prints a new one):",
            f"  {made.url(s.public_url)}", ""]
