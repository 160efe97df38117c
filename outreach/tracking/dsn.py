"""RFC 3464 delivery status fields, wherever a mail system writes them.

Most systems put them in a message/delivery-status part; many (Amazon
WorkMail, Courier, GMX, PowerMTA, gateways that re-wrap a report) write the
same "Final-Recipient: / Action: / Status: / Diagnostic-Code:" lines into a
text part instead. One line-based reader handles both, like Sisimai's
RFC1894 field reader: a new per-recipient block starts at a recipient field
(or a blank line), folded lines continue the field above them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from outreach.tracking.message import clean_address

_FIELD = re.compile(
    r"^(original-recipient|final-recipient|x-actual-recipient|action|status|remote-mta"
    r"|diagnostic-code|last-attempt-date|will-retry-until|final-log-id|reporting-mta"
    r"|received-from-mta|arrival-date|x-postfix-queue-id|x-postfix-sender|original-envelope-id"
    r"|dsn-gateway|x-powermta-bouncecategory|x-supplementary-info|x-display-name)[ \t]*:[ \t]*(.*)$",
    re.I,
)
_RECIPIENT_FIELDS = ("original-recipient", "final-recipient", "x-actual-recipient")
_PER_MESSAGE = ("reporting-mta", "received-from-mta", "arrival-date", "x-postfix-queue-id",
                "x-postfix-sender", "original-envelope-id", "dsn-gateway")  # fmt: skip
_ENHANCED = re.compile(r"(?<![\w.])([45])\.(\d{1,3})\.(\d{1,3})(?![\w]|\.\d)")
_STATUS_FIELD = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
_TYPED = re.compile(r"^\s*([\w.-]+)\s*;\s*(.*)$", re.S)


@dataclass
class DsnRecipient:
    """One per-recipient block of delivery status fields."""

    final: str | None = None
    original: str | None = None
    actual: str | None = None
    action: str = ""
    status: str | None = None
    status_text: str = ""  # a Status: field that is prose ("553 Exceeded maximum ...")
    diagnostic: str = ""
    diagnostic_type: str = ""
    remote_mta: str | None = None
    category: str = ""  # PowerMTA's bounce category
    expired: bool = False  # "Action: expired" (SendGrid): a give-up notice, reported as failed
    fields: set[str] = field(default_factory=set)

    @property
    def address(self) -> str | None:
        """The address we sent to: Original-Recipient when it is one, else Final-Recipient."""
        return self.original or self.final or self.actual

    @property
    def all_addresses(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a for a in (self.original, self.final, self.actual) if a))


def find_status(text: str) -> str | None:
    """First enhanced status code ("5.1.1") in text, ignoring IP addresses and version numbers."""
    match = _ENHANCED.search(text)
    return ".".join(match.groups()) if match else None


def _typed_address(value: str) -> str | None:
    """"rfc822; <a@b>" → "a@b"; an x400 or local name is no address."""
    match = _TYPED.match(value)
    kind, rest = (match.group(1).lower(), match.group(2)) if match else ("rfc822", value)
    if kind not in ("rfc822", "smtp", "utf-8", "x-local", "local"):
        return None
    rest = rest.strip()
    if rest.lower().startswith("rfc822;"):  # "rfc822; rfc822;a@b" (seen in the wild)
        rest = rest[7:]
    return clean_address(rest)


def normal_action(value: str) -> str:
    """RFC 3464 action names from what systems write ("failure", "Failed (bad mailbox)")."""
    word = (value.strip().split() or [""])[0].lower().rstrip(".;,")
    if word.startswith(("fail", "error", "bounce", "expired", "undeliver", "permanent")):
        return "failed"
    if word.startswith(("delay", "deferr", "transient", "retry")):
        return "delayed"
    if word.startswith(("deliver", "relay", "expand", "success")):
        return "delivered"
    return ""


def _apply(block: DsnRecipient, name: str, value: str) -> None:
    value = value.strip()
    if name == "final-recipient":
        block.final = _typed_address(value)
    elif name == "original-recipient":
        block.original = _typed_address(value)
    elif name == "x-actual-recipient":
        block.actual = _typed_address(value)
    elif name == "action":
        block.action = normal_action(value)
        block.expired = value.strip().lower().startswith("expired")
    elif name == "status":
        match = _STATUS_FIELD.match(value)
        block.status = ".".join(match.groups()) if match else find_status(value)
        block.status_text = "" if block.status else value
        if block.status and block.status.startswith("2") and not block.action:
            block.action = "delivered"
    elif name == "diagnostic-code":
        match = _TYPED.match(value)
        block.diagnostic_type = match.group(1).upper() if match else ""
        block.diagnostic = (match.group(2) if match else value).strip()
    elif name == "remote-mta":
        match = _TYPED.match(value)
        block.remote_mta = (match.group(2) if match else value).strip().lower() or None
    elif name == "x-powermta-bouncecategory":
        block.category = value.lower()


def read_fields(text: str) -> tuple[list[DsnRecipient], dict[str, str]]:
    """Per-recipient blocks and per-message fields of the delivery status lines in ``text``."""
    blocks: list[DsnRecipient] = []
    per_message: dict[str, str] = {}
    current = DsnRecipient()
    last: str | None = None
    folded: dict[str, str] = {}

    def close() -> None:
        nonlocal current, folded
        for name, value in folded.items():
            _apply(current, name, value)
        if current.fields & {*_RECIPIENT_FIELDS, "action", "status", "diagnostic-code"}:
            blocks.append(current)
        current, folded = DsnRecipient(), {}

    for line in text.split("\n"):
        if not line.strip():
            if current.fields - set(_PER_MESSAGE):
                close()
            last = None
            continue
        if line[0] in " \t" and last is not None:
            folded[last] = f"{folded[last]} {line.strip()}"
            continue
        match = _FIELD.match(line)
        if match is None:
            last = None
            continue
        name, value = match.group(1).lower(), match.group(2)
        if name in _PER_MESSAGE:
            per_message.setdefault(name, value.strip())
            last = None
            continue
        if name in current.fields and name in (*_RECIPIENT_FIELDS, "action", "status"):
            close()  # the same field again: the next recipient, no blank line between
        elif name == "original-recipient" and current.final:
            close()
        current.fields.add(name)
        folded[name] = value
        last = name
    close()
    return [b for b in blocks if b.address or b.action or b.status], per_message


def has_fields(text: str) -> bool:
    """Whether ``text`` holds at least a recipient and an action or status line."""
    found = {m.group(1).lower() for m in _FIELD_LINES.finditer(text)}
    return bool(found & set(_RECIPIENT_FIELDS)) and bool(found & {"action", "status"})


_FIELD_LINES = re.compile(_FIELD.pattern, re.I | re.M)
