"""`outreach campaign list [--json]`, and `report NAME` for a campaign that does not exist."""

from __future__ import annotations

import json

from helpers import SendWorkspace, write

HEADER = "name                state      segment             sender  progress"


def test_every_campaign_built_or_not_and_a_broken_one(send_ws: SendWorkspace) -> None:
    write(send_ws.root / "campaigns" / "typo.yaml", "segment: prospects\ncontent: typo.md\nsendr: awang\n")
    assert send_ws.run("campaign", "build", "promo").exit_code == 0
    assert send_ws.run("campaign", "send", "promo", "--yes").exit_code == 0
    result = send_ws.run("campaign", "list")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        HEADER,
        "promo               done       prospects           awang   4 of 4 sent",
        "solusi-jaringan     not built  jakarta-prospects   awang   -",
        "typo                broken     -                   -       campaigns/typo.yaml, line 1: sender: Field "
        "required; campaigns/typo.yaml, line 3: sendr: unknown key",  # the workspace's own path, not the server's
        "year-end-licensing  not built  existing-customers  sari    -",
        "4 campaign(s)",
    ]


def test_json_is_a_list_of_objects(send_ws: SendWorkspace) -> None:
    assert send_ws.run("campaign", "build", "promo").exit_code == 0
    result = send_ws.run("campaign", "list", "--json")
    assert result.exit_code == 0
    listed = json.loads(result.stdout)
    assert [c["name"] for c in listed] == ["promo", "solusi-jaringan", "year-end-licensing"]
    promo = listed[0]
    assert {k: promo[k] for k in ("name", "state", "segment", "sender", "total", "sent", "queued")} == {
        "name": "promo", "state": "built", "segment": "prospects", "sender": "awang", "total": 4, "sent": 0,
        "queued": 4}  # fmt: skip
    assert listed[1]["state"] == "not built" and listed[1]["total"] == 0 and listed[1]["error"] is None


def test_a_built_campaign_whose_file_was_removed_is_still_listed(send_ws: SendWorkspace) -> None:
    assert send_ws.run("campaign", "build", "promo").exit_code == 0
    (send_ws.root / "campaigns" / "promo.yaml").unlink()
    result = send_ws.run("campaign", "list")
    assert result.stdout.splitlines()[1] == (
        "promo               built      prospects           awang   0 of 4 sent, 4 queued")


def test_no_campaigns(send_ws: SendWorkspace) -> None:
    for path in (send_ws.root / "campaigns").glob("*.yaml"):
        path.unlink()
    assert send_ws.run("campaign", "list").stdout == "name  state  segment  sender  progress\n0 campaign(s)\n"
    assert send_ws.run("campaign", "list", "--json").stdout == "[]\n"


def test_report_of_a_campaign_that_does_not_exist_names_those_that_do(send_ws: SendWorkspace) -> None:
    result = send_ws.run("report", "promo-2027")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == ("Error: there is no campaign 'promo-2027' (campaigns: promo, solusi-jaringan, "
                             "year-end-licensing)\n")  # fmt: skip
    result = send_ws.run("report", "promo")  # defined, not built: that is what it says then
    assert result.stderr == ("Error: campaign 'promo' has not been built yet; run `outreach campaign build promo` "
                             "first\n")
