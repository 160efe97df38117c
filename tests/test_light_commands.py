"""Commands that neither render nor send start light: none of the renderer, the SMTP client,
alembic, the phone or holiday tables is imported for them (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import invoke

HEAVY = ("premailer", "cssutils", "alembic", "aiosmtplib", "markdown", "jinja2", "phonenumbers", "holidays",
         "email_validator", "dkim", "dns", "outreach.sending", "outreach.content", "outreach.tracking")  # fmt: skip

RUN = """
import json, sys
HEAVY = MODULES
from outreach.cli import main
sys.argv = ["outreach", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
heavy = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
""".replace("MODULES", repr(HEAVY))


@pytest.fixture(scope="module")
def built_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from outreach.settings.workspace import init_workspace

    root = tmp_path_factory.mktemp("light") / "ws"
    init_workspace(root)
    assert invoke("contacts", "import", str(root / "contacts.csv"), ws=root).exit_code == 0
    assert invoke("campaign", "build", "solusi-jaringan", ws=root).exit_code == 0
    return root


@pytest.mark.parametrize("argv", [
    ["--help"], ["campaign", "status", "solusi-jaringan"], ["followups", "list"], ["contacts", "list"],
    ["segments", "list"], ["campaign", "status", "--help"],
])  # fmt: skip
def test_light_commands_import_only_what_they_use(built_ws: Path, argv: list[str]) -> None:
    done = subprocess.run([sys.executable, "-c", RUN, *argv, "-w", str(built_ws)] if argv[-1] != "--help"
                          else [sys.executable, "-c", RUN, *argv], capture_output=True,
                          text=True, check=False, cwd=built_ws)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "heavy": []}
