"""The campaign report as one self-contained, printable HTML page.

Managers forward it, open it offline and print it, so it carries everything
itself: inline CSS, charts drawn here as inline SVG, no script, no web font,
no image or stylesheet to fetch. Every value from the database is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from outreach import __version__
from outreach.reports.campaign import FUNNEL, OUTCOME_LABELS, CampaignReport, fmt_percent
from outreach.reports.monthly import MonthlyReport

STAGES = ("targeted", "sent", "delivered", "replied", "call", "visit")  # the way to a sale, in blue
LOSSES = ("bounced_hard", "bounced_soft", "failed", "unsubscribed", "opted_out_by_reply", "complained")  # drawn in red
OUTCOME_COLORS = {
    "reached": "#2e8b57", "visit_scheduled": "#2f6fb0", "callback": "#e0a526", "no_answer": "#9aa5b1",
    "not_interested": "#c8553d", "wrong_contact": "#7d5ba6", "": "#dde3ea",
}  # fmt: skip
OTHER_COLOR = "#5c6b7a"
INK, MUTED, BLUE, RED, GREY = "#1b2a3a", "#5c6b7a", "#2f6fb0", "#c8553d", "#8795a5"

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #eef1f5; color: #1b2a3a;
  font: 14px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", sans-serif; }
.page { max-width: 1040px; margin: 0 auto; padding: 32px 28px 40px; }
.masthead { background: #1f3a5f; color: #fff; border-radius: 10px; padding: 26px 30px; margin-bottom: 20px; }
.eyebrow { margin: 0 0 4px; font-size: 12px; letter-spacing: .08em; text-transform: uppercase; color: #b9cde4; }
h1 { margin: 0; font-size: 28px; font-weight: 650; letter-spacing: -.01em; }
.meta { margin: 8px 0 0; color: #d6e2f0; font-size: 13px; }
.meta span + span::before { content: "·"; margin: 0 8px; color: #8fb0d3; }
.kpis { display: grid; grid-template-columns: repeat(4, 1fr); gap: 14px; margin-bottom: 20px; }
.kpi { background: #fff; border-radius: 10px; padding: 16px 18px; border-top: 4px solid #2f6fb0;
  box-shadow: 0 1px 2px rgba(27,42,58,.08); }
.kpi.good { border-top-color: #2e8b57; } .kpi.warn { border-top-color: #e0a526; }
.kpi .label { font-size: 12px; color: #5c6b7a; text-transform: uppercase; letter-spacing: .06em; }
.kpi .value { font-size: 28px; font-weight: 650; margin-top: 2px; font-variant-numeric: tabular-nums; }
.kpi .sub { font-size: 12px; color: #5c6b7a; }
.card { background: #fff; border-radius: 10px; padding: 20px 22px; margin-bottom: 20px;
  box-shadow: 0 1px 2px rgba(27,42,58,.08); break-inside: avoid; }
h2 { margin: 0 0 14px; font-size: 16px; font-weight: 650; }
h2 small { font-weight: 400; color: #5c6b7a; font-size: 12px; margin-left: 6px; }
.grid { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 20px; margin-bottom: 20px; }
.grid .card { margin-bottom: 0; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 7px 8px; border-bottom: 1px solid #e6eaef; text-align: left; }
th { font-size: 11px; text-transform: uppercase; letter-spacing: .06em; color: #5c6b7a; font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr.loss td:first-child { color: #a4442f; }
tr.base td { font-weight: 600; }
.donut { display: flex; align-items: center; gap: 22px; }
.legend { list-style: none; margin: 0; padding: 0; flex: 1; }
.legend li { display: flex; align-items: center; gap: 8px; padding: 5px 0; border-bottom: 1px solid #eef1f5;
  white-space: nowrap; }
.legend .swatch { width: 11px; height: 11px; border-radius: 3px; flex: none; }
.legend .count { margin-left: auto; font-variant-numeric: tabular-nums; font-weight: 600; }
.legend .pct { width: 52px; text-align: right; color: #5c6b7a; font-variant-numeric: tabular-nums; }
.empty { color: #5c6b7a; font-style: italic; }
footer { color: #5c6b7a; font-size: 12px; text-align: center; margin-top: 8px; }
@page { size: A4; margin: 12mm; }
@media print {
  body { background: #fff; font-size: 12px; }
  .page { padding: 0; max-width: none; }
  .card, .kpi { box-shadow: none; border: 1px solid #dde3ea; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
/* minmax(0, 1fr), not 1fr: a column is never wider than its share (a legend's nowrap line overflowed a phone) */
@media (max-width: 760px) { .kpis { grid-template-columns: repeat(2, 1fr); }
  .grid { grid-template-columns: minmax(0, 1fr); } }
"""


def _num(n: int) -> str:
    return f"{n:,}"


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{_num(n)} {one if n == 1 else many or one + 's'}"


# -- charts -------------------------------------------------------------------------


def funnel_svg(report: CampaignReport) -> str:
    """Horizontal bars scaled to the audience: the way to a sale in blue, then what was lost, in red."""
    labels = dict(FUNNEL)
    rows: list[str | None] = [*STAGES, None, "auto_replied", *LOSSES]  # None: the gap before the losses
    top = max([report.funnel[k] for k in rows if k] + [1])
    label_w, bar_w, row_h, width = 170, 600, 30, 940
    height = row_h * len(rows) - 10
    parts = [f'<svg class="chart funnel" role="img" viewBox="0 0 {width} {height}" width="100%" '
             f'xmlns="http://www.w3.org/2000/svg"><title>Campaign funnel</title>']  # fmt: skip
    for i, key in enumerate(rows):
        y = i * row_h - 4
        if key is None:
            parts.append(f'<line x1="{label_w}" x2="{label_w + bar_w}" y1="{y + 15}" y2="{y + 15}" '
                         'stroke="#dde3ea" stroke-dasharray="4 4"/>')  # fmt: skip
            continue
        value = report.funnel[key]
        color = RED if key in LOSSES else GREY if key == "auto_replied" else BLUE
        length = max(bar_w * value / top, 2.0 if value else 0.0)
        rate = "" if report.rate(key) is None else f" · {fmt_percent(report.rate(key))}"
        parts.append(
            f'<text x="{label_w - 10}" y="{y + 19}" text-anchor="end" font-size="13" fill="{INK}">'
            f"{escape(labels[key])}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="20" rx="3" fill="#eef1f5"/>'
            f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{length:.1f}" height="20" rx="3" fill="{color}"/>'
            f'<text x="{label_w + bar_w + 10}" y="{y + 19}" font-size="13" fill="{INK}" font-weight="600">'
            f'{_num(value)}<tspan fill="{MUTED}" font-weight="400">{rate}</tspan></text>'
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Slice:
    key: str
    label: str
    value: int
    color: str


def outcome_slices(report: CampaignReport) -> list[Slice]:
    slices = [Slice(k, OUTCOME_LABELS.get(k, k), v, OUTCOME_COLORS.get(k, OTHER_COLOR))
              for k, v in report.outcomes.items() if v]  # fmt: skip
    if report.awaiting:
        slices.append(Slice("", "Awaiting an outcome", report.awaiting, OUTCOME_COLORS[""]))
    return slices


def _point(cx: float, cy: float, r: float, angle: float) -> str:
    return f"{cx + r * math.sin(angle):.2f} {cy - r * math.cos(angle):.2f}"


def _arc(cx: float, cy: float, r_out: float, r_in: float, start: float, end: float) -> str:
    """One ring segment, clockwise from 12 o'clock; a full turn is drawn as two halves."""
    if end - start >= 2 * math.pi - 1e-9:
        mid = start + math.pi
        return _arc(cx, cy, r_out, r_in, start, mid) + " " + _arc(cx, cy, r_out, r_in, mid, end)
    large = 1 if end - start > math.pi else 0
    return (f"M {_point(cx, cy, r_out, start)} A {r_out} {r_out} 0 {large} 1 {_point(cx, cy, r_out, end)} "
            f"L {_point(cx, cy, r_in, end)} A {r_in} {r_in} 0 {large} 0 {_point(cx, cy, r_in, start)} Z")  # fmt: skip


def donut_svg(slices: Sequence[Slice], caption: str = "follow-ups") -> str:
    """A donut of the follow-up outcomes, the total in the middle."""
    total = sum(s.value for s in slices)
    cx = cy = 100
    parts = ['<svg class="chart outcomes" role="img" viewBox="0 0 200 200" width="200" height="200" '
             'xmlns="http://www.w3.org/2000/svg"><title>Follow-up outcomes</title>']  # fmt: skip
    if not total:
        parts.append(f'<circle cx="{cx}" cy="{cy}" r="74" fill="none" stroke="#e6eaef" stroke-width="32"/>')
    angle = 0.0
    for s in slices:
        sweep = 2 * math.pi * s.value / total
        stroke = ' stroke="#fff" stroke-width="1.5"' if len(slices) > 1 else ""  # no seam on a full ring
        parts.append(f'<path class="slice" d="{_arc(cx, cy, 90, 58, angle, angle + sweep)}" fill="{s.color}"'
                     f"{stroke}><title>{escape(s.label)}: {s.value}</title></path>")  # fmt: skip
        angle += sweep
    parts.append(
        f'<text x="{cx}" y="{cy + 4}" text-anchor="middle" font-size="30" font-weight="650" fill="{INK}">'
        f'{_num(total)}</text><text x="{cx}" y="{cy + 24}" text-anchor="middle" font-size="12" fill="{MUTED}">'
        f"{escape(caption)}</text></svg>"
    )
    return "".join(parts)


def rate_bar_svg(rate: float | None, best: float) -> str:
    """A small inline bar for a reply rate, scaled to the best variant."""
    width = 0.0 if not rate or not best else 120 * rate / best
    return (f'<svg class="chart rate" viewBox="0 0 120 10" width="120" height="10" aria-hidden="true" '
            f'xmlns="http://www.w3.org/2000/svg"><rect width="120" height="10" rx="2" fill="#eef1f5"/>'
            f'<rect class="bar" width="{width:.1f}" height="10" rx="2" fill="{BLUE}"/></svg>')  # fmt: skip


# -- the page ---------------------------------------------------------------------------


def _kpis(report: CampaignReport) -> str:
    f = report.funnel
    cards = [
        ("", "Sent", _num(f["sent"]), f"of {_num(f['targeted'])} targeted"),
        ("good", "Delivered", fmt_percent(report.rate("delivered")), f"{_num(f['delivered'])} messages"),
        ("good", "Reply rate", fmt_percent(report.rate("replied")), _count(f["replied"], "reply", "replies")),
        ("warn", "For the sales team", _num(f["call"] + f["visit"]),
         f"{_count(f['call'], 'call')} · {_count(f['visit'], 'visit')}"),
    ]
    return '<section class="kpis">' + "".join(
        f'<div class="kpi {cls}"><div class="label">{escape(label)}</div><div class="value">{escape(value)}</div>'
        f'<div class="sub">{escape(sub)}</div></div>'
        for cls, label, value, sub in cards
    ) + "</section>"


def _figures_table(report: CampaignReport) -> str:
    labels = dict(FUNNEL)
    rows = []
    for key, value in report.funnel.items():
        cls = "base" if key in ("targeted", "sent") else "loss" if key in LOSSES else ""
        rate = "" if report.rate(key) is None else fmt_percent(report.rate(key))
        rows.append(f'<tr class="{cls}"><td>{escape(labels[key])}</td><td class="num">{_num(value)}</td>'
                    f'<td class="num">{rate}</td></tr>')  # fmt: skip
    return ('<table class="figures"><thead><tr><th>Stage</th><th class="num">Count</th>'
            f'<th class="num">% of sent</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')  # fmt: skip


def _outcomes_section(report: CampaignReport) -> str:
    slices = outcome_slices(report)
    total = sum(s.value for s in slices)
    if not total:
        legend = '<p class="empty">No replies have been promoted to the call or visit lists yet.</p>'
    else:
        legend = '<ul class="legend">' + "".join(
            f'<li><span class="swatch" style="background:{s.color}"></span>{escape(s.label)}'
            f'<span class="count">{_num(s.value)}</span>'
            f'<span class="pct">{fmt_percent(100 * s.value / total)}</span></li>'
            for s in slices
        ) + "</ul>"
    return (f'<section class="card"><h2>Follow-up outcomes<small>calls and visits</small></h2>'
            f'<div class="donut">{donut_svg(slices)}{legend}</div></section>')  # fmt: skip


def _sender_problems_section(report: CampaignReport) -> str:
    """Bounces that blame the sending side: the executive sees the relay or the content is at fault."""
    if not report.sender_problems:
        return ""
    rows = "".join(f'<tr><td>{escape(reason.replace("_", " "))}</td><td class="num">{_num(count)}</td></tr>'
                   for reason, count in report.sender_problems.items())  # fmt: skip
    return ('<section class="card"><h2>Sender\'s problems<small>relay, domain or content; no recipient '
            'suppressed</small></h2><table class="figures"><thead><tr><th>Reason</th><th class="num">Messages'
            f"</th></tr></thead><tbody>{rows}</tbody></table></section>")  # fmt: skip


def _reply_cells(sent: int, replied: int, rate: float | None, best: float) -> str:
    """Sent, replied, the reply rate and its bar (scaled to the best row): one comparison row's numbers."""
    return (f'<td class="num">{_num(sent)}</td><td class="num">{_num(replied)}</td>'
            f'<td class="num">{fmt_percent(rate)}</td><td>{rate_bar_svg(rate, best)}</td>')  # fmt: skip


def _variants_section(report: CampaignReport) -> str:
    if not report.variants:
        return ""
    best = max((v.reply_rate or 0.0) for v in report.variants)
    rows = "".join(
        f"<tr><td><strong>{escape(v.label)}</strong></td><td>{escape(v.subject)}</td>"
        f"{_reply_cells(v.sent, v.replied, v.reply_rate, best)}</tr>"
        for v in report.variants
    )
    return ('<section class="card"><h2>A/B subjects<small>reply rate per subject line</small></h2>'
            '<table class="variants"><thead><tr><th>Variant</th><th>Subject</th><th class="num">Sent</th>'
            '<th class="num">Replied</th><th class="num">Reply rate</th><th></th></tr></thead>'
            f"<tbody>{rows}</tbody></table></section>")  # fmt: skip


def _languages_section(report: CampaignReport) -> str:
    if not report.languages:
        return ""
    best = max((row.reply_rate or 0.0) for row in report.languages)
    rows = "".join(
        f'<tr data-language="{escape(row.language)}"><td><strong>{escape(row.label)}</strong></td>'
        f"{_reply_cells(row.sent, row.replied, row.reply_rate, best)}</tr>"
        for row in report.languages
    )
    return ('<section class="card"><h2>Replies by language<small>each contact got the version of its '
            'language</small></h2><table class="languages"><thead><tr><th>Language</th><th class="num">Sent</th>'
            '<th class="num">Replied</th><th class="num">Reply rate</th><th></th></tr></thead>'
            f"<tbody>{rows}</tbody></table></section>")  # fmt: skip


def _deliverability_section(report: CampaignReport) -> str:
    d = report.deliverability
    if d is None:
        return ""
    rates = "".join(
        f'<tr class="{"loss" if rate is not None and rate > limit else ""}"><td>{escape(label)}</td>'
        f'<td class="num">{"-" if rate is None else f"{rate:.2%}"}</td><td class="num">{_num(part)} of {_num(whole)}'
        f'</td><td class="num">{limit:.2%}</td></tr>'
        for label, rate, part, whole, limit in d.rate_lines()
    )
    auth = "".join(
        f"<tr><td>{escape(method.upper())}</td><td>"
        + ", ".join(f"{escape(result)} {_num(n)}" for result, n in results.items()) + "</td></tr>"
        for method, results in d.auth.items()
    ) or '<tr><td colspan="2" class="empty">None yet: receivers send it back in bounces and complaints.</td></tr>'
    deferred = "".join(
        f'<tr><td>{escape(x.domain)}</td><td class="num">{_num(x.messages)}</td><td class="num">{_num(x.deferrals)}'
        f"</td><td>{escape(x.last)}</td></tr>"
        for x in d.deferred
    ) or '<tr><td colspan="4" class="empty">No recipient domain deferred a message.</td></tr>'
    return (f'<section class="card deliverability"><h2>Deliverability<small>guardrails act from '
            f"{_num(d.limits.min_delivered)} delivered</small></h2>"
            '<table class="rates"><thead><tr><th>Rate</th><th class="num">Now</th><th class="num">Messages</th>'
            f'<th class="num">Guardrail</th></tr></thead><tbody>{rates}</tbody></table>'
            '<h2 style="margin-top:18px">Authentication reported by receivers</h2>'
            f'<table class="auth"><tbody>{auth}</tbody></table>'
            '<h2 style="margin-top:18px">Deferred most</h2><table class="deferred"><thead><tr><th>Domain</th>'
            '<th class="num">Messages</th><th class="num">Deferrals</th><th>Last answer</th></tr></thead>'
            f"<tbody>{deferred}</tbody></table></section>")  # fmt: skip


def campaign_sections(report: CampaignReport) -> str:
    """The report's figures and charts, without the page around them (the team app frames them itself)."""
    return f"""{_kpis(report)}
<section class="card"><h2>Funnel<small>messages, and % of those sent</small></h2>{funnel_svg(report)}</section>
<div class="grid">
<section class="card"><h2>Figures</h2>{_figures_table(report)}</section>
{_outcomes_section(report)}
</div>
{_sender_problems_section(report)}
{_variants_section(report)}
{_languages_section(report)}
{_deliverability_section(report)}"""


def campaign_html(report: CampaignReport, organization: str, generated: datetime) -> str:
    """The whole page; ``generated`` is shown as is (pass it in the workspace timezone)."""
    meta = "".join(f"<span>{escape(m)}</span>" for m in (
        f"Sender: {report.sender}", f"State: {report.state}", f"Generated {generated:%Y-%m-%d %H:%M %Z}".strip(),
    ))  # fmt: skip
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Campaign report: {escape(report.campaign)}</title>
<style>{CSS}</style>
</head>
<body>
<main class="page">
<header class="masthead"><p class="eyebrow">{escape(organization)} · Campaign report</p>
<h1>{escape(report.campaign)}</h1><p class="meta">{meta}</p></header>
{campaign_sections(report)}
<footer>Counted from the campaign database by outreach {escape(__version__)}.
Each message counts once per kind of event; delivered = sent − bounced.</footer>
</main>
</body>
</html>
"""


# -- the month ------------------------------------------------------------------------------


def monthly_svg(report: MonthlyReport) -> str:
    """Each executive's new prospects as a bar against the monthly target (the dark tick)."""
    rows = report.rows
    top = max([r.new_prospects for r in rows] + [r.target for r in rows] + [1])
    label_w, bar_w, row_h, width = 190, 560, 34, 940
    height = max(row_h * len(rows), row_h)
    parts = [f'<svg class="chart monthly" role="img" viewBox="0 0 {width} {height}" width="100%" '
             f'xmlns="http://www.w3.org/2000/svg"><title>New prospects against the target</title>']  # fmt: skip
    for i, r in enumerate(rows):
        y = i * row_h
        length = max(bar_w * r.new_prospects / top, 2.0 if r.new_prospects else 0.0)
        tick = label_w + bar_w * r.target / top
        color = "#2e8b57" if r.target and r.new_prospects >= r.target else BLUE
        parts.append(
            f'<text x="{label_w - 10}" y="{y + 21}" text-anchor="end" font-size="13" fill="{INK}">'
            f"{escape(r.name)}</text>"
            f'<rect x="{label_w}" y="{y + 6}" width="{bar_w}" height="20" rx="3" fill="#eef1f5"/>'
            f'<rect class="bar" x="{label_w}" y="{y + 6}" width="{length:.1f}" height="20" rx="3" fill="{color}"/>'
            f'<line x1="{tick:.1f}" x2="{tick:.1f}" y1="{y + 2}" y2="{y + 30}" stroke="{INK}" stroke-width="2"/>'
            f'<text x="{label_w + bar_w + 10}" y="{y + 21}" font-size="13" fill="{INK}" font-weight="600">'
            f'{_num(r.new_prospects)}<tspan fill="{MUTED}" font-weight="400"> / {_num(r.target)} · '
            f"{fmt_percent(r.achieved)}</tspan></text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def monthly_sections(report: MonthlyReport) -> str:
    """The month's chart and table, without the page around them."""
    head = "".join(f'<th class="num">{h}</th>' for h in ("Approached", "Replies", "Calls", "Reached by phone",
                                                          "Visits scheduled", "Visits done", "New prospects",
                                                          "Target", "Achieved"))  # fmt: skip
    body = "".join(
        f'<tr class="{"base" if r.key == "total" else ""}"><td>{escape(r.name)}</td>'
        + "".join(f'<td class="num">{_num(v)}</td>' for v in (r.approached, r.replies, r.calls, r.reached, r.visits,
                                                             r.visits_done, r.new_prospects, r.target))  # fmt: skip
        + f'<td class="num">{fmt_percent(r.achieved)}</td></tr>'
        for r in (*report.rows, report.total)
    )
    return (f'<section class="card"><h2>New prospects<small>against the target of each sales executive'
            f'</small></h2>{monthly_svg(report)}</section>'
            f'<section class="card"><h2>Figures<small>{escape(report.month)}, {escape(report.timezone)}</small></h2>'
            '<div class="scroll" style="overflow-x:auto" tabindex="0" role="region" aria-label="Figures of the month">'
            f'<table class="figures"><thead><tr><th>Executive</th>{head}'
            f"</tr></thead><tbody>{body}</tbody></table></div></section>")  # fmt: skip
