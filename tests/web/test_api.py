"""The JSON API over HTTP (Starlette's TestClient on the whole app): tokens, roles, contacts, follow-ups, events.

The workspace is the team's (tests/web/team_support.py): a campaign sent
through aiosmtpd to four prospects, three replies ingested, follow-ups made
from them, four accounts. Tokens are made by the face, as ``outreach users
token`` makes them.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from helpers import BROKEN_REJECTS, DATA, invoke
from starlette.testclient import TestClient

from outreach.web.app import create_app
from outreach.workspace import Workspace

PROBLEM = "application/problem+json"


def token(root: Path, name: str) -> str:
    with Workspace.open(root) as ws:
        return ws.new_api_token(name)[1]


@contextmanager
def api(root: Path, name: str | None = "boss") -> Iterator[TestClient]:
    """A client of the whole app whose requests carry ``name``'s token."""
    headers = {"Authorization": f"Bearer {token(root, name)}"} if name else {}
    with Workspace.open(root) as ws, TestClient(create_app(ws), headers=headers) as client:
        yield client


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"] == "about:blank" and body["title"]
    return body


def test_without_a_valid_token_everything_is_401_but_the_openapi_document(team: Path) -> None:
    good = token(team, "boss")
    gone = token(team, "cala")
    with Workspace.open(team) as ws:
        ws.remove_user("cala")
    revoked = token(team, "wina")
    assert invoke("users", "token", "wina", "--revoke", ws=team).exit_code == 0
    with api(team, None) as client:
        for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer otk_nope"},
                        {"Authorization": f"Basic {good}"}, {"Authorization": f"Bearer {gone}"},
                        {"Authorization": f"Bearer {revoked}"}, {"Authorization": f"bearer {good}x"},
                        {"Authorization": "Bearer " + "otk_" + "A" * 5000}):  # fmt: skip
            for method, path in (("GET", "/api/v1/contacts"), ("POST", "/api/v1/contacts"), ("GET", "/api/v1/events"),
                                 ("PATCH", "/api/v1/followups/1"), ("GET", "/api/v1/no/such/path")):  # fmt: skip
                answer = client.request(method, path, headers=headers, content=b"{not json")
                body = problem(answer, 401)
                assert answer.headers["www-authenticate"] == 'Bearer realm="outreach"'
                assert "outreach users token NAME" in body["detail"]
        document = client.get("/api/v1/openapi.json")
        assert document.status_code == 200 and document.json()["openapi"].startswith("3.")
        assert client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {good}"}).status_code == 200


def test_each_role_gets_what_its_permissions_say(team: Path) -> None:
    with api(team, "wina") as writer:
        assert writer.get("/api/v1/campaigns").status_code == 200
        assert writer.get("/api/v1/segments").status_code == 200
        body = problem(writer.post("/api/v1/contacts", json={"email": "x@example.com"}), 403)
        assert body["detail"] == "wina is a writer; contacts:write is for: executive, admin"
        problem(writer.get("/api/v1/events"), 403)
        problem(writer.get("/api/v1/followups"), 403)
    with api(team, "cala") as caller:  # cala works for awang: awang's items and the unassigned ones
        items = caller.get("/api/v1/followups?state=all").json()["followups"]
        assert items and {i["owner"] for i in items} <= {"awang", ""}
        problem(caller.get("/api/v1/contacts"), 403)
    with Workspace.open(team) as ws:
        others = [i for i in ws.followup_page(state=None) if i.owner not in ("awang", "")]
    if others:
        with api(team, "cala") as caller:
            problem(caller.get(f"/api/v1/followups/{others[0].id}"), 404)
    with api(team, "boss") as boss:
        for path in ("/api/v1/contacts", "/api/v1/segments", "/api/v1/campaigns", "/api/v1/followups",
                     "/api/v1/events", "/api/v1/campaigns/promo", "/api/v1/segments/prospects"):  # fmt: skip
            assert boss.get(path).status_code == 200, path


def _broken_items() -> list[dict[str, Any]]:
    """contacts_broken.csv's rows as JSON contacts (the row with a cell too many has no JSON form)."""
    with (DATA / "contacts_broken.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header, items = rows[0], []
    for row in rows[1:]:
        if len(row) > len(header):
            continue
        cells = dict(zip(header, row, strict=True))
        item: dict[str, Any] = {k: v for k, v in cells.items() if k != "region" and v}
        if cells["region"]:
            item["custom"] = {"region": cells["region"]}
        items.append(item)
    return items


def test_posted_contacts_are_validated_and_stored_exactly_as_a_csv_import(team: Path, tmp_path: Path) -> None:
    by_file = shutil.copytree(team, tmp_path / "by-csv")  # the same rows imported from the file, into a copy
    before = invoke("contacts", "list", "--format", "csv", ws=by_file).stdout
    assert invoke("contacts", "import", str(DATA / "contacts_broken.csv"), ws=by_file).exit_code == 0
    items = _broken_items()
    with api(team) as client:
        answer = client.post("/api/v1/contacts", json=items)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    csv_reasons = [reason for _line, reason in BROKEN_REJECTS if reason != "more cells than header columns"]
    api_reasons = [e["message"] for i in result["items"] for e in i["errors"]]
    assert api_reasons == [r.replace("duplicate of line 2", "duplicate of item 0") for r in csv_reasons]
    fields = [e["field"] for i in result["items"] for e in i["errors"]]
    assert fields == ["email", "status", "transactions", "last_contacted_at", "timezone", "email", "first_name",
                      "email", "email"]  # fmt: skip
    assert [i["index"] for i in result["items"] if i["result"] == "rejected"] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert (result["created"], result["updated"], result["rejected"]) == (3, 0, 9)

    by_csv = invoke("contacts", "list", "--format", "csv", ws=by_file).stdout
    by_api = invoke("contacts", "list", "--format", "csv", ws=team).stdout
    assert by_api == by_csv != before  # the very same contacts


def test_one_contact_is_created_then_updated_by_email_and_empty_fields_keep_what_is_stored(team: Path) -> None:
    with api(team) as client:
        made = client.post("/api/v1/contacts", json={"email": "Rina@Contoh.co.id", "first_name": "Rina",
                                                     "phone": "0812-3456-7890", "tags": ["cloud", "network"],
                                                     "transactions": 2, "custom": {"employees": "120"}})  # fmt: skip
        assert made.json()["items"] == [{"index": 0, "email": "Rina@Contoh.co.id", "result": "created",
                                         "warnings": [], "errors": []}]  # fmt: skip
        again = client.post("/api/v1/contacts", json=[{"email": "rina@contoh.co.id", "title": "CIO", "first_name": ""}])
        assert again.json()["items"][0]["result"] == "updated"
        one = client.get("/api/v1/contacts/RINA@contoh.co.id").json()
    assert (one["first_name"], one["title"], one["phone"], one["tags"], one["transactions"], one["custom"]) == (
        "Rina", "CIO", "+6281234567890", ["cloud", "network"], 2, {"employees": "120"})


def test_a_body_over_a_mebibyte_or_over_a_thousand_contacts_is_refused_and_changes_nothing(team: Path) -> None:
    with api(team) as client:
        before = client.get("/api/v1/contacts?limit=1000").json()["contacts"]
        huge = json.dumps([{"email": f"c{i}@example.com", "notes": "x" * 1000} for i in range(1100)]).encode()
        problem(client.post("/api/v1/contacts", content=huge, headers={"Content-Type": "application/json"}), 413)

        def chunks() -> Iterator[bytes]:
            for i in range(0, len(huge), 65536):
                yield huge[i:i + 65536]

        problem(client.post("/api/v1/contacts", content=chunks(), headers={"Content-Type": "application/json"}), 413)
        many = [{"email": f"c{i}@example.com"} for i in range(1001)]
        body = problem(client.post("/api/v1/contacts", json=many), 422)
        assert body["errors"][0]["message"] == "List should have at most 1000 items after validation, not 1001"
        problem(client.post("/api/v1/contacts", json=[]), 422)
        assert client.get("/api/v1/contacts?limit=1000").json()["contacts"] == before


@pytest.mark.parametrize(("body", "content_type", "where"), [
    (b"{not json", "application/json", None),
    (b'{"email": "a@example.com"}', "text/plain", None),
    (b'{"email": "a@example.com", "shoe_size": 44}', "application/json", "shoe_size"),
    (b'[{"email": "a@example.com"}, {"email": 7}]', "application/json", "email"),
    (b'{"email": "a@example.com", "custom": {"Bad Key": "x"}}', "application/json", "custom.Bad Key.[key]"),
    (b'"just a string"', "application/json", None),
])  # fmt: skip
def test_a_malformed_body_is_a_422_problem_naming_the_item_and_field(team: Path, body: bytes, content_type: str,
                                                                     where: str | None) -> None:  # fmt: skip
    with api(team) as client:
        answer = problem(client.post("/api/v1/contacts", content=body, headers={"Content-Type": content_type}), 422)
        assert answer["errors"]
        if where:
            assert any(e.get("field") == where for e in answer["errors"]), answer
        assert client.get("/api/v1/contacts/a@example.com").status_code == 404


def test_hostile_text_is_data_never_a_server_error(team: Path) -> None:
    with api(team) as client:
        answer = client.post("/api/v1/contacts", content=b'{"email": "a@example.com", "first_name": "\\ud800"}',
                             headers={"Content-Type": "application/json"})  # fmt: skip
        assert problem(answer, 422)["errors"][0]["field"] == "first_name"
        nul = client.post("/api/v1/contacts", json={"email": "z@example.com", "city": "Jak\x00arta"})
        assert problem(nul, 422)["errors"][0] == {"index": 0, "field": "city", "message": "city contains a control "
                                                  "character"}  # fmt: skip
        for path in ("/api/v1/contacts?email=%00", "/api/v1/contacts?segment=..%2F..%2Foutreach",
                     "/api/v1/contacts?after=-1", "/api/v1/contacts?after=99999999999999999999",
                     "/api/v1/contacts?updated_since=yesterday", "/api/v1/events?type=gossip",
                     "/api/v1/followups/0", "/api/v1/followups/abc", "/api/v1/segments/..%2F..%2Fetc%2Fpasswd",
                     "/api/v1/campaigns/%F0%9F%98%80"):  # fmt: skip
            answer = client.get(path)
            assert answer.status_code in (404, 422), (path, answer.text)
            assert answer.headers["content-type"] == PROBLEM
        problem(client.get("/api/v1/segments/nope"), 404)
        problem(client.get("/api/v1/campaigns/nope"), 404)
        problem(client.get("/api/v1/contacts/nobody@example.com"), 404)
        problem(client.get("/api/v2/contacts"), 404)
        problem(client.delete("/api/v1/contacts"), 405)


def test_contacts_are_listed_with_filters_a_page_at_a_time(team: Path) -> None:
    with api(team) as client:
        everyone = client.get("/api/v1/contacts?limit=1000").json()
        assert everyone["next"] is None and len(everyone["contacts"]) == 6
        seen, after = [], 0
        while True:
            page = client.get(f"/api/v1/contacts?limit=4&after={after}").json()
            seen += page["contacts"]
            if page["next"] is None:
                break
            after = page["next"]
        assert seen == everyone["contacts"]
        prospects = client.get("/api/v1/contacts?segment=prospects").json()["contacts"]
        assert sorted(c["email"] for c in prospects) == [
            "ani@alpha.example.com", "budi@beta.example.com", "citra@gamma.example.com", "fajar@zeta.example.com"]
        existing = client.get("/api/v1/contacts?status=existing").json()["contacts"]
        assert {c["status"] for c in existing} == {"existing"} and len(existing) == 2
        one = client.get("/api/v1/contacts?email=DEDI@delta.example.com").json()["contacts"]
        assert [c["email"] for c in one] == ["dedi@delta.example.com"]
        assert client.get("/api/v1/contacts?updated_since=2999-01-01T00:00:00Z").json()["contacts"] == []
        assert len(client.get("/api/v1/contacts?updated_since=2000-01-01T00:00:00%2B07:00").json()["contacts"]) == 6


def test_segments_and_campaigns_say_what_the_cli_says(team: Path) -> None:
    with api(team, "wina") as client:
        segments = {s["name"]: s for s in client.get("/api/v1/segments").json()["segments"]}
        assert segments["prospects"] == {"name": "prospects", "description": "all prospects", "count": 4}
        assert client.get("/api/v1/segments/customers").json()["count"] == 2
        campaigns = {c["name"]: c for c in client.get("/api/v1/campaigns").json()["campaigns"]}
        status = client.get("/api/v1/campaigns/promo").json()
    assert campaigns["launch"] == {"name": "launch", "state": "not built", "segment": "customers", "sender": "awang",
                                   "counts": None, "error": None}  # fmt: skip
    assert campaigns["promo"]["state"] == "done" and campaigns["promo"]["counts"]["sent"] == 4
    assert status == json.loads(invoke("campaign", "status", "promo", "--json", ws=team).stdout)


def test_a_followup_update_carries_its_version_and_a_stale_one_changes_nothing(team: Path) -> None:
    with api(team, "cali") as client:
        first = client.get("/api/v1/followups").json()["followups"][0]
        path = f"/api/v1/followups/{first['id']}"
        got = client.get(path)
        assert got.headers["etag"] == f'"{first["version"]}"'
        body = problem(client.patch(path, json={"outcome": "callback", "notes": "besok"}), 428)
        assert body["current_version"] == first["version"]
        change = {"outcome": "callback", "notes": "besok pagi", "visit_at": "2026-12-10T09:00:00"}
        saved = client.patch(path, json=change, headers={"If-Match": got.headers["etag"]})
        assert saved.status_code == 200, saved.text
        after = saved.json()
        assert (after["outcome"], after["notes"], after["due_date"]) == ("callback", "besok pagi", "2026-12-10")
        assert saved.headers["etag"] == f'"{after["version"]}"' != got.headers["etag"]
        stale = problem(client.patch(path, json={"outcome": "reached"}, headers={"If-Match": got.headers["etag"]}), 412)
        assert stale["current_version"] == after["version"]
        problem(client.patch(path, json={"outcome": "reached", "version": first["version"]}), 409)
        problem(client.patch(path, json={"outcome": "shouting"}, headers={"If-Match": "*"}), 422)
        problem(client.patch(path, json={"notes": "x"}, headers={"If-Match": "not-an-etag"}), 412)
        assert client.get(path).json() == after  # nothing changed by the refused ones
        done = client.patch(path, json={"outcome": "reached", "version": after["version"]})
        assert done.status_code == 200 and done.json()["state"] == "done"
        assert done.json()["notes"] == "besok pagi"  # notes left out: kept
    with api(team, "boss") as boss:
        outcomes = boss.get("/api/v1/events?type=outcome").json()["events"]
    assert [(e["data"]["outcome"], e["data"]["followup"]) for e in outcomes] == [("callback", first["id"]),
                                                                                 ("reached", first["id"])]  # fmt: skip
    assert (outcomes[0]["data"]["due_date"], outcomes[0]["data"]["state"]) == ("2026-12-10", "open")
    assert outcomes[1]["data"]["state"] == "done" and outcomes[1]["contact"] == first["contact"]


def test_the_event_feed_pages_by_cursor_and_filters_by_type(team: Path) -> None:
    with api(team) as client:
        whole = client.get("/api/v1/events?limit=1000").json()
        types = [e["type"] for e in whole["events"]]
        assert types.count("sent") == 4 and types.count("reply") == 3
        ids = [e["id"] for e in whole["events"]]
        assert ids == sorted(ids) and whole["next"] >= ids[-1]
        paged, after = [], 0
        while True:
            page = client.get(f"/api/v1/events?limit=2&after={after}").json()
            paged += page["events"]
            if not page["events"]:
                assert page["next"] == after
                break
            after = page["next"]
        assert paged == whole["events"]
        replies = client.get("/api/v1/events?type=reply&type=unsubscribe").json()["events"]
        assert [e["type"] for e in replies] == ["reply"] * 3
        assert all(set(e) == {"id", "type", "at", "contact", "campaign", "data"} for e in whole["events"])
        assert {e["contact"] for e in replies} == {"ani@alpha.example.com", "budi@beta.example.com",
                                                   "citra@gamma.example.com"}  # fmt: skip
        assert all("intent" in e["data"] and e["data"]["text"] for e in replies)
        assert client.get(f"/api/v1/events?after={whole['next']}").json() == {"events": [], "next": whole["next"]}


def test_each_token_is_rate_limited_with_retry_after(team: Path) -> None:
    with (team / "outreach.yaml").open("a", encoding="utf-8") as fh:
        fh.write("api:\n  rate: 1/m\n  burst: 3\n")
    other = token(team, "wina")
    with api(team) as client:
        assert [client.get("/api/v1/campaigns").status_code for _ in range(3)] == [200, 200, 200]
        limited = client.get("/api/v1/campaigns")
        problem(limited, 429)
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert client.get("/api/v1/campaigns", headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_executives_see_the_webhook_receivers_in_the_app(team: Path, monkeypatch: pytest.MonkeyPatch,
                                                          closed_port: int) -> None:  # fmt: skip
    import asyncio

    from team_support import app_client

    from outreach.webhooks.runner import Deliverer

    monkeypatch.setenv("CRM_HOOK_SECRET", "s3cret")
    dead = f"http://127.0.0.1:{closed_port}/hook?a=1&b=<2>"  # nothing listens there
    with (team / "outreach.yaml").open("a", encoding="utf-8") as fh:
        fh.write(f"webhooks:\n  - url: '{dead}'\n    events: [reply, outcome]\n    secret_env: CRM_HOOK_SECRET\n")
    with app_client(team, "boss") as client:
        page = client.get("/app/webhooks")
        assert page.status_code == 200
        assert "hook?a=1&amp;b=&lt;2&gt;" in page.text and "waiting for" in page.text
    with Workspace.open(team) as ws:
        deliverer = Deliverer(ws.config, ws.engine, "test")
        asyncio.run(deliverer.run(ws.config.settings.webhooks[0]))  # the receiver is seen from now on
        with api(team, "cali") as caller:
            first = caller.get("/api/v1/followups").json()["followups"][0]
            assert caller.patch(f"/api/v1/followups/{first['id']}",
                                json={"outcome": "no_answer", "version": first["version"]}).status_code == 200
        asyncio.run(deliverer.run(ws.config.settings.webhooks[0]))  # the outcome event: connection refused
    with app_client(team, "boss") as client:
        page = client.get("/app/webhooks").text
    assert "ConnectionRefusedError" in page and '<td class="num">1</td>' in page
    with app_client(team, "cali") as client:
        assert client.get("/app/webhooks").status_code == 403
