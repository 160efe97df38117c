"""``contacts merge KEEP OTHER``: one person blasted under two addresses (the same name at "PT Alpha Teknik" and
"Alpha Teknik, PT"), answered from one, merged; replies, unsubscribe links and builds after the merge."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import SendWorkspace, write_csv
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from outreach.settings.tokens import workspace_signer
from outreach.storage import transaction, utcnow
from outreach.storage.models import Contact, ContactAlias, Event, FollowUp, Outbox, Suppression
from outreach.tracking.unsubscribe import unsubscribe
from outreach.workspace import Workspace

KEEP, OTHER = "ani@alpha.example.com", "ani.lestari@gmail.example.com"


def add_duplicate(send_ws: SendWorkspace, tmp_path: Path, **extra: str) -> None:
    header = ["email", "first_name", "last_name", "title", "phone", "company", "status", "city", *extra]
    row = [OTHER, "Ani", "LESTARI", "", "0812-9999-0001", "Alpha Teknik, PT", "prospect", "", *extra.values()]
    result = send_ws.run("contacts", "import", str(write_csv(tmp_path / "dup.csv", header, [row])))
    assert result.exit_code == 0, result.output


def reply(folder: Path, sender: str, n: int, text: str, in_reply_to: str | None = None) -> Path:
    thread = f"In-Reply-To: <{in_reply_to}>\r\n" if in_reply_to else ""
    raw = (f"From: Ani <{sender}>\r\nTo: awang@contoh-solusi.example\r\nSubject: Re: Penawaran spesial\r\n"
           f"Date: Tue, 01 Dec 2026 10:00:00 +0700\r\nMessage-ID: <merge-reply-{n}@gmail.example.com>\r\n{thread}"
           f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n")  # fmt: skip
    folder.mkdir(exist_ok=True)
    path = folder / f"reply-{n}.eml"
    path.write_bytes(raw.encode())
    return path


def test_merging_a_contact_with_itself_or_an_unknown_one_is_a_clear_error(send_ws: SendWorkspace) -> None:
    itself = send_ws.run("contacts", "merge", KEEP, " ANI@alpha.example.com ")
    assert (itself.exit_code, itself.stdout) == (1, "")
    assert itself.stderr == ("Error: KEEP and OTHER are the same contact (ani@alpha.example.com): name two different "
                             "contacts to merge\n")  # fmt: skip
    unknown = send_ws.run("contacts", "merge", KEEP, "nobody@example.com")
    assert unknown.exit_code == 1
    assert unknown.stderr == "Error: OTHER: no contact 'nobody@example.com' (contacts list shows who there is)\n"
    assert send_ws.run("contacts", "merge", "nobody@example.com", KEEP).stderr.startswith("Error: KEEP: no contact")
    with Session(send_ws.engine()) as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 6  # nothing changed


def test_the_duplicate_found_by_hygiene_is_merged_and_its_mail_still_matches(send_ws: SendWorkspace,
                                                                             tmp_path: Path) -> None:  # fmt: skip
    add_duplicate(send_ws, tmp_path)
    with Workspace.open(send_ws.root) as ws:
        assert [KEEP, OTHER] in ws.hygiene().to_json()["duplicates"]
        ws.build("promo")
        assert ws.send("promo").sent == 5  # both of Ani's addresses got the blast
        with Session(ws.engine) as s:
            sent_to_other = s.scalar(select(Outbox).where(Outbox.email == OTHER))
            assert sent_to_other is not None
            other_message, other_id = sent_to_other.message_id, sent_to_other.contact_id
        ws.ingest([reply(tmp_path / "in", OTHER, 1, "Boleh, tolong telepon saya besok.", other_message)])
        link = send_ws.server.to(OTHER)[0].message["List-Unsubscribe"]
        token = re.search(r"/u/([^>\s]+)>", link).group(1)  # type: ignore[union-attr]

    merged = send_ws.run("contacts", "merge", KEEP, OTHER, "--by", "sari")
    assert merged.exit_code == 0, merged.stderr
    assert merged.stdout.startswith(f"Merged {OTHER} into {KEEP}: 1 message(s), 1 follow-up(s) and ")
    assert f"fields filled from {OTHER}: none;" in merged.stdout  # KEEP's own values win: Ani's record was full
    with Session(send_ws.engine()) as s:
        keep = s.scalar(select(Contact).where(Contact.email == KEEP))
        assert keep is not None and s.scalar(select(Contact).where(Contact.email == OTHER)) is None
        keep_id = keep.id
        rows = s.scalars(select(Outbox).where(Outbox.contact_id == keep.id).order_by(Outbox.step)).all()
        assert [(r.email, r.step, r.state) for r in rows] == [(OTHER, -1, "sent"), (KEEP, 0, "sent")]
        assert s.scalar(select(FollowUp.contact_id)) == keep.id  # the reply's call item is Ani's
        assert {e.kind for e in s.scalars(select(Event).where(Event.contact_id == keep.id))} >= {"sent", "replied",
                                                                                                "merged"}  # fmt: skip
        alias = s.get(ContactAlias, OTHER)
        assert alias is not None and (alias.contact_id, alias.merged_id, alias.who) == (keep.id, other_id, "sari")
        # long after the blast (no message to match by address), a reply from the old address is still Ani's
        s.execute(update(Outbox).values(sent_at=utcnow() - timedelta(days=400)))
        s.commit()
    with Workspace.open(send_ws.root) as ws:
        report, _ = ws.ingest([reply(tmp_path / "in", OTHER, 2, "Saya sudah pindah ke alamat lain ya.")])
        assert report.unmatched == 0
        with Session(ws.engine) as s:
            event = s.scalar(select(Event).where(Event.source_id == "merge-reply-2@gmail.example.com"))
            assert event is not None and event.contact_id == keep_id
        # the unsubscribe link in the message sent to the old address: Ani's no is honoured
        target = unsubscribe(ws.engine, workspace_signer(ws.engine, ws.config), token)
        assert target is not None and target.email == KEEP
        with Session(ws.engine) as s:
            assert s.get(Suppression, KEEP) is not None
        assert ws.build("promo").added == 0
    shown = send_ws.run("contacts", "show", KEEP).stdout
    assert f"alias: (empty) -> {OTHER}  (sari, via merge)" in shown
    assert "phone              +622155500001" in shown  # KEEP's own phone won


def test_fields_keep_wins_other_fills_blanks_and_suppressions_carry_over(send_ws: SendWorkspace,
                                                                         tmp_path: Path) -> None:  # fmt: skip
    add_duplicate(send_ws, tmp_path, employees="250")
    with transaction(send_ws.engine()) as s:
        s.execute(update(Contact).where(Contact.email == KEEP).values(title="", phone=""))
        s.add(Suppression(email=OTHER, reason="unsubscribe", detail="one-click link", created_at=utcnow()))
    done = send_ws.run("contacts", "merge", KEEP, OTHER)
    assert done.exit_code == 0, done.stderr
    assert f"{KEEP} is now suppressed too (unsubscribe, as {OTHER} was)" in done.stdout
    with Session(send_ws.engine()) as s:
        keep = s.scalar(select(Contact).where(Contact.email == KEEP))
        assert keep is not None
        assert (keep.first_name, keep.last_name, keep.phone, keep.title) == ("Ani", "Lestari", "+6281299990001", "")
        assert keep.company is not None and keep.company.name == "PT Alpha Teknik"  # KEEP's own company wins
        assert keep.custom == {"region": "west", "employees": "250"}
        suppression = s.get(Suppression, KEEP)
        assert suppression is not None and suppression.reason == "unsubscribe"
        assert suppression.detail == f"merged from {OTHER}: one-click link"
        assert s.get(Suppression, OTHER) is not None  # the alias stays blocked too
    again = send_ws.run("contacts", "merge", KEEP, OTHER)
    assert (again.exit_code, again.stderr) == (1, f"Error: OTHER {OTHER} was already merged into {KEEP}\n")


def test_two_copies_not_sent_yet_become_one(send_ws: SendWorkspace, tmp_path: Path) -> None:
    add_duplicate(send_ws, tmp_path)
    with Workspace.open(send_ws.root) as ws:
        assert ws.build("promo").added == 5
        merged = ws.merge_contacts(KEEP, OTHER, "admin")
        assert merged.cancelled == 1
        assert ws.send("promo").sent == 4
    assert len(send_ws.server.to(KEEP)) == 1 and send_ws.server.to(OTHER) == []  # Ani gets the message once


@pytest.mark.parametrize("keep_first", [True, False])
def test_one_open_item_per_queue_after_a_merge(send_ws: SendWorkspace, tmp_path: Path, keep_first: bool) -> None:
    add_duplicate(send_ws, tmp_path)
    now = utcnow()
    with transaction(send_ws.engine()) as s:
        ids = dict(s.execute(select(Contact.email, Contact.id)).all())
        for email in (KEEP, OTHER) if keep_first else (OTHER, KEEP):
            s.add(FollowUp(contact_id=ids[email], queue="call", state="open", owner="sari", reason="replied",
                           created_at=now, updated_at=now))  # fmt: skip
    assert send_ws.run("contacts", "merge", KEEP, OTHER).exit_code == 0
    with Session(send_ws.engine()) as s:
        items = s.scalars(select(FollowUp).order_by(FollowUp.id)).all()
        assert {i.contact_id for i in items} == {ids[KEEP]}
        assert sorted(i.state for i in items) == ["done", "open"]
        closed = next(i for i in items if i.state == "done")
        assert closed.notes == f"closed by a merge into {KEEP}, which has an open call item"


def test_an_address_merged_imported_again_and_merged_again(send_ws: SendWorkspace, tmp_path: Path) -> None:
    add_duplicate(send_ws, tmp_path)
    assert send_ws.run("contacts", "merge", KEEP, OTHER).exit_code == 0
    add_duplicate(send_ws, tmp_path)  # someone imports the old sheet: the address is a contact again
    again = send_ws.run("contacts", "merge", "budi@beta.example.com", OTHER)
    assert again.exit_code == 0, again.stderr
    with Session(send_ws.engine()) as s:
        alias = s.get(ContactAlias, OTHER)
        budi = s.scalar(select(Contact.id).where(Contact.email == "budi@beta.example.com"))
        assert alias is not None and alias.contact_id == budi
