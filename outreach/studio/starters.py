"""`outreach content new NAME --kind KIND --lang LANG`: a campaign a writer can start from.

Each kind is a well-formed example of its genre, in good Bahasa Indonesia or
English, using the building blocks where they help (a price table and a
callout for an offer, a button to reply, the date and venue in a callout):

* ``press-release``: headline, dateline and lead, a quote, the body, the
  "Tentang …"/"About …" boilerplate and the media contact;
* ``product-offer``: a price table, the offer's validity, one button;
* ``event-invitation``: what, when and where, the programme, a button to confirm;
* ``follow-up``: short, one question, one call to action.

The organization, sender, dateline city and dates are filled in from
outreach.yaml at creation, so the file passes ``content lint`` as written;
``{# … #}`` comments guide the writer and are never sent. Nothing is ever
overwritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

from outreach.campaigns.definition import NAME, ContentFiles
from outreach.errors import InputError, NotFoundError
from outreach.settings.files import write_atomically
from outreach.settings.workspace import WorkspaceConfig
from outreach.studio import STARTER_KINDS as KINDS

KIND_NAMES = {
    "press-release": ("siaran pers", "press release"),
    "product-offer": ("penawaran produk", "product offer"),
    "event-invitation": ("undangan acara", "event invitation"),
    "follow-up": ("email tindak lanjut", "follow-up email"),
}
MONTHS = {
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
           "November", "Desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}  # fmt: skip
EVENT_IN = timedelta(days=21)  # the sample event's date: three weeks ahead


@dataclass(frozen=True)
class NewCampaign:
    name: str
    kind: str
    lang: str
    segment: str
    sender: str
    files: tuple[Path, ...]


def long_date(day: date, lang: str) -> str:
    """``2 Desember 2026`` / ``2 December 2026``: how a dateline and an invitation write a date."""
    return f"{day.day} {MONTHS[lang][day.month - 1]} {day.year}"


def new_campaign(ws: WorkspaceConfig, name: str, kind: str, lang: str | None = None, *, segment: str | None = None,
                 sender: str | None = None, today: date | None = None) -> NewCampaign:  # fmt: skip
    """Write ``campaigns/NAME.yaml`` and ``campaigns/NAME.md``; refuse if any file of NAME is there already."""
    if kind not in KINDS:
        raise InputError(f"{kind!r} is not a kind of campaign ({', '.join(KINDS)})")
    lang = lang or ws.settings.language
    if lang not in MONTHS:
        raise InputError(f"{lang!r} is not a language (id, en)")
    if not NAME.match(name) or name.endswith((".id", ".en")):
        raise InputError(f"{name!r} is not a campaign name (letters, digits, - _ .; no .id or .en at the end)")
    yaml_path, md_path = ws.campaigns_dir / f"{name}.yaml", ws.campaigns_dir / f"{name}.md"
    for existing in (yaml_path, *ContentFiles.of(md_path, lang).paths):
        if existing.exists():
            raise InputError(f"{existing} already exists; refusing to overwrite it (choose another name)")
    segment = segment or _first_segment(ws)
    sender = sender or next(iter(ws.settings.senders))
    ws.sender(sender)  # a clear error for an unknown key
    text = starter_text(ws, kind, lang, sender, today)
    ws.campaigns_dir.mkdir(parents=True, exist_ok=True)
    label = KIND_NAMES[kind][1]
    yaml_path.write_text(f"# {label} ({'Bahasa Indonesia' if lang == 'id' else 'English'}), made by "
                         f"`outreach content new`\nsegment: {segment}\ncontent: {name}.md\nsender: {sender}\n",
                         encoding="utf-8")  # fmt: skip
    md_path.write_text(text, encoding="utf-8")
    return NewCampaign(name, kind, lang, segment, sender, (yaml_path, md_path))


def starter_text(ws: WorkspaceConfig, kind: str, lang: str, sender: str, today: date | None = None,
                 subjects: tuple[str, ...] = ()) -> str:  # fmt: skip
    """A starter's Markdown filled in for ``sender``; ``subjects``: the subject and A/B variants to use
    instead of the starter's own (the executive's new-campaign form)."""
    if kind not in KINDS:
        raise InputError(f"{kind!r} is not a kind of campaign ({', '.join(KINDS)})")
    if lang not in MONTHS:
        raise InputError(f"{lang!r} is not a language (id, en)")
    text = _fill(_starter(kind, lang), _values(ws, sender, lang, today or date.today()))
    return with_subjects(text, subjects) if subjects else text


def with_subjects(text: str, subjects: tuple[str, ...]) -> str:
    """The front matter's ``subject:`` line replaced by the first of ``subjects`` and ``variants:`` by the rest
    (JSON strings are YAML's double-quoted scalars: any text is written safely)."""
    head, sep, body = text.partition("\n---\n")
    lines = [line for line in head.split("\n") if not line.startswith(("subject:", "variants:"))]
    front = [f"subject: {json.dumps(subjects[0], ensure_ascii=False)}"]
    if len(subjects) > 1:
        front.append("variants: [" + ", ".join(json.dumps(s, ensure_ascii=False) for s in subjects[1:]) + "]")
    return "\n".join([lines[0], *front, *lines[1:]]) + sep + body


def write_starter(ws: WorkspaceConfig, name: str, kind: str, lang: str, sender: str,
                  subjects: tuple[str, ...] = ()) -> Path:  # fmt: skip
    """``campaigns/NAME.md`` from a starter, created (never overwriting: an error when any file of NAME is
    there); the campaign file is the caller's to write."""
    md_path = ws.campaigns_dir / f"{name}.md"
    for existing in ContentFiles.of(md_path, lang).paths:
        raise InputError(f"{existing.name} already exists; choose another name, or pick it as the content")
    write_atomically(md_path, starter_text(ws, kind, lang, sender, subjects=subjects), exclusive=True)
    return md_path


def _first_segment(ws: WorkspaceConfig) -> str:
    names = sorted(p.stem for p in ws.segments_dir.glob("*.yaml")) if ws.segments_dir.is_dir() else []
    if not names:
        raise NotFoundError(f"no segment to send to: create one in {ws.segments_dir} (or pass --segment NAME)")
    return names[0]


def _starter(kind: str, lang: str) -> str:
    return resources.files("outreach.templates").joinpath(f"starters/{kind}.{lang}.md").read_text(encoding="utf-8")


def _values(ws: WorkspaceConfig, sender_key: str, lang: str, today: date) -> dict[str, str]:
    s, org = ws.sender(sender_key), ws.settings.organization
    city = ws.settings.timezone.rsplit("/", 1)[-1].replace("_", " ")
    return {
        "org": org.name, "address": org.address, "city": city.upper(),
        "date": long_date(today, lang), "event_date": long_date(today + EVENT_IN, lang),
        "sender_name": s.name, "sender_title": s.title or ("Juru Bicara" if lang == "id" else "Spokesperson"),
        "sender_email": s.email, "sender_phone": s.phone,
    }  # fmt: skip


def _fill(text: str, values: dict[str, str]) -> str:
    """``[[name]]`` markers replaced; a line whose only value is empty (no phone number) is left out."""
    lines: list[str] = []
    for line in text.split("\n"):
        if any(f"[[{key}]]" in line and not value for key, value in values.items()):
            continue
        for key, value in values.items():
            line = line.replace(f"[[{key}]]", _plain(value))
        lines.append(line)
    return "\n".join(lines)


def _plain(value: str) -> str:
    """Settings text written into Markdown: no jinja tag, nothing Markdown would read as markup."""
    for mark, safe in (("{{", "{ {"), ("{%", "{ %"), ("{#", "{ #"), ("[", "("), ("]", ")")):
        value = value.replace(mark, safe)
    return value
