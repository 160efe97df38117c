"""Reply intents: measured on the labelled corpus, and their effects through `outreach track ingest`.

The corpus (tests/data/intents/, see its README) was written by a colleague: the reader was tuned on
``tuning.jsonl`` (and on ``own.jsonl``, replies we wrote ourselves); ``checking.jsonl`` was opened
once, after the reader was committed. The targets: every opt-out found, no interested, meeting or
question reply suppressed.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
from engine_support import FaultySink, contact, running
from helpers import invoke
from sqlalchemy import select

from outreach.campaigns.builder import build_campaign
from outreach.followups.promotion import promote
from outreach.sending.engine import send_campaign
from outreach.storage import transaction, utcnow
from outreach.storage.models import Contact, ContactProposal, Event, FollowUp, ReplyIntent, Suppression
from outreach.tracking.intents import intent
from outreach.tracking.replies import trim_reply

DATA = Path(__file__).parents[1] / "data" / "intents"
POSITIVE = ("interested", "meeting", "question")
SUPPRESSING = ("opt_out", "referral", "left_company")


def _read(name: str) -> list[tuple[dict[str, object], str]]:
    rows = [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(r, intent(trim_reply(str(r["body"])), str(r["subject"])).name) for r in rows]


@pytest.mark.parametrize("name", ["tuning.jsonl", "own.jsonl", "checking.jsonl"])
def test_corpus_targets(name: str) -> None:
    results = _read(name)
    opt_outs = [(r["id"], got) for r, got in results if r["intent"] == "opt_out"]
    missed = [rid for rid, got in opt_outs if got != "opt_out"]
    assert not missed, f"opt-outs not found: {missed}"
    suppressed = [(r["id"], got) for r, got in results if r["intent"] in POSITIVE and got in SUPPRESSING]
    assert not suppressed, f"interested/meeting/question replies suppressed: {suppressed}"
    right = sum(r["intent"] == got for r, got in results)
    assert right / len(results) >= 0.9


def test_tuning_referrals_carry_the_successor() -> None:
    rows = [json.loads(line) for line in (DATA / "tuning.jsonl").read_text(encoding="utf-8").splitlines()]
    for r in rows:
        if r.get("referral"):
            found = intent(trim_reply(r["body"]), r["subject"])
            assert (found.referral_name, found.referral_email) == (r["referral"]["name"], r["referral"]["email"])


@pytest.mark.parametrize(("text", "name", "unsure"), [
    ("tolong hapus email saya dari daftar", "opt_out", False),
    ("Sy gak mau nerima email2 kayak gini lg", "opt_out", False),
    ("Pleaseee unsubscibe me", "opt_out", False),
    ("Where did you get my address?", "opt_out", True),  # the safe side: suppressed and flagged
    ("tidak tertarik", "not_interested", False),
    ("Bukan berarti tidak tertarik, cuma tolong kirim estimasi harga dulu", "interested", False),
    ("Kalau berhenti langganan layanan managed-nya, perangkatnya ditarik?", "question", False),
    ("Jangan telepon, kirim saja penawarannya via email.", "interested", False),
    ("Tolong jangan hapus saya dari daftar, kirim pricelist terbaru ya", "interested", False),
])  # fmt: skip
def test_reader_rules(text: str, name: str, unsure: bool) -> None:
    found = intent(text)
    assert (found.name, found.unsure) == (name, unsure)


def _eml(row_email: str, message_id: str, n: int, body: str) -> bytes:
    quote = ("\n\nPada 1 Des 2026, Sari <sari@contoh-solusi.co.id> menulis:\n> Yth. Bapak/Ibu,\n"
             "> Tertarik? Balas email ini dan kami jadwalkan meeting.\n> Berhenti berlangganan: https://x.example/u/1\n")
    return (f"From: <{row_email}>\r\nTo: sari@contoh-solusi.co.id\r\nSubject: Re: Lisensi 2027\r\n"
            f"Message-ID: <intent{n}@customer.example.com>\r\nIn-Reply-To: <{message_id}>\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\n\nSalam,\nNama Santoso\nPT Co{quote}").encode()


def _ingest(root: Path, tmp: Path, mails: dict[str, bytes]) -> list[str]:
    paths = []
    for name, raw in mails.items():
        path = tmp / f"{name}.eml"
        path.write_bytes(raw)
        paths.append(str(path))
    result = invoke("track", "ingest", *paths, ws=root)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_intents_through_ingest(sent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    ws, engine, rows, _signer = sent
    root = ws.root
    (root / "campaigns" / "second.yaml").write_text("segment: all\ncontent: year-end-licensing.md\nsender: sari\n")
    r = {n: rows[contact(n)] for n in range(6)}
    # contact 1 first asks for a price: a call item opens
    _ingest(root, tmp_path, {"ask": _eml(r[1].email, r[1].message_id, 1, "Boleh minta harga untuk 20 lisensi?")})
    with transaction(engine) as session:
        (item,) = session.scalars(select(FollowUp).where(FollowUp.contact_id == r[1].contact_id)).all()
        assert (item.state, item.intent) == ("open", "interested")
    # the second campaign is queued for everyone before the answers below arrive
    build_campaign(ws, engine, "second", ignore_policy=True)
    out = _ingest(root, tmp_path, {
        "optout": _eml(r[1].email, r[1].message_id, 2, "Mohon maaf, tolong hapus email saya dari mailing list."),
        "decline": _eml(r[2].email, r[2].message_id, 3, "Terima kasih, untuk saat ini belum ada kebutuhan."),
        "left": _eml(r[3].email, r[3].message_id, 4, "Pak Nama3 sudah resign. Silakan hubungi Ibu Rina Wati di "
                                                     "rina.wati@co3.example.com"),
        "unsure": _eml(r[4].email, r[4].message_id, 5, "Dapat alamat email saya dari mana ya?"),
    })  # fmt: skip
    assert "Replies: 1 left_company, 1 not_interested, 2 opt_out" in out
    with transaction(engine) as session:
        reasons = dict(session.execute(select(Suppression.email, Suppression.reason)).all())
        assert reasons == {r[1].email: "reply_opt_out", r[3].email: "left_company", r[4].email: "reply_opt_out"}
        assert session.get(FollowUp, item.id).state == "done"  # the open item is closed
        called = set(session.scalars(select(FollowUp.contact_id).where(FollowUp.state == "open")))
        assert not called & {r[n].contact_id for n in (1, 2, 3, 4)}
        (proposal,) = session.scalars(select(ContactProposal)).all()
        assert (proposal.name, proposal.email, proposal.state) == ("Rina Wati", "rina.wati@co3.example.com", "proposed")
    # the queued second campaign never mails the opted-out or departed addresses
    with running(FaultySink()) as sink:
        monkeypatch.setenv("OUTREACH_SMTP_PORT", str(sink.port))
        from outreach.settings.workspace import load_workspace

        asyncio.run(send_campaign(load_workspace(root), engine, "second"))
    mailed = {rcpt for _, rcpts, _ in sink.received for rcpt in rcpts}
    assert mailed and not mailed & {r[1].email, r[3].email, r[4].email}
    # a third campaign's build holds the decline for 180 days, then no longer
    (root / "campaigns" / "third.yaml").write_text("segment: all\ncontent: year-end-licensing.md\nsender: sari\n")
    result = invoke("campaign", "build", "third", ws=root)
    assert "declined by reply in the last 180 days (hold_after_decline): " + r[2].email in result.stdout
    later = build_campaign(load_workspace(root), engine, "third", now=utcnow() + timedelta(days=181))
    assert "declined" not in later.held.counts
    # the admin's review: the unsure one, corrected in one action
    review = invoke("replies", "review", "--json", ws=root)
    (flag,) = [json.loads(line) for line in review.stdout.splitlines()]
    assert (flag["email"], flag["intent"]) == (r[4].email, "opt_out")
    done = invoke("replies", "set-intent", str(flag["id"]), "question", "--by", "admin", ws=root)
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[:2] == [f"reply {flag['id']}: opt_out -> question",
                                            f"lifted the reply_opt_out suppression of {r[4].email}"]
    with transaction(engine) as session:
        assert session.get(Suppression, r[4].email) is None
        assert session.scalar(select(FollowUp.state).where(FollowUp.contact_id == r[4].contact_id)) == "open"
        event = session.scalar(select(Event).where(Event.kind == "intent_set"))
        assert event.detail == {"reply": flag["id"], "from": "opt_out", "to": "question", "by": "admin"}
        assert session.get(ReplyIntent, flag["id"]).decided_by == "admin"
    assert invoke("replies", "review", "--json", ws=root).stdout == ""
    # the successor: approved once, a second approval refused
    approved = invoke("contacts", "approve", str(proposal.id), "--by", "admin", ws=root)
    assert approved.stdout == f"Proposal {proposal.id} approved: contact rina.wati@co3.example.com created\n"
    again = invoke("contacts", "approve", str(proposal.id), ws=root)
    assert again.exit_code == 1 and "already approved" in again.stderr
    with transaction(engine) as session:
        new = session.scalar(select(Contact).where(Contact.email == "rina.wati@co3.example.com"))
        old = session.get(Contact, r[3].contact_id)
        assert (new.first_name, new.last_name, new.company_id) == ("Rina", "Wati", old.company_id)
    assert promote(engine, load_workspace(root)) == 0


def test_set_intent_never_lifts_a_link_unsubscribe(sent, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws, engine, rows, _signer = sent
    row = rows[contact(0)]
    with transaction(engine) as session:
        session.add(Suppression(email=row.email, reason="unsubscribe", detail="link", created_at=utcnow()))
    _ingest(ws.root, tmp_path, {"stop": _eml(row.email, row.message_id, 9, "Please stop emailing me.")})
    with transaction(engine) as session:
        reply_id = session.scalar(select(ReplyIntent.id))
    result = invoke("replies", "set-intent", str(reply_id), "interested", ws=ws.root)
    assert result.exit_code == 0, result.output
    with transaction(engine) as session:
        assert session.get(Suppression, row.email).reason == "unsubscribe"
    bad = invoke("replies", "set-intent", "999", "interested", ws=ws.root)
    assert bad.exit_code == 1 and bad.stderr.startswith("Error: there is no reply 999")
