"""One SMTP connection to the relay, and what its answers mean for a message.

The contract: 2xx sent; 4xx, timeouts and a connection lost before the reply
to DATA are temporary (retried); 5xx permanent. A 5xx on RCPT that says the
address does not exist is a *hard* failure that suppresses the contact; a
policy refusal (5.7.x) fails this message only.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiosmtplib

from outreach.content.mime import wire_safe
from outreach.errors import DeliveryError
from outreach.settings.config import Smtp

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_DEAD = re.compile(
    r"user unknown|unknown user|no such user|does not exist|doesn't exist|mailbox unavailable|"
    r"mailbox not found|invalid recipient|recipient (address )?rejected: user|no mailbox|"
    r"account (is )?disabled|host not found|domain not found|no such domain",
    re.I,
)
HARD_STATUS = {"5.1.1", "5.1.0", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.2.1"}


Gate = Callable[[], Awaitable[bool]]


class _Withdrawn(Exception):
    """The caller withdrew the message between RCPT and DATA."""


@dataclass(frozen=True)
class Outcome:
    kind: str  # sent | temporary | permanent
    code: int | None
    text: str
    hard: bool = False  # the address itself is dead
    connection: bool = False  # the connection failed (not an answer about this message)
    untouched: bool = False  # no connection at all: the message certainly did not leave
    withdrawn: bool = False  # the caller's ``before_data`` said no: the transaction was reset before DATA

    @property
    def status(self) -> str | None:
        m = _ENHANCED.search(self.text)
        return ".".join(m.groups()) if m else None


def classify_response(code: int, text: str, stage: str) -> Outcome:
    if 200 <= code < 400:
        return Outcome("sent", code, text)
    if code < 500:
        return Outcome("temporary", code, text)
    m = _ENHANCED.search(text)
    status = ".".join(m.groups()) if m else None
    hard = stage == "rcpt" and (
        status in HARD_STATUS or (status is None and code in (550, 551, 553) and bool(_DEAD.search(text)))
    )
    if status and status.startswith("5.7"):
        hard = False
    return Outcome("permanent", code, text, hard=hard)


def tls_context(settings: Smtp) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=settings.ca_file)
    return ctx


class Relay:
    """A lazily (re)connected client; ``send`` never raises for one message's fate."""

    def __init__(self, settings: Smtp) -> None:
        self.settings = settings
        self.client: aiosmtplib.SMTP | None = None
        self.sent_on_connection = 0

    async def connect(self) -> None:
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.host, port=s.port, timeout=s.timeout, use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
            tls_context=tls_context(s) if s.security != "none" else None,
            local_hostname=s.local_hostname,
        )  # fmt: skip
        try:
            await client.connect()
            if s.username:
                await client.login(s.username, s.password() or "")
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"SMTP login to {s.host}:{s.port} as {s.username} refused ({exc.code} {exc.message}); "
                f"check the password in ${s.password_env}"
            ) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"cannot connect to SMTP relay {s.host}:{s.port}: {exc}") from None
        self.client = client
        self.sent_on_connection = 0

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()

    async def send(self, envelope_from: str, rcpt: str, data: bytes, recycle_after: int,
                   before_data: Gate | None = None) -> Outcome:  # fmt: skip
        """One message. ``before_data``, when given, is awaited once the relay accepted the recipient, right
        before DATA (the first command that can deliver anything): the engine's durable ``sending`` mark,
        committed meanwhile; False withdraws the message (RSET, nothing sent)."""
        if self.client is None or not self.client.is_connected:
            try:
                await self.connect()
            except DeliveryError as exc:
                return Outcome("temporary", None, str(exc), connection=True, untouched=True)
        assert self.client is not None
        try:
            response = await self._transaction(envelope_from, rcpt, data, before_data)
        except _Withdrawn:
            await self._reset()
            return Outcome("temporary", None, "withdrawn before DATA", withdrawn=True)
        except aiosmtplib.SMTPRecipientRefused as exc:
            await self._reset()
            return classify_response(exc.code, exc.message, "rcpt")
        except aiosmtplib.SMTPSenderRefused as exc:
            await self._reset()
            return classify_response(exc.code, exc.message, "mail")
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
            await self._drop()
            return Outcome("temporary", None, f"connection lost: {exc}", connection=True)
        except aiosmtplib.SMTPResponseException as exc:
            await self._reset()
            return classify_response(exc.code, exc.message, "data")
        except aiosmtplib.SMTPException as exc:
            await self._drop()
            return Outcome("temporary", None, f"SMTP error: {exc}", connection=True)
        self.sent_on_connection += 1
        if self.sent_on_connection >= recycle_after:
            await self.close()
        return Outcome("sent", response.code, response.message)

    async def _transaction(self, envelope_from: str, rcpt: str, data: bytes,
                           before_data: Gate | None = None) -> aiosmtplib.SMTPResponse:  # fmt: skip
        """MAIL, RCPT, DATA for one recipient.

        Our bytes are already CRLF-normalised, so we state SIZE ourselves instead of
        letting ``sendmail`` scan every message once more to compute it.
        """
        client = self.client
        assert client is not None
        # addresses were validated at import (plain ASCII, no spaces, CR or LF), so the
        # commands are written directly instead of re-parsing each address per message
        if client.is_ehlo_or_helo_needed:
            await client.ehlo()
        mail = [b"FROM:<" + envelope_from.encode("ascii") + b">"]
        if client.supports_extension("size"):
            mail.append(b"SIZE=%d" % len(data))
        response = await client.execute_command(b"MAIL", *mail)
        if response.code != 250:
            raise aiosmtplib.SMTPSenderRefused(response.code, response.message, envelope_from)
        response = await client.execute_command(b"RCPT", b"TO:<" + rcpt.encode("ascii") + b">")
        if response.code not in (250, 251):
            raise aiosmtplib.SMTPRecipientRefused(response.code, response.message, rcpt)
        if before_data is not None and not await before_data():
            raise _Withdrawn
        if not wire_safe(data):
            return await client.data(data)  # aiosmtplib normalises line ends and dot-stuffs
        # mime.build's bytes need neither, so they go out as they are: aiosmtplib's two
        # regex passes cost more than everything else it does for a message
        response = await client.execute_command(b"DATA")
        if response.code != 354:
            raise aiosmtplib.SMTPDataError(response.code, response.message)
        protocol = client.protocol
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        protocol.write(data + b".\r\n" if data.endswith(b"\r\n") else data + b"\r\n.\r\n")
        response = await protocol.read_response(timeout=client.timeout)
        if response.code != 250:
            raise aiosmtplib.SMTPDataError(response.code, response.message)
        return response

    async def _reset(self) -> None:
        """After a refusal the transaction must be reset before the next MAIL."""
        if self.client is None:
            return
        try:
            await self.client.rset()
        except (aiosmtplib.SMTPException, OSError):
            await self._drop()

    async def _drop(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            client.close()
