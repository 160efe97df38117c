"""The callers' queue: who to phone next, what they said, and the outcome buttons. Made for a phone.

* "My queue" is the open items of the caller's sales executive (``users add
  … --sender KEY``; unassigned items too), or the whole team's when the
  account has no sender; most urgent first (priority, then due date).
* Outcomes go through ``followups.outcomes.save_outcome``: the same rules as
  importing the callers' spreadsheet (``apply_outcome``), so the CSV/xlsx round
  trip and the buttons can be mixed freely.
* Two callers saving the same item: each form carries the item's version;
  the second save finds another version, changes nothing, and gets the page
  back (409) with the other caller's outcome and notes shown beside their own,
  still filled in, to check and save again. Nothing typed is lost.
* Each caller's visits are an iCalendar feed at a secret address
  (``/calendar/ID-MAC.ics``, derived from the workspace secret; rotating it
  makes the old address stop working) that a phone's calendar subscribes to.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime, time

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from outreach.accounts.users import Account, calendar_account, calendar_token, rotate_calendar
from outreach.errors import ConflictError, OutreachError
from outreach.followups.history import Happening
from outreach.followups.queue import NEW_COLUMNS, QUEUES, Item, outcomes_of
from outreach.reports.campaign import OUTCOME_LABELS
from outreach.web.auth import requires
from outreach.web.render import context, flash, page, redirect
from outreach.web.sessions import checked_form
from outreach.workspace import Workspace


@dataclass(frozen=True)
class Draft:
    """What a caller submitted for one item, kept when the save was refused (a conflict or a bad date)."""

    outcome: str
    notes: str
    callback_date: str
    visit_date: str
    visit_time: str
    problem: str
    theirs: Item | None = None  # the version someone else saved meanwhile
    fixes: dict[str, str] = field(default_factory=dict)  # verify: new_* -> what the caller typed


def owners_of(user: Account) -> list[str] | None:
    """Whose items the caller works: their sales executive's and the unassigned, or everyone's."""
    return [user.sender, ""] if user.sender else None


def _queue_name(request: Request) -> str:
    queue = request.query_params.get("queue") or "call"
    return queue if queue in QUEUES else "call"


def _load(ws: Workspace, queue: str, owners: list[str] | None) -> tuple[list[Item], dict[int, list[Happening]]]:
    items = ws.followups(queue, owners=owners)
    return items, {item.id: ws.history(item.contact_id) for item in items}


async def _queue_page(request: Request, queue: str, status: int = 200, drafts: dict[int, Draft] | None = None,
                      extra: Item | None = None) -> Response:  # fmt: skip
    ws, user = context(request).ws, request.state.user
    items, history = await context(request).run(_load, ws, queue, owners_of(user))
    if extra is not None and all(i.id != extra.id for i in items):
        items.insert(0, extra)  # closed by the other caller meanwhile: still shown, with what they saved
        history[extra.id] = await context(request).run(ws.history, extra.contact_id)
    return page(request, "caller/queue.html", status=status, queue=queue, items=items, history=history,
                drafts=drafts or {}, outcomes=[(o, LABELS.get(o, o)) for o in outcomes_of(queue)],
                new_columns=[(c, NEW_LABELS[c]) for c in NEW_COLUMNS],
                today=datetime.now(ws.config.tz).date())  # fmt: skip


@requires("caller")
async def queue(request: Request) -> Response:
    return await _queue_page(request, _queue_name(request))


LABELS = {**OUTCOME_LABELS, "confirmed": "Details confirmed", "updated": "Details corrected",
          "left_company": "Left the company", "wrong_number": "Wrong number"}  # fmt: skip
NEW_LABELS = {"new_first_name": "First name", "new_last_name": "Last name", "new_title": "Job title",
              "new_phone": "Phone", "new_email": "Email", "new_company": "Company"}  # fmt: skip


def _text(form: FormData, key: str, limit: int) -> str:
    value = form.get(key)
    return value[:limit] if isinstance(value, str) else ""


def _fixes(form: FormData) -> dict[str, str]:
    """A verify item's corrections, as typed (``new_email`` -> ...); each is validated by the core."""
    return {c: _text(form, c, 500) for c in NEW_COLUMNS if _text(form, c, 500).strip()}


def _draft(form: FormData, problem: str, theirs: Item | None = None) -> Draft:
    text = functools.partial(_text, form)
    return Draft(text("outcome", 32), text("notes", 4000), text("callback_date", 10), text("visit_date", 10),
                 text("visit_time", 5), problem, theirs, _fixes(form))  # fmt: skip


def _when(form: FormData, outcome: str) -> datetime | None:
    """The callback day or the visit's date and time, from the form's date and time inputs."""
    try:
        if outcome == "callback" and form.get("callback_date"):
            return datetime.combine(date.fromisoformat(str(form["callback_date"])), time(9, 0))
        if outcome == "visit_scheduled" and form.get("visit_date"):
            at = time.fromisoformat(str(form.get("visit_time") or "10:00"))
            return datetime.combine(date.fromisoformat(str(form["visit_date"])), at)
    except ValueError:
        raise ValueError("the date or time is not valid (use the date and time pickers)") from None
    return None


@requires("caller")
async def save(request: Request) -> Response:
    ws, user = context(request).ws, request.state.user
    if request.method != "POST":
        return redirect(request, "/app/followups")
    form = await checked_form(request)
    item_id = int(request.path_params["item"])
    item = await context(request).run(ws.followup, item_id)
    owners = owners_of(user)
    if item is None or (owners is not None and item.owner not in owners):
        raise HTTPException(404, f"There is no follow-up {item_id} in your queue.")
    queue = item.queue
    version, outcome = str(form.get("version") or ""), str(form.get("outcome") or "")
    notes = str(form.get("notes") or "")[:4000]
    try:
        if not version.isascii() or not version.isdigit():
            raise ValueError("the form is incomplete; reload the page")
        fixes = {c.removeprefix("new_"): v for c, v in _fixes(form).items()} if queue == "verify" else None
        changed = await context(request).run(functools.partial(ws.save_outcome, item_id, int(version), outcome,
                                                               notes, _when(form, outcome), corrections=fixes,
                                                               who=user.name))  # fmt: skip
    except ConflictError as exc:
        theirs = await context(request).run(ws.followup, item_id)
        return await _queue_page(request, queue, 409, {item_id: _draft(form, str(exc), theirs)}, theirs)
    except (OutreachError, ValueError) as exc:
        return await _queue_page(request, queue, 400, {item_id: _draft(form, str(exc))}, item)
    who = item.contact_name or item.email
    flash(request, f"Saved: {who}, {LABELS.get(outcome, outcome)}" if changed else f"{who}: no change")
    return redirect(request, f"/app/followups?queue={queue}")


# -- the calendar feed -------------------------------------------------------------------------


def _feed_url(request: Request, user: Account) -> str:
    ctx = context(request)
    path = ctx.url(f"/calendar/{calendar_token(ctx.secret, user)}.ics")
    if ctx.public_url:
        return ctx.public_url + path.removeprefix(ctx.prefix)
    return str(request.base_url).rstrip("/") + path


@requires("caller")
async def calendar(request: Request) -> Response:
    return page(request, "caller/calendar.html", feed=_feed_url(request, request.state.user))


@requires("caller")
async def rotate(request: Request) -> Response:
    await checked_form(request)
    await context(request).run(rotate_calendar, context(request).ws.engine, request.state.user.id)
    flash(request, "Your calendar has a new address; the old one no longer works. Subscribe to the new one.")
    return redirect(request, "/app/followups/calendar")


async def feed(request: Request) -> Response:
    """The caller's visits as iCalendar, for the phone's calendar; 404 for any token but the current one."""
    ctx = context(request)
    token = str(request.path_params["token"])
    user = await ctx.run(calendar_account, ctx.ws.engine, ctx.secret, token)
    if user is None or user.role != "caller":
        raise HTTPException(404, "No such calendar.")
    body = await ctx.run(ctx.ws.visits_calendar, owners_of(user))
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": 'inline; filename="visits.ics"'})  # fmt: skip


def routes() -> list[BaseRoute]:
    return [
        Route("/followups", queue),
        Route("/followups/calendar", calendar, methods=["GET"]),
        Route("/followups/calendar", rotate, methods=["POST"]),
        Route("/followups/{item:int}", save, methods=["GET", "POST"]),
    ]
