"""The one exception tree of outreach.

Every error a user can cause or fix is an ``OutreachError``; its message says
what is wrong, where (file, line, row or contact) and, where useful, what to do
next. The CLI turns it into a single ``Error:`` line and exit code 1.

The place is kept as fields as well as text (``path``, ``line``, ``row``,
``contact``), so tools that collect errors (``content lint``, the web app)
point at the place without parsing it back out of the message: ``detail`` is
the message without its place.
"""

from __future__ import annotations

from os import PathLike, fspath
from pathlib import Path
from typing import Any


class OutreachError(Exception):
    """Root of every user-facing error.

    ``OutreachError("no 'email' column", path=p, line=1)`` reads
    ``"p, line 1: no 'email' column"``.
    """

    def __init__(self, detail: str, *, path: str | PathLike[str] | None = None, line: int | None = None,
                 row: int | None = None, contact: str | None = None) -> None:  # fmt: skip
        self.detail = detail
        self.path = path
        self.line = line
        self.row = row
        self.contact = contact
        super().__init__(self.message)

    @property
    def where(self) -> str:
        """``PATH, line N`` / ``PATH, row N`` / ``contact EMAIL``, or '' when the error has no place."""
        return self._where(None if self.path is None else str(self.path))

    def _where(self, path: str | None) -> str:
        parts = [path] if path is not None else []
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        where = ", ".join(parts)
        if self.contact is not None:
            where = f"{where} (contact {self.contact})" if where else f"contact {self.contact}"
        return where

    @property
    def message(self) -> str:
        return f"{self.where}: {self.detail}" if self.where else self.detail

    def message_in(self, root: str | PathLike[str]) -> str:
        """The message as seen from the workspace ``root``: its files named relative to it
        (``campaigns/x.md, line 3: …``), so a page or a listing never shows the server's folders."""
        base = Path(root).resolve()

        def rel(path: str) -> str:
            try:
                return Path(path).resolve().relative_to(base).as_posix()
            except ValueError:
                return path

        where = self._where(None if self.path is None else rel(fspath(self.path)))
        detail = self.detail.replace(f"{fspath(root)}/", "").replace(f"{base}/", "")
        return f"{where}: {detail}" if where else detail

    def __str__(self) -> str:
        return self.message


class ConfigError(OutreachError):
    """A workspace file (outreach.yaml, a segment, a campaign) is wrong."""


class InputError(OutreachError):
    """Data handed to outreach (a CSV, an import file, an argument) is wrong."""


class TemplateError(OutreachError):
    """Campaign content cannot be rendered for some contact."""


class NotFoundError(OutreachError):
    """A named thing (segment, campaign, contact, sender) does not exist."""


class StateError(OutreachError):
    """The operation does not fit the current state (e.g. sending a cancelled campaign)."""


class DeliveryError(OutreachError):
    """The SMTP relay could not be reached or refused us as a whole."""


class MailboxError(OutreachError):
    """The IMAP mailbox could not be reached, trusted or logged into."""


class PreflightError(OutreachError):
    """A deliverability check failed before a send: ``failed`` names them, ``checkup`` has every finding."""

    def __init__(self, detail: str, *, failed: tuple[str, ...] = (), checkup: Any = None) -> None:
        super().__init__(detail)
        self.failed = failed
        self.checkup = checkup


class SigningError(OutreachError):
    """Messages could not be DKIM-signed: a signing worker process died or failed."""


class ConflictError(StateError):
    """Someone else changed the same thing since it was read (two callers saving one follow-up)."""


class AuthError(OutreachError):
    """A login or an account operation was refused (wrong password, unknown user, too many tries)."""


class FieldError(InputError):
    """A value a contact field cannot take (a correction typed in, an API call): ``field`` names the field."""

    def __init__(self, detail: str, *, field: str, contact: str | None = None, path: str | PathLike[str] | None = None,
                 row: int | None = None) -> None:  # fmt: skip
        super().__init__(detail, contact=contact, path=path, row=row)
        self.field = field


class BackupError(OutreachError):
    """A backup could not be made or restored: the archive (corrupt, truncated, foreign), the target (a folder
    or database that is not empty) or the database's own tools (pg_dump, pg_restore)."""


class HookError(OutreachError):
    """An email service's post to an event hook (``/hooks/SERVICE``) was refused; nothing was recorded.

    ``status`` is the HTTP answer: 400 not the service's format, 401 no credentials or signature,
    403 a signature or credential that does not verify (or a replay), 404 a service not configured,
    503 it cannot be checked or recorded now (the service sends it again later).
    """

    def __init__(self, detail: str, *, status: int) -> None:
        super().__init__(detail)
        self.status = status


class DatabaseUnavailable(OutreachError):
    """The database did not answer for longer than ``database.outage_timeout`` (storage/outage.py).

    ``seconds``: how long it had been out; ``error``: the database's own first word on it.
    """

    def __init__(self, detail: str, *, seconds: float = 0.0, error: str = "") -> None:
        super().__init__(detail)
        self.seconds = seconds
        self.error = error
