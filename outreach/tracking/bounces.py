"""Bounces: who failed, at which SMTP stage, why, and whether the address is dead.

Reading order, most structured first, every source per recipient:

1. RFC 3464 delivery status fields (message/delivery-status parts, or the same
   fields written into a text part);
2. the failed addresses the MTA's prose names (``prose.py``: qmail, dma, Exim,
   Notes, Exchange, Gmail, Yahoo, the Japanese carriers...);
3. ``X-Failed-Recipients`` (Exim), then flufl.bounce's detectors for the rest of
   the zoo, then the To: of the returned original (we send one recipient per
   message).

Each failed recipient gets its own status, stage, reason and hard flag
(``reasons.py``); a message is a bounce when any recipient *failed* — a DSN
``Action: failed`` is final whatever its status class, ``Action: delayed`` is
not, and prose without a DSN is a delay only when it says so. ``hard`` is set
only for a dead address refused before DATA: suppressing on anything else would
silently shrink a list because of one bad sending day.
"""

from __future__ import annotations

import email
import logging
import re
from dataclasses import dataclass
from email.message import Message
from email.utils import parseaddr

from flufl.bounce import all_failures

try:  # the detector list is private; without it we fall back to all_failures
    from flufl.bounce._scan import _DETECTORS
except ImportError:  # pragma: no cover - a future flufl.bounce
    _DETECTORS = None  # type: ignore[assignment]

from outreach.tracking import dsn, reasons, stages
from outreach.tracking.message import (
    address_list,
    addresses_in,
    clean_address,
    header_values,
    iter_parts,
    pasted_original,
    report_parts,
    report_text,
    status_text,
    subparts,
)
from outreach.tracking.prose import ProseRecipient, read_recipients

log = logging.getLogger(__name__)

_FLUFL_MAX_BYTES = 512 * 1024
_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
_SMTP_CODE = re.compile(r"(?<![\w.(+-])([245])\d\d[ -](?=[A-Za-z<#(\[\"']|[245]\.\d)")

# --------------------------------------------------------------------------- evidence

_BOUNCE_SENDER = re.compile(
    r"^(?:mailer-daemon|postmaster|mdaemon|mail\.delivery\.system|mail-daemon|maildaemon|post_master"
    r"|ndr|bounce|bounces|nobody|double-bounce|mailerdaemon|mail-delivery)(?:@|$)",
    re.I,
)
_BOUNCE_NAME = re.compile(
    r"mail delivery (?:subsystem|system|service)|delivery subsystem|mailer.daemon|mail deliver system"
    r"|mail administrator|postmaster|courier mail server|content-filter at|interscan|mail system|mailer daemon",
    re.I,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery status notification|delivery (?:has )?fail|delivery report|delivery status"
    r"|delivery notification|delivery problem|delivery warning|delivery error|non-?delivery|returned mail"
    r"|returning message|mail delivery fail|failure notice|failure delivery|failed delivery|failed mail"
    r"|could not be delivered|not delivered|mail system error|delayed mail|message delayed|automatically rejected"
    r"|nameserver error|permanent delivery|delivery (?:has been )?delayed|\(delivery failed\)|\[postmaster\]"
    r"|\[bounce\]|mail failure|message frozen|error\(s\) in forwarding|there was an error sending your mail"
    r"|your message could not be delivered|unzustellbar|non remis|non recapitabile|onbestelbaar|no entregado"
    r"|não entregue|niedostarczon|nicht zugestellt|pesan tidak terkirim|gagal terkirim|не доставлено"
    r"|配信できません|配信に失敗|未達|returned mail:|mail could not be delivered|message not delivered",
    re.I,
)
_BOUNCE_MARKERS = re.compile(
    r"this is the mail system at host|^\s*the mail system\s*$|this is the qmail-send program|hi\. this is the qmail"
    r"|i'm afraid i wasn't able to deliver|this message was created automatically by mail delivery software"
    r"|delivery to the following recipients? failed|the following addresses had permanent fatal errors"
    r"|-+ ?transcript of session follows|your message did not reach some or all of the intended recipients"
    r"|delivery has failed to these recipients or groups|the following recipient\(s\) cannot be reached"
    r"|this is the dragonfly mail agent|there was an error delivering your mail to|-+ ?failure reasons ?-+"
    r"|^\s*was not delivered to:|this is an automatically generated delivery status notification"
    r"|sorry, we were unable to deliver your message|this is the mailer-daemon, please do not reply"
    r"|an error occurred while trying to deliver the mail|unable to deliver message to the following address"
    r"|your (?:mail|message) (?:could not|cannot|can't) be delivered|message could not be delivered to"
    r"|could not be delivered to the following recipients|the following message to <"
    r"|your mail (?:sent on|attempted to be delivered on)|technical details of permanent failure",
    re.M,
)
_FINAL = re.compile(
    r"permanent(?:ly)? (?:error|fail)|failed permanently|fatal error|gave up|giving up|given up|retry timeout exceeded"
    r"|has been failing for a long time|too long (?:in|on) (?:the )?queue|in the queue too long|message expired"
    r"|delivery time expired|could not deliver for the last|could not be delivered for (?:more than )?\d+ days"
    r"|cannot send message for \d+ days|unable to deliver message after multiple retries|undeliverable"
    r"|no more retries|will not be retried|will no longer be retried|not be delivered|delivery failed"
    r"|couldn't be delivered|could not be delivered|wasn't delivered|was not delivered|failure notice",
)
# A final "gave up" notice: the retry period is over, whatever the status class or a template's
# "delayed" says (OpenSMTPD writes "Envelope expired" into its delay template, Exchange "has
# stopped trying", Exchange 2003 "in the time limit specified", Gmail "did not accept our requests
# to connect" after days of retrying). Only these turn a recipient's reason into "expired"; the
# looser "gave up" words (qmail says "I've given up" on every permanent error) only mean final.
_EXPIRY = re.compile(
    r"retry timeout exceeded|has been failing for a long time|message expired|too long (?:in|on) (?:the )?queue"
    r"|in the queue too long|delivery time expired|could not deliver for the last|envelope expired"
    r"|has stopped trying|in the time limit specified|queue\.expired|delivery expired|retries exhausted"
    r"|delivery attempts exhausted|message timed out in queue|not reachable within the allowed queue period"
    r"|could not be delivered for more than|has not been collected|expired after sitting in queue"
    r"|retry time not reached for any host after a long failure period",
)
# Gmail writes these technical details both in its final notice ("failed permanently") and in its
# delay warnings ("THIS IS A WARNING MESSAGE ONLY ... will be retried"): they mean the retries ran
# out only in a notice that does not say it is a warning.
_EXPIRY_IF_FINAL = re.compile(r"did not accept our requests to connect|could not contact dns servers")
_WARNING = re.compile(
    r"warning message only|this is a warning|only a temporary failure|will be retried|still being retried"
    r"|you do not need to resend|delivery attempts will continue"
)
_FINAL_STRONG = re.compile(
    r"permanent(?:ly)? (?:error|fail)|failed permanently|for \d+ days|gave up|giving up|given up|no more retries"
    r"|will not be retried|" + _EXPIRY.pattern + "|" + _EXPIRY_IF_FINAL.pattern,
)
_DELAY = re.compile(
    r"not yet been delivered|still being retried|will (?:continue to )?(?:retry|attempt|try)|will be retried"
    r"|delivery attempts will continue|this is (?:just )?a warning|warning only|you do not need to resend"
    r"|no action is required on your part|has been postponed|delivery (?:has been |is )?delayed"
    r"|\bdelayed\b|could not send message for past|still trying|will keep trying|temporarily deferred",
)


def _low(text: str) -> str:
    """Lower-cased and capped: the phrase patterns here are compiled without IGNORECASE (faster)."""
    return text[:50_000].lower()


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


_REPLY_SUBJECT = re.compile(r"^\s*(?:re|aw|sv|vs|antw|bls|balas|fw|fwd|wg|tr)\s*:", re.I)


def _human(msg: Message, subject: str) -> bool:
    """A person answering or forwarding (may quote a bounce's words; is not one itself)."""
    auto = str(msg.get("Auto-Submitted", "") or "").strip().lower()
    machine = null_return_path(msg) or (auto and not auto.startswith("no"))
    return bool(_REPLY_SUBJECT.match(subject)) and not machine


def null_return_path(msg: Message) -> bool:
    """RFC 3464/3834: machine-generated mail is sent with an empty envelope sender."""
    value = msg.get("Return-Path")
    return value is not None and str(value).strip() == "<>"


def smtp_class(text: str) -> str | None:
    """Class digit of the first basic SMTP reply code ("550 ...") in text."""
    match = _SMTP_CODE.search(text)
    return match.group(1) if match else None


# --------------------------------------------------------------------------- flufl.bounce


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


# --------------------------------------------------------------------------- verdict


@dataclass(frozen=True)
class Failure:
    """One recipient of a bounce: what happened to it and what that means."""

    address: str
    action: str  # "failed" or "delayed"
    reason: str
    hard: bool
    status: str | None = None
    stage: str | None = None
    diagnostic: str = ""
    also: tuple[str, ...] = ()  # other names of the same recipient (Final-Recipient after aliasing)

    @property
    def category(self) -> str:
        return reasons.category(self.reason)

    def to_json(self) -> dict[str, object]:
        return {"address": self.address, "action": self.action, "reason": self.reason, "hard": self.hard,
                "status": self.status, "stage": self.stage, "category": self.category}  # fmt: skip


@dataclass(frozen=True)
class BounceVerdict:
    """A bounce (``delayed`` False) or a delay warning that is not one."""

    delayed: bool
    failures: tuple[Failure, ...] = ()

    @property
    def counted(self) -> tuple[Failure, ...]:
        """The failures the verdict is about: the failed ones, or the delayed ones of a delay."""
        return tuple(f for f in self.failures if (f.action == "delayed") == self.delayed)

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.address for f in self.counted if f.address))

    @property
    def first(self) -> Failure | None:
        return self.counted[0] if self.counted else None

    @property
    def reason(self) -> str | None:
        if self.delayed:
            return "delayed" if self.counted else None
        return self.first.reason if self.first else reasons.OTHER

    @property
    def status(self) -> str | None:
        return self.first.status if self.first else None

    @property
    def stage(self) -> str | None:
        return self.first.stage if self.first else None

    @property
    def hard(self) -> bool:
        """Hard only when every failed recipient is a dead address."""
        return not self.delayed and bool(self.counted) and all(f.hard for f in self.counted)


@dataclass
class _Entry:
    """A recipient being read: where its address, status and words came from."""

    address: str | None
    action: str = ""
    status: str | None = None
    diagnostic: str = ""
    context: str = ""
    also: tuple[str, ...] = ()
    hint: str | None = None
    expired: bool = False  # the DSN's own "Action: expired"


def _judge(entry: _Entry, cues: str, gateway: bool = False) -> Failure | None:
    """Status, stage, reason and hard flag of one recipient.

    ``gateway``: the report comes from a content-filtering gateway (McAfee,
    m-FILTER, MXLogic...), whose "user unknown" may only mean the gateway does
    not know the mailbox: ``filtered``, soft, like a "user unknown" after DATA.
    """
    if not entry.address:
        return None
    status = _refine(entry.status, entry.diagnostic, entry.context)
    stage = stages.find_stage(entry.diagnostic) or stages.find_stage(entry.context)
    words = f"{entry.diagnostic}\n{entry.context}"
    gave_up = entry.expired or _gave_up(_low(words), _low(cues))
    action = entry.action or _infer_action(status, words, cues)
    if action == "delayed" and gave_up:
        action = "failed"  # the retry period is over: a final notice in a delay's template
    text = entry.diagnostic
    reason = reasons.decide(status, text, stage, action)
    if reason == reasons.OTHER and entry.context.strip():
        reason = reasons.decide(status, words, stage, action)
    if entry.hint and reason in (reasons.OTHER, reasons.SYSTEM, reasons.EXPIRED):
        reason = entry.hint
    if gave_up and action == "failed" and reason in _PASSING:
        reason = reasons.EXPIRED
    if gateway and reason == reasons.USER_UNKNOWN:
        reason = reasons.FILTERED
    status = status or reasons.implied_status(reason, words, action)
    hard = reasons.is_hard(reason, status, stage, words) and action == "failed"
    diagnostic = re.sub(r"\s+", " ", text or entry.context).strip()[:500]
    return Failure(entry.address, action, reason, hard, status, stage, diagnostic, entry.also)


def _gave_up(words: str, cues: str) -> bool:
    """The retry period is over: an expiry phrase, or Gmail's connection details in a notice that
    is no warning (the same details appear in its "will be retried" warnings)."""
    if _EXPIRY.search(words):
        return True
    return bool(_EXPIRY_IF_FINAL.search(words)) and not (_WARNING.search(words) or _WARNING.search(cues))


# Reasons a give-up notice replaces with "expired": the retries failed for a passing cause (a
# block or a policy stays the sender's problem, a dead address stays dead).
_PASSING = frozenset((reasons.NETWORK, reasons.SYSTEM, reasons.OTHER))

# Content-filtering gateways that answer for the mailbox servers behind them, by the marks
# they put on their own reports (the headers Sisimai's McAfee, MFILTER, MXLogic, SurfControl,
# Activehunter and MailMarshal readers look for).
_GATEWAY_HEADERS = ("X-NAI-Header", "X-MXL-NoteHash", "X-MXL-Hash", "X-MX-Bounce", "X-SEF-Processed", "X-AHMAILID")
_GATEWAY_MAILER = re.compile(r"m-filter|mailmarshal|surfcontrol|interscan|amavis|content-filter at", re.I)


# The report's own Received line of a MailMarshal gateway; not amavisd-new's, which our own inbound
# mail passes through as often as a sender's gateway.
_GATEWAY_RECEIVED = re.compile(r"^\s*from mailmarshal\.sender\b", re.I)


def from_gateway(msg: Message) -> bool:
    """Whether the report itself (not the returned original) was written by a filtering gateway:
    its marker headers, its X-Mailer, its sender's name ("Content-filter at mx.example.com",
    amavisd-new's) or the gateway's own Received line."""
    if any(msg.get(name) is not None for name in _GATEWAY_HEADERS):
        return True
    name = parseaddr(re.sub(r"[\r\n]+", " ", str(msg.get("From", "") or "")))[0]
    if _GATEWAY_MAILER.search(str(msg.get("X-Mailer", "") or "")) or _GATEWAY_MAILER.search(name):
        return True
    return any(_GATEWAY_RECEIVED.search(str(value)) for value in (msg.get_all("Received") or [])[:3])


def _refine(status: str | None, diagnostic: str, context: str) -> str | None:
    """The DSN status, or a more specific one from the words when it says only x.0.0."""
    for text in (diagnostic, context):
        found = dsn.find_status(text)
        generic = status is not None and status.endswith(".0.0")
        if status is None or (found and generic and found[0] == status[0] and not found.endswith(".0.0")):
            status = found or status
    return status


def _infer_action(status: str | None, text: str, cues: str) -> str:
    """Failed or delayed, for a recipient whose report has no Action field."""
    klass = (status or "")[:1] or smtp_class(text) or ""
    text, cues = _low(text), _low(cues)
    if klass != "5" and (_WARNING.search(text) or _WARNING.search(cues)) and not _EXPIRY.search(text):
        return "delayed"  # "THIS IS A WARNING MESSAGE ONLY": whatever technical details follow
    if klass == "5" or _FINAL_STRONG.search(text) or _FINAL_STRONG.search(cues):
        return "failed"
    if _DELAY.search(cues) or _DELAY.search(text):
        return "delayed"
    return "failed"


# --------------------------------------------------------------------------- sources


def _dsn_blocks(msg: Message, text: str, look_inside: bool) -> list[dsn.DsnRecipient]:
    """Delivery status fields of the status parts, else of the report text, else one level down."""
    blocks: list[dsn.DsnRecipient] = []
    for part in iter_parts(msg):
        if part.get_content_type() in _DSN_TYPES:
            blocks += _part_fields(part)
    if not blocks and dsn.has_fields(text):
        blocks = dsn.read_fields(text)[0]
    if not blocks and look_inside:
        for inner in _attached(msg):
            for part in iter_parts(inner):
                if part.get_content_type() in _DSN_TYPES:
                    blocks += _part_fields(part)
    return blocks


def _part_fields(part: Message) -> list[dsn.DsnRecipient]:
    return dsn.read_fields(status_text(part))[0]


def _attached(msg: Message) -> list[Message]:
    """Messages attached directly to ``msg`` (gateways wrap a DSN this way)."""
    found = []
    for part in iter_parts(msg)[1:]:
        if part.get_content_type() == "message/rfc822":
            found.extend(subparts(part)[:1])
    return found


def _excluded(msg: Message, original: Message | None) -> set[str]:
    """Addresses that are never the failed recipient: the sender's, and the report's own."""
    values = header_values(msg, "From", "To", "Return-Path", "Reply-To", "Sender")
    values += header_values(original, "From", "Sender", "Reply-To", "Return-Path")
    addressed = addresses_in(header_values(original, "To", "Cc"))  # someone may write to themselves
    return set(addresses_in(values)) - set(addressed)


def _from_dsn(blocks: list[dsn.DsnRecipient], prose: list[ProseRecipient], preamble: str) -> list[_Entry]:
    by_address = {p.address: p for p in prose}
    entries = []
    for index, block in enumerate(blocks):
        if block.action == "delivered":
            continue
        address = block.address
        if address is None and len(prose) > index:
            address = prose[index].address
        words = next((by_address[a] for a in block.all_addresses if a in by_address), None)
        context = words.text if words else (preamble if len(blocks) == 1 else "")
        if len(blocks) == 1 and len(prose) == 1 and words is None:
            context = f"{prose[0].text}\n{preamble}"
        diagnostic = block.diagnostic or block.status_text
        action = block.action or ("failed" if (block.status or "").startswith("5") else "")
        hint = _POWERMTA.get(block.category)
        entries.append(_Entry(address, action, block.status, diagnostic, context, block.all_addresses, hint,
                              block.expired))
    return entries


_POWERMTA = {"bad-domain": reasons.HOST_UNKNOWN, "bad-mailbox": reasons.USER_UNKNOWN,
             "inactive-mailbox": reasons.SUSPENDED, "message-expired": reasons.EXPIRED,
             "no-answer-from-host": reasons.NETWORK, "policy-related": reasons.POLICY,
             "quota-issues": reasons.MAILBOX_FULL, "routing-errors": reasons.SYSTEM,
             "spam-related": reasons.SPAM}  # fmt: skip


def _from_prose(prose: list[ProseRecipient], preamble: str) -> list[_Entry]:
    """One entry per named recipient; a recipient listed without words shares the next one's."""
    entries = []
    for index, recipient in enumerate(prose):
        words = recipient.text
        if not words.strip():
            words = next((p.text for p in prose[index + 1 :] if p.text.strip()), "")
        context = preamble if len(prose) == 1 or not words.strip() else ""
        entries.append(_Entry(recipient.address, diagnostic=words, context=context, also=tuple(recipient.aliases)))
    return entries


def _from_listed(listed: list[str], prose: list[ProseRecipient], text: str) -> list[_Entry]:
    """Exim's X-Failed-Recipients names the failed addresses; the prose still says why."""
    by_address = {p.address: p for p in prose}
    entries = []
    for address in listed:
        words = by_address.get(address)
        entries.append(_Entry(address, diagnostic=words.text if words else text,
                              also=tuple(words.aliases) if words else ()))  # fmt: skip
    return entries


def _from_headers(msg: Message) -> list[str]:
    values = str(msg.get("X-Failed-Recipients", "") or "").split(",")
    return [a for a in (clean_address(v) for v in values) if a]


# --------------------------------------------------------------------------- decision


def detect_bounce(
    msg: Message, raw: bytes, from_header: str, subject: str, original: Message | None
) -> BounceVerdict | None:
    """A bounce or delay notice, or None for anything else.

    ``original`` holds the headers of the returned original message, if any.
    """
    parts = report_parts(msg)
    text = report_text(parts)
    by_headers = looks_like_bounce(msg, from_header, subject)
    has_status = any(ctype in _DSN_TYPES for ctype, _text in parts)
    marked = not (by_headers or has_status) and bool(_BOUNCE_MARKERS.search(_low(text[:6000])))
    marked = marked and not _human(msg, subject)
    if not (by_headers or has_status or marked or null_return_path(msg)):
        return None
    blocks = _dsn_blocks(msg, text, look_inside=by_headers or marked)
    if original is None:
        original = pasted_original(parts)
    prose, preamble_lines = read_recipients(text, _excluded(msg, original))
    preamble = "\n".join(preamble_lines)
    cues = f"{subject}\n{preamble}"
    listed = _from_headers(msg)
    if blocks and all(b.action == "delivered" for b in blocks):
        return BounceVerdict(True)  # a success notice (NOTIFY=SUCCESS) or a relay report: nothing failed
    if blocks:
        entries = _from_dsn(blocks, prose, preamble)
    elif listed:
        entries = _from_listed(listed, prose, text)
    elif prose and (by_headers or marked or has_status):
        entries = _from_prose(prose, preamble)
    else:
        entries = _fallback(msg, raw, text, original, by_headers or marked or has_status)
    gateway = from_gateway(msg)
    failures = [f for f in (_judge(e, cues, gateway) for e in entries) if f is not None]
    if not failures:
        return _unnamed(text, subject, cues, by_headers or marked or has_status)
    failed = [f for f in failures if f.action == "failed"]
    if failed:
        return BounceVerdict(False, tuple(failures))
    return BounceVerdict(True, tuple(failures))


def _fallback(msg: Message, raw: bytes, text: str, original: Message | None, evidence: bool) -> list[_Entry]:
    """flufl.bounce, then the returned original's single To:."""
    low = _low(text)
    if not evidence and not (_FINAL.search(low) or _DELAY.search(low)):
        return []  # a null sender alone is any auto-reply
    temporary, permanent = flufl_failures(msg, raw)
    if not evidence and not ((permanent or temporary) and (_FINAL.search(low) or _DELAY.search(low))):
        return []  # a null sender alone is any auto-reply; flufl must agree with the words
    if permanent or temporary:
        return [_Entry(a, "failed", diagnostic=text) for a in sorted(permanent)] + [
            _Entry(a, "delayed", diagnostic=text) for a in sorted(temporary - permanent)
        ]
    if not evidence or original is None or original.get_all("Cc"):
        return []
    to = address_list(header_values(original, "To"))
    return [_Entry(to[0], diagnostic=text)] if len(to) == 1 and _FINAL.search(low) else []


def _unnamed(text: str, subject: str, cues: str, evidence: bool) -> BounceVerdict | None:
    """A report that names nobody: still a bounce (or a delay) when its words say so."""
    if not evidence:
        return None
    low = _low(text)
    final = _FINAL.search(low) or _FINAL.search(_low(subject)) or smtp_class(text) == "5"
    if final or reasons.decide(None, text) in reasons.DEAD:
        status, stage = dsn.find_status(text), stages.find_stage(text)
        reason = reasons.decide(status, text, stage, "failed")
        status = status or reasons.implied_status(reason, text, "failed")
        failure = Failure("", "failed", reason, reasons.is_hard(reason, status, stage), status, stage)
        return BounceVerdict(False, (failure,))
    if _DELAY.search(_low(cues)) or _DELAY.search(low):
        return BounceVerdict(True, (Failure("", "delayed", "delayed", False, dsn.find_status(text)),))
    return None
