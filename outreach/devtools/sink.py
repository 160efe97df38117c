"""A local SMTP server that keeps what it receives in a Maildir: for trying things out.

It is also what ``outreach demo`` and the tests send to, so the whole flow
runs on one machine with no real mail leaving it.
"""

from __future__ import annotations

import email.policy
import errno
import mailbox
from collections.abc import Callable
from datetime import datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

from outreach.errors import InputError


class MaildirHandler:
    def __init__(self, maildir: Path, on_message: Callable[[str], None] | None = None) -> None:
        self.box = mailbox.Maildir(maildir, create=True)
        self.received = 0
        self.on_message = on_message  # told one line per stored message (`outreach sink` prints it)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        head = (
            f"Return-Path: <{envelope.mail_from}>\r\n"
            f"Delivered-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode("ascii", "replace")
        key = self.box.add(head + data)
        self.received += 1
        if self.on_message is not None:
            self.on_message(describe(envelope.mail_from or "", envelope.rcpt_tos, data, key))
        return "250 OK stored"


def describe(mail_from: str, rcpt_tos: list[str], data: bytes, key: str) -> str:
    """``#3 14:02:11 awang@x -> budi@y: Subject (4.2 KB, new/KEY)``: what arrived, on one line."""
    headers = BytesHeaderParser(policy=email.policy.default).parsebytes(data)
    subject = " ".join(str(headers.get("Subject", "(no subject)")).split())
    size = f"{len(data) / 1024:.1f} KB"
    return f"{datetime.now():%H:%M:%S} {mail_from} -> {', '.join(rcpt_tos)}: {subject} ({size}, {key})"


class Sink:
    """Context manager running the sink in a background thread."""

    def __init__(self, maildir: Path, host: str = "127.0.0.1", port: int = 1025,
                 on_message: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.handler = MaildirHandler(maildir, on_message)
        self.controller = Controller(self.handler, hostname=host, port=port, ready_timeout=10,
                                     decode_data=False)  # fmt: skip

    @property
    def port(self) -> int:
        return self.controller.port

    def __enter__(self) -> Sink:
        try:
            self.controller.start()
        except OSError as exc:  # the port is taken, or not ours to bind: say so, as `serve` does
            why = "something else listens there" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
            raise InputError(f"cannot listen on {self.controller.hostname}:{self.controller.port}: {why}; "
                             "choose another --port") from None
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
