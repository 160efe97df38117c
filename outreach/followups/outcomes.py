"""Callers' outcomes back into outreach: close, re-queue or turn items into visits.

A file of outcomes is all or nothing: any bad row rejects it and changes
nothing (every bad row is reported, so the caller fixes them in one go), and
importing the same file again changes nothing more.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from outreach.errors import ConflictError, FieldError, InputError, NotFoundError
from outreach.events.record import record_outcome
from outreach.followups.queue import NEW_COLUMNS, OUTCOMES, VERIFY_OUTCOMES, outcomes_of
from outreach.settings.workspace import WorkspaceConfig
from outreach.sheets import decode_spreadsheet_bytes, read_xlsx, sniff_reader, unneutralise
from outreach.storage import transaction, utcnow
from outreach.storage.models import FollowUp
from outreach.workdays import BusinessCalendar


@dataclass(frozen=True)
class OutcomeRow:
    line: int
    id: int
    outcome: str
    notes: str
    visit_at: datetime | None
    corrections: Mapping[str, str] = field(default_factory=dict)  # verify: field -> the caller's new value


class Verifier(Protocol):
    """Applies a verify item's outcome and corrections (``audience.verify``: corrections go through the
    contacts' own history, a floor above this one); raises ``FieldError`` for a bad correction."""

    def __call__(self, session: Session, item: FollowUp, r: OutcomeRow, today: date,
                 calendar: BusinessCalendar) -> bool: ...  # fmt: skip


class ImportCounts(dict[str, int]):
    """``{"applied": N, "unchanged": N}``, and ``rejected``: (row, why) of the verify rows whose correction
    was bad (each changed nothing)."""

    def __init__(self, applied: int = 0, unchanged: int = 0, rejected: tuple[tuple[int, str], ...] = ()) -> None:
        super().__init__(applied=applied, unchanged=unchanged)
        self.rejected = rejected


def _read_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """Header and numbered rows of what the callers handed back: CSV in any spreadsheet's dialect, or .xlsx."""
    if path.suffix.lower() == ".xlsx":
        return read_xlsx(path)
    try:
        text = decode_spreadsheet_bytes(path.read_bytes(), str(path))
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    reader = sniff_reader(text)
    header = [(h or "").strip().lower() for h in reader.fieldnames or []]
    reader.fieldnames = header
    return header, _numbered(path, reader)


def _parse_import(path: Path, ws: WorkspaceConfig) -> tuple[list[OutcomeRow], list[tuple[int, str]]]:
    """The usable rows, and every bad row with its reason (the caller refuses the file if there is one)."""
    header, numbered = _read_rows(path)
    for need in ("id", "outcome"):
        if need not in header:
            raise InputError(f"no {need!r} column (columns: {', '.join(header)})", path=path, line=1)
    rows: list[OutcomeRow] = []
    bad: list[tuple[int, str]] = []
    for line, raw in numbered:
        try:
            row = _parse_row(path, line, raw)
        except InputError as exc:
            bad.append((line, exc.detail))
            continue
        if row is not None:
            rows.append(row)
    return rows, bad


def _parse_row(path: Path, line: int, raw: dict[str, str]) -> OutcomeRow | None:
    ident = unneutralise((raw.get("id") or "").strip())
    outcome = unneutralise((raw.get("outcome") or "").strip()).lower()
    if not ident and not outcome:
        return None
    if not ident.isdigit():
        raise InputError(f"id {ident!r} is not a follow-up id", path=path, row=line)
    if outcome and outcome not in (*OUTCOMES, *VERIFY_OUTCOMES):
        raise InputError(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)} (calls and visits) or "
                         f"{', '.join(VERIFY_OUTCOMES)} (verify)", path=path, row=line)  # fmt: skip
    visit_at = _parse_visit(path, line, (raw.get("visit_at") or "").strip())
    if outcome == "visit_scheduled" and visit_at is None:
        visit_at = visit_from_notes(unneutralise(raw.get("notes") or ""))
    if outcome == "visit_scheduled" and visit_at is None:
        raise InputError("visit_scheduled needs a date: a visit_at column (YYYY-MM-DD HH:MM) or a date "
                         "in the notes (2026-12-07 10:00 or 7/12/2026 10.00)", path=path, row=line)
    if not outcome:
        return None
    corrections = {c[len("new_"):]: unneutralise(str(raw.get(c) or "")).strip() for c in NEW_COLUMNS}
    return OutcomeRow(line, int(ident), outcome, unneutralise(raw.get("notes") or ""), visit_at,
                      {k: v for k, v in corrections.items() if v})  # fmt: skip


def _refuse(path: Path, bad: list[tuple[int, str]]) -> InputError:
    """One bad row: ``FILE, row N: reason``; several: every one of them, each on its line."""
    bad = sorted(bad)
    if len(bad) == 1:
        return InputError(bad[0][1], path=path, row=bad[0][0])
    lines = "\n".join(f"  row {line}: {reason}" for line, reason in bad)
    return InputError(f"{len(bad)} bad rows; nothing was changed (fix them and import the file again):\n{lines}",
                      path=path)


def _numbered(path: Path, reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows with the line each starts on (a quoted note may span lines); csv errors name the line."""
    try:
        for raw in reader:
            cells = [v for v in raw.values() if isinstance(v, str)]
            yield reader.line_num - sum(len(re.findall(r"\r\n|\r|\n", v)) for v in cells), raw
    except csv.Error as exc:
        raise InputError(str(exc), path=path, line=reader.reader.line_num) from None


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
        raise InputError(f"visit_at {text!r} is not an ISO date-time", path=path, row=line) from None


def import_outcomes(engine: Engine, ws: WorkspaceConfig, path: Path, today: date | None = None,
                    verifier: Verifier | None = None) -> ImportCounts:  # fmt: skip
    """Apply callers' outcomes; a bad row (an unknown id, an outcome the item's queue does not have) rejects
    the whole file and changes nothing. A verify row whose correction is bad (``verifier`` raises
    ``FieldError``) is rejected alone: it changes nothing, the other rows are applied, and it is listed in
    ``rejected``."""
    rows, bad = _parse_import(path, ws)
    today = today or datetime.now(ws.tz).date()
    applied = unchanged = 0
    rejected: list[tuple[int, str]] = []
    calendar = BusinessCalendar.of(ws.settings.calendar)
    with transaction(engine) as session:
        bad += _mismatches(session, rows, verifier)
        if bad:
            raise _refuse(path, bad)
        for r in rows:
            item = session.get(FollowUp, r.id)
            assert item is not None
            if item.queue != "verify":
                changed = apply_outcome(session, item, r, today,
                                        timedelta(seconds=ws.settings.followups.cooling_off), calendar)
            else:
                assert verifier is not None
                try:
                    with session.begin_nested():  # a savepoint: a bad correction leaves the row's changes out
                        changed = verifier(session, item, r, today, calendar)
                except FieldError as exc:
                    column = f"new_{exc.field}" if exc.field in r.corrections else exc.field
                    rejected.append((r.line, f"{column}: {exc.detail}"))
                    continue
            applied, unchanged = applied + changed, unchanged + (not changed)
    return ImportCounts(applied, unchanged, tuple(rejected))


def _mismatches(session: Session, rows: list[OutcomeRow], verifier: Verifier | None) -> list[tuple[int, str]]:
    bad = []
    for r in rows:
        item = session.get(FollowUp, r.id)
        if item is None:
            bad.append((r.line, f"no follow-up with id {r.id}"))
        elif r.outcome not in outcomes_of(item.queue):
            bad.append((r.line, f"outcome {r.outcome!r} is not one of the {item.queue} queue's: "
                                f"{', '.join(outcomes_of(item.queue))}"))  # fmt: skip
        elif item.queue == "verify" and verifier is None:
            bad.append((r.line, f"follow-up {r.id} is in the verify queue; import it through the workspace"))
    return bad


def _already(item: FollowUp, r: OutcomeRow) -> bool:
    """The item already holds this outcome, as applying it would leave it: a callback's or a no-answer's
    date is its due date (it has no visit), a visit's is its ``visit_at``."""
    if item.outcome != r.outcome or item.notes != r.notes:
        return False
    if r.visit_at is None:
        return True
    if r.outcome in ("no_answer", "callback"):
        return item.due_date == r.visit_at.date()
    return item.visit_at == r.visit_at


def apply_outcome(session: Session, item: FollowUp, r: OutcomeRow, today: date, cooling: timedelta,
                  calendar: BusinessCalendar) -> bool:
    """One outcome on one item, the same rules for a spreadsheet row, the team app's buttons and the API.

    False when the item already says exactly this (the same file imported again). A change is also an
    ``outcome`` event (the API's feed, the webhooks), in the same transaction.
    """
    changed = _apply_outcome(session, item, r, today, cooling, calendar)
    if changed:
        record_outcome(session, item, item.updated_at)
    return changed


def _apply_outcome(session: Session, item: FollowUp, r: OutcomeRow, today: date, cooling: timedelta,
                   calendar: BusinessCalendar) -> bool:  # fmt: skip
    if _already(item, r):
        return False  # same file imported again
    now = utcnow()
    item.outcome, item.notes, item.updated_at = r.outcome, r.notes, now
    contact = item.contact
    if r.outcome in ("reached",):
        item.state = "done"
    elif r.outcome in ("no_answer", "callback"):
        item.state = "open"
        days = 1 if r.outcome == "no_answer" else 2
        item.due_date = r.visit_at.date() if r.visit_at else calendar.add(today, days)
    elif r.outcome == "visit_scheduled":
        visit_at = r.visit_at
        assert visit_at is not None  # _parse_import refuses visit_scheduled without a date
        if item.queue == "visit":
            item.visit_at, item.due_date, item.state = visit_at, visit_at.date(), "open"
        else:
            item.state, item.visit_at = "done", visit_at
            # rescheduled: move the open visit rather than adding a second one
            visit = session.scalar(select(FollowUp).where(
                FollowUp.contact_id == item.contact_id, FollowUp.queue == "visit", FollowUp.state == "open"
            ))  # fmt: skip
            if visit is not None:
                visit.visit_at, visit.due_date, visit.updated_at = visit_at, visit_at.date(), now
                visit.notes = r.notes or visit.notes
                return True
            session.add(FollowUp(
                contact_id=item.contact_id, campaign_id=item.campaign_id, event_id=None, queue="visit",
                state="open", priority=item.priority + 10, owner=item.owner, reason="visit_scheduled",
                last_subject=item.last_subject, reply_excerpt=item.reply_excerpt,
                due_date=visit_at.date(), visit_at=visit_at, outcome="", notes=r.notes,
                created_at=now, updated_at=now,
            ))  # fmt: skip
    elif r.outcome == "not_interested":
        item.state = "done"
        contact.cooling_until = today + cooling
    elif r.outcome == "wrong_contact":
        item.state = "done"
        contact.needs_cleanup = f"wrong contact (follow-up {item.id}): {r.notes}"[:200]
    return True


def save_outcome(engine: Engine, ws: WorkspaceConfig, item_id: int, version: int, outcome: str, notes: str,
                 visit_at: datetime | None, today: date | None = None, corrections: Mapping[str, str] | None = None,
                 verifier: Verifier | None = None) -> bool:  # fmt: skip
    """One outcome from the team app, by the same rules as a spreadsheet row.

    ``version`` is the item's version the caller saw: if someone saved the item since, ConflictError, and
    nothing is changed (the caller sees both and saves again). True when something changed. A verify item's
    ``corrections`` (field -> value) go through ``verifier``; a bad one is a ``FieldError`` and changes nothing.
    """
    if outcome not in (*OUTCOMES, *VERIFY_OUTCOMES):
        raise InputError(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)} or {', '.join(VERIFY_OUTCOMES)}")
    if outcome == "visit_scheduled" and visit_at is None:
        visit_at = visit_from_notes(notes)
        if visit_at is None:
            raise InputError("visit_scheduled needs the visit's date and time")
    row = OutcomeRow(0, item_id, outcome, notes, visit_at, {k: v.strip() for k, v in (corrections or {}).items()
                                                            if v and v.strip()})  # fmt: skip
    today = today or datetime.now(ws.tz).date()
    stale = ConflictError(f"follow-up {item_id} was saved by someone else while you were editing it")
    try:
        with transaction(engine) as session:
            item = session.get(FollowUp, item_id)
            if item is None:
                raise NotFoundError(f"no follow-up with id {item_id}")
            if item.version != version:
                raise stale
            if outcome not in outcomes_of(item.queue):
                raise InputError(f"outcome {outcome!r} is not one of the {item.queue} queue's: "
                                 f"{', '.join(outcomes_of(item.queue))}")  # fmt: skip
            calendar = BusinessCalendar.of(ws.settings.calendar)
            if item.queue == "verify":
                if verifier is None:
                    raise InputError(f"follow-up {item_id} is in the verify queue; save it through the workspace")
                return verifier(session, item, row, today, calendar)
            return apply_outcome(session, item, row, today, timedelta(seconds=ws.settings.followups.cooling_off),
                                 calendar)
    except StaleDataError:  # saved by someone else between our read and our write
        raise stale from None
