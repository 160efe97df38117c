"""The month against the target: new prospects by email or by phone, contacts reached by phone, visits done;
``--json``, the supervisor's ``--xlsx`` (text never a formula), per-sender targets.

Calls go through the real outcome paths (``Workspace.save_outcome``), which stamp them now; so the month
asked about is the current one, and the "earlier" message is two months back.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from helpers import SendWorkspace, write_csv
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.storage import transaction, utcnow
from outreach.storage.models import Campaign, Contact, FollowUp, Outbox
from outreach.workspace import Workspace

HOSTILE = '=HYPERLINK("http://evil.example/","klik")'


@pytest.fixture
def month(send_ws: SendWorkspace, tmp_path: Path) -> tuple[SendWorkspace, str]:
    """ani: mailed this month by awang. budi: never mailed, reached by a verify call (owner awang). citra: mailed two
    months ago, reached by phone now: not new. fajar: called, no answer. dedi (existing): reached, never a prospect.
    A visit held for dedi; a prospect whose company is a formula."""
    write_csv(tmp_path / "x.csv", ["email", "first_name", "company", "status", "owner"],
              [["gita@formula.example.com", "Gita", HOSTILE, "prospect", "sari"]])  # fmt: skip
    assert send_ws.run("contacts", "import", str(tmp_path / "x.csv")).exit_code == 0
    text = (send_ws.root / "outreach.yaml").read_text(encoding="utf-8")
    (send_ws.root / "outreach.yaml").write_text(text.replace("    # target: 40 ", "    target: 4 "), encoding="utf-8")
    now = utcnow()
    with Workspace.open(send_ws.root) as ws:
        with transaction(ws.engine) as s:
            ids = dict(s.execute(select(Contact.email, Contact.id)).all())
            camp = Campaign(name="promo", segment="prospects", sender="awang", state="done", created_at=now,
                            updated_at=now)  # fmt: skip
            s.add(camp)
            s.flush()
            for n, (email, at) in enumerate((("ani@alpha.example.com", now), ("gita@formula.example.com", now),
                                             ("citra@gamma.example.com", now - timedelta(days=62)))):  # fmt: skip
                s.add(Outbox(campaign_id=camp.id, contact_id=ids[email], email=email, state="sent", message_id=f"m{n}",
                             sent_at=at, created_at=at, updated_at=at))  # fmt: skip
            for email, queue in (("budi@beta.example.com", "verify"), ("citra@gamma.example.com", "call"),
                                 ("fajar@zeta.example.com", "call"), ("dedi@delta.example.com", "call"),
                                 ("dedi@delta.example.com", "visit")):  # fmt: skip
                s.add(FollowUp(contact_id=ids[email], queue=queue, state="open", owner="awang", reason="t",
                               created_at=now, updated_at=now))  # fmt: skip
        with Session(ws.engine) as s:
            items = {(f.contact.email, f.queue): (f.id, f.version) for f in s.scalars(select(FollowUp))}
        for (email, queue), outcome in ((("budi@beta.example.com", "verify"), "confirmed"),
                                        (("citra@gamma.example.com", "call"), "reached"),
                                        (("fajar@zeta.example.com", "call"), "no_answer"),
                                        (("dedi@delta.example.com", "call"), "reached"),
                                        (("dedi@delta.example.com", "visit"), "reached")):  # fmt: skip
            item_id, version = items[(email, queue)]
            assert ws.save_outcome(item_id, version, outcome, "", who="cali")
    return send_ws, datetime.now(ws.config.tz).strftime("%Y-%m")


def test_new_prospects_by_email_or_phone_against_each_target(month: tuple[SendWorkspace, str]) -> None:
    sw, this_month = month
    result = sw.run("report", "monthly", "--month", this_month, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    awang, sari = data["senders"]["awang"], data["senders"]["sari"]
    # ani (email, awang's campaign), gita (email, awang's campaign), budi (phone, awang's item); citra's first
    # contact was two months ago; dedi is a customer; fajar did not answer
    assert (awang["target"], awang["new_contacted"]) == (50, 3)
    assert (sari["target"], sari["new_contacted"]) == (4, 0)  # senders.sari.target overrides
    assert awang["reached_by_phone"] == 3  # budi, citra, dedi: fajar's no_answer reached nobody
    assert (awang["calls"], awang["visits_done"]) == (4, 1)
    assert data["executives"][0]["key"] == "awang" and data["total"]["new_contacted"] == 3
    with Workspace.open(sw.root) as ws:
        row = next(r for r in ws.monthly(this_month).rows if r.key == "awang")
    assert {(c.email, c.how) for c in row.new_contacts} == {("ani@alpha.example.com", "email"),
                                                            ("gita@formula.example.com", "email"),
                                                            ("budi@beta.example.com", "phone")}  # fmt: skip
    text = sw.run("report", "monthly", "--month", this_month).stdout
    assert ("awang (Awang Prasetyo)                2        0      4        3       1     1              3"
            "      50") in text


def test_the_supervisors_workbook(month: tuple[SendWorkspace, str], tmp_path: Path) -> None:
    sw, this_month = month
    out = tmp_path / "month.xlsx"
    result = sw.run("report", "monthly", "--month", this_month, "--xlsx", str(out))
    assert result.exit_code == 0 and result.stdout.endswith(f"Wrote {out}\n")
    book = load_workbook(out)
    assert book.sheetnames == ["Summary", "Awang Prasetyo", "Sari Wulandari"]
    summary = [[c.value for c in row] for row in book["Summary"].iter_rows(min_row=3)]
    assert summary[0][:5] == ["Executive", "Key", "Target", "New prospects contacted", "Achieved %"]
    assert summary[1][:5] == ["Awang Prasetyo", "awang", 50, 3, 6.0]
    assert summary[-1][0] == "Total"
    awang = book["Awang Prasetyo"]
    people = {row[0].value: row for row in awang.iter_rows(min_row=1) if row[0].value and "@" in str(row[0].value)}
    assert set(people) == {"ani@alpha.example.com", "gita@formula.example.com", "budi@beta.example.com"}
    company = people["gita@formula.example.com"][2]
    assert company.value == HOSTILE and company.data_type == "s"  # a text, never run as a formula
    assert people["budi@beta.example.com"][4].value == "phone"


def test_the_month_is_validated(send_ws: SendWorkspace) -> None:
    bad = send_ws.run("report", "monthly", "--month", "2026-13", "--json")
    assert bad.exit_code == 2 and "month '2026-13' is not YYYY-MM" in bad.stderr
