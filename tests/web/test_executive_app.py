"""The executive's whole job over HTTP: campaign files from a form, segments, build → review → send or schedule,
the worker's state on every page, and hostile input refused with nothing changed.

The workspace is the team's (a sent campaign ``promo`` answered by three contacts, ``launch`` not built); every
file the app writes is read back by the loaders the CLI uses, and by the CLI itself.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from helpers import invoke, write
from sqlalchemy import select, update
from team_support import app_client, csrf_of

from outreach.audit import entries
from outreach.campaigns.definition import load_campaign
from outreach.operations.heartbeat import Heartbeat
from outreach.settings.workspace import load_workspace
from outreach.storage import open_engine, transaction, utcnow
from outreach.storage.models import Campaign, Outbox
from outreach.workspace import Workspace

FIELD_ERROR = re.compile(r'<p class="field-error" id="err-(\w+)" role="alert">([^<]*)</p>')


def field_errors(page: str) -> dict[str, str]:
    return {name: html.unescape(text) for name, text in FIELD_ERROR.findall(page)}


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of the workspace's campaigns/ and segments/, to show that a refusal changed nothing."""
    return {str(p.relative_to(root)): p.read_bytes() for folder in ("campaigns", "segments")
            for p in sorted((root / folder).glob("*"))}  # fmt: skip


def post_form(client, path: str, **data: str):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/app/campaigns").text)
    return client.post(path, data={"csrf_token": token, **data})


# -- campaigns from the form ---------------------------------------------------------------------


def test_a_new_campaign_shows_each_error_on_its_field_then_saves_what_the_cli_reads(team: Path) -> None:
    before = snapshot(team)
    with app_client(team, "boss") as client:
        form = client.get("/app/campaigns/new")
        assert form.status_code == 200
        for name in ("name", "segment", "content", "sender", "schedule", "rate", "connections", "daily_cap"):
            assert f'name="{name}"' in form.text, name
        assert '<option value="customers">' in form.text and '<option value="promo.md">' in form.text
        bad = post_form(client, "/app/campaigns/new", name="q4-offer", segment="customers", content="promo.md",
                        sender="awang", rate="fast", connections="100", daily_cap="lots")  # fmt: skip
        assert bad.status_code == 400
        errors = field_errors(bad.text)
        assert errors["rate"] == "'fast' is not a rate; write e.g. 20/s, 300/m or 1000/h"
        assert errors["daily_cap"] == "a whole number"
        assert 'value="fast"' in bad.text  # what was typed stays to be corrected
        assert snapshot(team) == before
        bad = post_form(client, "/app/campaigns/new", name="q4-offer", segment="customers", content="promo.md",
                        sender="awang", connections="100")  # fmt: skip
        assert field_errors(bad.text) == {"connections": "Input should be less than or equal to 64"}
        good = post_form(client, "/app/campaigns/new", name="q4-offer", segment="customers", content="promo.md",
                         sender="awang", rate="5/s", connections="2", daily_cap="300", schedule="2030-03-02T09:30")
        assert good.status_code == 303 and good.headers["location"] == "/app/campaigns/q4-offer"
        assert "Campaign q4-offer created" in client.get("/app/campaigns/q4-offer").text
    spec = load_campaign(load_workspace(team), "q4-offer")
    assert (spec.file.segment, spec.file.content, spec.sender_key) == ("customers", "promo.md", "awang")
    assert spec.throttle.rate == 5 and spec.throttle.connections == 2 and spec.throttle.daily_cap == 300
    assert spec.file.schedule == datetime(2030, 3, 2, 9, 30)
    assert "schedule: 2030-03-02T09:30\n" in (team / "campaigns" / "q4-offer.yaml").read_text()
    result = invoke("campaign", "build", "q4-offer", ws=team)  # the CLI builds what the app wrote
    assert result.exit_code == 0 and "Campaign q4-offer: 2 added to the outbox" in result.output
    engine = open_engine(load_workspace(team).database_url)
    try:
        (entry,) = entries(engine, "campaign", "q4-offer")
        assert (entry.who, entry.via, entry.action) == ("boss", "app", "create")
        assert "+segment: customers" in entry.detail
    finally:
        engine.dispose()


def test_the_loaders_own_errors_land_on_their_fields(team: Path) -> None:
    with app_client(team, "boss") as client:
        cases = [
            ({"sender": "nobody"}, "sender", "unknown sender 'nobody' (senders: awang"),
            ({"content": "missing.md"}, "content", "content file campaigns/missing.md not found"),
            ({"segment": "nowhere"}, "segment", "there is no segment 'nowhere'"),
            ({"schedule": "tomorrow"}, "schedule", "a date and time like 2026-12-01T09:00"),
            ({"name": "promo"}, "name", "a campaign 'promo' already exists"),
            ({"content": "../outreach.yaml"}, "content", "must be a file name inside campaigns/"),
        ]
        for change, field, expected in cases:
            values = {"name": "fresh", "segment": "customers", "content": "promo.md", "sender": "awang", **change}
            response = post_form(client, "/app/campaigns/new", **values)
            assert response.status_code == 400, change
            assert field_errors(response.text)[field].startswith(expected), (change, field_errors(response.text))
    assert not (team / "campaigns" / "fresh.yaml").exists()


@pytest.mark.parametrize("name", ["../evil", "/etc/passwd", "..", "a/b", "x" * 200, "new", "promo.id", ""])
def test_a_campaign_name_that_is_no_file_name_is_refused(team: Path, name: str) -> None:
    before = snapshot(team)
    with app_client(team, "boss") as client:
        response = post_form(client, "/app/campaigns/new", name=name, segment="customers", content="promo.md",
                             sender="awang")  # fmt: skip
    assert response.status_code == 400 and "name" in field_errors(response.text)
    assert snapshot(team) == before and not (team / "evil.yaml").exists()


def test_new_content_from_a_starter_with_ab_subjects(team: Path) -> None:
    with app_client(team, "boss") as client:
        response = post_form(client, "/app/campaigns/new", name="switch-offer", segment="customers", content="new",
                             starter="product-offer", lang="en", sender="awang",
                             subjects="Switches for {{ contact.company | default('you') }}\nA faster office network")
        assert response.status_code == 303, field_errors(response.text)
    md = (team / "campaigns" / "switch-offer.md").read_text()
    assert md.startswith("---\nsubject: \"Switches for {{ contact.company | default('you') }}\"\n"
                         "variants: [\"A faster office network\"]\n")  # fmt: skip
    with Workspace.open(team) as ws:
        assert not ws.lint(["switch-offer"]).errors
        result = ws.build("switch-offer")
    assert result.added == 2


def test_a_refused_campaign_leaves_no_starter_content_behind(team: Path) -> None:
    with app_client(team, "boss") as client:
        response = post_form(client, "/app/campaigns/new", name="half", segment="customers", content="new",
                             starter="follow-up", sender="awang", rate="quickly")  # fmt: skip
    assert response.status_code == 400 and "rate" in field_errors(response.text)
    assert not (team / "campaigns" / "half.md").exists() and not (team / "campaigns" / "half.yaml").exists()


def test_editing_keeps_what_the_form_does_not_show_and_refuses_a_stale_copy(team: Path) -> None:
    path = team / "campaigns" / "launch.yaml"
    write(path, "segment: customers\ncontent: promo.md\nsender: awang\nthrottle: {rate: 1000/s, per_domain_rate: 2/s}\n"
                "window: {days: Mon-Fri, hours: '08:00-17:00'}\nrequire: [first_name]\n")  # fmt: skip
    with app_client(team, "boss") as client:
        form = client.get("/app/campaigns/launch/edit")
        base = re.search(r'name="base" value="([0-9a-f]{64})"', form.text).group(1)  # type: ignore[union-attr]
        assert 'value="1000/s"' in form.text
        saved = post_form(client, "/app/campaigns/launch/edit", segment="prospects", content="promo.md",
                          sender="awang", rate="10/s", base=base)  # fmt: skip
        assert saved.status_code == 303
        spec = load_campaign(load_workspace(team), "launch")
        assert spec.file.segment == "prospects" and spec.throttle.rate == 10
        assert spec.throttle.per_domain_rate == 2 and spec.file.window is not None
        assert spec.file.require == ("first_name",)
        edited = path.read_text()
        stale = post_form(client, "/app/campaigns/launch/edit", segment="customers", content="promo.md",
                          sender="awang", base=base)  # the version opened before the save
        assert stale.status_code == 409 and "changed since it was opened" in stale.text
        assert path.read_text() == edited


# -- segments ------------------------------------------------------------------------------------


def test_segments_list_and_a_segments_page_with_sample_and_policy_hold(team: Path) -> None:
    with app_client(team, "boss") as client:
        listing = client.get("/app/segments")
        assert re.search(r'data-segment="prospects">.*?<td class="num count">4</td>', listing.text, re.S)
        assert re.search(r'data-segment="customers">.*?<td class="num count">2</td>', listing.text, re.S)
        page = client.get("/app/segments/prospects")
        assert re.search(r'id="count">4<', page.text)
        assert "ani@alpha.example.com" in page.text  # the sample
        held = re.search(r'id="held">The contact policy would hold out <strong>(\d+)</strong>', page.text)
        assert held and held.group(1) == "4"  # all were mailed by promo today (min_gap); three replied
        assert "have an open follow-up item (hold_after_reply)" in page.text
        assert "were emailed by a campaign in the last 7 days (min_gap)" in page.text
    with Workspace.open(team) as ws:
        assert ws.segment_holds("prospects").total == 4 and ws.segment_holds("customers").total == 0


def test_a_segment_made_in_the_form_is_the_yaml_the_cli_reads(team: Path) -> None:
    with app_client(team, "boss") as client:
        response = post_form(client, "/app/segments/new", name="jakarta-it", mode="form", description="Jakarta IT",
                             status="prospect", city="Jakarta, Tangerang", tags="", tags_mode="any",
                             transactions_op="lte", transactions="2", contacted="", exclude="customers")
        assert response.status_code == 303 and response.headers["location"] == "/app/segments/jakarta-it"
        page = client.get("/app/segments/jakarta-it")
        assert 'value="Jakarta, Tangerang"' in page.text and "Segment jakarta-it created" in page.text
    assert (team / "segments" / "jakarta-it.yaml").read_text() == (
        "description: Jakarta IT\nwhere:\n  status: prospect\n  city: [Jakarta, Tangerang]\n"
        "  transactions: {lte: 2}\nexclude: [customers]\n")  # fmt: skip
    result = invoke("segments", "show", "jakarta-it", ws=team)
    assert result.exit_code == 0 and "ani@alpha.example.com" in result.output


def test_the_yaml_editor_shows_the_loaders_error_at_its_line_and_writes_nothing(team: Path) -> None:
    before = snapshot(team)
    cases = [
        ("where:\n  city: Jakarta\n  colour: red\n", "line 3: unknown field 'colour'"),
        ("where:\n  city: [Jakarta\n", "line 2: YAML syntax error"),
        ("where:\n  transactions: {lte: many}\n", "line 2: expected a number, not 'many'"),
        ("where: {}\nexclude: [nowhere]\n", "segment 'nowhere' not found"),
        ("- a list\n", "line 1: a segment is a mapping"),
    ]
    with app_client(team, "boss") as client:
        for text, expected in cases:
            response = post_form(client, "/app/segments/new", name="typo", mode="yaml", yaml=text)
            assert response.status_code == 400, text
            assert field_errors(response.text)["yaml"].startswith(expected), field_errors(response.text)
            assert html.escape(text.splitlines()[0], quote=False) in response.text  # the text, kept to fix
    assert snapshot(team) == before


def test_editing_a_segment_as_yaml_replaces_it_and_a_stale_copy_gets_409(team: Path) -> None:
    path = team / "segments" / "customers.yaml"
    with app_client(team, "boss") as client:
        page = client.get("/app/segments/customers")
        base = re.search(r'name="base" value="([0-9a-f]{64})"', page.text).group(1)  # type: ignore[union-attr]
        text = "description: customers in Jakarta\nwhere:\n  status: existing\n  city: Jakarta\n"
        assert post_form(client, "/app/segments/customers", mode="yaml", yaml=text, base=base).status_code == 303
        assert path.read_text() == text
        stale = post_form(client, "/app/segments/customers", mode="yaml", yaml="where: {}\n", base=base)
        assert stale.status_code == 409 and path.read_text() == text


@pytest.mark.parametrize("name", ["../outreach", "/tmp/x", "..", "a/b", "new", "x" * 150])
def test_a_segment_name_that_is_no_file_name_is_refused(team: Path, name: str) -> None:
    before, settings = snapshot(team), (team / "outreach.yaml").read_bytes()
    with app_client(team, "boss") as client:
        response = post_form(client, "/app/segments/new", name=name, mode="yaml", yaml="where: {}\n")
    assert response.status_code == 400 and "name" in field_errors(response.text)
    assert snapshot(team) == before and (team / "outreach.yaml").read_bytes() == settings


def test_huge_bodies_are_refused_unread_and_change_nothing(team: Path) -> None:
    before = snapshot(team)
    with app_client(team, "boss") as client:
        token = csrf_of(client.get("/app/segments").text)
        huge = "where:\n" + "".join(f"  # {'x' * 70}\n" for _ in range(700))  # ~52 KB of comments
        too_long = client.post("/app/segments/new", data={"csrf_token": token, "name": "big", "mode": "yaml",
                                                          "yaml": huge})  # fmt: skip
        assert too_long.status_code == 400
        assert field_errors(too_long.text)["yaml"] == "the segment is longer than 48 KB; a segment is a few lines"
        huger = client.post("/app/segments/new", data={"csrf_token": token, "name": "big", "mode": "yaml",
                                                       "yaml": huge * 2})  # fmt: skip
        assert huger.status_code == 413 and "larger than 96 KB; nothing was saved" in huger.text
        blob = "x" * (20 * 1024 * 1024)
        for path in ("/app/segments/new", "/app/campaigns/new", "/app/segments/customers", "/app/campaigns/promo/edit"):
            response = client.post(path, data={"csrf_token": token, "name": "big", "yaml": blob})
            assert response.status_code == 413, path
            assert "larger than" in response.text
    assert snapshot(team) == before


def test_markup_in_a_segment_is_shown_as_text(team: Path) -> None:
    write(team / "segments" / "odd.yaml", "description: <script>alert(1)</script> =HYPERLINK(\"x\")\nwhere: {}\n")
    with app_client(team, "boss") as client:
        for path in ("/app/segments", "/app/segments/odd"):
            page = client.get(path).text
            assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_admins_see_segments_callers_and_writers_do_not(team: Path) -> None:
    with Workspace.open(team) as ws:
        ws.add_user("adi", "admin", "adi-password-1")
    with app_client(team) as client:
        from team_support import log_in

        assert log_in(client, "adi", "adi-password-1").status_code == 303
        assert client.get("/app/segments").status_code == 200
        assert client.get("/app/segments/customers").status_code == 200
        assert client.get("/app/campaigns/new").status_code == 403
    for user in ("wina", "cali"):
        with app_client(team, user) as client:
            assert client.get("/app/segments").status_code == 403


# -- launching -------------------------------------------------------------------------------------


def test_build_leads_to_the_review_with_count_held_out_sample_and_doctor(team: Path) -> None:
    write(team / "campaigns" / "again.yaml", "segment: prospects\ncontent: promo.md\nsender: awang\n")
    with app_client(team, "boss") as client:
        token = csrf_of(client.get("/app/campaigns/launch/build").text)
        built = client.post("/app/campaigns/launch/build", data={"csrf_token": token})
        assert built.headers["location"] == "/app/campaigns/launch/review"
        review = client.get("/app/campaigns/launch/review")
        assert "Campaign launch: 2 added to the outbox" in review.text  # the build's summary, then the review
        assert re.search(r'id="queued">2<', review.text) and 'id="send-now"' in review.text
        assert '<iframe id="sample" class="sample" title="Sample message" sandbox=' in review.text
        assert 'srcdoc="' in review.text and re.search(r'id="sample-subject">[^<]+<', review.text)
        doctor = client.get("/app/campaigns/launch/doctor")
        assert 'data-verdict="skipped"' in doctor.text and "reserved example domain" in doctor.text
        client.post("/app/campaigns/again/build", data={"csrf_token": token})
        review = client.get("/app/campaigns/again/review").text
        assert "Nothing is in the outbox yet" in review  # every prospect was held out...
        assert re.search(r'id="held"><strong>4</strong> contact\(s\) of the segment are not queued', review)
        assert "were emailed by a campaign in the last 7 days (min_gap)" in review  # ...and why


def test_send_from_the_review_hands_over_and_says_when_no_worker_runs(team: Path) -> None:
    with Workspace.open(team) as ws:
        ws.build("launch")
    with app_client(team, "boss") as client:
        review = client.get("/app/campaigns/launch/review")
        assert 'id="no-worker"' in review.text and f"outreach worker -w {team}" in review.text
        assert 'data-alive="no"' in review.text  # the banner, on every page
        sent = client.post("/app/campaigns/launch/send", data={"csrf_token": csrf_of(review.text)})
        assert sent.status_code == 303
        page = client.get("/app/campaigns/launch").text
        assert "No worker is running, so nothing happens until one runs" in html.unescape(page)
    engine = open_engine(load_workspace(team).database_url)
    try:
        with transaction(engine) as session:
            assert session.scalar(select(Campaign.state).where(Campaign.name == "launch")) == "scheduled"
        assert [e.action for e in entries(engine, "campaign", "launch")] == ["send"]
    finally:
        engine.dispose()


def test_with_a_live_worker_every_page_says_so(team: Path) -> None:
    engine = open_engine(load_workspace(team).database_url)
    try:
        now = utcnow()
        beat = Heartbeat(engine, "host:1:abc", "host", 1, now)
        beat.start(now)
        beat.beat(now, {"due": [], "sending": [], "totals": {"passes": 1}})
        with app_client(team, "boss") as client:
            for path in ("/app/campaigns", "/app/segments", "/app/reports/monthly"):
                page = client.get(path).text
                assert 'data-alive="yes"' in page and re.search(r"Worker running · last pass \d+s ago", page), path
        with app_client(team, "cali") as client:
            assert 'data-alive="yes"' in client.get("/app/followups").text
            assert 'data-alive="yes"' in client.get("/app/fragments/worker").text
    finally:
        engine.dispose()


def test_schedule_from_the_review_in_the_workspace_timezone(team: Path) -> None:
    with Workspace.open(team) as ws:
        ws.build("launch")
    with app_client(team, "boss") as client:
        token = csrf_of(client.get("/app/campaigns/launch/review").text)
        past = client.post("/app/campaigns/launch/schedule", data={"csrf_token": token, "schedule": "2020-01-01T09:00"})
        assert past.headers["location"] == "/app/campaigns/launch/review"
        assert "has passed" in client.get("/app/campaigns/launch/review").text
        bad = client.post("/app/campaigns/launch/schedule", data={"csrf_token": token, "schedule": "<b>soon</b>"})
        assert "&lt;b&gt;soon&lt;/b&gt; is not a date and time" in client.get(bad.headers["location"]).text
        good = client.post("/app/campaigns/launch/schedule", data={"csrf_token": token, "schedule": "2031-05-04T08:00"})
        assert good.headers["location"] == "/app/campaigns/launch"
        assert "launch is scheduled for 2031-05-04 08:00 (Asia/Jakarta)" in client.get("/app/campaigns/launch").text
    engine = open_engine(load_workspace(team).database_url)
    try:
        with transaction(engine) as session:
            row = session.scalar(select(Campaign).where(Campaign.name == "launch"))
            assert row is not None and row.state == "scheduled" and row.schedule_at == datetime(2031, 5, 4, 1, 0)
    finally:
        engine.dispose()


def test_the_dashboard_tells_queued_sending_and_waiting_for_the_window_apart(team: Path) -> None:
    with Workspace.open(team) as ws:
        ws.build("launch")
        opens = utcnow() + timedelta(hours=3)
        with transaction(ws.engine) as session:
            first = session.scalars(select(Outbox.id).join(Campaign).where(Campaign.name == "launch")).first()
            session.execute(update(Outbox).where(Outbox.id == first).values(next_attempt_at=opens))
        status = ws.status("launch")
    assert (status.counts["ready"], status.counts["waiting_window"], status.counts["sending_now"]) == (1, 1, 0)
    assert status.counts["queued"] == 2 and status.window_opens == opens
    with app_client(team, "boss") as client:
        rows = client.get("/app/fragments/campaigns").text
        assert re.search(r'data-campaign="launch">.*?1 queued · 1 waiting for the sending window \(opens \w{3} '
                         r'\d\d:\d\d WIB\)', rows, re.S)  # fmt: skip
        assert "1 waiting for the sending window" in client.get("/app/campaigns/launch/progress").text


def test_a_broken_campaign_file_can_be_replaced_from_the_form(team: Path) -> None:
    path = write(team / "campaigns" / "launch.yaml", "segment: [customers\n")
    with app_client(team, "boss") as client:
        page = client.get("/app/campaigns/launch/edit")
        assert page.status_code == 200 and "YAML syntax error" in page.text and "replaces the file" in page.text
        base = re.search(r'name="base" value="([0-9a-f]{64})"', page.text).group(1)  # type: ignore[union-attr]
        saved = post_form(client, "/app/campaigns/launch/edit", segment="customers", content="promo.md",
                          sender="awang", base=base)  # fmt: skip
        assert saved.status_code == 303
    assert load_campaign(load_workspace(team), "launch").file.segment == "customers"
    assert path.read_text().startswith("# launch: written by the team app\n")
