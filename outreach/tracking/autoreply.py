"""Auto-replies (RFC 3834) and the return date an out-of-office notice states.

Why we care: an out-of-office answer is not a human reply, so it must not stop
a sequence, and when it names a return date the follow-up should wait for it.
Headers decide first (Auto-Submitted, X-Autoreply, Precedence); wording in
English and Indonesian catches responders that set none of them. Body wording
alone is trusted only for phrases a person rarely writes in a real reply, or
for "on leave"-style phrases together with "until"/"back on"/"kembali".
"""

from __future__ import annotations

import datetime as dt
import re
from email.message import Message

_SUBJECT = re.compile(
    r"^\s*auto:|out of (?:the )?office|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response"
    r"|autoresponder|balasan otomatis|pesan otomatis|jawaban otomatis|di luar kantor"
    r"|sedang cuti|tidak di kantor|\bOOO\b|abwesenheitsnotiz|réponse automatique"
    r"|respuesta automática|risposta automatica",
    re.I,
)
_STRONG = re.compile(
    r"out of (?:the )?office|automatic reply|auto[- ]?reply|autoreply|i am currently out"
    r"|i'm currently out|i am out of the|i'm out of the|on annual leave|balasan otomatis"
    r"|pesan otomatis|di luar kantor|sedang tidak berada di kantor|tidak berada di kantor"
    r"|tidak di kantor|sedang cuti|cuti tahunan|this is an automated (?:reply|response)",
    re.I,
)
_WEAK = re.compile(
    r"on (?:leave|vacation|holiday|maternity leave|sick leave|a business trip)|away from (?:the|my)"
    r" (?:office|desk)|limited access to (?:my )?e-?mail|\bcuti\b|dinas luar|perjalanan dinas",
    re.I,
)
_RETURN_HINT = re.compile(
    r"until|till|return|back on|back in|kembali|s\.\s?d|s/d|sampai|hingga", re.I
)
_PRECEDENCE = ("auto_reply", "bulk", "junk")
_SLACK = dt.timedelta(days=1)
_HORIZON = dt.timedelta(days=730)

_MONTHS = {
    "january": 1, "jan": 1, "januari": 1, "february": 2, "feb": 2, "februari": 2, "pebruari": 2,
    "march": 3, "mar": 3, "maret": 3, "april": 4, "apr": 4, "may": 5, "mei": 5, "june": 6,
    "jun": 6, "juni": 6, "july": 7, "jul": 7, "juli": 7, "august": 8, "aug": 8, "agustus": 8,
    "agu": 8, "agt": 8, "ags": 8, "september": 9, "sep": 9, "sept": 9, "october": 10, "oct": 10,
    "oktober": 10, "okt": 10, "november": 11, "nov": 11, "nopember": 11, "december": 12,
    "dec": 12, "desember": 12, "des": 12,
}  # fmt: skip
_WEEKDAYS = {
    "monday": 0, "mon": 0, "senin": 0, "tuesday": 1, "tue": 1, "tues": 1, "selasa": 1,
    "wednesday": 2, "wed": 2, "rabu": 2, "thursday": 3, "thu": 3, "thurs": 3, "kamis": 3,
    "friday": 4, "fri": 4, "jumat": 4, "jum'at": 4, "saturday": 5, "sat": 5, "sabtu": 5,
    "sunday": 6, "sun": 6, "minggu": 6, "ahad": 6,
}  # fmt: skip
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAY = "|".join(sorted((re.escape(w) for w in _WEEKDAYS), key=len, reverse=True))
# "minggu" is also "week" ("kembali minggu depan"), so it only counts before a date.
_LONE_WEEKDAY = "|".join(
    sorted((re.escape(w) for w in _WEEKDAYS if w != "minggu"), key=len, reverse=True)
)
_ORD = r"(?:st|nd|rd|th)?"
_DATE = (
    rf"(?:(?:{_WEEKDAY})\.?,?\s+)?(?:the\s+)?(?:"
    rf"(?P<d1>\d{{1,2}}){_ORD}(?:\s+of)?[\s.-]+(?P<m1>{_MONTH})\b\.?(?:,?[\s.-]+(?P<y1>\d{{4}}))?"
    rf"|(?P<m2>{_MONTH})\b\.?\s+(?P<d2>\d{{1,2}}){_ORD}\b(?:,?\s+(?P<y2>\d{{4}}))?"
    rf"|(?P<y4>\d{{4}})-(?P<m4>\d{{1,2}})-(?P<d4>\d{{1,2}})"
    rf"|(?P<a3>\d{{1,2}})[/.-](?P<b3>\d{{1,2}})(?:[/.-](?P<y3>\d{{4}}|\d{{2}}))?(?![\d/.]*\d)"
    rf"|(?P<wd>{_LONE_WEEKDAY})\b)"
)
_BACK = r"(?<![a-z])(?:back|return(?:ing|s)?|kembali|masuk(?:\s+kerja|\s+kantor)?)"
_UNTIL = r"(?<![a-z])(?:until|till|through|thru|s\.\s?d\.?|s/d|sd\.|sampai(?:\s+dengan)?|hingga)"
# Up to 40 characters between trigger and date, not across a sentence end
# ("tgl. 5 Desember" and "Mon. 7 Dec" keep going; "back. On 5 Dec" stops).
_FILLER = r"(?:[^.\n!?]|\.(?!\s+[A-Z]|\s*$)){0,40}?"
_BACK_DATE = re.compile(rf"{_BACK}{_FILLER}(?<![\w/.]){_DATE}", re.I)
_UNTIL_DATE = re.compile(rf"{_UNTIL}{_FILLER}(?<![\w/.]){_DATE}", re.I)


# Challenge/response filters (Boxbe, Bluebottle, SpamArrest, ChoiceMail, TMDA...) hold a message
# until its sender proves to be a person: an automated answer, not a bounce and not a reply.
_CHALLENGE_HEADERS = ("x-boxbe", "x-bluebottle", "x-choicemail", "x-spamarrest", "x-spam-arrest", "x-tmda",
                      "x-mailwasher", "x-cr-", "x-challenge")  # fmt: skip
_CHALLENGE = re.compile(
    r"(?:verify|confirm|prove) (?:that )?you(?:'re| are) (?:a )?(?:human|real person|not a (?:robot|spammer|machine))"
    r"|sender verification|challenge[- /]response|pending (?:sender )?(?:verification|approval)"
    r"|(?:message|e-?mail) (?:is|was|has been) (?:being )?(?:held|quarantined) (?:for|pending|until)"
    r"|add (?:you|yourself) to (?:my|the|their) (?:guest ?list|approved senders|white ?list|safe ?list|allowed senders)"
    r"|(?:approved|verified|allowed) senders? list|guest ?list|spam ?arrest|boxbe|bluebottle|choicemail"
    r"|i (?:use|am using) .{0,60} to (?:protect|filter|keep|screen)|click (?:the|this) link (?:below )?to "
    r"(?:verify|confirm|deliver|approve)",
    re.I,
)


_CHALLENGE_WORDS = ("verif", "confirm", "prove", "challenge", "pending", "held", "quarantin", "guest", "sender",
                    "arrest", "boxbe", "bluebottle", "choicemail", "i use", "i am using", "click")  # fmt: skip


def is_challenge(msg: Message, text: str) -> bool:
    """A challenge/response filter asking the sender to verify before it delivers."""
    if any(k.lower().startswith(_CHALLENGE_HEADERS) for k in msg):
        return True
    head = text[:3000].lower()
    if not any(word in head for word in _CHALLENGE_WORDS):
        return False
    return bool(_CHALLENGE.search(head))


def is_auto_reply(msg: Message, subject: str, own_text: str) -> bool:
    """RFC 3834 headers, vendor headers, or out-of-office wording."""
    auto = str(msg.get("Auto-Submitted", "") or "").strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if msg.get("X-Autoreply") or msg.get("X-Autorespond") or msg.get("X-Autoresponder"):
        return True
    if str(msg.get("X-Apple-Action", "") or "").strip().lower() == "vacation":
        return True
    for field in ("Precedence", "X-Precedence"):
        if str(msg.get(field, "") or "").strip().lower() in _PRECEDENCE:
            return True
    if _SUBJECT.search(subject):
        return True
    if msg.get("X-Auto-Response-Suppress") and re.search(r"\bOOF\b", subject):
        return True  # Exchange marks its out-of-facility notices this way
    head = own_text[:600]
    if _STRONG.search(head) or is_challenge(msg, own_text):
        return True
    return bool(_WEAK.search(head) and _RETURN_HINT.search(head))


def _year(value: str | None) -> int | None:
    if not value:
        return None
    year = int(value)
    return year + 2000 if year < 100 else year


def _resolve(match: re.Match[str], received: dt.date) -> dt.date | None:
    groups = match.groupdict()
    if groups["wd"]:
        ahead = (_WEEKDAYS[groups["wd"].lower()] - received.weekday() - 1) % 7 + 1
        return received + dt.timedelta(days=ahead)
    if groups["d1"]:
        day, month, year = int(groups["d1"]), _MONTHS[groups["m1"].lower()], _year(groups["y1"])
    elif groups["d2"]:
        day, month, year = int(groups["d2"]), _MONTHS[groups["m2"].lower()], _year(groups["y2"])
    elif groups["y4"]:
        day, month, year = int(groups["d4"]), int(groups["m4"]), int(groups["y4"])
    else:
        first, second, year = int(groups["a3"]), int(groups["b3"]), _year(groups["y3"])
        if year is None and "." in match.string[match.start("a3") : match.end("b3")]:
            return None  # "pukul 10.15" is a time, not the 10th of the 15th
        # Day first (Indonesia, UK) unless that cannot be a date and month first can.
        day, month = (second, first) if second > 12 >= first else (first, second)
    try:
        if year is not None:
            return dt.date(year, month, day)
        found = dt.date(received.year, month, day)
        return found if found >= received else dt.date(received.year + 1, month, day)
    except ValueError:
        return None


def return_date(text: str, received: dt.date) -> dt.date | None:
    """The date an out-of-office notice says its sender is back (or away until).

    "back on"/"kembali" dates win over "until"/"s.d." ones. Year-less dates are
    the next such day on or after ``received``; numeric dates are read day
    first. Dates before ``received`` or years ahead are not return dates.
    """
    text = text[:5000]
    for pattern in (_BACK_DATE, _UNTIL_DATE):
        for match in pattern.finditer(text):
            found = _resolve(match, received)
            if found and received - _SLACK <= found <= received + _HORIZON:
                return found
    return None
