"""Failed recipients from the words of a bounce, for mail systems that write no DSN fields.

qmail, dma, Exim, Lotus Notes/Domino, Exchange 2003/2007, Office 365, Gmail,
Yahoo, the Japanese carriers and a long tail of filters each list the failed
addresses in their own layout. Sisimai reads each with its own module; the
layouts, though, share a handful of shapes, and those are what this module
reads (the shapes were collected from Sisimai's Lhost modules, BSD-2-Clause,
see NOTICE):

* an address alone on a line, bare, indented or in angle brackets, with an
  optional trailing colon (qmail, Exim, Gmail, Notes, Yahoo, Biglobe, EZweb);
* an address that starts a line and is followed by the reason ("<a@b>: host
  ... said: 550 ...", "<a@b>... User unknown", "a@b: 550 ...", "a@b on 1/2/2024");
* an address after a phrase that names it ("There was an error delivering your
  mail to <a@b>", "Could not be delivered to: <a@b>", "RCPT TO:<a@b>",
  "Recipient address: a@b", "mailto:a@b").

Each such line starts (or returns to) that recipient's block; the lines after
it, up to the next recipient, are its diagnostic. Lines before the first
recipient are the preamble, which some systems (Notes) use for the reason.
Sendmail's transcript is the exception: its SMTP dialogue (">>> MAIL From",
"<<< 501 ...", "... while talking to mx:") and its host lines ("550 example.org
(smtp)... Host unknown") come *before* the "554 <a@b>... reason" line that
sums a recipient up, so they belong to the next recipient, not the last one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from outreach.tracking.message import clean_address

_ADDR = r"(?<![^\s<>()\[\]{},;:\"'=/])[^\s<>()\[\]{},;:\"'@]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{1,24}\b"
_LINE_PATTERNS = (
    # the address alone: "<a@b>:", "  a@b", "\"a@b\":", "* a@b", "-- a@b", "\"Name\" <a@b>"; qmail's "To: <a@b>:"
    re.compile(rf"^\s*(?:[*-]{{1,2}}\s+)?[\"<]?(?P<addr>{_ADDR})[\">]?\s*:?\s*$", re.I),
    re.compile(rf"^\s*\"[^\"<>]{{0,80}}\"\s*<(?P<addr>{_ADDR})>\s*:?\s*$", re.I),
    re.compile(rf"^\s*to\s*:\s*<(?P<addr>{_ADDR})>:\s*$", re.I),
    # "<a@b>: reason", "<a@b>... reason", "<a@b> (reason)", "<a@b> (expanded from <c@d>): reason"
    re.compile(
        rf"^\s*<(?P<addr>{_ADDR})>(?:\s*\(expanded from:? <?[^>)]*>?\))?\s*(?::|\.{{2,}}|\s)\s*(?P<rest>.*)$", re.I
    ),
    # Sendmail's "550 5.1.1 <a@b>... User unknown"
    re.compile(rf"^\s*\d{{3}}[ -](?:\d\.\d{{1,3}}\.\d{{1,3}}\s+)?<(?P<addr>{_ADDR})>\.{{2,}}\s*(?P<rest>.*)$", re.I),
    # "a@b: 550 ...", "a@b on 4/1/2024 ...", "a@b [reason]", "a@b (reason)", "a@b   Invalid Address"
    re.compile(
        rf"^\s{{0,8}}(?P<addr>{_ADDR})(?::\s+|\s+on\s+(?=\d|[A-Z][a-z]{{2}}\b)|\s*(?=[\[(])|\s{{2,}}|\t"
        r"|\s+(?=(?:invalid|unknown|user|mailbox|does|is|was|not|no|account|rejected|host|domain|\d{3})\b))"
        r"(?P<rest>\S.*)$",
        re.I,
    ),
    # IMail's "Delivery failed 20 attempts: a@b", "Unknown user: a@b"
    re.compile(
        rf"^\s*(?P<rest>[^:@]{{0,100}}\b(?:fail|undeliver|unknown|reject|error|invalid|not|could|unable|bad|no such"
        rf"|denied|refused|full|quota|expired)[^:@]{{0,100}}):\s*<?(?P<addr>{_ADDR})>?\s*$",
        re.I,
    ),
)
_PHRASE = re.compile(
    r"(?:recipient(?:'s)?(?: address(?:es)?)?|original address|addressed to|failed recipient|intended recipient"
    r"|unknown user|undeliverable (?:address|to)|could ?n[o']t be delivered to|unable to deliver (?:message |mail )?to"
    r"|delivery (?:to|failed for|failed to)|failed to deliver to|your (?:message|mail|e-?mail) to|you sent mail to"
    r"|did not reach the following recipient|error delivering your mail to|error-for|mailbox is full"
    r"|rejected recipient|(?:was ?n[o']t |not )delivered to|could not deliver to|rcpt to|mailto)"
    rf"\s*:?\s*[\"<]?(?P<addr>{_ADDR})[\">]?",
    re.I,
)
# Plain words before an address name a recipient only on a line that also says something failed
# ("User a@b unknown", "[SMTP:a@b] Reason: ..."), not in "write to our support address a@b".
_WEAK_PHRASE = re.compile(
    rf"(?:the following address(?:es)?|user|mailbox|address|\[?smtp)\s*:?\s*[\"<]?(?P<addr>{_ADDR})[\">]?", re.I
)
_FAILED_WORDS = re.compile(
    r"unknown|not|invalid|reject|fail|error|undeliver|exist|unavailable|full|quota|denied|refused|disabled"
    r"|bounce|could|unable|no such|\b[45]\d\d\b",
    re.I,
)
_DSN_LINE = re.compile(
    r"^\s*(?:original-recipient|final-recipient|x-actual-recipient|action|status|remote-mta|diagnostic-code"
    r"|last-attempt-date|reporting-mta|received-from-mta|arrival-date|x-postfix-[\w-]+|original-envelope-id"
    r"|will-retry-until|final-log-id|dsn-gateway)\s*:",
    re.I,
)
_QUOTED_HEADER = re.compile(
    r"^\s*(?:from|to|cc|bcc|sender|reply-to|return-path|date|sent|subject|message-id|in-reply-to|references)\s*:",
    re.I,
)
_ALIAS = re.compile(rf"\((?:expanded|generated|ultimately generated) from:?\s*<?(?P<addr>{_ADDR})>?\)", re.I)
# "A message sent by\n\n  <us@example.com>\n\ncould not be delivered": the line names the sender.
_SENDER_INTRO = re.compile(r"(?:sent by|message from|sender(?: address)?|envelope from|mail from)\s*:?\s*$", re.I)
# Sendmail's per-recipient summary line, its SMTP dialogue and its host-level status lines.
_SUMMARY = _LINE_PATTERNS[4]
_DIALOGUE = re.compile(r"^\s*(?:>>>|<<<|(?:\.\.\.\s*)?while talking to\b)", re.I)
_HOST_STATUS = re.compile(r"^\s*\d{3}[ -][^\s@<>]+ \([\w-]+\)\.{3}")
_NOT_RECIPIENTS = re.compile(
    r"^(?:postmaster|mailer-daemon|mail-daemon|maildaemon|double-bounce)@", re.I
)


@dataclass
class ProseRecipient:
    """One failed address and the lines the bounce wrote about it."""

    address: str
    lines: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)  # "(expanded from <a@b>)": the address as sent

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _recipient_in(line: str) -> tuple[str | None, str]:
    """(address, rest of the line) when the line names a recipient, else (None, "")."""
    if "@" not in line or len(line) > 1000:
        return None, ""
    for pattern in _LINE_PATTERNS:
        match = pattern.match(line)
        if match:
            groups = match.groupdict()
            return groups["addr"], groups.get("rest") or ""
    match = _PHRASE.search(line) or (_WEAK_PHRASE.search(line) if _FAILED_WORDS.search(line) else None)
    if match:
        return match.group("addr"), line
    return None, ""


def read_recipients(text: str, exclude: set[str]) -> tuple[list[ProseRecipient], list[str]]:
    """Failed recipients named in ``text`` (the bounce's own words) and the preamble lines.

    ``exclude`` holds addresses that are never the failed recipient (our own
    sender, the report's From/To); postmaster-style addresses are skipped too.
    """
    found: dict[str, ProseRecipient] = {}
    preamble: list[str] = []
    current: ProseRecipient | None = None
    previous = ""
    pending: list[str] = []  # Sendmail dialogue waiting for the summary line it leads to
    summed_up = False  # the current recipient came from a Sendmail summary line
    for raw in text.split("\n")[:5000]:
        line = raw.rstrip()
        if not line.strip() or _DSN_LINE.match(line):
            continue
        address, rest = _recipient_in(line)
        if address and (_QUOTED_HEADER.match(line) and not _LINE_PATTERNS[2].match(line)
                        or _SENDER_INTRO.search(previous)):  # fmt: skip
            address = None  # a header of the original quoted in the explanation, or the sender
        previous = line
        cleaned = clean_address(address) if address else None
        if cleaned and cleaned not in exclude and not _NOT_RECIPIENTS.match(cleaned):
            current = found.setdefault(cleaned, ProseRecipient(cleaned))
            current.lines.extend(pending)
            pending = []
            summed_up = bool(_SUMMARY.match(line))
            if rest.strip():  # the whole line: its reply code and status belong to the reason
                current.lines.append(line.strip())
            continue
        if (current is None or summed_up) and (_DIALOGUE.match(line) or _HOST_STATUS.match(line)):
            pending.append(line.strip())  # Sendmail: leads up to the next recipient's summary line
            if current is None:
                preamble.append(line.strip())
            continue
        if current is None:
            preamble.append(line.strip())
            continue
        current.lines.append(line.strip())
        alias = _ALIAS.search(line)
        if alias and (named := clean_address(alias.group("addr"))) and named != current.address:
            current.aliases.append(named)
    if current is not None and pending:
        current.lines.extend(pending)  # dialogue after the last summary line ("<<< 503 need RCPT") is its own
    return list(found.values()), preamble
