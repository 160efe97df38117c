"""Schemathesis fuzzes the JSON API from its own OpenAPI document, against a real ``outreach serve``.

Every operation of ``/api/v1/openapi.json`` gets seeded (derandomized),
bounded examples, valid ones and invalid ones, over HTTP with an executive's
token, on the team's workspace (a sent campaign, replies, follow-ups). Each
answer must not be a server error, and must be what the document says: a
status it lists, a body of its schema, its content type. The server is a
real process: what the fuzz sends goes through uvicorn as a client sends it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from helpers import Spawned, served_port
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from outreach.workspace import Workspace

EXAMPLES = 30  # per operation and mode: about a thousand requests in all
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


# a thousand requests to a real server: 45 s on a quiet 2-core machine, over 120 s (the suite's hang guard)
# beside 7 other test workers on it; this guard only catches a hang, so it allows a machine 10x slower
@pytest.mark.timeout(600)
def test_the_api_fuzzed_from_its_own_openapi_document_has_no_server_error(team: Path) -> None:
    with (team / "outreach.yaml").open("a", encoding="utf-8") as fh:
        fh.write("api:\n  rate: 10000/s\n  burst: 100000\n")  # the fuzz is one client in a hurry
    with Workspace.open(team) as ws:
        token = ws.new_api_token("boss")[1]
    server = Spawned(["-w", str(team), "serve", "--port", "0"])  # any free port, read back from the banner
    port = served_port(server)
    base = f"http://127.0.0.1:{port}/api/v1"
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    auth = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 11
    calls = 0
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, print_blob=True,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case: schemathesis.Case) -> None:
                nonlocal calls
                calls += 1
                response = case.call(base_url=base, headers=auth, timeout=30)
                case.validate_response(response, checks=CHECKS)

            fuzz()
    assert calls >= len(operations) * 2
    assert server.proc.poll() is None, server.output()
    assert not [line for line in server.err if "Traceback" in line or "ERROR" in line], server.output()
