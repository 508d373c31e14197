"""``oncall user|integration|token add|list|remove``."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.audit import audit
from oncall.cli import cli
from oncall.cli.common import json_option, public_url, secret_key, session, table
from oncall.manage.integrations import new_secret
from oncall.models import INTEGRATION_KINDS, ROLES, ApiToken, Integration, Service, User
from oncall.security import hash_token, new_token, token_prefix


@cli.group()
def user() -> None:
    """People who can be paged and use the API."""


def _phone(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"\+[1-9]\d{6,14}", value):
        raise click.BadParameter("must be E.164, e.g. +14155550100")
    return value


def _tz(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown timezone {value!r}") from None
    return value


@user.command("add")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--phone", callback=_phone, help="E.164 phone number, e.g. +14155550100.")
@click.option("--slack", "slack_id", help="Slack member id, e.g. U012AB3CD.")
@click.option("--tz", "timezone", default="UTC", show_default=True, callback=_tz)
@click.option("--role", type=click.Choice(ROLES), default="responder", show_default=True)
def user_add(email: str, name: str, phone: str | None, slack_id: str | None, timezone: str,
             role: str) -> None:
    """Add a user."""
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", email):
        raise click.BadParameter(f"{email!r} is not an email address", param_hint="EMAIL")
    with session() as s:
        if s.scalar(select(User).where(User.email == email)):
            raise click.ClickException(f"user {email} already exists")
        s.add(User(email=email, name=name, phone=phone, slack_id=slack_id, timezone=timezone,
                   role=role))
    click.echo(f"added user {email} ({role})")


@user.command("slack")
@click.argument("email")
@click.argument("slack_id")
def user_slack(email: str, slack_id: str) -> None:
    """Link a user to their Slack member id (Slack: profile, "Copy member ID")."""
    if not re.fullmatch(r"[UW][A-Z0-9]{2,31}", slack_id):
        raise click.BadParameter(f"{slack_id!r} is not a Slack member id (like U012AB3CD)",
                                 param_hint="SLACK_ID")
    with session() as s:
        found = _editable_user(s, email, "set `slack:` there")
        audit(s, "cli", "update", "user", found.id, email, {"slack": found.slack_id},
              {"slack": slack_id})
        found.slack_id = slack_id
    click.echo(f"linked {email} to Slack member {slack_id}")


def _editable_user(s: Session, email: str, instead: str) -> User:
    """The user, unless there is none or a config file defines it (then say what to do
    ``instead``, there)."""
    found = s.scalar(select(User).where(User.email == email))
    if found is None:
        raise click.ClickException(f"no user {email}")
    if found.managed_by:
        raise click.ClickException(f"user {email} is defined in {found.managed_by}; "
                                   f"{instead} and run `oncall apply`")
    return found


@user.command("list")
@json_option
def user_list(as_json: bool) -> None:
    with session() as s:
        rows = [{"email": u.email, "name": u.name, "role": u.role, "phone": u.phone,
                 "slack": u.slack_id, "timezone": u.timezone, "managed_by": u.managed_by}
                for u in s.scalars(select(User).order_by(User.email))]
    table(rows, ["email", "name", "role", "phone", "slack", "timezone", "managed_by"], as_json)


@user.command("invite")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), default=None,
              help="For a new user (default responder); an existing user keeps theirs.")
@click.option("--name", help="For a new user (default: the part of EMAIL before the @).")
def user_invite(email: str, role: str | None, name: str | None) -> None:
    """Print a console sign-in link for EMAIL (created if new): an invitation to set a
    password, or a password reset link if they have one. It works once, and expires."""
    from oncall.accounts import service
    from oncall.models import utcnow

    key = secret_key()
    with session() as s:
        try:
            made = service.invite(s, email, actor="cli", now=utcnow(), secret_key=key,
                                  role=role or "responder", name=name)
        except service.AccountError as exc:
            raise click.BadParameter(exc.message, param_hint=(exc.field or "email").upper()
                                     ) from None
        found = made.link.user
        what = "invitation" if made.link.purpose == "invite" else "password reset link"
        note = f" (role {role} not applied: {found.email} is a {found.role})" \
            if role and role != found.role else ""
        url, until = made.url(public_url()), made.link.expires_at
    click.echo(f"{what} for {found.email} ({found.role}){note}; works once, until "
               f"{until:%Y-%m-%d %H:%M} UTC:\n  {url}")


@user.command("remove")
@click.argument("email")
def user_remove(email: str) -> None:
    with session() as s:
        found = _editable_user(s, email, "remove it there")
        s.delete(found)
    click.echo(f"removed user {email}")


@cli.group()
def integration() -> None:
    """Webhook endpoints that monitoring tools post alerts to."""


def create_integration(s: Session, service_name: str, kind: str,
                       name: str | None) -> tuple[Integration, str]:
    service = s.scalar(select(Service).where(Service.name == service_name))
    if service is None:
        service = Service(name=service_name)
        s.add(service)
        s.flush()
    if name is None:
        taken = set(s.scalars(select(Integration.name)))
        name = next(n for n in (f"{service_name}-{kind}" + (f"-{i}" if i > 1 else "")
                                for i in range(1, 10_000)) if n not in taken)
    elif s.scalar(select(Integration).where(Integration.name == name)):
        raise click.ClickException(f"integration {name} already exists")
    token = new_secret(kind)
    found = Integration(service_id=service.id, kind=kind, name=name,
                        token_hash=hash_token(token), prefix=token_prefix(token))
    s.add(found)
    s.flush()
    return found, token


@integration.command("add")
@click.argument("service")
@click.option("--kind", type=click.Choice(INTEGRATION_KINDS), default="generic",
              show_default=True, help="The payload format the sender speaks.")
@click.option("--name", help="Default: SERVICE-KIND.")
def integration_add(service: str, kind: str, name: str | None) -> None:
    """Add an integration to SERVICE (created if new); prints its URL once."""
    with session() as s:
        found, token = create_integration(s, service, kind, name)
        label = found.name
    base = public_url()
    if kind == "pagerduty":
        click.echo(f"added integration {label} ({kind}) for service {service}\n"
                   f"send PagerDuty Events API v2 to {base}/v2/enqueue\n"
                   f"integration key (routing_key; shown once, keep it secret):\n  {token}")
        return
    if kind == "opsgenie":
        click.echo(f"added integration {label} ({kind}) for service {service}\n"
                   f"send Opsgenie Alert API v2 requests to {base}/v2/alerts (API URL "
                   f"{base}/)\nAPI key (Authorization: GenieKey <key>; shown once, keep it "
                   f"secret):\n  {token}")
        return
    click.echo(f"added integration {label} ({kind}) for service {service}\n"
               f"webhook URL (shown once, keep it secret):\n"
               f"  {base}/integrations/{token}")


@integration.command("list")
@json_option
def integration_list(as_json: bool) -> None:
    with session() as s:
        rows = [{"id": i.id, "name": i.name, "service": i.service.name, "kind": i.kind,
                 "token": i.prefix + "...", "created_at": i.created_at.isoformat()}
                for i in s.scalars(select(Integration).order_by(Integration.id))]
    table(rows, ["id", "name", "service", "kind", "token", "created_at"], as_json)


@integration.command("remove")
@click.argument("name")
def integration_remove(name: str) -> None:
    with session() as s:
        found = s.scalar(select(Integration).where(Integration.name == name))
        if found is None:
            raise click.ClickException(f"no integration {name}")
        s.delete(found)
    click.echo(f"removed integration {name}; its URL no longer accepts alerts")


@cli.group()
def token() -> None:
    """API tokens (Bearer) for the REST API, each acting as one user."""


def create_token(s: Session, email: str, label: str | None = None) -> str:
    owner = s.scalar(select(User).where(User.email == email))
    if owner is None:
        raise click.ClickException(f"no user {email}; add it first with `oncall user add`")
    value = new_token("oct")
    s.add(ApiToken(user_id=owner.id, token_hash=hash_token(value), prefix=token_prefix(value),
                   label=label))
    return value


@token.command("add")
@click.argument("email")
@click.option("--label", help="What the token is for.")
def token_add(email: str, label: str | None) -> None:
    """Create an API token for EMAIL; prints it once."""
    with session() as s:
        value = create_token(s, email, label)
    click.echo(f"API token for {email} (shown once, keep it secret):\n  {value}")


@token.command("list")
@json_option
def token_list(as_json: bool) -> None:
    with session() as s:
        rows = [{"id": t.id, "user": t.user.email, "role": t.user.role, "token": t.prefix + "...",
                 "label": t.label, "last_used_at": t.last_used_at}
                for t in s.scalars(select(ApiToken).order_by(ApiToken.id))]
    table(rows, ["id", "user", "role", "token", "label", "last_used_at"], as_json)


@token.command("remove")
@click.argument("token_id", type=int)
def token_remove(token_id: int) -> None:
    """Revoke the token with id TOKEN_ID (see `oncall token list`)."""
    with session() as s:
        found = s.get(ApiToken, token_id)
        if found is None:
            raise click.ClickException(f"no token with id {token_id}")
        s.delete(found)
    click.echo(f"revoked token {token_id}")
