"""Email pages: an SMTP message (plain text and HTML) about the incident, with signed
one-click Acknowledge and Resolve links that work without signing in.

Enabled by ``ONCALL_SMTP_URL`` and ``ONCALL_SMTP_FROM`` (see ``oncall.config.smtp_settings``
and docs/email.md). The standard library does the work: ``smtplib`` talks SMTP,
``email.message.EmailMessage`` builds the MIME message.
"""

from __future__ import annotations

from oncall.channels import ChannelInfo, Defaults
from oncall.config import Settings

# Addressed to the user's email; urgent pages only in the built-in rules.
INFO = ChannelInfo("email", address=lambda recipient: recipient.email, defaults=Defaults())


def setup(settings: Settings) -> None:
    """Register the channel when SMTP is configured (and unregister it when not, so that a
    process set up twice ends as its last settings say)."""
    from oncall import db
    from oncall.channels import registry
    from oncall.channels.email.channel import EmailChannel, Smtp

    if not settings.smtp_url or not settings.smtp_from:
        registry.unregister("email")
        return
    smtp = Smtp(settings.smtp_url, settings.smtp_timeout)
    registry.register(EmailChannel(settings, smtp,
                                   lambda: db.session_factory(settings.database_url)))


def status(settings: Settings) -> str:
    """One line for ``/ready`` and the logs (never the password)."""
    if not settings.smtp_url:
        return "disabled (no ONCALL_SMTP_URL)"
    from oncall.channels.email.channel import Smtp

    return f"enabled ({Smtp(settings.smtp_url, settings.smtp_timeout).describe()})"
