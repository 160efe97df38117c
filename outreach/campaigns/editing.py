"""Writing ``campaigns/NAME.yaml`` from the executive's form: the same checks as every command's loader.

The form's values become YAML text; that text is validated by
``load_campaign(ws, name, text)`` — the very loader ``campaign build`` and the
worker use — before anything is written, and only then written atomically.
Each error the loader reports is put back on the form field it came from (by
its key, else by the line the key was written on), so the executive sees
"unknown sender" under the sender and a bad rate under the rate.

Editing keeps what the form does not show (``retry``, ``window``, ``steps``,
``require``, ``reply_to``, other throttle keys) as it was; YAML comments of a
hand-written file are not kept (the audit record holds the old text's diff).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from outreach import audit
from outreach.audience.segments import list_segments, load_segment
from outreach.campaigns.definition import NAME, CampaignSpec, load_campaign
from outreach.errors import ConfigError, ConflictError, InputError, OutreachError
from outreach.settings import LANGUAGES
from outreach.settings.files import read_or_none, version_of, write_atomically
from outreach.settings.workspace import WorkspaceConfig
from outreach.settings.yamlfile import load_yaml

MAX_SUBJECTS = 5
MAX_SUBJECT = 300
# form field -> where its value lives in the file (a pydantic error's dotted key)
PLACES = {"segment": ("segment",), "content": ("content",), "sender": ("sender",), "schedule": ("schedule",),
          "rate": ("throttle", "rate"), "connections": ("throttle", "connections"),
          "daily_cap": ("throttle", "daily_cap")}  # fmt: skip
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?$")
_WHOLE = re.compile(r"^\d{1,9}$")


@dataclass(frozen=True)
class CampaignForm:
    """What the new-campaign form posts (every value as typed: text)."""

    name: str
    segment: str = ""
    content: str = ""  # NAME.md of the workspace, or "" with ``starter`` set: new content from that starter
    sender: str = ""
    schedule: str = ""  # 2026-12-01T09:00, in the workspace's timezone; "" none
    rate: str = ""  # throttle.rate: 20/s, 600/m; "" the workspace's
    connections: str = ""
    daily_cap: str = ""
    starter: str = ""  # press-release | product-offer | event-invitation | follow-up
    lang: str = ""  # the starter's language
    subjects: str = ""  # new content only: the subject, then its A/B variants, one a line

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> CampaignForm:
        """From a posted form: known fields only, each cut to a sane length."""
        found = {f.name: str(values.get(f.name) or "").strip()[: 4000 if f.name == "subjects" else 400]
                 for f in fields(cls)}  # fmt: skip
        return cls(**found)

    def subject_lines(self) -> tuple[str, ...]:
        return tuple(line.strip() for line in self.subjects.splitlines() if line.strip())


class FormError(InputError):
    """The form's values do not make a valid campaign: ``errors`` maps each field ('' the form as a whole)
    to what is wrong with it. Nothing was written."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        first = next(iter(errors.items()))
        super().__init__(f"{first[0] + ': ' if first[0] else ''}{first[1]}")


@dataclass(frozen=True)
class SavedCampaign:
    name: str
    path: Path
    created: bool
    spec: CampaignSpec
    content_created: Path | None = None


def content_choices(ws: WorkspaceConfig) -> list[str]:
    """Every content file a campaign can name (``x.md``; language versions ``x.id.md``/``x.en.md`` as ``x.md``)."""
    if not ws.campaigns_dir.is_dir():
        return []
    names = set()
    for path in ws.campaigns_dir.glob("*.md"):
        stem = path.name[: -len(".md")]
        for lang in LANGUAGES:
            stem = stem.removesuffix(f".{lang}")
        names.add(f"{stem}.md")
    return sorted(names)


def form_of(ws: WorkspaceConfig, name: str) -> tuple[CampaignForm, str]:
    """The form filled from ``campaigns/NAME.yaml`` as it is, and the file's version (for ``base``)."""
    path = ws.campaigns_dir / f"{name}.yaml"
    text = read_or_none(path)
    if text is None:
        load_campaign(ws, name)  # the loader's own "not found" error
        raise AssertionError("unreachable")
    try:
        data = load_yaml(path, text).data
    except ConfigError:  # a file that does not parse: an empty form, which replaces it when saved
        return CampaignForm(name=name), version_of(text)
    data = data if isinstance(data, dict) else {}
    throttle: dict[str, Any] = data["throttle"] if isinstance(data.get("throttle"), dict) else {}
    schedule = data.get("schedule")
    shown = schedule.strftime("%Y-%m-%dT%H:%M") if isinstance(schedule, datetime) else str(schedule or "")
    return CampaignForm(name=name, segment=str(data.get("segment") or ""), content=str(data.get("content") or ""),
                        sender=str(data.get("sender") or ""), schedule=shown,
                        rate=_text(throttle.get("rate")), connections=_text(throttle.get("connections")),
                        daily_cap=_text(throttle.get("daily_cap"))), version_of(text)  # fmt: skip


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def save_campaign(ws: WorkspaceConfig, form: CampaignForm, *, who: str, via: str, engine: Any = None,
                  editing: bool = False, base: str | None = None,
                  make_content: Callable[[CampaignForm], Path] | None = None) -> SavedCampaign:  # fmt: skip
    """Validate ``form`` as ``campaigns/NAME.yaml`` exactly as the loader will read it, then write it.

    A new campaign refuses an existing name; ``editing`` replaces the file, refused (ConflictError) when it
    changed since version ``base``. With ``form.starter`` the content is new: ``make_content(form)``
    creates ``NAME.md`` (removed again if the campaign file is then refused). ``engine``: where the audit
    record goes (who, via, the diff). Raises ``FormError`` with every field's error; nothing is written.
    """
    errors = _precheck(ws, form, editing)
    path = ws.campaigns_dir / (f"{form.name}.yaml" if "name" not in errors else "campaign.yaml")
    before = read_or_none(path) if editing else None
    if editing and before is None:
        errors["name"] = f"there is no campaign {form.name!r} to edit"
    text = campaign_text(form, _existing(path, before), new_content=bool(form.starter))
    if errors:  # and what the loader says of the rest, each on its field, all at once
        try:
            validate(ws, path.stem, text, content_to_come=bool(form.starter))
        except FormError as exc:
            errors = {**exc.errors, **errors}
        raise FormError(errors)
    created_content = None
    if form.starter:
        if make_content is None:
            raise FormError({"content": "new content cannot be made here"})
        try:
            created_content = make_content(form)
        except OutreachError as exc:
            raise FormError({"content": exc.message_in(ws.root)}) from None
    try:
        spec = validate(ws, form.name, text)
        assert spec is not None  # every file is there now
        write_atomically(path, text, exclusive=not editing, base=base if editing else None)
    except OutreachError as exc:
        if created_content is not None:
            created_content.unlink(missing_ok=True)
        if isinstance(exc, FormError | ConflictError):
            raise
        field_name = "name" if not editing and "already exists" in exc.detail else ""
        raise FormError({field_name: exc.message_in(ws.root)}) from None
    if engine is not None:
        audit.record_now(engine, who=who, via=via, kind="campaign", name=form.name,
                         action="edit" if editing else "create",
                         detail=audit.file_diff(before, text, f"campaigns/{form.name}.yaml"))  # fmt: skip
    return SavedCampaign(form.name, path, not editing, spec, created_content)


def _precheck(ws: WorkspaceConfig, form: CampaignForm, editing: bool) -> dict[str, str]:
    """What the loader cannot say because it never sees it: the name, a segment that does not load, the
    starter, the datetime and whole-number fields' shapes (the form's own), the subjects."""
    errors: dict[str, str] = {}
    if not NAME.match(form.name) or form.name.endswith((".id", ".en")) or form.name == "new":
        errors["name"] = "a name is letters, digits and - _ . (at most 100, not ending in .id or .en; not \"new\")"
    elif not editing and (ws.campaigns_dir / f"{form.name}.yaml").exists():
        errors["name"] = f"a campaign {form.name!r} already exists; choose another name, or edit it"
    if not form.segment:
        errors["segment"] = "choose a segment"
    elif form.segment not in list_segments(ws):
        errors["segment"] = f"there is no segment {form.segment!r} (segments/{form.segment}.yaml)"
    else:
        try:
            load_segment(ws, form.segment)
        except OutreachError as exc:
            errors["segment"] = f"this segment's file has an error: {exc.message_in(ws.root)}"
    if form.starter:  # its kind is checked by ``make_content`` (the starters' own list)
        if form.lang and form.lang not in LANGUAGES:
            errors["content"] = f"{form.lang!r} is not a language ({', '.join(LANGUAGES)})"
        subjects = form.subject_lines()
        if len(subjects) > MAX_SUBJECTS or any(len(s) > MAX_SUBJECT for s in subjects):
            errors["subjects"] = f"at most {MAX_SUBJECTS} subjects, each at most {MAX_SUBJECT} characters"
    elif not form.content:
        errors["content"] = "choose the content, or new content from a starter"
    elif form.subjects.strip():
        errors["subjects"] = ("the subjects of existing content are in its file's front matter: change them in "
                              "the content's editor")  # fmt: skip
    if form.schedule and not _DATETIME.match(form.schedule):
        errors["schedule"] = "a date and time like 2026-12-01T09:00 (the workspace's timezone)"
    for key in ("connections", "daily_cap"):
        value = getattr(form, key)
        if value and not _WHOLE.match(value):
            errors[key] = "a whole number"
    return errors


def _existing(path: Path, text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        data = load_yaml(path, text).data
    except ConfigError:
        return {}  # a broken file is replaced by the form's values; its text stays in the audit diff
    return dict(data) if isinstance(data, dict) else {}


def campaign_text(form: CampaignForm, existing: Mapping[str, Any], *, new_content: bool) -> str:
    """The campaign file's YAML: the form's keys first, in the contract's order, then every other key kept."""
    data: dict[str, Any] = {"segment": form.segment, "content": f"{form.name}.md" if new_content else form.content,
                            "sender": form.sender}  # fmt: skip
    if form.schedule:
        data["schedule"] = form.schedule.replace(" ", "T")
    throttle = dict(existing.get("throttle") or {}) if isinstance(existing.get("throttle"), dict) else {}
    for key in ("rate", "connections", "daily_cap"):
        value = getattr(form, key)
        if value:
            throttle[key] = int(value) if _WHOLE.match(value) else value
        else:
            throttle.pop(key, None)
    if throttle:
        data["throttle"] = throttle
    for key, value in existing.items():
        if key not in data and key not in ("schedule", "throttle"):
            data[key] = value
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
    # the loader reads the schedule as a datetime either way; unquoted, it reads as the contract writes it
    body = re.sub(r"^schedule: '([^'\n]+)'$", r"schedule: \1", body, flags=re.M)
    return f"# {form.name}: written by the team app\n{body}"


def validate(ws: WorkspaceConfig, name: str, text: str, *, content_to_come: bool = False) -> CampaignSpec | None:
    """``text`` as the loader reads the campaign file; a ``FormError`` with each error on its field.
    ``content_to_come``: the content file is made after this check, so its absence is no error."""
    try:
        return load_campaign(ws, name, text)
    except ConfigError as exc:
        errors = _on_fields(ws, exc, load_yaml(ws.campaigns_dir / f"{name}.yaml", text))
        if content_to_come and "content" in errors and "not found" in errors["content"]:
            del errors["content"]
        if errors:
            raise FormError(errors) from None
        return None


def _on_fields(ws: WorkspaceConfig, exc: ConfigError, doc: Any) -> dict[str, str]:
    by_key = {".".join(place): name for name, place in PLACES.items()}
    by_line = {doc.line(place): name for name, place in PLACES.items() if _has(doc.data, place)}
    out: dict[str, str] = {}
    problems = exc.problems or ((exc.line, "", exc.detail),)
    for line, dotted, text in problems:
        target = by_key.get(dotted) or by_line.get(line or 0, "")
        if not target and dotted.startswith("throttle"):
            target = "rate"
        out.setdefault(target, text if exc.problems else _detail(ws, exc))
    return out


def _detail(ws: WorkspaceConfig, exc: OutreachError) -> str:
    """The error without its place, and without the server's folders."""
    root = ws.root.resolve()
    return exc.detail.replace(f"{ws.root}/", "").replace(f"{root}/", "")


def _has(data: Any, place: tuple[str, ...]) -> bool:
    for key in place:
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True
