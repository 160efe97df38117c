"""A campaign as the executive writes it: campaigns/NAME.yaml, validated at load."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator

from outreach.errors import ConfigError, NotFoundError
from outreach.fields import BUILTIN
from outreach.settings import LANGUAGES
from outreach.settings.config import Frozen, Retry, Sender, Throttle
from outreach.settings.workspace import WorkspaceConfig
from outreach.settings.yamlfile import load_yaml, pydantic_error

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$")
REQUIRABLE = BUILTIN.requirable  # the fields templates see that can be empty (not a number, not a list)


class Window(Frozen):
    days: str = "Mon-Fri"
    hours: str = "08:00-17:00"

    @model_validator(mode="after")
    def _valid(self) -> Window:
        from outreach.workdays import SendingWindow

        SendingWindow.parse(self.days, self.hours)
        return self


def _inside_campaigns(name: str) -> str:
    """Content files are named relative to campaigns/ and may not climb out of it."""
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise ValueError("must be a file name inside campaigns/")
    return name


_AFTER = re.compile(r"^\s*(\d+)\s*(business\s+days?|working\s+days?|hari\s+kerja|days?|d)\s*$", re.I)


class Step(Frozen):
    """A follow-up email sent ``after`` a delay without reply: "3 business days", "5 days"."""

    after: str
    content: str

    @field_validator("after")
    @classmethod
    def _after(cls, v: str) -> str:
        if not _AFTER.match(v):
            raise ValueError(f"{v!r} is not a delay like '3 business days' or '5 days'")
        return v

    _relative = field_validator("content")(lambda v: _inside_campaigns(v))

    @property
    def delay(self) -> tuple[int, bool]:
        """(count, business_days)."""
        m = _AFTER.match(self.after)
        assert m is not None
        unit = m.group(2).lower()
        return int(m.group(1)), not (unit.startswith("day") or unit == "d")


class CampaignFile(Frozen):
    segment: str = Field(min_length=1)
    content: str = Field(min_length=1)
    sender: str = Field(min_length=1)
    schedule: datetime | None = None
    throttle: Throttle | None = None
    retry: Retry | None = None
    window: Window | None = None
    steps: tuple[Step, ...] = ()
    reply_to: str | None = None
    require: tuple[str, ...] = ()  # contacts missing one of these fields are held out of the build

    _relative = field_validator("content")(lambda v: _inside_campaigns(v))

    @field_validator("require", mode="before")
    @classmethod
    def _fields(cls, v: object) -> object:
        names = [v] if isinstance(v, str) else v
        if not isinstance(names, list | tuple):
            return v
        for name in names:
            field_name = str(name).removeprefix("contact.")
            if field_name not in REQUIRABLE and not (field_name.startswith("custom.") and len(field_name) > 7):
                close = difflib.get_close_matches(field_name, REQUIRABLE, n=1)
                hint = f"did you mean {close[0]}? " if close else ""
                raise ValueError(f"{name!r} is not a contact field ({hint}fields: {', '.join(REQUIRABLE)}, "
                                 "custom.COLUMN)")  # fmt: skip
        return tuple(str(n).removeprefix("contact.") for n in names)


@dataclass(frozen=True)
class ContentFiles:
    """The files of one email (the first, or a step): ``NAME.md`` and its language versions
    ``NAME.id.md`` and ``NAME.en.md`` beside it, those that exist.

    A contact gets the version of its ``language`` (else the workspace's); with no such
    version, ``NAME.md``; without that, the workspace language's version, else any.
    """

    base: Path
    versions: dict[str, Path]
    default: str  # the workspace's language

    @classmethod
    def of(cls, base: Path, default: str) -> ContentFiles:
        stem = base.name[: -len(".md")] if base.name.endswith(".md") else base.stem
        found = {lang: base.with_name(f"{stem}.{lang}.md") for lang in LANGUAGES}
        return cls(base, {lang: p for lang, p in found.items() if p.is_file() and p != base}, default)

    @property
    def exists(self) -> bool:
        return self.base.is_file() or bool(self.versions)

    @property
    def candidates(self) -> list[Path]:
        """The base and every language version it could have, there or not: what a watcher watches."""
        stem = self.base.name.removesuffix(".md")
        return [self.base, *(self.base.with_name(f"{stem}.{lang}.md") for lang in LANGUAGES)]

    @property
    def paths(self) -> list[Path]:
        """Every file, the base first."""
        return ([self.base] if self.base.is_file() else []) + list(self.versions.values())

    def pick(self, language: str | None) -> Path:
        """The file a contact of ``language`` ('' or None: the workspace's) gets."""
        language = language if language in LANGUAGES else self.default
        found = self.versions.get(language)
        if found is not None:
            return found
        if self.base.is_file() or not self.versions:
            return self.base
        return self.versions.get(self.default) or next(iter(self.versions.values()))


@dataclass(frozen=True)
class CampaignSpec:
    name: str
    path: Path
    file: CampaignFile
    content_path: Path
    sender_key: str
    sender: Sender
    throttle: Throttle
    retry: Retry
    language: str = "id"  # the workspace's, for contacts without one

    @property
    def content_files(self) -> ContentFiles:
        return ContentFiles.of(self.content_path, self.language)

    def step_files(self, k: int) -> ContentFiles:
        """Step ``k``'s files (0: the first email)."""
        if k == 0:
            return self.content_files
        return ContentFiles.of(self.path.parent / self.file.steps[k - 1].content, self.language)

    def all_content(self) -> list[Path]:
        """Every content file of the campaign: each step's, each language's."""
        return [p for k in range(len(self.file.steps) + 1) for p in self.step_files(k).paths]


def campaign_names(ws: WorkspaceConfig) -> list[str]:
    return ws.campaign_names()


def load_campaign(ws: WorkspaceConfig, name: str, text: str | None = None) -> CampaignSpec:
    """``campaigns/NAME.yaml`` validated; with ``text``, that text validated as if it were the file (the
    app checks what it is about to write exactly as every command will read it)."""
    if not NAME.match(name):
        raise NotFoundError(f"{name!r} is not a campaign name (letters, digits, - _ .)")
    path = ws.campaigns_dir / f"{name}.yaml"
    if text is None and not path.is_file():
        known = ", ".join(campaign_names(ws)) or "none"
        raise NotFoundError(f"campaign {name!r} not found: no {path} (campaigns: {known})")
    doc = load_yaml(path, text)
    if not isinstance(doc.data, dict):
        raise ConfigError("a campaign is a mapping with segment, content and sender", **doc.at())
    try:
        spec = CampaignFile.model_validate(doc.data)
    except ValidationError as exc:
        raise pydantic_error(doc, exc) from None
    if spec.sender not in ws.settings.senders:
        known = ", ".join(sorted(ws.settings.senders))
        raise ConfigError(f"unknown sender {spec.sender!r} (senders: {known})", **doc.at(('sender',)))
    content = ws.campaigns_dir / spec.content
    language = ws.settings.language
    if not ContentFiles.of(content, language).exists:
        raise ConfigError(f"content file {content} not found (nor its language versions "
                          f"{_versions_named(content)})", **doc.at(('content',)))  # fmt: skip
    for i, step in enumerate(spec.steps):
        if not ContentFiles.of(ws.campaigns_dir / step.content, language).exists:
            raise ConfigError(f"step {i + 1}: content file "
                              f"{step.content} not found", **doc.at(('steps', i, 'content')))  # fmt: skip
    return CampaignSpec(
        name=name, path=path, file=spec, content_path=content, sender_key=spec.sender,
        sender=ws.settings.senders[spec.sender],
        throttle=spec.throttle or ws.settings.throttle, retry=spec.retry or ws.settings.retry, language=language,
    )  # fmt: skip


def _versions_named(content: Path) -> str:
    stem = content.name.removesuffix(".md")
    return " or ".join(f"{stem}.{lang}.md" for lang in LANGUAGES)
