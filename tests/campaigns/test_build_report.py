"""What `campaign build` holds out and says: the contact policy, require:, render errors, empty variables."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from helpers import PROMO_MD, SendWorkspace, write
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from outreach.campaigns.builder import build_campaign
from outreach.campaigns.definition import REQUIRABLE
from outreach.campaigns.policy import held_out
from outreach.storage import transaction, utcnow
from outreach.storage.models import Campaign, Contact, Event, FollowUp, Outbox

PROSPECTS = "ani@alpha.example.com, budi@beta.example.com, citra@gamma.example.com and 1 more"
HEAD = "Campaign {name}: {added} added to the outbox, 0 already there, 0 skipped (suppressed); {added} in the outbox"


def second_campaign(sw: SendWorkspace, name: str = "promo2", extra: str = "") -> None:
    write(sw.root / "campaigns" / f"{name}.yaml", f"segment: prospects\ncontent: promo.md\nsender: sari\n{extra}")


def run_ok(sw: SendWorkspace, *args: str, input: str | None = None) -> str:
    result = sw.run(*args, input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_sending_records_last_contacted_at(send_ws: SendWorkspace) -> None:
    run_ok(send_ws, "campaign", "build", "promo")
    run_ok(send_ws, "campaign", "send", "promo", "--yes")
    today = utcnow().date()
    with Session(send_ws.engine()) as s:
        got = dict(s.execute(select(Contact.email, Contact.last_contacted_at)).all())
    assert got == {
        "ani@alpha.example.com": today, "budi@beta.example.com": today, "citra@gamma.example.com": today,
        "fajar@zeta.example.com": today,
        "dedi@delta.example.com": date(2026, 6, 25), "eka@epsilon.example.com": date(2025, 12, 31),  # not mailed
    }  # fmt: skip


def test_a_second_campaign_holds_out_who_was_just_mailed(send_ws: SendWorkspace) -> None:
    run_ok(send_ws, "campaign", "build", "promo")
    second_campaign(send_ws)
    # queued, not yet sent: another campaign would mail them the same day
    assert run_ok(send_ws, "campaign", "build", "promo2").splitlines() == [
        HEAD.format(name="promo2", added=0),
        "Held out by the contact policy (outreach.yaml contact_policy): 4; "
        "`outreach campaign build promo2 --ignore-policy` queues them anyway",
        f"  4 are already queued in another campaign (min_gap): {PROSPECTS}",
    ]
    run_ok(send_ws, "campaign", "send", "promo", "--yes")
    assert run_ok(send_ws, "campaign", "build", "promo2").splitlines()[1:] == [
        "Held out by the contact policy (outreach.yaml contact_policy): 4; "
        "`outreach campaign build promo2 --ignore-policy` queues them anyway",
        f"  4 were emailed by a campaign in the last 7 days (min_gap): {PROSPECTS}",
    ]


def test_replies_and_open_follow_ups_are_held(send_ws: SendWorkspace) -> None:
    run_ok(send_ws, "campaign", "build", "promo")
    run_ok(send_ws, "campaign", "send", "promo", "--yes")
    engine = send_ws.engine()
    long_ago = utcnow() - timedelta(days=20)
    with transaction(engine) as s:
        s.execute(Outbox.__table__.update().values(sent_at=long_ago))  # past the 7-day gap
        ids = dict(s.execute(select(Contact.email, Contact.id)).all())
        camp = s.scalar(select(Campaign.id))
        s.add(Event(kind="replied", at=utcnow() - timedelta(days=3), campaign_id=camp,
                    contact_id=ids["ani@alpha.example.com"], detail={}))  # fmt: skip
        s.add(FollowUp(contact_id=ids["budi@beta.example.com"], queue="visit", state="open", priority=60,
                       owner="awang", reason="replied", created_at=utcnow(), updated_at=utcnow()))  # fmt: skip
    second_campaign(send_ws)
    assert run_ok(send_ws, "campaign", "build", "promo2").splitlines() == [
        HEAD.format(name="promo2", added=2),
        "Held out by the contact policy (outreach.yaml contact_policy): 2; "
        "`outreach campaign build promo2 --ignore-policy` queues them anyway",
        "  1 have an open follow-up item (hold_after_reply): budi@beta.example.com",
        "  1 replied in the last 30 days (hold_after_reply): ani@alpha.example.com",
    ]


def test_the_monthly_cap_and_turning_rules_off(send_ws: SendWorkspace) -> None:
    settings = send_ws.root / "outreach.yaml"
    settings.write_text(settings.read_text(encoding="utf-8")
                        + "contact_policy: {min_gap: 0, max_per_30d: 1, hold_after_reply: 0}\n",
                        encoding="utf-8")  # fmt: skip
    run_ok(send_ws, "campaign", "build", "promo")
    second_campaign(send_ws)
    assert run_ok(send_ws, "campaign", "build", "promo2").splitlines()[2] == (
        f"  4 already had 1 campaign emails in 30 days (max_per_30d): {PROSPECTS}"
    )
    settings.write_text(settings.read_text(encoding="utf-8").replace("max_per_30d: 1", "max_per_30d: 0"),
                        encoding="utf-8")  # fmt: skip
    assert run_ok(send_ws, "campaign", "build", "promo2") == HEAD.format(name="promo2", added=4) + "\n"


def test_ignore_policy_asks_first(send_ws: SendWorkspace, monkeypatch: pytest.MonkeyPatch) -> None:
    run_ok(send_ws, "campaign", "build", "promo")
    second_campaign(send_ws)
    monkeypatch.setattr("outreach.cli._interactive", lambda: True)  # someone at a terminal
    result = send_ws.run("campaign", "build", "promo2", "--ignore-policy", input="n\n")
    assert result.exit_code == 1
    assert result.stdout == ("The contact policy holds out 4 contact(s) of promo2 (4 queued). "
                             "Queue them anyway? [y/N]: n\n")  # fmt: skip
    with Session(send_ws.engine()) as s:
        assert s.scalar(select(Campaign).where(Campaign.name == "promo2")) is None
    out = run_ok(send_ws, "campaign", "build", "promo2", "--ignore-policy", input="y\n")
    assert out.splitlines()[1:] == [HEAD.format(name="promo2", added=4),
                                    "The contact policy was ignored for this build (--ignore-policy)"]
    assert run_ok(send_ws, "campaign", "build", "promo2", "--ignore-policy", "--yes").startswith(
        "Campaign promo2: 0 added to the outbox, 4 already there")


def test_ignore_policy_without_a_terminal_does_not_ask(send_ws: SendWorkspace) -> None:
    run_ok(send_ws, "campaign", "build", "promo")
    second_campaign(send_ws)
    out = run_ok(send_ws, "campaign", "build", "promo2", "--ignore-policy")  # a script: no question, no hang
    assert out.splitlines() == [HEAD.format(name="promo2", added=4),
                                "The contact policy was ignored for this build (--ignore-policy)"]


def test_the_policy_is_one_statement(send_ws: SendWorkspace) -> None:
    run_ok(send_ws, "campaign", "build", "promo")
    engine = send_ws.engine()
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with Session(engine) as s:
        query = select(Contact).where(Contact.status == "prospect")
        held = held_out(s, query, 999, send_ws.ws.settings.contact_policy, datetime.now())
    assert held.total == 4 and len(statements) == 1


def test_require_holds_out_and_lists(send_ws: SendWorkspace) -> None:
    second_campaign(send_ws, "req", "require: [title, company]\n")  # citra has no title
    assert run_ok(send_ws, "campaign", "build", "req").splitlines() == [
        HEAD.format(name="req", added=3),
        "Held out by require: 1 missing a required field",
        "  1 without title: citra@gamma.example.com",
    ]
    write(send_ws.root / "campaigns" / "bad.yaml", "segment: prospects\ncontent: promo.md\nsender: awang\n"
                                                   "require: [first_name, compnay]\n")  # fmt: skip
    result = send_ws.run("campaign", "build", "bad")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {send_ws.root.resolve() / 'campaigns' / 'bad.yaml'}, line 4: require: 'compnay' is not a contact "
        f"field (did you mean company? fields: {', '.join(REQUIRABLE)}, custom.COLUMN)\n"
    )


TYPO_MD = PROMO_MD.replace("untuk {{ contact.company }} di", "untuk {{ contact.compnay }} di")


def test_a_template_typo_is_one_line_with_the_fix(send_ws: SendWorkspace) -> None:
    write(send_ws.root / "campaigns" / "promo.md", TYPO_MD)
    expected = (
        "Error: campaign promo: the content does not render for 4 of 4 recipient(s); nothing was written:\n"
        "  campaigns/promo.md:8: undefined variable `contact.compnay` (contact has no field `compnay`); "
        f"did you mean `contact.company`? — 4 of 4 recipients: {PROSPECTS}\n"
    )
    result = send_ws.run("campaign", "build", "promo")
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", expected)
    assert "ContactView" not in result.stderr
    # built with good content, then broken: building again fails the same way, nothing is sent
    write(send_ws.root / "campaigns" / "promo.md", PROMO_MD)
    run_ok(send_ws, "campaign", "build", "promo")
    write(send_ws.root / "campaigns" / "promo.md", TYPO_MD)
    result = send_ws.run("campaign", "build", "promo")
    assert (result.exit_code, result.stderr) == (1, expected)


def test_empty_personalisation_is_reported_by_build_lint_and_preview(send_ws: SendWorkspace) -> None:
    write(send_ws.root / "campaigns" / "promo.md",
          "---\nsubject: Halo\n---\nYth. {{ contact.first_name }} ({{ contact.title }}),\n\n"
          '{{ contact.custom.region | default("-") }} {% if contact.title %}{{ contact.title }}{% endif %}\n')
    with transaction(send_ws.engine()) as s:
        s.execute(Contact.__table__.update().where(Contact.email == "fajar@zeta.example.com").values(first_name=""))
    out = run_ok(send_ws, "campaign", "build", "promo")
    assert out.splitlines()[1:] == [
        'Empty personalisation (write {{ contact.FIELD | default("...") }}, or hold those contacts out with '
        "require: [FIELD] in the campaign):",
        "  campaigns/promo.md:4: `contact.title` is empty — 1 of 4 recipients: citra@gamma.example.com",
        "  campaigns/promo.md:4: `contact.first_name` is empty — 1 of 4 recipients: fajar@zeta.example.com",
    ]
    lint = send_ws.run("content", "lint", "promo")
    assert lint.exit_code == 0
    assert lint.stdout.splitlines() == [
        "campaigns/promo.md:4: warning: `contact.title` is empty for 1 of 4 contacts: citra@gamma.example.com; "
        'write {{ contact.title | default("...") }} or add require: [title] to the campaign',
        "campaigns/promo.md:4: warning: `contact.first_name` is empty for 1 of 4 contacts: fajar@zeta.example.com; "
        'write {{ contact.first_name | default("...") }} or add require: [first_name] to the campaign',
        "Checked 1 campaign: 0 errors, 2 warnings",
    ]
    preview = send_ws.run("content", "preview", "promo")
    assert preview.exit_code == 0
    assert preview.stderr.splitlines() == [
        "Warning: campaigns/promo.md:4: `contact.title` is empty — 1 of 4 contacts of segment prospects: "
        "citra@gamma.example.com",
        "Warning: campaigns/promo.md:4: `contact.first_name` is empty — 1 of 4 contacts of segment prospects: "
        "fajar@zeta.example.com",
    ]
    assert preview.stdout.startswith("Subject: Halo\n\nYth. Ani (IT Manager),")


def test_build_api_reports_the_same(send_ws: SendWorkspace, tmp_path: Path) -> None:
    result = build_campaign(send_ws.ws, send_ws.engine(), "promo")
    assert (result.added, result.held.total, result.lacking.total, result.empty) == (4, 0, 0, [])
