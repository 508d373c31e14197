"""``oncall login``, ``logout`` and ``whoami``: the service's address and an API token,
saved in your config directory (readable by you only)."""

from __future__ import annotations

import re
import socket
from typing import Any

import click

from oncall.cli import cli
from oncall.cli.client import Failed, Remote, credentials_path, load, normalize_url, remote, save
from oncall.cli.common import echo_json, json_option


@cli.command()
@click.argument("url")
@click.option("--email", help="Your console email (asked if not given).")
@click.option("--token", "api_token", metavar="TOKEN",
              help="Save an existing API token instead of asking for a password.")
@click.option("--label", help="What the new token is for (default: oncall CLI on HOST).")
def login(url: str, email: str | None, api_token: str | None, label: str | None) -> None:
    """Log in to the oncall service at URL with your console email and password (or an
    existing API token), and save the address and an API token for the other commands in
    your config directory (readable by you only)."""
    url = normalize_url(url)
    if url.startswith("http://") and not re.match(r"http://(localhost|127\.|\[::1\])", url):
        click.echo(f"warning: {url} is plain http: your password and token cross the network "
                   "unencrypted; use https:// unless this is your own network", err=True)
    previous = load()
    if api_token:
        me = Remote(url, api_token.strip()).request(
            "GET", "/api/v1/auth/me",
            unauthorized=f"{url} does not accept this token (revoked, expired or mistyped): "
                         "check it, or log in with your password")
        saved = {"url": url, "token": api_token.strip(), "email": me["email"],
                 "token_id": me["token"]["id"], "from_password": False}
    else:
        if not email:
            email = click.prompt("Email")
        password = click.prompt("Password", hide_input=True)
        made = Remote(url).request(
            "POST", "/api/v1/auth/tokens", auth=False,
            body={"email": email, "password": password,
                  "label": label or f"oncall CLI on {socket.gethostname()}"[:200]},
            unauthorized=f"wrong email or password for {url} (forgot it? ask an admin for "
                         "a reset link)")
        me = {"email": made["user"], "role": made["role"]}
        saved = {"url": url, "token": made["token"], "email": made["user"],
                 "token_id": made["id"], "from_password": True}
    path = save(saved)
    if previous and previous.get("from_password") and previous.get("url") == url \
            and previous.get("token") != saved["token"]:
        _revoke_quietly(previous)  # the token the last `oncall login` here made, now unused
    click.echo(f"logged in to {url} as {me['email']} ({me['role']}); token saved in {path}")


def _revoke_quietly(saved: dict[str, Any]) -> str | None:
    """Revoke a saved token on its server; None when done (or already gone), else why not."""
    try:
        Remote(saved["url"], saved["token"]).request(
            "DELETE", "/api/v1/auth/tokens/current", unauthorized="gone")
    except Failed as exc:
        return None if exc.message == "gone" else exc.message
    return None


@cli.command()
def logout() -> None:
    """Revoke the saved API token on the service (when it can be reached) and delete the
    saved credentials."""
    saved = load()
    path = credentials_path()
    if saved is None:
        click.echo(f"not logged in (no {path})")
        return
    problem = _revoke_quietly(saved)
    path.unlink(missing_ok=True)
    if problem:
        click.echo(f"warning: the token was not revoked on {saved['url']} ({problem}); "
                   "revoke it in the console (My tokens) when you can", err=True)
        click.echo(f"logged out of {saved['url']}: credentials deleted")
    else:
        click.echo(f"logged out of {saved['url']}: token revoked, credentials deleted")


@cli.command()
@json_option
def whoami(as_json: bool) -> None:
    """Who the saved (or ONCALL_TOKEN) token acts as, on which service."""
    r = remote()
    me = r.request("GET", "/api/v1/auth/me")
    if as_json:
        echo_json({**me, "url": r.url})
        return
    click.echo(f"{me['email']} ({me['name']}, {me['role']}) on {r.url}")
