"""The API's request and response bodies: pydantic models, from which FastAPI both validates the
requests and writes the OpenAPI document (``/api/v1/openapi.json``): one source, no drift.

Contact fields are checked here only for their JSON types and a generous size;
what a value must be (an email, a status, a date, a time zone...) is checked by
the contact importer itself, with the same messages as a CSV import.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, StringConstraints, Tag

from outreach.events import TYPES

MAX_ITEMS = 1000


def _unicode(value: str) -> str:
    """Text must be encodable: JSON can carry a lone surrogate (``"\\ud800"``), which no database stores."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode text (a lone surrogate)") from None
    return value


def _no_control(value: str) -> str:
    """Notes may have lines and tabs, never other control characters (PostgreSQL refuses NUL outright)."""
    if any(ord(c) < 32 and c not in "\t\n\r" or c == "\x7f" for c in value):
        raise ValueError("contains a control character")
    return value


Text = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_unicode)]
Notes = Annotated[str, StringConstraints(max_length=4000), AfterValidator(_unicode), AfterValidator(_no_control)]
CustomKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$")]
Cursor = Annotated[int, Field(ge=0, le=2**53)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactIn(Strict):
    """One contact, by the contacts CSV's field names; a field left out (or null, or "") keeps the stored value."""

    email: Annotated[str, StringConstraints(min_length=1, max_length=2000), AfterValidator(_unicode)]
    first_name: Text | None = None
    last_name: Text | None = None
    full_name: Text | None = Field(None, description="split into first_name and last_name when both are empty")
    title: Text | None = None
    phone: Text | None = None
    company: Text | None = None
    industry: Text | None = None
    city: Text | None = None
    timezone: Text | None = Field(None, description="an IANA name, e.g. Asia/Jakarta")
    status: Text | None = Field(None, description="prospect or existing")
    owner: Text | None = Field(None, description="a sender key of outreach.yaml (or its name or address)")
    last_contacted_at: Text | None = Field(None, description="an ISO date, YYYY-MM-DD")
    transactions: Annotated[int, Field(ge=0, le=2**31 - 1)] | Text | None = None
    tags: Annotated[list[Annotated[Text, StringConstraints(max_length=100)]], Field(max_length=100)] | Text | None = (
        Field(None, description="a list, or one text separated by ';'"))
    language: Text | None = Field(None, description="id or en")
    custom: Annotated[dict[CustomKey, Text], Field(max_length=100)] | None = Field(
        None, description="custom fields (contact.custom.KEY in templates and segments)")

    def record(self) -> dict[str, Any]:
        """The contact as the importer reads a row: field -> text."""
        out: dict[str, Any] = self.model_dump(exclude_none=True, exclude={"tags", "transactions"})
        if isinstance(self.tags, list):
            out["tags"] = ";".join(t.replace(";", ",") for t in self.tags)
        elif self.tags is not None:
            out["tags"] = self.tags
        if self.transactions is not None:
            out["transactions"] = str(self.transactions)
        return out


def _one_or_many(value: Any) -> str:
    return "many" if isinstance(value, list) else "one"


ContactList = Annotated[list[ContactIn], Field(min_length=1, max_length=MAX_ITEMS)]
ContactsBody = Annotated[Annotated[ContactIn, Tag("one")] | Annotated[ContactList, Tag("many")],
                         Discriminator(_one_or_many)]  # fmt: skip


class ItemError(BaseModel):
    field: str | None = None
    message: str


class ItemResult(BaseModel):
    index: int
    email: str | None = None
    result: Literal["created", "updated", "rejected"]
    warnings: list[str] = []
    errors: list[ItemError] = []


class UpsertResult(BaseModel):
    created: int
    updated: int
    rejected: int
    items: list[ItemResult]


class ContactOut(BaseModel):
    email: str
    first_name: str
    last_name: str
    title: str
    phone: str
    company: str
    industry: str
    city: str
    timezone: str
    status: str
    owner: str
    last_contacted_at: date | None
    transactions: int
    tags: list[str]
    language: str
    custom: dict[str, str]
    updated_at: datetime | None


class ContactPage(BaseModel):
    contacts: list[ContactOut]
    next: int | None = Field(description="pass as `after` for the next page; null: this was the last")


class SegmentOut(BaseModel):
    name: str
    description: str
    count: int


class SegmentList(BaseModel):
    segments: list[SegmentOut]


class CampaignOut(BaseModel):
    name: str
    state: str = Field(description="not built, built, scheduled, sending, paused, done, cancelled, or broken")
    segment: str | None
    sender: str | None
    counts: dict[str, int] | None
    error: str | None = None


class CampaignList(BaseModel):
    campaigns: list[CampaignOut]


class CampaignStatus(BaseModel):
    """As ``outreach campaign status NAME --json`` prints it."""

    model_config = ConfigDict(extra="allow")
    campaign: str
    state: str
    reason: str | None
    total: int
    queued: int
    sent: int
    failed: int
    uncertain: int
    suppressed: int
    bounced: int
    replied: int
    unsubscribed: int
    allowance: dict[str, Any] | None = None


class FollowupOut(BaseModel):
    id: int
    queue: str
    state: str
    priority: int
    contact: str
    contact_name: str
    title: str
    company: str
    phone: str
    owner: str
    reason: str
    campaign: str
    last_subject: str
    reply_excerpt: str
    due_date: date | None
    outcome: str
    notes: str
    visit_at: datetime | None
    version: int
    updated_at: datetime | None


class FollowupPage(BaseModel):
    followups: list[FollowupOut]
    next: int | None


Outcome = Literal["reached", "no_answer", "callback", "visit_scheduled", "not_interested", "wrong_contact"]


class FollowupPatch(Strict):
    """What a caller says: the outcome, notes and the visit's (or callback's) time. ``version`` (or the
    If-Match header) is the item's version this change was made on: if someone saved it since, nothing is
    changed and the answer is 409 (412 with If-Match)."""

    outcome: Outcome | None = None
    notes: Notes | None = None
    visit_at: datetime | None = Field(None, description="with an offset, or in the workspace's time zone")
    version: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None


EventType = Literal[TYPES]  # type: ignore[valid-type]


class EventOut(BaseModel):
    id: int
    type: EventType
    at: datetime
    contact: str | None
    campaign: str | None
    data: dict[str, Any]


class EventPage(BaseModel):
    events: list[EventOut]
    next: int = Field(description="the cursor: pass it as `after` for what happens next")


class FieldProblem(BaseModel):
    location: str | None = Field(None, description="body, query, path or header")
    index: int | None = Field(None, description="the item's index in a list body")
    field: str | None = None
    message: str


class ProblemOut(BaseModel):
    """RFC 9457 problem details (served as application/problem+json); more members where they help."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldProblem] | None = Field(None, description="what did not validate, item and field")
    current_version: int | None = Field(None, description="a follow-up's version now, when yours was stale")
