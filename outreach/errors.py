"""The one exception tree of outreach.

Every error a user can cause or fix is an ``OutreachError``; its message says
what is wrong, where (file, line, row or contact) and, where useful, what to do
next. The CLI turns it into a single ``Error:`` line and exit code 1.
"""

from __future__ import annotations


class OutreachError(Exception):
    """Root of every user-facing error."""


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


class SigningError(OutreachError):
    """Messages could not be DKIM-signed: a signing worker process died or failed."""
