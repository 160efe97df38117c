"""The callers' list out of outreach: CSV for any spreadsheet, an Excel workbook, visits as ICS events."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from outreach.followups.queue import CSV_COLUMNS, Item
from outreach.settings.workspace import WorkspaceConfig
from outreach.sheets import write_csv, write_xlsx
from outreach.storage import utcnow


def export_xlsx(items: list[Item], out: Path, queue: str, columns: tuple[str, ...] = CSV_COLUMNS) -> None:
    """The same columns as the CSV, as an Excel workbook (header frozen, filters on). Every cell is text, as in
    the CSV: an id or a priority stored as a number would come back as ``12.0`` or be "corrected" by Excel."""
    rows = [["" if value is None else str(value) for value in item.row(columns)] for item in items]
    write_xlsx(columns, rows, out, f"{queue} list")


def export_csv(items: list[Item], out: Path, columns: tuple[str, ...] = CSV_COLUMNS) -> None:
    """UTF-8 with BOM (spreadsheets then read Indonesian names right), formulas neutralised."""
    with out.open("w", encoding="utf-8-sig", newline="") as fh:
        write_csv(fh, columns, (item.row(columns) for item in items))


def export_ics(items: list[Item], out: Path, ws: WorkspaceConfig) -> int:
    data, count = visits_ics(items, ws)
    out.write_bytes(data)
    return count


def visits_ics(items: list[Item], ws: WorkspaceConfig) -> tuple[bytes, int]:
    """The items' visits as one iCalendar (the file export and the callers' subscribed feed), and how many."""
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
    cal.add_missing_timezones()  # a VTIMEZONE for the TZID the events use: Outlook needs it to place them
    return cal.to_ical(), count
