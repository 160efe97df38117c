"""Why a message bounced, and whether that means the address is dead.

The taxonomy decides what happens next, so it is sorted by whose problem it is:

* **dead address** (hard: suppress for good) — ``user_unknown``, ``host_unknown``,
  ``has_moved``, ``not_accept`` (the domain accepts no mail);
* **recipient's mailbox** (soft: retry later, suppress only if it persists) —
  ``mailbox_full`` (also over quota), ``suspended`` (disabled, inactive, locked),
  ``expired`` (gave up after the retry period);
* **the sender's problem** (soft, never suppresses the recipient; counted towards
  auto-pause and shown in the campaign report, because the relay, the sending
  domain or the content is at fault) — ``filtered``, ``content``, ``spam``,
  ``policy``, ``blocked``, ``bad_reputation``, ``auth_failure``, ``rate_limited``,
  ``too_many_connections``, ``sender_rejected``, ``relay_denied``, ``network``,
  ``system``;
* ``other`` — nothing said enough to tell (soft).

Method ported from Sisimai (BSD-2-Clause, see NOTICE): a per-reason set of
phrases mail systems actually write, tried in a fixed order in which the
specific beats the general, combined with the enhanced status code and the
SMTP stage. Two rules are ours, from the issue this implements: a "user
unknown" given after DATA is a content or policy filter (``filtered``), and a
"user unknown" the status code does not confirm still counts when the prose says
it and the stage does not contradict it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from outreach.tracking import stages

USER_UNKNOWN, HOST_UNKNOWN, HAS_MOVED, NOT_ACCEPT = "user_unknown", "host_unknown", "has_moved", "not_accept"
MAILBOX_FULL, SUSPENDED, EXPIRED = "mailbox_full", "suspended", "expired"
FILTERED, CONTENT, SPAM, POLICY, BLOCKED = "filtered", "content", "spam", "policy", "blocked"
BAD_REPUTATION, AUTH_FAILURE, RATE_LIMITED = "bad_reputation", "auth_failure", "rate_limited"
TOO_MANY_CONNECTIONS, SENDER_REJECTED, RELAY_DENIED = "too_many_connections", "sender_rejected", "relay_denied"
NETWORK, SYSTEM, OTHER = "network", "system", "other"

DEAD = frozenset((USER_UNKNOWN, HOST_UNKNOWN, HAS_MOVED, NOT_ACCEPT))
MAILBOX = frozenset((MAILBOX_FULL, SUSPENDED, EXPIRED))
SENDER = frozenset((FILTERED, CONTENT, SPAM, POLICY, BLOCKED, BAD_REPUTATION, AUTH_FAILURE, RATE_LIMITED,
                    TOO_MANY_CONNECTIONS, SENDER_REJECTED, RELAY_DENIED, NETWORK, SYSTEM))  # fmt: skip
REASONS = (*sorted(DEAD), *sorted(MAILBOX), *sorted(SENDER), OTHER)
CATEGORIES = {**dict.fromkeys(DEAD, "dead"), **dict.fromkeys(MAILBOX, "mailbox"),
              **dict.fromkeys(SENDER, "sender"), OTHER: "other"}  # fmt: skip


def category(reason: str | None) -> str:
    """"dead", "mailbox", "sender" or "other": who has to act on a bounce with this reason."""
    return CATEGORIES.get(reason or OTHER, "other")


def _trie(phrases: Iterable[str]) -> str:
    """A regex matching any of ``phrases``, shaped as a trie so that hundreds of phrases
    cost a few comparisons per character instead of one attempt each."""
    root: dict[str, dict] = {}
    for phrase in phrases:
        node = root
        for char in phrase:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:  # a phrase ends here; longer ones go on
            return body + "?" if len(branches) == 1 and len(body) == 1 else f"(?:{body})?"
        return body

    return build(root)


@dataclass(frozen=True)
class Swept:
    """Diagnostic text prepared once for every phrase set: swept, and its words."""

    text: str
    words: frozenset[str]

    @classmethod
    def of(cls, raw: str) -> Swept:
        text = sweep(raw)
        return cls(text, frozenset(_WORD.findall(text)))


_WORD = re.compile(r"[a-z0-9]+")


class _Phrases:
    """A reason's phrases, checked cheaply before a full pattern runs.

    Every phrase with a word strictly inside it (not at either end, where the
    text may continue the word) can only match text that contains that word,
    so a set lookup rules most reasons out; short phrases fall back to a
    substring check. Only when something could match does the trie pattern run.
    A regex that starts with a whole word runs only when that word is in the text.
    """

    def __init__(self, literals: Iterable[str], regexes: Iterable[str]) -> None:
        literals = list(literals)
        self.anchors: set[str] = set()
        self.loose: list[str] = []
        for phrase in literals:
            words = _WORD.findall(phrase)
            inner = words[1:-1] if len(words) > 2 else []
            if not inner and len(words) == 2 and not phrase[:1].isalnum():
                inner = words[:1]  # " is suspended": its first word is a whole word
            if inner:
                self.anchors.add(max(inner, key=len))
            else:
                self.loose.append(phrase)
        self.trie = re.compile(_trie(literals)) if literals else None
        self.regexes: list[tuple[str | None, re.Pattern[str]]] = []
        for regex in regexes:
            lead = re.match(r"([a-z0-9]+) ", regex)
            self.regexes.append((lead.group(1) if lead else None, re.compile(regex)))

    def search(self, text: Swept) -> bool:
        possible = self.trie is not None and (self.anchors & text.words or any(p in text.text for p in self.loose))
        if possible and self.trie.search(text.text):  # type: ignore[union-attr]
            return True
        return any((lead is None or lead in text.words) and regex.search(text.text) for lead, regex in self.regexes)


def _rx(literals: Iterable[str] = (), regexes: Iterable[str] = ()) -> _Phrases:
    """One phrase set for lower-cased, whitespace-collapsed text: literal phrases and regexes."""
    return _Phrases(literals, regexes)


_USER = _rx(
    (
        "#5.1.1 bad address", "550 address invalid", "5.1.0 address rejected", "address not present in directory",
        "address unknown", "archived recipient", "can't accept user", "destination addresses were unknown",
        "destination server rejected recipients", "email address could not be found", "invalid address",
        "invalid mailbox", "invalid recipient", "is not a known user", "is not a valid mailbox",
        "is not an active address at this host", "mailbox invalid", "mailbox is inactive", "mailbox is unavailable",
        "mailbox not present", "mailbox not found", "mailbox unavailable", "nessun utente simile in questo indirizzo",
        "no account by that name here", "no existe dicha persona", "no existe ese usuario",
        "no mail box available for this user", "no mailbox by that name", "no mailbox found",
        "no matches to nameserver query", "no such address", "no such mailbox", "no such person at this address",
        "no such recipient", "no such user", "no valid recipients, bye", "non-existent user", "nonexistent user",
        "non existent user", "not a valid recipient", "not a valid user here", "not a local address",
        "recipient address rejected: access denied", "recipient address rejected: invalid user",
        "recipient address rejected: invalid-recipient", "recipient address rejected: unknown user",
        "recipient is not local", "recipient not exist", "recipient not found", "recipient not ok",
        "recipient refuses to accept your mail", "recipient unknown", "resolver.adr.recipientnotfound",
        "resolver.adr.recipnotfound", "resolver.adr.exrecipnotfound", "sorry, badrcptto",
        "no mailbox here by that name", "sorry, your envelope recipient has been denied",
        "the email account that you tried to reach does not exist", "the following recipients was undeliverable",
        "the user's email name is not found", "there is no one at this address",
        "this address no longer accepts mail", "this email address is wrong or no longer valid",
        "this recipient is in my badrecipientto list", "this recipient is not in my validrcptto list",
        "this spectator does not exist", "unknown e-mail address", "unknown email address", "unknown local part",
        "unknown local-part", "unknown mailbox", "unknown recipient", "unknown user", "user missing home directory",
        "user not active", "user not exist", "user not found", "user not known", "user unknown",
        "utilisateur inconnu", "invalid or unknown virtual user", "invalid or unknown base user or domain",
        "user name does not refer to a virtual user", "invalid user specified", "cannot find system user",
        "mailbox doesn't exist", "not listed in domino directory", "not listed in public name & address book",
        "non répertorié dans l'annuaire domino", "domino ディレクトリには見つかりません",
        "ディレクトリのリストにありません", "address couldn't be found", "address could not be found",
        "bad destination mailbox", "no longer on server", "not our customer", "recipient no longer",
        "address is no longer valid", "empfänger unbekannt", "benutzer unbekannt", "unbekannter empfänger",
        "unbekannter benutzer", "adresse unbekannt", "existiert nicht", "n'existe pas", "destinataire inconnu",
        "adresse inconnue", "usuario desconocido", "usuário desconhecido", "não existe", "no existe", "nie istnieje",
        "onbekende gebruiker", "bestaat niet", "tidak dikenal", "tidak ditemukan", "tidak terdaftar",
        "нет такого пользователя", "не существует", "пользователь не найден", "存在しません", "宛先不明",
        "invalid final delivery userid", "account does not exist",
    ),
    (
        r"<[^ ]+> not found", r"account [^ ]+ does not exist at the organization", r"mailbox [^ ]+ does not exist",
        r"mailbox [^ ]+@[^ ]+ unavailable", r"no [^ ]+ in name directory", r"rcpt <[^ ]+> does not exist",
        r"recipient [^ ]+ was not found in", r"recipient address rejected: user [^ ]+ does not exist",
        r"recipient address rejected: user unknown in [^ ]+ table", r"this user doesn'?t have an? [^ ]+ account",
        r"user [^ ]+ (?:was not found|does not exist|unknown)", r"bad[-_ ]recipient",
        r"(?:address|user|mailbox|recipient|account|addressee)(?: name)? (?:does not|doesn't|did not) exist",
        r"(?:is|was) not (?:a )?valid (?:user|mailbox|address|recipient|e-?mail)",
        r"(?:recipient|user) name is not recognized", r"not recognized as a valid (?:user|mailbox|recipient|address)",
        r"no longer (?:valid|exists|in use)", r"(?:does not|doesn't) have an? .{0,30}account",
        r"invalid .{0,20}userid", r"unknown or illegal alias", r"mailbox (?:does not|doesn't) exist",
        r"(?:addressee|recipient|user|mailbox) unknown", r"email address (?:does not exist|could not be found)",
    ),
)
_HOST = _rx(
    (
        "domain is not reachable", "domain must exist", "host or domain name not found", "host unknown",
        "mail domain mentioned in email address is unknown", "name or service not known", "no such domain",
        "recipient address rejected: unknown domain name", "recipient domain must exist",
        "the account or domain may not exist", "unknown host", "unroutable address", "unrouteable address",
        "all host address lookups failed permanently", "all relevant mx records point to non-existent hosts",
        "sorry, i couldn't find any host", "dns error: domain name not found",
        "dns error: dns server returned answer with no data", "invalid domain name", "illegal host/domain name found",
        "as the remote domain doesnt exist", "smtpsend.dns.nonexistentdomain", "responded with code nxdomain",
        "unknown domain", "domain not found", "nxdomain", "bad destination system", "dns lookup failure: host ",
        "no mx or a for domain", "domain unknown", "domaine inconnu", "domain unbekannt", "domain existiert nicht",
        "domain tidak ditemukan", "unrouteable mail domain", "unroutable mail domain", "domain name not found",
        "no such host or domain",
    ),
    (
        r"553 [^ ]+ does not exist", r"domain (?:does not|doesn't|did not) exist",
        r"domain [^ ]{1,80} does not exist", r"infodomainnonexistent",
        r"domain [^ ]{1,80} (?:couldn't|could not|cannot|can't) be found", r"no such (?:host|domain)",
    ),
)
_HOST_AFTER_ALL = _rx((), (r"(?:host|domain) not found, try again", r"type=(?:mx|a|aaaa): host not found, try again"))
_MOVED = _rx((" has been replaced by ", "mailbox has moved", "user has moved", "has moved to"), ())
_NOT_ACCEPT = _rx(
    (
        "does not accept mail (nullmx)", "host/domain does not accept mail", "host does not accept mail",
        "name server: .: host not found", "no mx record found for domain=",
        "an mx or srv record indicated no smtp service", "no host found for existing smtp connection",
        "destination seem to reject all mails", "null mx", "nullmx", "accepts no mail", "domain does not accept mail",
    ),
    (),
)
_FULL = _rx(
    (
        "account disabled temporarly for exceeding receiving limits", "account is exceeding their quota",
        "account is over quota", "account is temporarily over quota", "boite du destinataire pleine",
        "delivery failed: over quota", "disc quota exceeded", "disk quota exceeded", "does not have enough space",
        "exceeded storage allocation", "exceeding its mailbox quota", "full mailbox", "is over disk quota",
        "is over quota", "mail file size exceeds the maximum size allowed for mail delivery", "mail quota exceeded",
        "mailbox exceeded the local limit", "mailbox full", "mailbox has exceeded", "mailbox is full",
        "mailbox over quota", "mailbox quota usage exceeded", "mailbox size limit exceeded", "maildir over quota",
        "maildir delivery failed: userdisk quota", "maildir delivery failed: domaindisk quota", "mailfolder is full",
        "not enough storage space in", "over the allowed quota", "quota exceeded", "quota violation for",
        "recipient reached disk quota", "mailbox would exceed maximum allowed storage",
        "the user's space has been used up", "the user you are trying to reach is over quota", "too much mail data",
        "user has exceeded quota", "user has too many messages on the server", "user is over quota",
        "user is over the quota", "user over quota", "would be over the allowed quota", "over quota",
        "error: quota exceed", "as their mailbox is full", "the user(s) account is temporarily over quota",
        "user mailbox exceeds allowed size", "exceeded the local limit", "mailbox size", "inbox is full",
        "mailbox is over", "storage quota", "out of storage", "insufficient storage for the mailbox", "postfach voll",
        "postfach ist voll", "speicherplatz", "boîte pleine", "boite pleine", "buzón lleno", "buzon lleno",
        "caixa postal cheia", "kotak surat penuh", "mailbox penuh", "ящик переполнен",
    ),
    (r"(?:mail ?box|mail ?folder|inbox) (?:is )?full", r"quota (?:exceeded|exceed|full)"),
)
_TOO_BIG = _rx(
    (
        "exceeded maximum inbound message size", "line limit exceeded", "max message size exceeded",
        "message file too big", "message length exceeds administrative limit", "message size exceeds fixed limit",
        "message size exceeds fixed maximum message size", "message size exceeds maximum value", "message too big",
        "message too large", "message header size exceeds limit", "taille limite du message atteinte",
        "mail size limit exceeded", "message size exceeds recipient", "message exceeded the maximum size",
        "message exeeded the maximum size", "resolver.rst.recipsizelimit", "size limit",
        "exceeds the maximum message size", "message is too large", "message is too big", "size exceeds",
    ),
    (r"maximum (?:\w+ )?message size",),
)
_SUSPEND = _rx(
    (
        " is currently suspended", " temporary locked", "boite du destinataire archivee",
        "email account that you tried to reach is disabled", "has been suspended", "invalid/inactive user",
        "is a deactivated mailbox", "mailbox currently suspended", "mailbox is frozen",
        "mailbox unavailable or access denied", "recipient rejected: temporarily inactive",
        "recipient suspend the service", "this account has been disabled or discontinued", "this mailbox is disabled",
        "user suspended", "vdelivermail: account is locked", "account is locked", "the user(s) account is disabled",
        "the user(s) account is temporarily limited", "due to extended inactivity", "account disabled",
        "account has been disabled", "account is disabled", "disabled account", "account is inactive",
        "inactive account", "account suspended", "account is suspended", "mailbox disabled", "mailbox is disabled",
        "mailbox inactive", "mailbox has been disabled", "user account disabled", "account has been deactivated",
        "deactivated mailbox", "temporarily disabled", "account expired", "account has expired", "mailbox expired",
        "user inactive", "inactive user", "konto gesperrt", "konto deaktiviert", "konto niedostepne",
        "konto nieaktywne", "compte désactivé", "cuenta desactivada", "akun dinonaktifkan", "akun diblokir",
        "mailaddress is administrativly disabled", "mailaddress is administrativley disabled",
        "mailaddress is administratively disabled", "account has been locked",
    ),
    (r"account (?:is |has been )?(?:disabled|suspended|deactivated|locked|frozen)",),
)
_EXPIRED = _rx(
    (
        "could not find a gateway for", "delivery time expired", "failed to deliver to domain ", "giving up on",
        "have been failing for a long time", "it has not been collected after",
        "message expired after sitting in queue", "message expired", "message timed out",
        "retry time not reached for any host after a long failure period",
        "this message has been in the queue too long", "unable to deliver message after multiple retries",
        "was not reachable within the allowed queue period", "your message could not be delivered for more than",
        "retry timeout exceeded", "all hosts have been failing for a long time", "envelope expired",
        "could not deliver for the last ", "delivery expired", "queue.expired",
        "your message was not delivered within", "host not reachable", "delivery period expired", "gave up",
        "giving up", "maximum delivery attempts", "retry period", "queue lifetime", "expired in queue",
        "lifetime exceeded", "message has expired", "has been in the queue for", "time limit exceeded",
        "was not delivered within", "has stopped trying", "in the time limit specified",
        "without success, and has stopped", "queue.expired", "delivery attempts exhausted", "retries exhausted",
    ),
    (
        r"could not be delivered for (?:more than )?\d+", r"cannot send message for \d+",
        r"delivery failed \d+ attempts", r"after \d+ (?:delivery )?attempts", r"failed \d+ attempts",
        r"not delivered within \d+ (?:days|hours)", r"too long (?:in|on) (?:the )?queue",
        r"(?:in|on) the queue too long", r"expired after \d+",
        r"no (?:answer|response) from (?:host|server).{0,40}(?:days|hours)",
    ),
)
_FILTERED = _rx(
    (
        "because the recipient is only accepting mail from specific email addresses", "bounced address",
        "has restricted sms e-mail", "is not accepting any mail", "message rejected due to user rules",
        "refused due to recipient preferences", "resolver.rst.notauthorized", "this account is protected by",
        "user reject", "refuse to receive mail", "you have been blocked by the recipient",
        "cannot route mail to user", "rejected by recipient", "recipient has blocked", "blocked by recipient",
        "recipient's preferences", "sender is on the recipient's block list", "on the blocked senders list",
        "message filtered",
    ),
    (),
)
_SENDER = _rx(
    (
        "access denied (in reply to mail from command)", "access denied (sender blacklisted)",
        "administrative prohibition", "batv failed to verify", "batv validation failure",
        "backscatter protection detected an invalid or expired email address",
        "because the sender isn't on the recipient's list of senders to accept mail from", "bogus mail from",
        "connections not accepted from servers without a valid sender domain", "denied [bouncedeny]",
        "denied by secumail valid-address-filter", "delivery not authorized, message refused", "does not exist e2110",
        "domain of sender address ", "email address is on senderfilterconfig list", "emetteur invalide",
        "empty envelope senders not allowed", "envelope blocked", "error: no third-party dsns",
        "from: domain is invalid. please provide a valid from:", "fully qualified email address required",
        "invalid domain, see <url:", "invalid sender", "is not a registered gateway user",
        "mail from not owned by user", "message rejected: email address is not verified",
        "null sender is not allowed", "recipient not accepted. (batv: no tag", "returned mail not accepted here",
        "rfc 1035 violation: recursive cname records for", "rule imposed mailbox access for",
        "sender address has been blacklisted", "sender email address rejected", "sender is in my black list",
        "sender is spammer", "sender not pre-approved", "sender rejected", "sender domain is empty",
        "sender verify failed", "syntax error: empty email address", "the message has been rejected by batv defense",
        "this server does not accept mail from", "transaction failed unsigned dsn for", "unroutable sender address",
        "you are not allowed to post to this mailing list",
        "you are sending to/from an address that has been blacklisted",
        "your access to submit messages to this e-mail system has been rejected", "sender address rejected",
        "sender verification failed", "sender domain does not exist", "sender address does not exist",
        "sender unknown", "unknown sender", "sender address unknown",
    ),
    (r"sender .{0,40}(?:rejected|refused|not allowed|denied|invalid)", r"domain of sender [^ ]+ does not"),
)
_SENDER_NOT = _rx(("5.1.0 address rejected", "recipient address rejected", "sender ip address rejected"), ())
_RELAY = _rx(
    (
        "as a relay", "insecure mail relay", "is not permitted to relay through this server without authentication",
        "mail server requires authentication when attempting to send to a non-local e-mail address", "not a gateway",
        "not allowed to relay through this machine", "not an open relay, so get lost", "not local host",
        "relay access denied", "relay denied", "relaying mail to ", "relay not permitted", "relaying denied",
        "that domain isn't in my list of allowed rcpthost", "this system is not configured to relay mail",
        "unable to relay", "we don't handle mail for", "not permitted to relay", "relaying not allowed",
        "relay not allowed", "due to the following smtp relay error", "not configured to let you relay",
        "relaying disallowed", "no relaying", "relay prohibited",
    ),
    (),
)
_SPAM = _rx(
    (
        "appears to be unsolicited", "blacklisted url in message", "block for spam",
        "blocked by policy: no spam please", "blocked by spamassassin",
        "blocked for abuse. see http://att.net/blocks", "bulk email",
        "considered unsolicited bulk e-mail (spam) by our mail filters", "content filter rejection",
        "denied due to spam list", "high probability of spam", "mail appears to be unsolicited",
        "mail content denied", "may consider spam", "message considered as spam or virus",
        "message contains spam or virus", "message content rejected", "message detected as spam",
        "message is being rejected as it seems to be a spam", "message looks like spam",
        "message refused by mailmarshal spamprofiler", "message rejected as spam",
        "message rejected because of unacceptable content", "message rejected due to suspected spam content",
        "message rejected for policy reasons", "our email server thinks this email is spam",
        "our system has detected that this message is", "probable spam", "reject bulk.advertising",
        "rejected: spamassassin score", "rejecting banned content", "rejecting mail content",
        "related to content with spam-like characteristics", "sending address not accepted due to spam filter",
        "spambouncer identified spam", "spamming not allowed", "too much spam.",
        "the email message was detected as spam", "the message has been rejected by spam filtering engine",
        "the message was rejected due to classification as bulk mail", "the content of this message looked like spam",
        "is classified as spam and is rejected", "cannot be forwarded because it was detected as spam",
        "this message appears to be spam", "this message has been identified as spam",
        "this message has been scored as spam", "this message was classified as spam",
        "transaction failed spam message not queued", "we dont accept spam", "you're using a mass mailer",
        "your email appears similar to spam we have received before", "your email breaches local uribl policy",
        "had spam-like", "is considered spam", "is probably spam", "was detected as spam",
        "as spam and has prevented delivery", "has been temporarily blocked by our filter",
        "rejected because it appears to be spam", "has triggered a spam block", "may contain the spam contents",
        "failed several antispam checks", "likely unsolicited mail", "unsolicited mail", "unsolicited bulk",
        "identified as spam", "detected as spam", "spam detected", "spam rejected", "spam refused",
        "spam message rejected", "spam not accepted", "spam score", "spam content", "spam check", "junk mail",
        "reject bulk", "classified as bulk", "- spam", "spam email",
    ),
    (
        r"(?:\d\.\d\.\d|\d{3}) spam$", r"554 5\.7\.0 reject, id=\d+", r"rejected by [^ ]+ \(spam\)",
        r"rejected due to spam (?:url in )?(?:classification|content)", r"spam [^ ]+ exceeded",
        r"this message scored [^ ]+ spam points", r"spam(?!haus|cop)\b",
    ),
)
_VIRUS = _rx(
    (
        "it has a potentially executable attachment", "the message was rejected because it contains prohibited virus",
        "this form of attachment has been used by recent viruses", "virus detected",
        "your message was infected with a virus", "- infected", "contains a virus", "virus found", "infected with",
        "malware", "executable files are not allowed", "an illegal attachment on your message", "attachment type",
        "prohibited attachment", "banned attachment", "blocked attachment", "forbidden attachment",
        "not accepting mail with attachments", "we do not accept messages containing images or other attachments",
    ),
    (r"virus\b",),
)
_CONTENT = _rx(
    (
        "header size exceeds maximum permitted", "improper use of 8-bit data in message header",
        "message header size, or recipient list, exceeds policy limit",
        "message mime complexity exceeds the policy maximum", "routing loop detected -- too many received: headers",
        "this message contain invalid mime headers", "this message contain improperly-formatted binary content",
        "this message contain text that uses unnecessary base64 encoding", "- bad header:",
        'too many "received" headers', "message content", "content rejected", "rejected due to content",
        "content filter", "conversion to internet format failed", "invalid mime", "malformed message",
        "message does not comply with", "not rfc 5322 compliant", "not rfc5322 compliant", "rfc 5322",
    ),
    (),
)
_POLICY = _rx(
    (
        "because the recipient is not accepting mail with ", "by non-member to a members-only list",
        "closed mailing list", "denied by policy", "email not accepted for policy reasons",
        "email rejected due to security policies", "header are not accepted", "header error",
        "local policy violation", "message bounced due to organizational settings", "message given low priority",
        "message not accepted for policy reasons", "message rejected due to local policy",
        "messages with multiple addresses", "rejected for policy reasons", "protocol violation",
        "the email address used to send your message is not subscribed to this group",
        "the message was rejected by organization policy",
        "this message was blocked because its content presents a potential",
        "you have exceeded the allowable number of posts without solving a captcha", "policy violation",
        "not permitted by policy", "violates policy", "policy rejection", "policy reasons", "by policy",
        "prohibited by administrator", "administratively denied", "message refused", "greylisted", "greylisting",
    ),
    (r"polic(?:y|ies)\b",),
)
_REPUTATION = _rx(
    (
        "a poor email reputation score", "has been temporarily rate limited due to ip reputation",
        "ip/domain reputation problems", "likely suspicious due to the very low reputation", "none/bad reputation",
        "temporarily deferred due to unexpected volume or user complaints", "the sending mta's poor reputation",
        "poor reputation", "bad reputation", "low reputation", "sender reputation", "ip reputation",
        "domain reputation", "reputation score", "reputation of the sending", "senderscore", "sender score",
        "due to user complaints", "rejected due to the sending mta", "listed as abusive",
    ),
    (r"reputation\b",),
)
_AUTH = _rx(
    (
        "//spf.pobox.com", "bad spf records for", "dmarc policy", "please inspect your spf settings",
        "sender policy framework (spf) fail", "sender policy framework violation",
        "spf (sender policy framework) domain authentication fail", "spf check: fail",
        "account not subscribed to ses", "authentication credentials invalid", "authentication failure",
        "authentication required", "authentication turned on in your email client", "tls required but not supported",
        "unauthenticated senders not allowed", "is not authorized to perform ses:sendrawemail",
        "you are not authorized to send mail, authentication is required", "verification failure",
        "must issue a starttls command first", "starttls", "encryption required", "requires tls", "tls is required",
        "authentication failed", "unauthenticated", "not authenticated", "dkim", "dmarc", "spf",
        "sender policy framework", "please turn on smtp authentication", "resolver.rst.authrequired",
        "domain authentication", "failed authentication",
    ),
    (
        r"is not allowed to send from <.{0,120} per it'?s spf record", r"spf\b",
        r"is not allowed to send (?:mail )?from",
    ),
)
_RATE = _rx(
    (
        "mail sent from your ip address has been temporarily rate limited", "please try again slower",
        "receiving mail at a rate that prevents additional messages from being delivered",
        "has exceeded the max emails per hour", "throttling failure: daily message quota exceeded",
        "throttling failure: maximum sending rate exceeded", "rate limit", "rate limited", "ratelimit", "rate-limit",
        "sending rate", "message rate", "too many messages from", "too many messages sent", "too much mail from",
        "exceeded the rate", "rate exceeded", "throttled", "throttling", "sending too fast", "try again slower",
        "mail flood", "flood of mail", "5.7.28", "exceeded the sending limit", "daily sending quota exceeded",
        "maximum sending rate exceeded", "hourly limit", "daily limit",
    ),
    (),
)
_TOO_MANY = _rx(
    (
        "all available ips are at maximum connection limit", "connection rate limit exceeded",
        "exceeds per-domain connection limit for", "too many connections", "too many concurrent smtp connections",
        "too many errors from your ip", "too many recipients", "too many smtp sessions for this host",
        "trop de connexions", "we have already made numerous attempts to deliver this message",
        "resolver.adr.reciplimit", "too many simultaneous connections", "connection limit",
    ),
    (),
)
_BLOCKED = _rx(
    (
        " said: 550 blocked", "access denied. ip name lookup failed", "all mail servers must have a ptr record",
        "bad dns ptr resource record", "bad sender ip address", "banned sending ip", "blacklisted by",
        "blocked using ", "can't determine purported responsible address", "cannot find your hostname",
        "cannot resolve your address", "may not be mail exchanger", "was not authenticated",
        "confirm this mail server", "connections not accepted from ip addresses on spamhaus xbl",
        "currently sending spam see:", "dynamic/zombied/spam ips blocked", "error: no valid recipients from ",
        "esmtp not accepting connections", "extreme bad ip profile", "fix reverse dns for", "go away",
        "helo command rejected:", "host network not allowed", "hosts with dynamic ip", "http://www.spamcop.net/bl.",
        "invalid ip for sending mail of domain", "is in a black list", "is not allowed to send mail from",
        "message was rejected for possible spam/virus content", "no access from mail server", "no ptr record found.",
        "not currently accepting mail from your ip", "part of their network is on our block list",
        "please get a custom reverse dns name from your isp for your host", "please use the smtp server of your isp",
        "ptr record setup", "rejected because the sending mta or the sender has not passed validation",
        "rejecting open proxy", "reverse dns failed", "reverse dns required", "sender ip address rejected",
        "sender ip reverse lookup rejected", "forbidden by your ip", "listed as abusive",
        "service not available, closing transmission channel",
        "smtp error from remote mail server after initial connection:",
        "sorry, that domain isn't in my list of allowed rcpthosts", "your remotehost looks suspiciously like spammer",
        "the ip address sending this message does not have a ptr record", "too many spams from your ip",
        "too many unwanted messages have been sent from the following ip address above",
        "unresolvable relay host name", "you are not allowed to connect", "you are sending spam",
        "your email address has been blacklisted", "your network is temporary blacklisted",
        "your server requires confirmation", "we do not accept mail from dynamic ips",
        "we do not accept mail from hosts with dynamic ip or generic dns ptr-records", "blacklist", "black list",
        "blocklist", "block list", "blocked", "denylist", "deny list", "spamhaus", "spamcop", "barracuda", "dnsbl",
        "banned", "not accepting mail from", "client host rejected", "ptr record", "reverse dns", "rdns",
        "refused to talk to me", "which is an open relay", "is an open relay",
    ),
    (
        r"access from ip address [^ ]+ blocked", r"client host [^ ]+ blocked using",
        r"domain [^ ]+ mismatches client ip", r"host [^ ]+ refused to talk to me: \d+ blocked",
        r"ip \d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3} is blocked", r"server ip [^ ]+ listed as abusive",
        r"the (?:email|domain|ip) [^ ]+ is blacklisted", r"was blocked by [^ ]+",
        r"\((?:blocked|refused)\) - see https?://", r"rbl\b", r"sorbs\b", r"mail server at [^ ]+ is blocked",
        r"message from [^ ]+ rejected based on blacklist",
    ),
)
_NETWORK = _rx(
    (
        "could not connect and send the mail to", "dns records for the destination computer could not be found",
        "hop count exceeded - possible mail loop", "host is unreachable", "host name lookup failure",
        "host not found, try again", "mail forwarding loop for ", "malformed name server reply",
        "malformed or unexpected name server reply", "maximum forwarding loop count exceeded", "message looping",
        "message probably in a routing loop", "no route to host", "too many hops", "unable to resolve route ",
        "network error on destination mxs", "connection refused by", "connection dropped", "connection reset by peer",
        "connection was dropped by remote host", "could not initiate smtp conversation", "temporary dns failure",
        "dns temporary failure", "servfail", "all routes to destination blocked",
        "bad dns lookup error code", "no mx found for domain", "no mx found for destination",
        "no valid route to remote mx", "no valid route to destination", "temporary failure in mx lookup",
        "address family mismatch on destination mxs", "could not retrieve source address", "loop detected",
        "sorry, i wasn't able to establish an smtp connection",
        "sorry, i couldn't find a mail exchanger or ip address", "although i'm listed as a best-preference mx",
        "message has exceeded maximum hop count", "dns lookup failed", "smtpsend.dns.mxloopback",
        "had no relevant answers", "connection refused", "connection timed out", "network is unreachable",
        "host unreachable", "temporary failure in name resolution", "mail loop", "routing loop", "timed out",
        "timeout", "could not contact dns servers", "the recipient server did not accept our requests to connect",
        "unable to connect", "could not connect", "failed to connect", "connection lost", "lost connection",
        "connection closed", "no answer from host", "server did not respond", "name server error",
    ),
    (),
)
_SYSTEM = _rx(
    (
        "aliasing/forwarding loop broken", "can't create user output file", "could not load drd for domain",
        "internal error reading data", "internal server error: operation now in progress", "interrupted system call",
        "it encountered an error while being processed", "it would create a mail loop", "local configuration error",
        "local error in processing", "loop was found in the mail exchanger", "loops back to myself",
        "queue file write error", "mail system configuration error", "remote server is misconfigured",
        "server configuration error", "service currently unavailable", "system config error",
        "temporary local problem", "timeout waiting for input", "transaction failed", "mail system full",
        "requested mail action aborted: exceeded storage allocation", "delivery to file forbidden",
        "delivery to pipe forbidden", "local delivery failed", "lmtp error after ",
        "bad interpreter: no such file or directory", "system error", "automatic homedir creator crashed",
        "illegal value in ldap attribute", "ldap attribute is not given but mandatory",
        "timeout while performing search on ldap server", "too many results returned but needs to be unique",
        "error while executing qmail-forward", "temporary error in automatic homedir creation",
        "temporary failure in ldap lookup", "unable to contact ldap server", "unable to login into ldap server",
        "several matches found in domino directory", "resolver.adr.badprimary", "resolver.adr.invalidinsmtp",
        "resolver.adr.ambiguous", "this domain's dns violates rfc 1035", "insufficient system storage",
        "not enough free space", "internal error", "server error", "mailer error", "command failed", "procmail:",
        "bin/procmail", "bin/maildrop", "pipe to |", "x-unix;", "no proxy for recipient",
    ),
    (r"command died with status \d+", r"exit \d+\b"),
)

# Enhanced status codes (RFC 3463 and the IANA registry), as Sisimai::SMTP::Status names them,
# mapped to this taxonomy. 5.1.10 is Microsoft's RecipientNotFound in practice (RFC 7505's null
# MX otherwise, caught by its words); 5.2.1 "mailbox disabled" is a suspended mailbox.
_STATUS = {
    "1.0": USER_UNKNOWN, "1.1": USER_UNKNOWN, "1.2": HOST_UNKNOWN, "1.3": USER_UNKNOWN, "1.4": FILTERED,
    "1.6": HAS_MOVED, "1.7": SENDER_REJECTED, "1.8": SENDER_REJECTED, "1.9": SYSTEM, "1.10": USER_UNKNOWN,
    "2.1": SUSPENDED, "2.2": MAILBOX_FULL, "2.3": CONTENT, "2.4": FILTERED, "3.0": SYSTEM, "3.1": SYSTEM,
    "3.2": NOT_ACCEPT, "3.3": SYSTEM, "3.4": CONTENT, "3.5": SYSTEM, "4.0": NETWORK, "4.1": NETWORK,
    "4.2": NETWORK, "4.3": SYSTEM, "4.4": HOST_UNKNOWN, "4.5": SYSTEM, "4.6": NETWORK, "4.7": EXPIRED,
    "5.0": SYSTEM, "5.1": SYSTEM, "5.2": SYSTEM, "5.3": TOO_MANY_CONNECTIONS, "5.4": SYSTEM, "5.5": SYSTEM,
    "5.6": AUTH_FAILURE, "6.0": CONTENT, "6.1": CONTENT, "6.2": CONTENT, "6.3": CONTENT, "6.5": CONTENT,
    "6.6": CONTENT, "6.7": CONTENT, "6.8": CONTENT, "6.9": CONTENT, "7.0": POLICY, "7.1": POLICY, "7.2": POLICY,
    "7.3": AUTH_FAILURE, "7.4": AUTH_FAILURE, "7.5": AUTH_FAILURE, "7.6": AUTH_FAILURE, "7.7": AUTH_FAILURE,
    "7.8": AUTH_FAILURE, "7.9": AUTH_FAILURE, "7.10": AUTH_FAILURE, "7.11": AUTH_FAILURE, "7.12": AUTH_FAILURE,
    "7.13": SUSPENDED, "7.14": AUTH_FAILURE, "7.15": AUTH_FAILURE, "7.16": CONTENT, "7.17": HAS_MOVED,
    "7.18": HAS_MOVED, "7.19": AUTH_FAILURE, "7.20": AUTH_FAILURE, "7.21": AUTH_FAILURE, "7.22": AUTH_FAILURE,
    "7.23": AUTH_FAILURE, "7.24": AUTH_FAILURE, "7.25": BLOCKED, "7.26": AUTH_FAILURE, "7.27": NOT_ACCEPT,
    "7.28": RATE_LIMITED, "7.29": AUTH_FAILURE, "7.30": AUTH_FAILURE,
}  # fmt: skip
# Microsoft's three-digit details (Exchange Online NDR codes), after Sisimai's Office365 table.
_MICROSOFT = (
    (re.compile(r"^4\.4\.312$|^5\.4\.312$|^5\.4\.6$|^5\.7\.25$"), NETWORK),
    (re.compile(r"^[45]\.4\.316$"), EXPIRED),
    (re.compile(r"^5\.4\.310$"), HOST_UNKNOWN),
    (re.compile(r"^5\.0\.350$|^5\.6\.11$"), CONTENT),
    (re.compile(r"^5\.7\.50[1-3]$"), SPAM),
    (re.compile(r"^5\.7\.50[45]$"), FILTERED),
    (re.compile(r"^5\.7\.50[67]$|^[45]\.7\.6\d\d$|^4\.7\.8[5-9]\d$|^5\.7\.23$"), BLOCKED),
    (re.compile(r"^5\.7\.508$|^5\.7\.7[0-4]\d$"), TOO_MANY_CONNECTIONS),
    (re.compile(r"^5\.7\.509$|^5\.7\.512$|^5\.7\.57$|^4\.7\.26$|^5\.7\.515$"), AUTH_FAILURE),
    (re.compile(r"^5\.7\.510$"), NOT_ACCEPT),
    (re.compile(r"^5\.7\.511$|^5\.7\.1[23]\d$"), SENDER_REJECTED),
)
_CONTINUATION = re.compile(r"(?<=\s)[245]\d\d-(?:[245]\.\d{1,3}\.\d{1,3}\s)?")


def status_reason(status: str | None) -> str | None:
    """The reason an enhanced status code names by itself (None for x.0.0 and unknown codes).

    A temporary (4.x.x) code never names a dead address by itself: "450 4.1.1
    unverified address" means the check could not be made, not that it failed.
    """
    if not status:
        return None
    for pattern, microsoft in _MICROSOFT:
        if pattern.match(status):
            return microsoft
    named = _STATUS.get(status.split(".", 1)[1])
    if status.startswith("4"):
        if named in DEAD:
            return None
        if named == POLICY:
            return BLOCKED  # 4.7.x: refused for now, Sisimai's "blocked"
    return named


def sweep(text: str) -> str:
    """Lower case, one space between words, multi-line reply prefixes ("550-5.7.1 ") removed."""
    text = " " + re.sub(r"\s+", " ", text[:20_000]).strip().lower() + " "
    if text.count("-") > 2:
        text = _CONTINUATION.sub(" ", text)
    return re.sub(r" {2,}", " ", text)


# --------------------------------------------------------------------------- decision


def _sender_side(text: Swept) -> str | None:
    """Reasons that never mean a dead address, most specific first."""
    for reason, pattern in (
        (RATE_LIMITED, _RATE), (TOO_MANY_CONNECTIONS, _TOO_MANY), (BAD_REPUTATION, _REPUTATION),
        (RELAY_DENIED, _RELAY),
    ):  # fmt: skip
        if pattern.search(text):
            return reason
    return None


def _late(text: Swept) -> str | None:
    """What a refusal that names no dead address is, in Sisimai's fallback order."""
    for reason, pattern in (
        (SPAM, _SPAM), (CONTENT, _VIRUS), (AUTH_FAILURE, _AUTH), (CONTENT, _CONTENT), (BLOCKED, _BLOCKED),
        (POLICY, _POLICY), (EXPIRED, _EXPIRED), (NETWORK, _NETWORK), (SYSTEM, _SYSTEM), (NOT_ACCEPT, _NOT_ACCEPT),
    ):  # fmt: skip
        if pattern.search(text):
            return reason
    return None


def _dead_text(text: Swept, stage: str | None) -> str | None:
    """user_unknown / host_unknown from the words alone, or filtered when said after DATA."""
    if _HOST_AFTER_ALL.search(text):
        return None  # "Host not found, try again": a DNS hiccup, not a missing domain
    reason = HOST_UNKNOWN if _HOST.search(text) else USER_UNKNOWN if _USER.search(text) else None
    if reason and stage in stages.AFTER_DATA:
        return FILTERED
    return reason


# Status codes specific enough that "user unknown" somewhere in the text does not overrule them.
_STRONG_STATUS = frozenset((AUTH_FAILURE, BLOCKED, SPAM, CONTENT, RATE_LIMITED, TOO_MANY_CONNECTIONS,
                            SENDER_REJECTED, RELAY_DENIED, EXPIRED))  # fmt: skip


def _stage_reason(text: Swept, stage: str | None) -> str | None:
    """Refused at MAIL FROM: the sender; at connection or HELO: the sending host."""
    if stage == stages.MAIL:
        if _AUTH.search(text):
            return AUTH_FAILURE
        return BLOCKED if _BLOCKED.search(text) and not _SENDER.search(text) else SENDER_REJECTED
    if stage in (stages.CONNECTION, stages.HELO):
        if _AUTH.search(text):
            return AUTH_FAILURE
        return NETWORK if _NETWORK.search(text) and not _BLOCKED.search(text) else BLOCKED
    return None


# "Message length exceeds administrative limit" (x.2.3) and "message too big for system" (x.3.4).
_SIZE_CODES = frozenset(("2.3", "3.4"))


def decide(status: str | None, text: str, stage: str | None = None, action: str = "") -> str:
    """The reason for one failed recipient.

    ``status`` is the enhanced status code, ``text`` the recipient's diagnostic
    (reply text and the words around it), ``stage`` the SMTP stage if known,
    ``action`` the DSN action.
    """
    t = Swept.of(text)
    named = status_reason(status)
    early = _sender_side(t)
    if early:
        return early
    too_big = _TOO_BIG.search(t) or (named == CONTENT and status and status[2:] in _SIZE_CODES)
    if too_big and not _FULL.search(t):
        return CONTENT  # "SIZE=... exceeds": refused at MAIL FROM, but for the message, not the sender
    by_stage = _stage_reason(t, stage)
    if by_stage:
        return by_stage
    for reason, pattern in ((MAILBOX_FULL, _FULL), (CONTENT, _TOO_BIG), (SUSPENDED, _SUSPEND), (HAS_MOVED, _MOVED)):
        if pattern.search(t) or (named == reason and not (reason == SUSPENDED and _USER.search(t))):
            return reason  # 5.2.1 is "mailbox disabled", but many servers send it with "User unknown"
    sender = bool(_SENDER.search(t)) and not _SENDER_NOT.search(t)
    if named == USER_UNKNOWN and not sender and not _NOT_ACCEPT.search(t):
        return FILTERED if stage in stages.AFTER_DATA else USER_UNKNOWN
    if named == SENDER_REJECTED or sender:
        return SENDER_REJECTED
    if named == NOT_ACCEPT or _NOT_ACCEPT.search(t):
        return NOT_ACCEPT
    if named == FILTERED or _FILTERED.search(t):
        return FILTERED
    dead = _dead_text(t, stage)
    if dead and named not in _STRONG_STATUS:
        return dead
    if named == HOST_UNKNOWN and not _NETWORK.search(t):
        return HOST_UNKNOWN
    return _late(t) or named or (EXPIRED if action == "delayed" else OTHER)


# RFC 7505: a null MX is the domain's own permanent statement that it takes no mail, whatever
# status class the reporting system attaches to it (Gmail writes 4.0.0).
_NULL_MX = re.compile(r"null ?mx|rfc ?7505", re.I)


def is_hard(reason: str, status: str | None, stage: str | None, text: str = "") -> bool:
    """A dead address, refused before DATA; "does not accept mail" only when permanent."""
    if reason not in DEAD or stage in stages.AFTER_DATA:
        return False
    temporary = (status or "5").startswith("4") and not _NULL_MX.search(text[:20_000])
    return not (reason == NOT_ACCEPT and temporary)


# "Could not initiate SMTP conversation", "connection dropped": the connection itself failed.
_NO_CONVERSATION = re.compile(
    r"could not initiate smtp conversation|connection (?:was )?dropped|connection refused|connection reset"
    r"|connection timed out|no answer from host|failed to connect|unable to connect|could not connect"
)


def implied_status(reason: str, text: str, action: str) -> str | None:
    """The enhanced status code the words imply, for a report that gives none.

    A dead domain is 5.1.2; a connection that could not be made or was
    dropped is 5.3.2 when the report is final and 4.4.1 while it is retried;
    a give-up notice is 4.4.7 (delivery time expired).
    """
    if reason == HOST_UNKNOWN:
        return "5.1.2"
    if reason in (NETWORK, EXPIRED) and _NO_CONVERSATION.search(text[:20_000].lower()):
        return "5.3.2" if action == "failed" and reason == NETWORK else "4.4.1"
    if reason == EXPIRED and action == "failed":
        return "4.4.7"
    return None
