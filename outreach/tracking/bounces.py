"""Bounce detection: RFC 3464 DSNs first, flufl.bounce for the zoo of other formats.

Why this matters: a bounce marked ``hard`` gets its address suppressed for
good, so ``hard`` is only set when the address itself is dead (user unknown,
no such domain). Refusals about *us* (spam, reputation, policy, content) and
temporary trouble (mailbox full, greylisting, 4.x.x) are soft: suppressing on
those would silently shrink a list because of one bad sending day.

flufl.bounce is only consulted when the message carries some sign of being a
bounce (sender, subject, report type, null return path). Its heuristics match
phrases that also occur in human mail, and gating keeps big ordinary messages
out of its line-by-line scans.
"""

from __future__ import annotations

import email
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from email.utils import parseaddr

from flufl.bounce import all_failures

try:  # the detector list is private; without it we fall back to all_failures
    from flufl.bounce._scan import _DETECTORS
except ImportError:  # pragma: no cover - a future flufl.bounce
    _DETECTORS = None  # type: ignore[assignment]  # flufl.bounce moved its private list; tested in test_dependencies

from outreach.tracking.message import body_text, clean_address, iter_parts, parse_headers, part_text, subparts

log = logging.getLogger(__name__)

_FLUFL_MAX_BYTES = 512 * 1024
_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
_ENHANCED = re.compile(r"(?<![\w.])([45])\.(\d{1,3})\.(\d{1,3})(?![\w]|\.\d)")
_SMTP_CODE = re.compile(r"(?<![\w.(+-])([45])\d\d[ -](?=[A-Za-z<#(\[]|[45]\.\d)")


# --------------------------------------------------------------------------- DSN


@dataclass(frozen=True)
class RecipientStatus:
    """One per-recipient block of a message/delivery-status part."""

    address: str | None
    action: str
    status: str | None
    diagnostic: str


def _status_blocks(part: Message) -> list[Message]:
    if part.is_multipart():
        return subparts(part)
    blocks = re.split(r"\n[ \t]*\n", part_text(part).replace("\r\n", "\n"))
    parsed = [parse_headers(b) for b in blocks if b.strip()]
    return [p for p in parsed if p is not None]


def _dsn_address(block: Message) -> str | None:
    for field in ("Original-Recipient", "Final-Recipient", "X-Actual-Recipient"):
        value = str(block.get(field, "") or "")
        value = value.split(";", 1)[1] if ";" in value else value
        addr = clean_address(value)
        if addr:
            return addr
    return None


def _attached(msg: Message) -> list[Message]:
    """Messages attached directly to ``msg`` (gateways wrap a DSN this way)."""
    found = []
    for part in iter_parts(msg)[1:]:
        if part.get_content_type() == "message/rfc822":
            found.extend(subparts(part)[:1])
    return found


def parse_dsn(msg: Message, look_inside: bool = False) -> list[RecipientStatus]:
    """Per-recipient fields of every message/delivery-status part (RFC 3464).

    With ``look_inside``, a DSN attached one level down counts too; only for
    mail that is a bounce by its own headers, since a returned original may
    itself be an old bounce.
    """
    parts = [p for p in iter_parts(msg) if p.get_content_type() in _DSN_TYPES]
    if not parts and look_inside:
        for inner in _attached(msg):
            parts += [p for p in iter_parts(inner) if p.get_content_type() in _DSN_TYPES]
    found: list[RecipientStatus] = []
    for part in parts:
        for block in _status_blocks(part):
            if not any(block.get(f) for f in ("Final-Recipient", "Original-Recipient", "Action")):
                continue
            action = str(block.get("Action", "")).strip().lower()
            diagnostic = re.sub(r"\s+", " ", str(block.get("Diagnostic-Code", "") or ""))
            diagnostic = re.sub(r"^\s*[\w-]+\s*;\s*", "", diagnostic)
            status = find_status(str(block.get("Status", "") or ""))
            if not action and status:  # some MTAs leave Action out
                action = {"5": "failed", "4": "delayed"}.get(status[0], "")
            found.append(RecipientStatus(_dsn_address(block), action, status, diagnostic))
    return found


def find_status(text: str) -> str | None:
    """First enhanced status code ("5.1.1") in text, ignoring IP addresses."""
    match = _ENHANCED.search(text)
    return ".".join(match.groups()) if match else None


def refine_status(status: str | None, diagnostic: str) -> str | None:
    """Prefer the diagnostic's code when the Status field is only generic (x.0.0)."""
    from_diag = find_status(diagnostic)
    if status is None:
        return from_diag
    if from_diag and status.endswith(".0.0") and from_diag[0] == status[0]:
        return from_diag
    return status


# --------------------------------------------------------------------------- evidence

_BOUNCE_SENDER = re.compile(
    r"^(?:mailer-daemon|postmaster|mdaemon|mail\.delivery\.system|mail-daemon|maildaemon"
    r"|ndr|bounce|bounces|nobody)(?:@|$)",
    re.I,
)
_BOUNCE_NAME = re.compile(
    r"mail delivery (?:subsystem|system|service)|delivery subsystem|mailer.daemon"
    r"|mail administrator|postmaster",
    re.I,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery status notification|delivery (?:has )?fail|delivery report"
    r"|delivery notification|delivery problem|delivery warning|delivery error|non-?delivery"
    r"|returned mail|returning message|mail delivery fail|failure notice|failure delivery"
    r"|failed mail|could not be delivered|not delivered|mail system error|delayed mail"
    r"|message delayed|automatically rejected|nameserver error|permanent delivery"
    r"|delivery (?:has been )?delayed|\(delivery failed\)|\[postmaster\]|unzustellbar"
    r"|non remis|pesan tidak terkirim|gagal terkirim",
    re.I,
)
_FAILURE_TEXT = re.compile(
    r"(?:could ?n[o']t|cannot|can't) be delivered|undeliverable|undelivered"
    r"|delivery (?:has )?failed|delivery failure|permanent(?:ly)? (?:error|fail)"
    r"|failed permanently|user unknown"
    r"|does(?: not|n't) exist|no such (?:user|domain|address)|returned to sender"
    r"|unable to deliver|message (?:was )?not delivered|following address(?:es|\(es\))? failed"
    r"|wasn't delivered|recipient rejected|address rejected|mailbox unavailable"
    r"|(?<![\w.])5\d\d[ -]",
    re.I,
)
_DELAY_TEXT = re.compile(
    r"not yet been delivered|still being retried|will (?:continue to )?(?:retry|attempt)"
    r"|will be retried|delivery attempts will continue|this is (?:just )?a warning"
    r"|delivery (?:has been |is )?delayed|\bdelay(?:ed)?\b|has been postponed",
    re.I,
)
_COPY_MARKERS = re.compile(
    r"^.{0,10}(?:this is a copy of the message|below this line is a copy of the message"
    r"|original message follows|the header of the original message|original message headers"
    r"|-{3,} ?original message ?-{3,}|unsent message below|message header follows"
    r"|the first \d+ lines of your original message|-+ ?header of the source mail"
    r"|-* ?start of returned message|-+ ?returned mail ?-+|original message attached"
    r"|(?:received|return-path|dkim-signature):)",
    re.I | re.M,
)
_QUOTED_FIELD = re.compile(
    r"^[ \t]*(?:subject|to|cc|from|date|sent|message-id|reply-to|in-reply-to|references)[ \t]*:"
    r".*(?:\n[ \t]+\S.*)*$",
    re.I | re.M,
)


def looks_like_bounce(msg: Message, from_header: str, subject: str) -> bool:
    """Sender, subject or report type say "delivery system talking"."""
    name, addr = parseaddr(re.sub(r"[\r\n]+", " ", from_header))
    if _BOUNCE_SENDER.match(addr or "") or _BOUNCE_NAME.search(name or ""):
        return True
    if re.search(r"<\s*>", from_header):  # a null sender address: a machine talking
        return True
    if _BOUNCE_SUBJECT.search(subject) or msg.get("X-Failed-Recipients"):
        return True
    report = str(msg.get_param("report-type", "", header="content-type") or "").lower()
    return msg.get_content_type() == "multipart/report" and report == "delivery-status"


def null_return_path(msg: Message) -> bool:
    """RFC 3464/3834: machine-generated mail is sent with an empty envelope sender."""
    value = msg.get("Return-Path")
    return value is not None and str(value).strip() == "<>"


def diagnostic_text(msg: Message) -> str:
    """The human-readable explanation of a bounce, without the returned original."""
    text = body_text(msg)
    marker = _COPY_MARKERS.search(text)
    text = text[: marker.start()] if marker else text
    # Fields of the original quoted in the explanation ("Subject: Our policy offer")
    # say nothing about why delivery failed and must not steer the reason.
    return _QUOTED_FIELD.sub("", text)


def _run_detectors(msg: Message) -> tuple[frozenset[bytes], frozenset[bytes]]:
    """flufl.bounce's detectors in its order, first one that finds anything wins.

    Same semantics as ``all_failures``, except that one detector raising (Sina
    on a non-ASCII From, Yale on an unparsable one) skips that detector instead
    of aborting the scan and logging a traceback.
    """
    if _DETECTORS is None:
        try:
            return all_failures(msg)
        except Exception:  # noqa: BLE001
            return frozenset(), frozenset()
    for detector in _DETECTORS:
        try:
            temporary, permanent = detector().process(msg)
        except Exception:  # noqa: BLE001 - heuristics tripping over odd mail
            log.debug("flufl.bounce detector %s failed", detector, exc_info=True)
            continue
        if temporary or permanent:
            return frozenset(temporary), frozenset(permanent)
    return frozenset(), frozenset()


def flufl_failures(msg: Message, raw: bytes) -> tuple[set[str], set[str]]:
    """(temporary, permanent) addresses flufl.bounce finds; empty on any trouble."""
    if len(raw) > _FLUFL_MAX_BYTES:
        try:
            msg = email.message_from_bytes(raw[:_FLUFL_MAX_BYTES])
        except Exception:  # noqa: BLE001
            return set(), set()
    temporary, permanent = _run_detectors(msg)

    def decode(found: frozenset[bytes]) -> set[str]:
        return {a for a in (clean_address(x.decode("ascii", "replace")) for x in found) if a}

    return decode(temporary), decode(permanent)


def failure_text(text: str) -> bool:
    return bool(_FAILURE_TEXT.search(text))


def delay_text(text: str) -> bool:
    return bool(_DELAY_TEXT.search(text))


def smtp_class(text: str) -> str | None:
    """Class digit of the first basic SMTP reply code ("550 ...") in text."""
    match = _SMTP_CODE.search(text)
    return match.group(1) if match else None


# --------------------------------------------------------------------------- reasons

_SENDER_SIDE = re.compile(
    r"sender address rejected|sender verify|sender domain|\bspf\b|dmarc|\bdkim\b"
    r"|authentication (?:required|failed)|unauthenticated|relay(?:ing)? (?:access )?denied"
    r"|unable to relay"
    r"|not permitted to relay",
    re.I,
)
_SPAM = re.compile(r"\bspam(?!haus|cop)|unsolicited|junk mail|bulk mail", re.I)
_BLOCKED = re.compile(
    r"blocked|black ?list|block ?list|deny ?list|reputation|\bpolic(?:y|ies)\b|spamhaus|\brbl\b"
    r"|dnsbl|barracuda|spamcop|sorbs|banned|rate limit|not accepting mail from",
    re.I,
)
_CONTENT = re.compile(
    r"content rejected|message content|content filter|\bvirus\b|malware|infected"
    r"|(?:prohibited|banned|blocked|forbidden) (?:file|attachment)|rejected due to content"
    r"|message (?:is )?too (?:big|large)|message size|maximum (?:\w+ )?message size",
    re.I,
)
_FULL = re.compile(
    r"mailbox (?:is )?full|full mailbox|quota|insufficient (?:system )?storage"
    r"|storage (?:limit|space|quota)|mailbox size|exceeded (?:the )?(?:storage|size)"
    r"|out of (?:disk )?space|mailbox has exceeded|too much mail|mail ?box space"
    r"|(?:mail ?folder|mail ?box|inbox) (?:is )?full|kotak surat penuh",
    re.I,
)
_EXPIRED = re.compile(
    r"expired|retry timeout exceeded|delivery time|could not be delivered for \d+"
    r"|too long (?:in|on) (?:the )?queue|(?:in|on) the queue too long|gave up|giving up"
    r"|maximum delivery attempts|after \d+ attempt|failed \d+ attempts|allowed queue period"
    r"|not delivered within \d+ (?:days|hours)",
    re.I,
)
_HOST = re.compile(
    r"host (?:or domain name )?not found|domain not found|no such domain|unknown domain"
    r"|domain (?:does not|doesn't) exist|nxdomain|unrout(?:e)?able|no mx|null mx"
    r"|does(?: not|n't) accept (?:e-?)?mail|accepts no mail|name ?server error"
    r"|name service error|dns error|no valid (?:mx|host)|unknown host|bad destination system",
    re.I,
)
_USER = re.compile(
    r"user unknown|unknown user|no such (?:user|recipient|address|mailbox|account)"
    r"|(?:does not|doesn't|did not) exist|mailbox unavailable|recipient rejected"
    r"|invalid (?:recipient|mailbox|address|user)|address rejected|account (?:has been )?disabled"
    r"|disabled account|mailbox (?:not found|disabled|is disabled|is inactive)"
    r"|unknown (?:recipient|address|mailbox|alias)|recipient (?:unknown|not found)"
    r"|user not found|not a valid (?:user|mailbox|address|recipient)|is not a valid"
    r"|no mailbox|no longer (?:active|valid|exists|in use)|(?:user|mailbox|address) (?:has )?moved"
    r"|(?:does not|doesn't) have an? .{0,30}account|not listed in|could ?n[o']t be found"
    r"|bad destination mailbox|address (?:is )?unknown|not our customer|unbekannt|tidak dikenal"
    r"|(?:recipient|user) name is not recognized|not recognized as a valid|user not known"
    r"|invalid .{0,20}userid|no matches to nameserver query|n'existe pas|existiert nicht"
    r"|no existe|tidak ada|tidak ditemukan",
    re.I,
)
_POLICY_WORDS = (_SENDER_SIDE, _SPAM, _BLOCKED, _CONTENT)

_STATUS_REASONS = {
    "1.0": "user_unknown",
    "1.1": "user_unknown",
    "1.3": "user_unknown",
    "1.6": "user_unknown",
    "2.1": "user_unknown",
    "1.2": "host_unknown",
    "1.10": "user_unknown",  # Microsoft: RecipientNotFound; RFC 7505 null MX is caught below
    "4.4": "host_unknown",
    "2.2": "mailbox_full",
    "3.1": "mailbox_full",
    "4.7": "expired",
}
DEAD = frozenset(("user_unknown", "host_unknown"))


def _policy_reason(text: str) -> str | None:
    if _SENDER_SIDE.search(text):
        return "blocked"
    if _SPAM.search(text):
        return "spam"
    if _CONTENT.search(text):
        return "filtered"
    if _BLOCKED.search(text):
        return "blocked"
    return None


def _text_reason(text: str) -> str | None:
    policy = _policy_reason(text)
    if policy:
        return policy
    for reason, pattern in (
        ("mailbox_full", _FULL),
        ("expired", _EXPIRED),
        ("host_unknown", _HOST),
        ("user_unknown", _USER),
    ):
        if pattern.search(text):
            return reason
    return None


def _status_reason(status: str, text: str) -> str | None:
    _cls, subject, detail = status.split(".")
    code = f"{subject}.{detail}"
    if subject == "7":
        return _policy_reason(text) or "filtered"
    if code == "4.1" and re.search(r"recipient address rejected|access denied", text, re.I):
        return "user_unknown"  # Microsoft 365: "5.4.1 Recipient address rejected: Access denied"
    if code == "1.10" and _HOST.search(text):
        return "host_unknown"  # RFC 7505: the domain publishes a null MX
    if code == "2.1" and re.search(r"\brate\b|too many", text, re.I):
        return "other"  # Gmail: receiving mail at a rate that prevents delivery
    reason = _STATUS_REASONS.get(code)
    if reason in DEAD and _policy_reason(text):
        return _policy_reason(text)
    return reason


def _unknown_is_hard(status: str | None, text: str, permanent: bool) -> bool:
    """A 5.x.x nobody explains is hard only when flufl.bounce / the DSN call it permanent
    and nothing hints at policy or content. Subjects 3 (mail system: size, loops),
    5 (protocol) and 6 (content conversion) are about the message, never the address.
    """
    if not status or not status.startswith("5") or not permanent:
        return False
    if status.split(".")[1] in ("3", "5", "6"):
        return False
    return not any(p.search(text) for p in _POLICY_WORDS)


@dataclass(frozen=True)
class Failure:
    """Why delivery failed, as far as status code and diagnostic text tell."""

    reason: str
    hard: bool
    status: str | None


def explain(status: str | None, text: str, permanent: bool) -> Failure:
    """Map a status code and diagnostic text to (reason, hard).

    ``permanent`` says an authority other than the text (DSN ``Action: failed``,
    flufl.bounce's permanent set) considers the failure final.
    """
    text = text[:20_000]
    status = status or find_status(text)
    temporary = (status or "").startswith("4") or (not status and smtp_class(text) == "4")
    if status and not temporary:
        reason = _status_reason(status, text) or _text_reason(text)
    else:  # temporary codes are vaguer than the words next to them
        reason = _text_reason(text) or (_status_reason(status, text) if status else None)
    if reason is None or reason == "other":
        return Failure("other", _unknown_is_hard(status, text, permanent), status)
    hard = reason in DEAD and not temporary
    if reason in DEAD and not status and not permanent and smtp_class(text) != "5":
        hard = False
    return Failure(reason, hard, status)


# --------------------------------------------------------------------------- decision


@dataclass(frozen=True)
class BounceVerdict:
    """A bounce (``delayed`` False) or a delay warning that is not one."""

    delayed: bool
    reason: str | None
    hard: bool
    status: str | None
    recipients: tuple[str, ...]


def _merge(failures: list[Failure], recipients: list[str]) -> BounceVerdict:
    """One verdict for several recipients: hard only if every one of them is dead."""
    first = failures[0] if failures else Failure("other", False, None)
    hard = bool(failures) and all(f.hard for f in failures)
    return BounceVerdict(False, first.reason, hard, first.status, tuple(recipients))


def _from_dsn(
    blocks: list[RecipientStatus], text: str, permanent: set[str], temporary: set[str]
) -> BounceVerdict:
    failed = [b for b in blocks if b.action.startswith(("fail", "error"))]
    if not failed:
        delayed = [b for b in blocks if b.action.startswith("delay")]
        status = next((b.status for b in delayed if b.status), None)
        addresses = _unique([b.address for b in delayed] or list(sorted(temporary)))
        return BounceVerdict(True, "delayed" if delayed else None, False, status, addresses)
    failures = []
    for block in failed:
        status = refine_status(block.status, block.diagnostic)
        failure = explain(status, block.diagnostic, permanent=True)
        if failure.reason == "other" and text:  # the diagnostic said too little
            status = refine_status(status, text)
            failure = explain(status, f"{block.diagnostic}\n{text}", permanent=True)
        failures.append(failure)
    failed_to = list(_unique([b.address for b in failed])) or sorted(permanent)
    return _merge(failures, failed_to)


def _unique(addresses: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(a for a in addresses if a))


def detect_bounce(
    msg: Message, raw: bytes, from_header: str, subject: str, fallback: list[str]
) -> BounceVerdict | None:
    """A bounce or delay notice, or None for anything else.

    ``fallback`` is the To: of the returned original, used as the failed
    recipient when nothing names one (we send one recipient per message).
    """
    blocks = parse_dsn(msg)
    evidence = bool(blocks) or looks_like_bounce(msg, from_header, subject)
    if evidence and not blocks:
        blocks = parse_dsn(msg, look_inside=True)
    if not evidence and not null_return_path(msg):
        return None
    text = diagnostic_text(msg)
    temporary, permanent = flufl_failures(msg, raw)
    if blocks:
        return _from_dsn(blocks, text, permanent, temporary)
    if not evidence and not ((permanent or temporary) and (failure_text(text) or delay_text(text))):
        return None  # a null sender alone is any auto-reply; flufl must agree with the words
    extra = [clean_address(a) for a in str(msg.get("X-Failed-Recipients", "")).split(",")]
    if permanent or (extra and any(extra)):
        recipients = list(_unique([*sorted(permanent), *extra]))
        return _merge([explain(None, text, permanent=bool(permanent))], recipients)
    if temporary:
        status = find_status(text)
        return BounceVerdict(True, "delayed", False, status, tuple(sorted(temporary)))
    if not evidence:
        return None
    if failure_text(text) or failure_text(subject):
        recipients = fallback if len(fallback) == 1 else []
        return _merge([explain(None, text, permanent=False)], recipients)
    if delay_text(text) or delay_text(subject):
        return BounceVerdict(True, "delayed", False, find_status(text), ())
    return None
