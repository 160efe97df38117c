"""The admin's month on PostgreSQL: the same hygiene groups, derived-field segment, merge, verify and monthly
figures as on SQLite (the JSON paths of the monthly report, LIKE escapes, CASE over the derived rules)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from helpers import invoke, write, write_csv

from outreach.settings.workspace import init_workspace
from outreach.workspace import Workspace

HEADER = ["email", "first_name", "last_name", "title", "phone", "company", "status", "owner", "transactions"]
ROWS = [
    ["budi.santoso@majujaya.co.id", "Budi", "Santoso", "Manager", "0812-3456-7890", "PT. Maju Jaya", "existing",
     "awang", "1"],
    ["bsantoso@gmail.example.com", "budi", "SANTOSO", "", "", "Maju Jaya, PT", "prospect", "awang", "0"],
    ["info@cahayaritel.co.id", "", "", "", "", "PT Cahaya Ritel", "prospect", "sari", "0"],
    ["rina@sinar.co.id", "Rina", "M", "Kepala", "0811-1920-3344", "PT Sinar", "prospect", "sari", "0"],
]  # fmt: skip


@pytest.mark.postgres
def test_the_admins_month_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root)
    text = (root / "outreach.yaml").read_text(encoding="utf-8")
    write(root / "outreach.yaml", text.replace("sqlite:///outreach.db", pg_url))
    assert invoke("contacts", "import", str(write_csv(tmp_path / "c.csv", HEADER, ROWS)), ws=root).exit_code == 0
    data = json.loads(invoke("contacts", "hygiene", "--json", ws=root).stdout)
    assert data["duplicates"] == [["budi.santoso@majujaya.co.id", "bsantoso@gmail.example.com"]]
    assert data["role_address"] == ["info@cahayaritel.co.id"]
    assert data["few_transactions"] == ["budi.santoso@majujaya.co.id"]
    write(root / "segments" / "thirty.yaml", 'where:\n  payment_terms: "30 hari"\n')
    write(root / "segments" / "prosp.yaml", "where:\n  status: prospect\n")
    with Workspace.open(root) as ws:
        assert ws.engine.dialect.name == "postgresql"
        assert [v.email for v in ws.contacts("thirty")] == ["budi.santoso@majujaya.co.id"]
        assert ws.merge_contacts("budi.santoso@majujaya.co.id", "bsantoso@gmail.example.com", "admin").messages == 0
        assert ws.verify_contacts(segment="prosp").added == 2  # info@ and Rina: Budi's other address is merged
        item = next(i for i in ws.followups("verify") if i.email == "rina@sinar.co.id")
        assert ws.save_outcome(item.id, item.version, "confirmed", "", who="cali")
        month = datetime.now(ws.config.tz).strftime("%Y-%m")
    report = json.loads(invoke("report", "monthly", "--month", month, "--json", ws=root).stdout)
    assert report["senders"]["sari"]["new_contacted"] == 1  # Rina, first reached by the verify call
    assert report["senders"]["sari"]["reached_by_phone"] == 1
