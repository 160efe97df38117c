"""Reports: a campaign's funnel and each executive's month, from rows written at fixed UTC times.

The database is filled directly (no sending, no ingest) so every number is
known; the month cases sit on the Asia/Jakarta (UTC+7) boundaries, where a
UTC cut would put them in the wrong month.
"""

from __future__ import annotations

import re
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from browser_support import CHROMIUM_ARGS, chromium_path
from helpers import invoke, write
from sqlalchemy import Engine

from outreach.reports.campaign import campaign_report
from outreach.reports.html import campaign_html
from outreach.reports.monthly import month_bounds, monthly_report, monthly_text
from outreach.settings.workspace import init_workspace, load_workspace
from outreach.storage import open_engine, transaction
from outreach.storage.models import Campaign, Contact, Event, FollowUp, Outbox

CREATED = datetime(2026, 9, 1)
PROMO_MD = """\
---
subject: "Solusi jaringan untuk {{ contact.company }}"
variants:
  - "{{ contact.first_name }}, survei lokasi gratis?"
---
Halo {{ contact.first_name }}.
"""


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass
class Db:
    engine: Engine
    contacts: dict[str, int]
    campaigns: dict[str, int]
    outbox: dict[str, int]


# contact key -> status. c7 is an existing customer: approached, never a "new prospect".
CONTACTS = {f"c{i}": "prospect" for i in range(1, 10)} | {"c7": "existing"}

# (key, campaign, contact, state, variant, sent_at UTC)
OUTBOX = [
    ("o1", "promo", "c1", "sent", "0", "2026-11-02T03:00"),
    ("o2", "promo", "c2", "sent", "1", "2026-10-31T17:30"),  # 1 Nov 00:30 WIB: November
    ("o3", "promo", "c3", "sent", "0", "2026-10-31T16:59"),  # 31 Oct 23:59 WIB: October
    ("o4", "promo", "c4", "sent", "1", "2026-11-30T18:00"),  # 1 Dec 01:00 WIB: December
    ("o5", "promo", "c5", "sent", "0", "2026-11-15T02:00"),
    ("o6", "promo", "c6", "sent", "1", "2026-11-16T02:00"),
    ("o7", "promo", "c7", "sent", "0", "2026-11-20T02:00"),
    ("o8", "promo", "c8", "sent", "1", "2026-11-21T02:00"),
    ("o9", "promo", "c9", "failed", "0", None),
    ("o10", "promo", "c5", "queued", "1", None),  # a second step, not sent yet
    ("r1", "renewal", "c7", "sent", None, "2026-11-10T02:00"),
    ("r2", "renewal", "c1", "sent", None, "2026-10-05T02:00"),  # c1's first message ever: October, sari
    ("r3", "renewal", "c9", "sent", None, "2026-11-12T02:00"),
]
# outbox key -> (attempts, last_error): retried messages, for the report's deferrals
ATTEMPTS = {"o5": (2, None), "o9": (3, "gave up after 3 attempts: 451 4.7.1 Greylisted, try again later")}
# (kind, outbox key, at UTC, detail)
EVENTS = [
    ("bounced", "o1", "2026-11-02T03:05", {"hard": True, "reason": "user_unknown", "auth": [  # returned headers
        {"method": "dkim", "result": "pass", "domain": "contoh-solusi.example", "where": "returned"},
        {"method": "spf", "result": "softfail", "domain": "contoh-solusi.example", "where": "returned"}]}),
    ("bounced", "o2", "2026-11-01T01:00", {"hard": False, "reason": "mailbox_full"}),
    ("bounced", "o2", "2026-11-02T01:00", {"hard": False, "reason": "mailbox_full"}),  # same message: once
    ("replied", "o3", "2026-11-03T02:00", {"auth": [  # our mailbox on the replier's mail: not about us
        {"method": "dkim", "result": "pass", "domain": "example.com", "where": "message"}]}),
    ("replied", "o3", "2026-12-01T05:00", {}),  # the same contact again, in December
    ("replied", "o4", "2026-12-02T02:00", {}),
    ("replied", "o8", "2026-11-30T16:30", {}),  # 30 Nov 23:30 WIB: November
    ("auto_reply", "o5", "2026-11-15T02:10", {}),
    ("unsubscribed", "o6", "2026-11-16T09:00", {}),
    ("complained", "o7", "2026-11-21T09:00", {"auth": [
        {"method": "dmarc", "result": "pass", "domain": "contoh-solusi.example", "where": "returned"},
        {"method": "dkim", "result": "pass", "domain": "contoh-solusi.example", "where": "returned"}]}),
    ("failed", "o9", "2026-11-15T02:00", {"code": 550}),
    ("replied", "r3", "2026-11-13T02:00", {}),
]
# (queue, campaign, contact, owner, outcome, created UTC, updated UTC)
FOLLOWUPS = [
    ("call", "promo", "c3", "awang", "reached", "2026-11-03T03:00", "2026-11-04T03:00"),
    ("call", "promo", "c8", "awang", "visit_scheduled", "2026-11-30T16:40", "2026-11-30T17:10"),  # 1 Dec WIB
    ("visit", "promo", "c8", "awang", "", "2026-11-30T16:00", "2026-11-30T16:00"),  # 30 Nov 23:00 WIB
    ("call", "promo", "c4", "sari", "", "2026-12-02T03:00", "2026-12-02T03:00"),
    ("call", "renewal", "c9", "budi", "no_answer", "2026-11-13T03:00", "2026-11-20T03:00"),  # not a sender
]


def populate(engine: Engine) -> Db:
    with transaction(engine) as s:
        contacts = {}
        for key, status in CONTACTS.items():
            c = Contact(email=f"{key}@example.com", first_name=key.upper(), status=status, custom={}, tags="",
                        created_at=CREATED, updated_at=CREATED)  # fmt: skip
            s.add(c)
            s.flush()
            contacts[key] = c.id
        campaigns = {}
        for name, sender in (("promo", "awang"), ("renewal", "sari")):
            camp = Campaign(name=name, segment="jakarta-prospects", sender=sender, state="done",
                            created_at=CREATED, updated_at=CREATED)  # fmt: skip
            s.add(camp)
            s.flush()
            campaigns[name] = camp.id
        outbox = {}
        for key, camp, contact, state, variant, sent_at in OUTBOX:
            row = Outbox(campaign_id=campaigns[camp], contact_id=contacts[contact], step=1 if key == "o10" else 0,
                         email=f"{contact}@example.com", state=state, message_id=f"{key}@test", variant=variant,
                         sent_at=utc(sent_at) if sent_at else None, created_at=CREATED, updated_at=CREATED,
                         attempts=ATTEMPTS.get(key, (1, None))[0],
                         last_error=ATTEMPTS.get(key, (1, None))[1])  # fmt: skip
            s.add(row)
            s.flush()
            outbox[key] = row.id
        by_key = {k: (c, contact) for k, c, contact, *_ in OUTBOX}
        for kind, key, at, detail in EVENTS:
            camp, contact = by_key[key]
            s.add(Event(kind=kind, at=utc(at), campaign_id=campaigns[camp], outbox_id=outbox[key],
                        contact_id=contacts[contact], detail=detail))  # fmt: skip
        for queue, camp, contact, owner, outcome, created, updated in FOLLOWUPS:
            s.add(FollowUp(contact_id=contacts[contact], campaign_id=campaigns[camp], queue=queue, owner=owner,
                           outcome=outcome, state="open", created_at=utc(created),
                           updated_at=utc(updated)))  # fmt: skip
    return Db(engine, contacts, campaigns, outbox)


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "ws"
    init_workspace(root)
    write(root / "campaigns" / "promo.md", PROMO_MD)
    write(root / "campaigns" / "promo.yaml", "segment: jakarta-prospects\ncontent: promo.md\nsender: awang\n")
    engine = open_engine(load_workspace(root).database_url)
    populate(engine)
    engine.dispose()
    yield root


def report(root: Path, *args: str) -> tuple[int, str, str]:
    result = invoke("report", *args, ws=root)
    return result.exit_code, result.stdout, result.stderr


# -- the campaign funnel ----------------------------------------------------------------------


FUNNEL_TEXT = """\
Campaign promo (state done, sender awang)

                         count   % of sent
Targeted                    10
Sent                         8
Delivered                    6       75.0%
Bounced (hard)               1       12.5%
Bounced (soft)               1       12.5%
Complaints                   1       12.5%
Replied                      3       37.5%
Auto-replies                 1       12.5%
Unsubscribed                 1       12.5%
Opt-outs by reply            0        0.0%
Failed                       1       12.5%
Promoted to call             3       37.5%
Promoted to visit            1       12.5%

Follow-up outcomes
  Reached                    1
  Visit scheduled            1
  Awaiting an outcome        2

A/B subjects
  variant    sent  replied  reply rate  subject
  A             4        1       25.0%  Solusi jaringan untuk {{ contact.company }}
  B             4        2       50.0%  {{ contact.first_name }}, survei lokasi gratis?

Deliverability
  Complaints            16.67% (1 of 6), guardrail 0.30%
  Hard bounces          12.50% (1 of 8), guardrail 5.00%
  Guardrails pause the campaign past these, from 200 delivered on
  Authentication reported by receivers
    dkim    pass 2
    dmarc   pass 1
    spf     softfail 1
  Deferred most (temporary failures)
    example.com                     2 message(s)     3 deferral(s)  last: gave up after 3 attempts: 451 4.7.1 \
Greylisted, try again later
"""


def test_campaign_funnel(root: Path) -> None:
    assert report(root, "promo") == (0, FUNNEL_TEXT, "")


def test_campaign_without_variants_and_follow_ups(root: Path) -> None:
    code, out, _ = report(root, "renewal")
    assert code == 0
    assert out.splitlines()[:5] == [
        "Campaign renewal (state done, sender sari)", "", f"{'':<22}{'count':>8}{'% of sent':>12}",
        "Targeted                     3", "Sent                         3",
    ]  # fmt: skip
    assert "Replied                      1       33.3%" in out
    assert "Follow-up outcomes\n  No answer                  1\n  Awaiting an outcome        0\n" in out
    assert "A/B" not in out


def test_campaign_report_api(root: Path) -> None:
    ws = load_workspace(root)
    engine = open_engine(ws.database_url)
    r = campaign_report(engine, "promo", ws)
    assert r.funnel == {
        "targeted": 10, "sent": 8, "delivered": 6, "bounced_hard": 1, "bounced_soft": 1, "complained": 1,
        "replied": 3, "auto_replied": 1, "unsubscribed": 1, "opted_out_by_reply": 0, "failed": 1, "call": 3,
        "visit": 1,
    }  # fmt: skip
    assert r.outcomes == {"reached": 1, "visit_scheduled": 1}
    assert r.awaiting == 2
    assert [(v.label, v.sent, v.replied, v.reply_rate) for v in r.variants] == [("A", 4, 1, 25.0), ("B", 4, 2, 50.0)]
    assert r.rate("sent") is None and r.rate("replied") == 37.5


def test_unbuilt_campaign_is_a_user_error(root: Path) -> None:
    code, out, err = report(root, "solusi-jaringan")
    assert (code, out) == (1, "")
    assert err == ("Error: campaign 'solusi-jaringan' has not been built yet; "
                   "run `outreach campaign build solusi-jaringan` first\n")  # fmt: skip


def test_explicit_campaign_subcommand_reaches_a_campaign_named_monthly(root: Path) -> None:
    engine = open_engine(load_workspace(root).database_url)
    with transaction(engine) as s:
        s.add(Campaign(name="monthly", segment="x", sender="awang", state="built", created_at=CREATED,
                       updated_at=CREATED))  # fmt: skip
    code, out, _ = report(root, "campaign", "monthly")
    assert code == 0
    assert out.startswith("Campaign monthly (state built, sender awang)\n")


def test_help_on_each_form(root: Path) -> None:
    group = invoke("report", "--help")
    assert group.exit_code == 0
    assert "outreach report CAMPAIGN [--html FILE]" in group.stdout
    assert "outreach report monthly --month YYYY-MM" in group.stdout
    one = invoke("report", "promo", "--help")
    assert one.exit_code == 0
    assert one.stdout.splitlines()[0].endswith(" report CAMPAIGN [--html FILE]")
    assert "--html FILE" in one.stdout
    monthly = invoke("report", "monthly", "--help")
    assert monthly.exit_code == 0
    assert monthly.stdout.splitlines()[0].endswith(" report monthly [OPTIONS]")
    assert "--month YYYY-MM" in monthly.stdout


# -- the month ----------------------------------------------------------------------------------


NOVEMBER = """\
Monthly report 2026-11 (Asia/Jakarta)

executive                    approached  replies  calls  reached  visits  done  new prospects  target  achieved
awang (Awang Prasetyo)                6        2      1        0       1     0              4      50      8.0%
sari (Sari Wulandari)                 2        1      0        0       0     0              1      50      2.0%
budi                                  0        0      1        0       0     0              0      50      0.0%
---------------------------------------------------------------------------------------------------------------
Total                                 8        3      2        0       1     0              5     150      3.3%

calls: call outcomes recorded; reached: contacts reached by phone; visits: scheduled, done: held; new prospects: \
first contacted this month, by email or by phone
"""


def test_monthly_report(root: Path) -> None:
    assert report(root, "monthly", "--month", "2026-11") == (0, NOVEMBER, "")


def test_month_boundaries_are_in_the_workspace_timezone(root: Path) -> None:
    ws = load_workspace(root)
    engine = open_engine(ws.database_url)
    assert month_bounds("2026-11", ZoneInfo("Asia/Jakarta")) == (utc("2026-10-31T17:00"), utc("2026-11-30T17:00"))
    assert month_bounds("2026-12", ZoneInfo("Asia/Jakarta")) == (utc("2026-11-30T17:00"), utc("2026-12-31T17:00"))

    def figures(month: str) -> dict[str, tuple[int, ...]]:
        rows = monthly_report(ws, engine, month).rows
        return {r.key: (r.approached, r.replies, r.calls, r.visits, r.new_prospects) for r in rows}

    # o3 (23:59 WIB on 31 Oct) and c1's first message ever (via sari, 5 Oct) are October's
    assert figures("2026-10") == {"awang": (1, 0, 0, 0, 1), "sari": (1, 0, 0, 0, 1)}
    # o4 at 18:00Z on 30 Nov is 1 Dec in Jakarta, with the second reply of c3, c4's reply and a call outcome
    assert figures("2026-12") == {"awang": (1, 2, 1, 0, 1), "sari": (0, 0, 0, 0, 0)}


def test_the_same_data_in_utc_moves_the_boundary_cases(root: Path) -> None:
    text = (root / "outreach.yaml").read_text(encoding="utf-8").replace("timezone: Asia/Jakarta", "timezone: UTC")
    write(root / "outreach.yaml", text)
    ws = load_workspace(root)
    rows = {r.key: r for r in monthly_report(ws, open_engine(ws.database_url), "2026-11").rows}
    # in UTC o3 (16:59Z 31 Oct) stays October, o2 (17:30Z 31 Oct) moves to October, o4 (18:00Z 30 Nov) is November
    assert (rows["awang"].approached, rows["awang"].new_prospects) == (6, 4)
    assert {r.key for r in rows.values()} == {"awang", "sari", "budi"}


def test_monthly_target_comes_from_outreach_yaml(root: Path) -> None:
    with (root / "outreach.yaml").open("a", encoding="utf-8") as fh:
        fh.write("targets:\n  new_prospects: 8\n")
    text = monthly_text(monthly_report(load_workspace(root), open_engine(load_workspace(root).database_url),
                                       "2026-11"))  # fmt: skip
    assert ("awang (Awang Prasetyo)                6        2      1        0       1     0              4       8"
            "     50.0%") in text


def test_month_must_be_yyyy_mm(root: Path) -> None:
    code, _, err = report(root, "monthly", "--month", "2026-13")
    assert code == 2
    assert "month '2026-13' is not YYYY-MM" in err


# -- the HTML page, rendered by a real browser ------------------------------------------------------


def browser(tmp: Path, *args: str) -> str:
    cmd = [chromium_path(), *CHROMIUM_ARGS, "--disable-quic", f"--user-data-dir={tmp / 'profile'}", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_html_report_renders_in_chromium(root: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    code, out, _ = report(root, "promo", "--html", str(page))
    assert code == 0
    assert out == FUNNEL_TEXT + f"Wrote {page}\n"
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|@import|url\(""", html)  # nothing to fetch
    assert "<script" not in html

    dom = browser(tmp_path, "--dump-dom", page.as_uri())
    assert dom.count("<svg") == 4  # funnel, outcomes donut, one reply-rate bar per variant
    funnel = dom[dom.index('class="chart funnel"') : dom.index("</svg>", dom.index('class="chart funnel"'))]
    assert funnel.count('class="bar"') == 13  # the funnel's rows, opt-outs by reply included
    donut = dom[dom.index('class="chart outcomes"') : dom.index("</svg>", dom.index('class="chart outcomes"'))]
    assert donut.count('<path class="slice"') == 3  # reached, visit scheduled, awaiting
    assert ">4</text>" in donut  # follow-ups in the middle
    assert "<h1>promo</h1>" in dom
    cells = re.findall(r"<td>([^<]+)</td><td class=\"num\">(\d+)</td><td class=\"num\">([^<]*)</td>", dom)
    assert cells[:3] == [("Targeted", "10", ""), ("Sent", "8", ""), ("Delivered", "6", "75.0%")]
    assert ("Replied", "3", "37.5%") in cells
    assert "Solusi jaringan untuk {{ contact.company }}" in dom and "50.0%" in dom

    shot = tmp_path / "shot.png"
    browser(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri())
    assert png_size(shot) == (1200, 1600)
    assert shot.stat().st_size > 30_000  # a blank page compresses to a few KB


def test_html_escapes_what_comes_from_the_database(root: Path) -> None:
    ws = load_workspace(root)
    r = campaign_report(open_engine(ws.database_url), "promo", ws)
    page = campaign_html(r, "PT <Contoh> & Co", datetime(2026, 12, 1, 9, 0, tzinfo=ws.tz))
    assert "PT &lt;Contoh&gt; &amp; Co" in page
    assert "Generated 2026-12-01 09:00 WIB" in page
