"""One spreadsheet cell into one contact value: email, phone, name, owner, language, tags.

Pure functions of text, so the importer's row parsing is too: each returns the
value and, where the cell is usable only in part, a warning for the user (the
contact is kept; the cell is not silently half-read).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from outreach.fields.parsers import RowError


def normalise_email(raw: str) -> str:
    """Syntax check (no DNS) and normalise; raises RowError with a readable reason.

    ``Budi <budi@x.co.id>`` (as mail programs export) gives its address; of
    Google's ``a@x ::: b@y`` the first one.
    """
    raw = first_value(raw.strip())
    if "<" in raw and raw.endswith(">"):
        raw = parseaddr(raw)[1] or raw
    if not raw:
        raise RowError("email is empty", "email")
    try:
        info = validate_email(raw, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        text = str(exc)
        if "smtputf8" in text.lower() or "internationali" in text.lower():
            text = "internationalised address (SMTPUTF8) is not supported"
        raise RowError(f"invalid email {raw!r}: {text}", "email") from None
    # addresses are ASCII: an internationalised domain is kept in its IDNA (xn--) form
    return (info.ascii_email or info.normalized).lower()


def first_value(cell: str) -> str:
    """Google Contacts writes several values in one cell as ``a ::: b``: the first."""
    return cell.split(":::", 1)[0].strip()


# -- phones ---------------------------------------------------------------------------------

_SEVERAL = re.compile(r"\s*(?:/|;|,|\||:::|\bor\b|\batau\b|\bdan\b)\s*", re.I)


@dataclass(frozen=True)
class Phone:
    e164: str | None
    warning: str | None = None


def parse_phone(cells: list[str], region: str) -> Phone:
    """The first valid number among the cells (each may hold several: ``0812… / 021…``), in E.164.

    ``phonenumbers`` (Google's libphonenumber data) reads national forms with
    the trunk 0 (``0812-3456-7890``), ``+62``/``62`` prefixes and a mobile
    number Excel stripped of its 0 (``812 3456 7890``); a number it does not
    know as valid for its country is reported, not stored.
    """
    tried: list[str] = []
    for cell in cells:
        for part in _SEVERAL.split(cell):
            part = part.strip()
            if not part:
                continue
            tried.append(part)
            number = _number(part, region)
            if number is not None:
                e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                note = None
                if number.extension:
                    note = f"phone {part!r}: extension {number.extension} is not kept (stored {e164})"
                return Phone(e164, note)
    if not tried:
        return Phone(None)
    return Phone(None, f"phone {tried[0]!r} is not a valid phone number (default region {region}); "
                       "the contact was kept without it")  # fmt: skip


def _number(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    if not any(c.isdigit() for c in text):
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


# -- names ----------------------------------------------------------------------------------

_HONORIFIC = re.compile(
    r"^(?:bapak|bpk|bp|pak|ibu|ib|bu|sdr|sdri|saudara|saudari|mr|mrs|ms|miss|mx|dr|prof|ir|drs|dra|h|hj|dr\s*ir)"
    r"\.?\s+", re.I)  # fmt: skip
_DEGREE = re.compile(r"^(?:[A-Za-z]{1,6}\.)+[A-Za-z]{0,6}\.?$|^(?:jr|sr|ii|iii|iv|phd|mba|msc|bsc|cpa|se|mm|mt)\.?$",
                     re.I)  # fmt: skip


def split_name(full: str) -> tuple[str, str]:
    """``"Ir. Budi Santoso, M.M."`` -> ("Budi", "Santoso"); ``"Santoso, Budi"`` -> ("Budi", "Santoso").

    Honorifics in front (Bapak, Ibu, Dr., Ir., H.) and academic degrees after a
    comma (S.E., M.M., MBA) are not names; many Indonesians have a single name,
    which becomes the first name.
    """
    text = " ".join(full.split())
    if "," in text:
        head, tail = (p.strip() for p in text.split(",", 1))
        tail_words = [w for w in re.split(r"[\s,]+", tail) if w]
        text = head if all(_DEGREE.match(w) for w in tail_words) else f"{tail} {head}"
    while (m := _HONORIFIC.match(text)) is not None and len(text) > m.end():
        text = text[m.end() :]
    words = text.split()
    if not words:
        return "", ""
    return words[0], " ".join(words[1:])


# -- owner, language, tags ------------------------------------------------------------------


def resolve_owner(value: str, senders: Mapping[str, tuple[str, str]]) -> tuple[str, str | None]:
    """A sender key from its key, name or address (CRMs export the owner's name); else kept, with a warning."""
    wanted = value.strip().casefold()
    for key, (name, email) in senders.items():
        if wanted in (key.casefold(), name.casefold(), email.casefold()):
            return key, None
    known = ", ".join(sorted(senders)) or "none"
    return value, f"owner {value!r} is not a sender in outreach.yaml (senders: {known}); kept as written"


LANGUAGES = {
    "id": "id", "ind": "id", "indonesia": "id", "indonesian": "id", "bahasa indonesia": "id", "bahasa": "id",
    "en": "en", "eng": "en", "english": "en", "inggris": "en", "bahasa inggris": "en",
}  # fmt: skip


def parse_language(value: str) -> tuple[str | None, str | None]:
    """``id`` or ``en`` from ``id-ID``, ``English``, ``Bahasa Indonesia``...; else a warning."""
    text = value.strip().casefold().replace("_", "-")
    code = LANGUAGES.get(text) or LANGUAGES.get(text.split("-", 1)[0])
    if code is None:
        return None, f"language {value!r} is not id or en; the workspace's language is used"
    return code, None


def parse_tags(value: str) -> str:
    """``;``, ``,`` or Google's ``:::`` separated; Google's own system labels (``* myContacts``) dropped."""
    tags = {t.strip().lower() for t in re.split(r";|,|:::", value) if t.strip() and not t.strip().startswith("*")}
    return ";" + ";".join(sorted(tags)) + ";" if tags else ""
