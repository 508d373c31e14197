"""Email fixtures: a real SMTP server (aiosmtpd, in a thread) that keeps what it is sent and
can be told to refuse, the app with the email channel on, and a pager on a virtual clock
that drives the real sweeper (``oncall.paging.sweeper.sweep``: claim, send, record the outcome)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from oncall.channels import registry
from oncall.config import Settings
from tests.conftest import Cast, make_cast, wait_for, web_app
from tests.servers import free_port
from tests.twilio.conftest import Pager

FROM = "oncall <oncall@example.com>"
PUBLIC = "http://oncall.test"
LINK = re.compile(re.escape(PUBLIC) + r"/email/([A-Za-z0-9_.\-]+)")


class Mailbox:
    """What the SMTP server was sent, and how it should answer: ``refuse`` maps a
    recipient to an SMTP reply for its ``RCPT TO`` (e.g. ``550 5.1.1 no such user``)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: dict[str, str] = {}
        self.data_reply: str | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply is not None:
            return self.data_reply
        msg = message_from_bytes(envelope.original_content or envelope.content,
                                 policy=policy.default)
        assert isinstance(msg, EmailMessage)
        msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(msg)
        return "250 2.0.0 accepted"

    def wait(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        wait_for(lambda: len(self.messages) >= count, timeout, what=f"{count} email(s)")
        return self.messages


@dataclasses.dataclass
class SmtpServer:
    mailbox: Mailbox
    port: int
    controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(Mailbox(), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def email_settings(settings: Settings, smtp: SmtpServer) -> Iterator[Settings]:
    configured = dataclasses.replace(settings, public_url=PUBLIC, smtp_url=smtp.url,
                                     smtp_from=FROM, smtp_timeout=5.0)
    yield configured
    registry.setup(settings)  # email off again for the tests that follow


@pytest.fixture
def email_app(email_settings: Settings) -> Iterator[Any]:
    yield from web_app(email_settings)


@pytest.fixture
def web(email_app: Any) -> Any:
    return email_app.test_client()


@pytest.fixture
def cast(factory: Any) -> Cast:
    return make_cast(factory, escalate_after=300)


@pytest.fixture
def pager(factory: Any, email_app: Any) -> Pager:
    return Pager(factory)


def parts(msg: EmailMessage) -> tuple[str, str]:
    """(plain text, HTML) of a page."""
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None, msg
    return str(text.get_content()), str(html.get_content())  # type: ignore[attr-defined]


def tokens(msg: EmailMessage) -> dict[str, str]:
    """{"ack": token, "resolve": token} from the plain-text part."""
    text, _ = parts(msg)
    ack = re.search(r"Acknowledge: " + LINK.pattern, text)
    resolve = re.search(r"Resolve: +" + LINK.pattern, text)
    assert ack and resolve, text
    return {"ack": ack.group(1), "resolve": resolve.group(1)}
