"""The Relay's DATA path against a real aiosmtpd: what goes in is what the server stores."""

from __future__ import annotations

import asyncio

import pytest
from helpers import SmtpServer

from outreach.content.mime import wire_safe
from outreach.sending.smtp import Relay
from outreach.settings.config import Smtp

SAFE = b"Subject: x\r\n\r\nline one\r\n=2E not a dot\r\nlast line without CRLF"
UNSAFE = [
    b"Subject: x\r\n\r\n.leading dot\r\n..two\r\n.\r\nafter a lone dot\r\n",  # needs dot-stuffing
    b"Subject: x\n\nbare LF\nlines\n",  # needs CRLF
]


def send_all(server: SmtpServer, messages: list[bytes]) -> list[str]:
    async def run() -> list[str]:
        relay = Relay(Smtp(port=server.port))
        try:
            return [(await relay.send("a@example.com", "b@example.com", m, 100)).kind for m in messages]
        finally:
            await relay.close()

    return asyncio.run(run())


def test_wire_safe_bytes_arrive_exactly(smtp_server: SmtpServer) -> None:
    assert wire_safe(SAFE)
    assert send_all(smtp_server, [SAFE, SAFE + b"\r\n"]) == ["sent", "sent"]
    assert [r.data for r in smtp_server.received] == [SAFE + b"\r\n", SAFE + b"\r\n"]


@pytest.mark.parametrize("data", UNSAFE)
def test_other_bytes_are_normalised_and_dot_stuffed_by_aiosmtplib(smtp_server: SmtpServer, data: bytes) -> None:
    assert not wire_safe(data)
    assert send_all(smtp_server, [data, SAFE]) == ["sent", "sent"]  # the session stays in step
    assert smtp_server.received[0].data == data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert smtp_server.received[1].data == SAFE + b"\r\n"
