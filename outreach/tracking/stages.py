"""Which SMTP command the remote server was answering when it refused the message.

Why it matters: a server that accepted the recipient at RCPT TO and then said
"user unknown" after DATA is running a content or policy filter, not reporting
a dead address, so a rejection after DATA is never a hard bounce. Every common
MTA writes the stage in its own words; the phrases below are collected from
Postfix ("in reply to RCPT TO command"), Exim ("SMTP error from remote mail
server after end of data"), Sendmail session transcripts (">>> DATA" / "<<< 550"),
qmail ("does not like recipient", "failed after I sent the message"), dma
("did not like our RCPT TO:"), IMail, InterScan, GMX, 1&1, Yahoo and Gmail,
following the per-MTA readers of Sisimai (BSD-2-Clause, see NOTICE).

Stages: ``connection``, ``helo``, ``mail``, ``rcpt``, ``data``, ``end_of_data``.
"""

from __future__ import annotations

import re

CONNECTION, HELO, MAIL, RCPT, DATA, END_OF_DATA = (
    "connection", "helo", "mail", "rcpt", "data", "end_of_data"
)  # fmt: skip
AFTER_DATA = frozenset((DATA, END_OF_DATA))
BEFORE_RCPT = frozenset((CONNECTION, HELO, MAIL))

# Most specific first: "end of data" before "data", "pipelined rcpt" before "data".
_PHRASES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (END_OF_DATA, re.compile(
        r"in reply to end of data|after end of (?:data|message)|failed after i sent the message"
        r"|did not like our final data|after (?:the )?(?:message|data) (?:was|has been) (?:sent|transmitted)"
        r"|end of data command|after (?:sending|receiving) (?:the )?message (?:body|data|content)"
        r"|in response to the end of (?:the )?(?:data|message)|\(in reply to end of")),
    (RCPT, re.compile(
        r"in reply to rcpt(?: to)? command|after (?:pipelined )?rcpt to|does not like recipient"
        r"|did not like our rcpt|additional rcpt to generated|\[rcpt_to\]|for rcpt to command"
        r"|rcpt to command|in response to (?:the )?rcpt|while (?:sending|processing) rcpt"
        r"|unknown recipient or mailbox unavailable ->|in reply to rcpt")),
    (DATA, re.compile(
        r"in reply to data command|after data\b|failed on data command|did not like our data"
        r"|for text command|data command generated response|in response to (?:the )?data command"
        r"|for data command")),
    (MAIL, re.compile(
        r"in reply to mail from command|after mail from|but sender was rejected|did not like our mail"
        r"|server response to mail from|for mail from command|in response to (?:the )?mail from"
        r"|\[mail_from\]")),
    (HELO, re.compile(
        r"in reply to (?:ehlo|helo|lhlo)(?:/(?:ehlo|helo))? command|after (?:ehlo|helo)\b"
        r"|my name was rejected|did not like our (?:ehlo|helo)|unexpected response to ehlo"
        r"|in reply to starttls|after starttls")),
    (CONNECTION, re.compile(
        r"after initial connection|greeting failed|refused to talk to me|smtp connection failed"
        r"|unexpected connection response|in reply to (?:the )?initial greeting|while connecting to"
        r"|connection (?:was )?(?:refused|rejected) by|during (?:the )?smtp greeting")),
)
# Gmail's "(state 14)" numbers the SMTP step that failed (after Sisimai's Gmail table); gateways
# such as m-FILTER write the command on its own line under "SMTP command".
_GMAIL_STATE = re.compile(r"\(state (\d{1,2})\)")
_GMAIL_STATES = {"6": "mail", "8": "helo", "9": "helo", "12": "helo", "13": "helo", "14": "rcpt", "15": "data",
                 "17": "data", "18": "data"}  # fmt: skip
_COMMAND_LINE = re.compile(r"smtp command\s*:?\s*\n\s*(ehlo|helo|mail|rcpt|data)\b")
_SENT = re.compile(r"^\s*(?:>>>|sent <<<|sent:)\s*([a-z]{4})\b", re.I)
_PIPELINED = re.compile(r"\b503\b.{0,40}(?:rcpt|recipient)|need rcpt|no valid recipients", re.I)
_COMMANDS = {"EHLO": HELO, "HELO": HELO, "LHLO": HELO, "MAIL": MAIL, "RCPT": RCPT, "DATA": DATA,
             "STAR": HELO, "AUTH": HELO}  # fmt: skip


def from_transcript(text: str) -> str | None:
    """The stage a Sendmail-style session transcript (">>> CMD" / "<<< 550 ...") failed at.

    The last command sent is the one refused (earlier "while talking to" sections
    are hosts tried before), except that a pipelining client sends RCPT and DATA
    together: an error reply that is followed by "503 need RCPT", or that carries
    an x.1.x address status, was the answer to RCPT, whatever the transcript shows.
    """
    lines = text.split("\n")
    sent = [(i, m.group(1).upper()) for i, m in ((i, _SENT.match(line)) for i, line in enumerate(lines)) if m]
    if not sent:
        return None
    index, command = sent[-1]
    stage = _COMMANDS.get(command)
    if stage == DATA:
        rest = "\n".join(lines[index + 1 : index + 8])
        if _PIPELINED.search(rest) or re.search(r"<<<\s*[45]\d\d[ -][45]\.1\.\d", rest):
            return RCPT
    return stage


def find_stage(text: str) -> str | None:
    """The SMTP stage ``text`` (a diagnostic, or a recipient's part of a bounce) names."""
    if not text:
        return None
    text = text[:20_000]
    stage = from_transcript(text) if (">>>" in text or "<<<" in text) else None
    if stage:
        return stage
    low = text.lower()
    named = _named_step(low)
    if named:
        return named
    for name, pattern in _PHRASES:
        if pattern.search(low):
            return name
    return None


def _named_step(low: str) -> str | None:
    """The stage a report names by number (Gmail's "(state 17)") or on a line of its own."""
    if "(state " in low:
        state = _GMAIL_STATE.search(low)
        if state and state.group(1) in _GMAIL_STATES:
            return _GMAIL_STATES[state.group(1)]
    if "smtp command" in low:
        line = _COMMAND_LINE.search(low)
        if line:
            return _COMMANDS[line.group(1).upper()]
    return None
