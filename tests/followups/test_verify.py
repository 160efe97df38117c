"""Verify by phone: contacts into the ``verify`` queue, its CSV out, the callers' corrections back in.

The workspace is the small known contact set; the caller's sheet is the exported
CSV with outcomes and ``new_*`` cells filled in, as a caller would (one row with
a broken new address, which must change nothing of its contact).
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from helpers import SendWorkspace
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.audience.history import contact_changes
from outreach.followups.queue import ITEM_COLUMNS, NEW_COLUMNS
from outreach.storage import transaction, utcnow
from outreach.storage.models import Contact, ContactProposal, FollowUp, Suppression
from outreach.workspace import Workspace

HEADER = [*ITEM_COLUMNS, *NEW_COLUMNS, "payment_terms"]  # the contract's, the corrections, the workspace's own
TODAY = date(2026, 12, 7)


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def write_back(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path


def contact(sw: SendWorkspace, email: str) -> Contact:
    with Session(sw.engine()) as s:
        found = s.scalar(select(Contact).where(Contact.email == email))
        assert found is not None
        s.expunge(found)
        return found


@pytest.fixture
def queued(send_ws: SendWorkspace) -> SendWorkspace:
    """Every prospect in the verify queue (the segment), with an open call item for Fajar too."""
    with Workspace.open(send_ws.root) as ws:
        done = ws.verify_contacts(segment="prospects", today=TODAY)
        assert (done.added, done.already, done.retired) == (4, 0, 0)
        fajar = contact(send_ws, "fajar@zeta.example.com")
        with transaction(ws.engine) as s:
            now = utcnow()
            s.add(FollowUp(contact_id=fajar.id, queue="call", state="open", owner="awang", reason="replied",
                           created_at=now, updated_at=now))  # fmt: skip
    return send_ws


def test_contacts_go_in_once_and_by_owner(send_ws: SendWorkspace) -> None:
    first = send_ws.run("followups", "verify", "--segment", "prospects", "--owner", "awang")
    assert first.exit_code == 0, first.stderr
    assert first.stdout == ("Verify queue: 1 contact(s) of segment prospects added, 0 already there, 0 retired "
                            "(left the company) left out\n")  # fmt: skip
    again = send_ws.run("followups", "verify", "--segment", "prospects")
    assert again.stdout.startswith("Verify queue: 3 contact(s) of segment prospects added, 1 already there")
    listed = send_ws.run("followups", "list", "--queue", "verify")
    assert listed.stdout.splitlines()[-1] == "4 open follow-up(s)"
    with Session(send_ws.engine()) as s:
        owners = dict(s.execute(select(Contact.email, FollowUp.owner).join(FollowUp)).all())
    assert owners["budi@beta.example.com"] == "awang" and owners["ani@alpha.example.com"] == "sari"
    assert owners["citra@gamma.example.com"] in ("awang", "sari")  # nobody's: the least busy executive
    hygiene = send_ws.run("followups", "verify", "--hygiene", "missing")
    assert hygiene.exit_code == 0 and "of hygiene group missing added" in hygiene.stdout


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--segment", "prospects", "--hygiene", "stale"], 2, "give one of --hygiene GROUP or --segment NAME"),
    ([], 2, "give one of --hygiene GROUP or --segment NAME"),
    (["--hygiene", "old"], 1, "Error: no hygiene group 'old'; the groups are: stale, few_transactions, role_address, "
                              "duplicates, missing, suppressed, dead_domain\n"),
    (["--segment", "prospects", "--owner", "budi"], 1, "Error: --owner 'budi' is not a sender in outreach.yaml "
                                                       "(senders: awang, sari)\n"),
    (["--segment", "nope"], 1, "Error: segment 'nope' not found"),
])  # fmt: skip
def test_bad_requests_change_nothing(send_ws: SendWorkspace, args: list[str], code: int, message: str) -> None:
    result = send_ws.run("followups", "verify", *args)
    assert result.exit_code == code and message in result.stderr
    with Session(send_ws.engine()) as s:
        assert s.scalars(select(FollowUp)).first() is None


def test_the_export_has_the_correction_columns(queued: SendWorkspace, tmp_path: Path) -> None:
    out = tmp_path / "verify.csv"
    assert queued.run("followups", "export", "--queue", "verify", "--out", str(out)).exit_code == 0
    rows = rows_of(out)
    assert list(rows[0]) == HEADER
    assert [r["email"] for r in rows] == ["ani@alpha.example.com", "budi@beta.example.com", "citra@gamma.example.com",
                                         "fajar@zeta.example.com"]  # fmt: skip
    assert {r["queue"] for r in rows} == {"verify"} and {r["reason"] for r in rows} == {"verify: segment prospects"}
    assert all(r[c] == "" for r in rows for c in NEW_COLUMNS)
    assert {r["payment_terms"] for r in rows} == {"14 hari"}  # outreach.yaml's derived field: callers see it
    book = tmp_path / "verify.xlsx"
    assert queued.run("followups", "export", "--queue", "verify", "--out", str(book)).exit_code == 0
    sheet = load_workbook(book).active
    assert [c.value for c in sheet[1]] == HEADER
    call = tmp_path / "call.csv"
    assert queued.run("followups", "export", "--queue", "call", "--out", str(call)).exit_code == 0
    assert list(rows_of(call)[0]) == [*ITEM_COLUMNS, "payment_terms"]  # the call list: no corrections


def test_corrections_come_back_validated_and_kept_in_the_history(queued: SendWorkspace, tmp_path: Path) -> None:
    out = tmp_path / "verify.csv"
    queued.run("followups", "export", "--queue", "verify", "--out", str(out))
    ani, budi, citra, fajar = rows_of(out)
    ani.update(outcome="updated", notes="naik jabatan", new_title="IT Director", new_phone="0812-7777-1212")
    budi.update(outcome="updated", new_email="budi.santoso@beta", new_title="Head of Purchasing")  # a broken address
    citra.update(outcome="left_company", notes="sudah resign", new_first_name="Dewi", new_last_name="Anggraini",
                 new_email="Dewi.Anggraini@gamma.example.com", new_title="Purchasing")  # fmt: skip
    fajar.update(outcome="wrong_number")
    sheet = write_back(tmp_path / "back.csv", [ani, budi, citra, fajar])
    before = contact(queued, "budi@beta.example.com")

    result = queued.run("followups", "import", str(sheet))
    assert result.exit_code == 1
    assert result.stdout == "Outcomes: 3 applied, 0 unchanged, 1 rejected\n"
    assert result.stderr == (f"Error: {sheet}: row 3: new_email: invalid email 'budi.santoso@beta': The part after "
                             "the @-sign is not valid. It should have a period. (each such row changed nothing; "
                             "correct it and import the file again)\n")  # fmt: skip
    after = contact(queued, "budi@beta.example.com")
    assert (after.title, after.email, after.last_contacted_at) == (before.title, before.email, before.last_contacted_at)

    with Session(queued.engine()) as s:
        ani_row = s.scalar(select(Contact).where(Contact.email == "ani@alpha.example.com"))
        assert ani_row is not None and (ani_row.title, ani_row.phone) == ("IT Director", "+6281277771212")
        changes = [(c.field, c.old, c.new, c.via) for c in contact_changes(s, ani_row.id)]
        assert ("title", "IT Manager", "IT Director", "verify") in changes
        assert ("phone", "+622155500001", "+6281277771212", "verify") in changes
        assert all(c.who for c in contact_changes(s, ani_row.id))
        # Citra left: retired (no campaigns, no calls); her successor has the same owner and company
        assert s.get(Suppression, "citra@gamma.example.com").reason == "left_company"  # type: ignore[union-attr]
        dewi = s.scalar(select(Contact).where(Contact.email == "dewi.anggraini@gamma.example.com"))
        old = s.scalar(select(Contact).where(Contact.email == "citra@gamma.example.com"))
        assert dewi is not None and old is not None
        assert (dewi.first_name, dewi.last_name, dewi.title, dewi.owner, dewi.company_id) == (
            "Dewi", "Anggraini", "Purchasing", old.owner, old.company_id)
        # Fajar's number was wrong: cleared (the old one kept in the history), his call item too
        fajar_row = s.scalar(select(Contact).where(Contact.email == "fajar@zeta.example.com"))
        assert fajar_row is not None and fajar_row.phone == "" and fajar_row.needs_cleanup
        assert ("phone", "+622155500006", "", "verify") in [(c.field, c.old, c.new, c.via)
                                                            for c in contact_changes(s, fajar_row.id)]  # fmt: skip
        query = select(FollowUp.queue, FollowUp.state).where(FollowUp.contact_id == fajar_row.id)
        states = dict(s.execute(query).all())
        assert states["verify"] == "done"

    again = queued.run("followups", "import", str(sheet))  # the same file again: nothing more
    assert again.stdout == "Outcomes: 0 applied, 3 unchanged, 1 rejected\n" and again.exit_code == 1
    budi["new_email"] = "budi.santoso@beta.example.com"
    fixed = queued.run("followups", "import", str(write_back(tmp_path / "fixed.csv", [budi])))
    assert (fixed.exit_code, fixed.stdout) == (0, "Outcomes: 1 applied, 0 unchanged\n")
    assert contact(queued, "budi.santoso@beta.example.com").title == "Head of Purchasing"


def test_a_retired_contact_gets_no_call_and_no_second_item(queued: SendWorkspace, tmp_path: Path) -> None:
    out = tmp_path / "verify.csv"
    queued.run("followups", "export", "--queue", "verify", "--out", str(out))
    fajar = next(r for r in rows_of(out) if r["email"] == "fajar@zeta.example.com")
    fajar.update(outcome="left_company", new_first_name="Gilang")  # a successor without an address: a proposal
    assert queued.run("followups", "import", str(write_back(tmp_path / "b.csv", [fajar]))).exit_code == 0
    with Session(queued.engine()) as s:
        assert s.scalars(select(FollowUp.state).where(FollowUp.queue == "call")).all() == ["done"]
        proposal = s.scalar(select(ContactProposal))
        assert proposal is not None and (proposal.name, proposal.email, proposal.state) == ("Gilang", "", "proposed")
    result = queued.run("followups", "verify", "--segment", "prospects")
    assert "1 retired (left the company) left out" in result.stdout
    with Workspace.open(queued.root) as ws:
        built = ws.build("promo")
        assert built.suppressed == 1  # the retired contact gets no campaign


def test_no_answer_stays_open_and_an_outcome_of_another_queue_is_refused(queued: SendWorkspace,
                                                                          tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "verify.csv"
    queued.run("followups", "export", "--queue", "verify", "--out", str(out))
    ani, budi, *_ = rows_of(out)
    ani.update(outcome="no_answer")
    budi.update(outcome="reached")  # a call's outcome on a verify item
    refused = queued.run("followups", "import", str(write_back(tmp_path / "b.csv", [ani, budi])))
    assert refused.exit_code == 1
    assert refused.stderr == (f"Error: {tmp_path / 'b.csv'}, row 3: outcome 'reached' is not one of the verify "
                              "queue's: confirmed, updated, left_company, wrong_number, no_answer\n")  # fmt: skip
    ok = queued.run("followups", "import", str(write_back(tmp_path / "c.csv", [ani])))
    assert ok.exit_code == 0
    with Session(queued.engine()) as s:
        item = s.scalar(select(FollowUp).join(Contact).where(Contact.email == "ani@alpha.example.com"))
        assert item is not None and (item.state, item.outcome) == ("open", "no_answer")


def test_a_proposal_can_go_to_the_verify_queue(send_ws: SendWorkspace) -> None:
    with transaction(send_ws.engine()) as s:
        old = s.scalar(select(Contact).where(Contact.email == "eka@epsilon.example.com"))
        assert old is not None
        s.add(ContactProposal(state="proposed", old_contact_id=old.id, name="Rudi Hartono",
                              email="rudi@epsilon.example.com", owner="sari", created_at=utcnow()))  # fmt: skip
    result = send_ws.run("contacts", "verify", "1", "--by", "admin")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Proposal 1 is in the verify queue as follow-up 1; its caller confirms it by phone\n"
    with Session(send_ws.engine()) as s:
        item = s.get(FollowUp, 1)
        assert item is not None and item.queue == "verify" and item.owner == "sari"
        assert item.reason == "proposal 1: is Rudi Hartono <rudi@epsilon.example.com> the successor?"
        assert s.get(ContactProposal, 1).state == "verifying"  # type: ignore[union-attr]
    twice = send_ws.run("contacts", "verify", "1")
    assert (twice.exit_code, twice.stderr) == (1, "Error: proposal 1 is already in the verify queue\n")
    assert send_ws.run("contacts", "approve", "1").exit_code == 0  # still the admin's to decide
    assert send_ws.run("contacts", "verify", "1").stderr == "Error: proposal 1 was already approved\n"
