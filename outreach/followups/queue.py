"""Follow-ups: nobody who answered is forgotten.

A genuine reply becomes a call item for the contact's owner (else the sales
executive with the fewest open items); callers work the exported list and
hand outcomes back, which close, re-queue or turn items into visits.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from outreach.errors import InputError
from outreach.settings.workspace import WorkspaceConfig
from outreach.sheets import decode_spreadsheet_bytes, read_xlsx, sniff_reader, unneutralise, write_csv, write_xlsx
from outreach.storage import transaction, utcnow
from outreach.storage.models import Campaign, FollowUp
from outreach.workdays import add_business_days

CSV_COLUMNS = (
    "id", "queue", "priority", "company", "contact_name", "title", "email", "phone", "owner",
    "reason", "campaign", "last_subject", "reply_excerpt", "due_date", "outcome", "notes",
)  # fmt: skip
OUTCOMES = ("reached", "no_answer", "callback", "visit_scheduled", "not_interested", "wrong_contact")
QUEUES = ("call", "visit")
EXCERPT = 300


from outreach.followups.promotion import promote  # noqa: E402  (the flow's entry point lives beside its rules)

__all__ = ["promote"]


@dataclass(frozen=True)
class Item:
    id: int
    queue: str
    priority: int
    company: str
    contact_name: str
    title: str
    email: str
    phone: str
    owner: str
    reason: str
    campaign: str
    last_subject: str
    reply_excerpt: str
    due_date: str
    outcome: str
    notes: str
    visit_at: datetime | None = None

    def row(self) -> list[Any]:
        return [getattr(self, c) for c in CSV_COLUMNS]


def list_items(engine: Engine, queue: str | None = None, owner: str | None = None,
               include_closed: bool = False) -> list[Item]:  # fmt: skip
    query = (
        select(FollowUp, Campaign.name)
        .outerjoin(Campaign, Campaign.id == FollowUp.campaign_id)
        .order_by(FollowUp.priority.desc(), FollowUp.due_date, FollowUp.id)
    )
    if queue:
        query = query.where(FollowUp.queue == queue)
    if owner:
        query = query.where(FollowUp.owner == owner)
    if not include_closed:
        query = query.where(FollowUp.state == "open")
    with Session(engine) as session:
        return [_item(f, name) for f, name in session.execute(query)]


def _item(f: FollowUp, campaign: str | None) -> Item:
    c = f.contact
    return Item(
        id=f.id, queue=f.queue, priority=f.priority, company=c.company.name if c.company else "",
        contact_name=" ".join(p for p in (c.first_name, c.last_name) if p), title=c.title,
        email=c.email, phone=c.phone, owner=f.owner, reason=f.reason, campaign=campaign or "",
        last_subject=f.last_subject, reply_excerpt=f.reply_excerpt,
        due_date=f.due_date.isoformat() if f.due_date else "", outcome=f.outcome, notes=f.notes,
        visit_at=f.visit_at,
    )  # fmt: skip


def export_xlsx(items: list[Item], out: Path, queue: str) -> None:
    """The same columns as the CSV, as an Excel workbook (header frozen, filters on)."""
    write_xlsx(CSV_COLUMNS, [item.row() for item in items], out, f"{queue} list")


def export_csv(items: list[Item], out: Path) -> None:
    """UTF-8 with BOM (spreadsheets then read Indonesian names right), formulas neutralised."""
    with out.open("w", encoding="utf-8-sig", newline="") as fh:
        write_csv(fh, CSV_COLUMNS, (item.row() for item in items))


def export_ics(items: list[Item], out: Path, ws: WorkspaceConfig) -> int:
    from icalendar import Calendar
    from icalendar import Event as IcsEvent

    cal = Calendar()
    cal.add("prodid", "-//outreach//visits//EN")
    cal.add("version", "2.0")
    count = 0
    for item in items:
        if item.visit_at is None:
            continue
        start = item.visit_at.replace(tzinfo=ws.tz)
        ev = IcsEvent()
        ev.add("uid", f"outreach-visit-{item.id}@{ws.root.name or 'workspace'}")
        ev.add("dtstamp", utcnow())
        ev.add("dtstart", start)
        ev.add("dtend", start + timedelta(hours=1))
        ev.add("summary", f"Visit: {item.company or item.contact_name}")
        ev.add("description", "\n".join(filter(None, (
            f"{item.contact_name} ({item.title})", item.email, item.phone, item.notes,
            f"Reply: {item.reply_excerpt}" if item.reply_excerpt else "",
        ))))  # fmt: skip
        ev.add("categories", ["outreach", item.owner or "unassigned"])
        cal.add_component(ev)
        count += 1
    out.write_bytes(cal.to_ical())
    return count


@dataclass(frozen=True)
class OutcomeRow:
    line: int
    id: int
    outcome: str
    notes: str
    visit_at: datetime | None


def _read_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """Header and numbered rows of what the callers handed back: CSV in any spreadsheet's dialect, or .xlsx."""
    if path.suffix.lower() == ".xlsx":
        return read_xlsx(path)
    try:
        text = decode_spreadsheet_bytes(path.read_bytes(), str(path))
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    reader = sniff_reader(text)
    header = [(h or "").strip().lower() for h in reader.fieldnames or []]
    reader.fieldnames = header
    return header, _numbered(path, reader)


def _parse_import(path: Path, ws: WorkspaceConfig) -> list[OutcomeRow]:
    header, numbered = _read_rows(path)
    for need in ("id", "outcome"):
        if need not in header:
            raise InputError(f"{path}, line 1: no {need!r} column (columns: {', '.join(header)})")
    rows: list[OutcomeRow] = []
    for line, raw in numbered:
        ident = unneutralise((raw.get("id") or "").strip())
        outcome = unneutralise((raw.get("outcome") or "").strip()).lower()
        if not ident and not outcome:
            continue
        if not ident.isdigit():
            raise InputError(f"{path}, row {line}: id {ident!r} is not a follow-up id")
        if outcome and outcome not in OUTCOMES:
            raise InputError(f"{path}, row {line}: outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
        visit_at = _parse_visit(path, line, (raw.get("visit_at") or "").strip())
        if outcome == "visit_scheduled" and visit_at is None:
            visit_at = visit_from_notes(unneutralise(raw.get("notes") or ""))
        if outcome == "visit_scheduled" and visit_at is None:
            raise InputError(f"{path}, row {line}: visit_scheduled needs a date: a visit_at column "
                             "(YYYY-MM-DD HH:MM) or a date in the notes (2026-12-07 10:00 or 7/12/2026 10.00)")
        if outcome:
            rows.append(OutcomeRow(line, int(ident), outcome, unneutralise(raw.get("notes") or ""), visit_at))
    return rows


def _numbered(path: Path, reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows with the line each starts on (a quoted note may span lines); csv errors name the line."""
    try:
        for raw in reader:
            cells = [v for v in raw.values() if isinstance(v, str)]
            yield reader.line_num - sum(len(re.findall(r"\r\n|\r|\n", v)) for v in cells), raw
    except csv.Error as exc:
        raise InputError(f"{path}, line {reader.reader.line_num}: {exc}") from None


_ISO_IN_TEXT = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]+(?:jam |pukul |at )?(\d{1,2})[:.](\d{2}))?")
_DMY_IN_TEXT = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})(?:[ ,]+(?:jam |pukul |at )?(\d{1,2})[:.](\d{2}))?")


def visit_from_notes(notes: str) -> datetime | None:
    """A caller wrote the date in the notes ("visit 2026-12-07 10:00", "kunjungan 7/12/2026 jam 14.30").

    Day-first for d/m/y, as written in Indonesia; 10:00 when no time is given.
    """
    for pattern, order in ((_ISO_IN_TEXT, (0, 1, 2)), (_DMY_IN_TEXT, (2, 1, 0))):
        m = pattern.search(notes)
        if m is None:
            continue
        parts = m.groups()
        year, month, day = (int(parts[i]) for i in order)
        hour, minute = (int(parts[3]), int(parts[4])) if parts[3] else (10, 0)
        try:
            return datetime(year, month, day, hour, minute)
        except ValueError:
            return None
    return None


def _parse_visit(path: Path, line: int, text: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("T", " "))
    except ValueError:
        raise InputError(f"{path}, row {line}: visit_at {text!r} is not an ISO date-time") from None


def import_outcomes(engine: Engine, ws: WorkspaceConfig, path: Path, today: date | None = None) -> dict[str, int]:
    """Apply callers' outcomes; any bad row rejects the whole file and changes nothing."""
    rows = _parse_import(path, ws)
    today = today or datetime.now(ws.tz).date()
    counts = {"applied": 0, "unchanged": 0}
    with transaction(engine) as session:
        for r in rows:
            item = session.get(FollowUp, r.id)
            if item is None:
                raise InputError(f"{path}, row {r.line}: no follow-up with id {r.id}")
        for r in rows:
            item = session.get(FollowUp, r.id)
            assert item is not None
            changed = _apply(session, item, r, today, timedelta(seconds=ws.settings.followups.cooling_off))
            counts["applied" if changed else "unchanged"] += 1
    return counts


def _apply(session: Session, item: FollowUp, r: OutcomeRow, today: date, cooling: timedelta) -> bool:
    if item.outcome == r.outcome and item.notes == r.notes and (r.visit_at is None or item.visit_at == r.visit_at):
        return False  # same file imported again
    now = utcnow()
    item.outcome, item.notes, item.updated_at = r.outcome, r.notes, now
    contact = item.contact
    if r.outcome in ("reached",):
        item.state = "done"
    elif r.outcome in ("no_answer", "callback"):
        item.state = "open"
        days = 1 if r.outcome == "no_answer" else 2
        item.due_date = r.visit_at.date() if r.visit_at else add_business_days(today, days)
    elif r.outcome == "visit_scheduled":
        if item.queue == "visit":
            item.visit_at, item.due_date, item.state = r.visit_at, r.visit_at.date(), "open"  # type: ignore[union-attr]
        else:
            item.state, item.visit_at = "done", r.visit_at
            # rescheduled: move the open visit rather than adding a second one
            visit = session.scalar(select(FollowUp).where(
                FollowUp.contact_id == item.contact_id, FollowUp.queue == "visit", FollowUp.state == "open"
            ))  # fmt: skip
            if visit is not None:
                visit.visit_at, visit.due_date, visit.updated_at = r.visit_at, r.visit_at.date(), now  # type: ignore[union-attr]
                visit.notes = r.notes or visit.notes
                return True
            session.add(FollowUp(
                contact_id=item.contact_id, campaign_id=item.campaign_id, event_id=None, queue="visit",
                state="open", priority=item.priority + 10, owner=item.owner, reason="visit_scheduled",
                last_subject=item.last_subject, reply_excerpt=item.reply_excerpt,
                due_date=r.visit_at.date(), visit_at=r.visit_at, outcome="", notes=r.notes,  # type: ignore[union-attr]
                created_at=now, updated_at=now,
            ))  # fmt: skip
    elif r.outcome == "not_interested":
        item.state = "done"
        contact.cooling_until = today + cooling
    elif r.outcome == "wrong_contact":
        item.state = "done"
        contact.needs_cleanup = f"wrong contact (follow-up {item.id}): {r.notes}"[:200]
    return True
