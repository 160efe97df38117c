"""The sales executive's pages: campaigns with live progress, their lifecycle, and the reports.

Every action (build, send, pause, resume, cancel) is a GET that shows a
confirmation with the audience it touches, then a POST (with the CSRF token)
that does it. "Send" hands the campaign to ``outreach worker`` (state
``scheduled``, due now): the web process never talks to the relay, so a
blast goes on when the browser closes, at the worker's pace, with its
retries, windows and follow-up steps. Progress is a fragment htmx polls
every few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from outreach.campaigns.overview import CampaignSummary
from outreach.errors import OutreachError
from outreach.reports.html import CSS as REPORT_CSS
from outreach.reports.html import campaign_sections, monthly_sections
from outreach.reports.monthly import MonthlyReport, parse_month
from outreach.web.auth import requires
from outreach.web.render import context, flash, local_time, page, redirect
from outreach.web.sessions import checked_form
from outreach.workspace import Workspace

ACTIONS = ("build", "send", "pause", "resume", "cancel")


@dataclass(frozen=True)
class Card(CampaignSummary):
    """One campaign as the dashboard shows it (campaigns/overview.py), with what may be done to it."""

    @property
    def actions(self) -> tuple[str, ...]:
        """What makes sense from this state (the core refuses the rest anyway)."""
        queued = self.counts.get("queued", 0)
        return {
            "not built": ("build",),
            "built": ("build", "send", "cancel") if queued else ("build", "cancel"),
            "scheduled": ("pause", "cancel"),
            "sending": ("pause", "cancel"),
            "paused": ("resume", "cancel"),
            "done": ("build", "send") if queued else ("build",),
        }.get(self.state, ())


    def now_line(self, tz: tzinfo) -> str:
        """Queued, sending and waiting for the sending window, told apart: ``3 sending · 40 queued ·
        120 waiting for the sending window (opens 08:00 WIB) · 2 to retry``; '' when nothing is pending."""
        c = self.counts
        parts = [f"{c[key]} {label}" for key, label in (("sending_now", "sending"), ("ready", "queued"))
                 if c.get(key)]  # fmt: skip
        if c.get("waiting_window"):
            opens = self.status.window_opens if self.status else None
            when = f" (opens {local_time(opens, tz, '%a %H:%M %Z')})" if opens else ""
            parts.append(f"{c['waiting_window']} waiting for the sending window{when}")
        if c.get("retry"):
            parts.append(f"{c['retry']} to retry")
        return " · ".join(parts)


def card(ws: Workspace, name: str) -> Card:
    return Card(**vars(ws.campaign_summary(name)))


def _name(request: Request) -> str:
    """The campaign named in the path, if the workspace has it (never a path of our choosing)."""
    name = request.path_params["name"]
    if name not in context(request).ws.campaigns():
        raise HTTPException(404, f"There is no campaign {name!r} in the workspace.")
    return str(name)


# -- pages -------------------------------------------------------------------------------------


@requires("executive")
async def dashboard(request: Request) -> Response:
    cards = await context(request).run(_cards, context(request).ws)
    month = await context(request).run(_this_month, context(request).ws)
    return page(request, "executive/campaigns.html", cards=cards, month=month)


def _this_month(ws: Workspace) -> MonthlyReport:
    """Each executive's month so far, for the dashboard's glance."""
    return ws.monthly(datetime.now(ws.config.tz).strftime("%Y-%m"))


@requires("executive")
async def rows(request: Request) -> Response:
    """The dashboard's table body, polled by htmx."""
    cards = await context(request).run(_cards, context(request).ws)
    return page(request, "executive/_rows.html", cards=cards)


def _cards(ws: Workspace) -> list[Card]:
    return [card(ws, name) for name in ws.campaigns()]


@requires("executive")
async def detail(request: Request) -> Response:
    name = _name(request)
    found = await context(request).run(card, context(request).ws, name)
    return page(request, "executive/campaign.html", card=found)


@requires("executive")
async def progress(request: Request) -> Response:
    """The campaign's counts and progress bar, polled by htmx while it runs."""
    name = _name(request)
    found = await context(request).run(card, context(request).ws, name)
    return page(request, "executive/_progress.html", card=found)


@requires("executive")
async def confirm(request: Request) -> Response:
    """What the action will do, to how many people, and the button that does it."""
    name, action = _name(request), _action(request)
    ws = context(request).ws
    found = await context(request).run(card, ws, name)
    audience = None
    if action == "build":
        try:
            audience = await context(request).run(ws.audience_size, name)
        except OutreachError as exc:
            flash(request, str(exc), "error")
            return redirect(request, f"/app/campaigns/{name}")
    smtp = ws.config.settings.smtp
    return page(request, "executive/confirm.html", card=found, action=action, audience=audience,
                relay=f"{smtp.host}:{smtp.port}", workspace=str(ws.root))  # fmt: skip


@requires("executive")
async def act(request: Request) -> Response:
    name, action = _name(request), _action(request)
    await checked_form(request)
    ws, user = context(request).ws, request.state.user
    try:
        message = await context(request).run(_do, ws, name, action, user.name)
        await context(request).run(lambda: ws.record_audit("campaign", name, action, who=user.name, via="app",
                                                    detail=message[:2000]))  # fmt: skip
    except OutreachError as exc:
        flash(request, exc.message_in(ws.root), "error")
    else:
        if action == "send":
            message += context(request).no_worker_note()
        flash(request, message)
        if action == "build":  # launching: build, then the review (count, held out, sample, doctor), then send
            return redirect(request, f"/app/campaigns/{name}/review")
    return redirect(request, f"/app/campaigns/{name}")


def _action(request: Request) -> str:
    action = request.path_params["action"]
    if action not in ACTIONS:
        raise HTTPException(404, f"No action {action!r}; one of {', '.join(ACTIONS)}.")
    return str(action)


def _do(ws: Workspace, name: str, action: str, who: str) -> str:
    if action == "build":
        return ws.build(name).summary()
    if action == "send":
        ws.send_via_worker(name, who)
        return f"{name} is handed to the worker, which sends it now (`outreach worker` must be running)."
    state = getattr(ws, action)(name)
    return f"{name}: {state}"


# -- reports --------------------------------------------------------------------------------------


@requires("executive")
async def report(request: Request) -> Response:
    name = _name(request)
    ws = context(request).ws
    try:
        result = await context(request).run(ws.report, name)
    except OutreachError as exc:
        flash(request, str(exc), "error")
        return redirect(request, f"/app/campaigns/{name}")
    return page(request, "executive/report.html", name=name, report=result, sections=campaign_sections(result),
                css=REPORT_CSS, generated=datetime.now(ws.config.tz))  # fmt: skip


def _month_of(request: Request) -> str:
    ws = context(request).ws
    month = request.query_params.get("month") or datetime.now(ws.config.tz).strftime("%Y-%m")
    try:
        year, mon = parse_month(month[:16])
    except OutreachError as exc:
        raise HTTPException(400, str(exc)) from None
    return f"{year:04d}-{mon:02d}"


@requires("executive", "admin")
async def monthly(request: Request) -> Response:
    ws = context(request).ws
    result = await context(request).run(ws.monthly, _month_of(request))
    return page(request, "executive/monthly.html", report=result, sections=monthly_sections(result), css=REPORT_CSS)


@requires("executive", "admin")
async def monthly_xlsx(request: Request) -> Response:
    """The supervisor's workbook of the month (``report monthly --xlsx``): a summary and a sheet per executive."""
    ws = context(request).ws
    month = _month_of(request)
    body = await context(request).run(_workbook, ws, month)
    return Response(body, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="monthly-{month}.xlsx"'})  # fmt: skip


def _workbook(ws: Workspace, month: str) -> bytes:
    import tempfile
    from pathlib import Path

    from outreach.reports.monthly_xlsx import write_monthly_xlsx

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "monthly.xlsx"
        write_monthly_xlsx(ws.monthly(month), out, ws.config.settings.organization.name)
        return out.read_bytes()


def routes() -> list[BaseRoute]:
    return [
        Route("/campaigns", dashboard),
        Route("/fragments/campaigns", rows),
        Route("/campaigns/{name}", detail),
        Route("/campaigns/{name}/progress", progress),
        Route("/campaigns/{name}/report", report),
        Route("/campaigns/{name}/{action}", confirm, methods=["GET"]),
        Route("/campaigns/{name}/{action}", act, methods=["POST"]),
        Route("/reports/monthly", monthly),
        Route("/reports/monthly.xlsx", monthly_xlsx, methods=["GET"]),
    ]
