"""``contacts hygiene`` on a large contact list, against the floor of reading every contact once.

    python bench/hygiene.py [--rows 100000] [--repeat 3] [--database-url URL]

Imports a realistic contact list (Indonesian B2B: ~10 contacts per company, the
company's name written with and without its legal form, 2% of people twice,
role mailboxes, empty phones and titles, customers with few transactions,
suppressions), then measures, alternately, best of ``--repeat``:

  * the floor: one query reading every contact's id, address, name and company
    (what listing them all costs; no group can do with less than part of it);
  * each group of ``hygiene_report`` alone, and the whole report (every group but
    dead_domain, which is the DNS's time, not the database's);
  * a segment over a derived field (``payment_terms``, the rules as a SQL
    ``CASE``) counted by SQL, against evaluating the same rules in Python on every
    contact; the two must give the same contacts.

and prints each time with its ratio to the floor measured in the same run.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIRST = ["Budi", "Siti", "Agus", "Dewi", "Andi", "Rina", "Joko", "Putri", "Hendra", "Wulan", "Yohanes", "Nur"]
LAST = ["Santoso", "Wijaya", "Lestari", "Hidayat", "Saputra", "Kusuma", "Pratama", "Halim", "Gunawan", ""]
ROLES = ["info", "sales", "admin", "kantor", "pemasaran", "hrd", "cs", "marketing"]
FORMS = ["PT {}", "PT. {}", "{}, PT", "PT {} Tbk", "CV {}"]


def write_contacts(path: Path, n: int, seed: int = 24) -> None:
    rnd = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "first_name", "last_name", "title", "phone", "company", "status", "owner",
                    "last_contacted_at", "transactions"])  # fmt: skip
        for i in range(n):
            company = rnd.randrange(max(n // 10, 1))
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            twin = rnd.random() < 0.02 and i > 10
            if twin:  # the same person again: another address, the company's legal form written otherwise
                i_other = rnd.randrange(i)
                company, first, last = i_other // 10, FIRST[i_other % len(FIRST)], LAST[i_other % len(LAST)]
            local = rnd.choice(ROLES) if rnd.random() < 0.03 else f"{first}.{last or 'x'}{i}".lower()
            phone = "" if rnd.random() < 0.15 else f"08{rnd.choice('1235789')}{rnd.randrange(10**8, 10**9)}"
            last_contact = "" if rnd.random() < 0.2 else f"202{rnd.randrange(4, 7)}-{rnd.randrange(1, 13):02d}-15"
            w.writerow([f"{local}@contoh{company}.co.id", first, last, rnd.choice(["IT Manager", "Direktur", ""]),
                        phone, rnd.choice(FORMS).format(f"Maju Jaya {company}"),
                        rnd.choice(["prospect", "existing"]), rnd.choice(["awang", "sari", ""]), last_contact,
                        rnd.choice([0, 1, 2, 3, 8, 20])])  # fmt: skip


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    from datetime import date

    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from outreach.audience.hygiene import GROUPS, hygiene_report
    from outreach.audience.segments import parse_segment, segment_query
    from outreach.settings.workspace import init_workspace
    from outreach.settings.yamlfile import load_yaml
    from outreach.storage.models import Company, Contact
    from outreach.workspace import Workspace

    folder = Path(tempfile.mkdtemp(prefix="bench-hygiene-"))
    root = folder / "ws"
    init_workspace(root)
    if args.database_url:
        text = (root / "outreach.yaml").read_text(encoding="utf-8")
        (root / "outreach.yaml").write_text(text.replace("sqlite:///outreach.db", args.database_url), encoding="utf-8")
    csv_path = folder / "contacts.csv"
    write_contacts(csv_path, args.rows)
    with Workspace.open(root) as ws:
        started = time.perf_counter()
        imported = ws.import_contacts(csv_path)
        print(f"imported {imported.imported:,} contacts in {time.perf_counter() - started:.1f} s "
              f"({ws.config.database_url.split(':')[0]})")  # fmt: skip
        today, rules = date(2026, 12, 7), ws.config.settings.hygiene

        def floor() -> None:
            with Session(ws.engine) as s:
                s.execute(select(Contact.id, Contact.email, Contact.first_name, Contact.last_name, Company.name)
                          .outerjoin(Company, Company.id == Contact.company_id)).all()  # fmt: skip

        base = best(floor, args.repeat)
        print(f"floor (every contact read once): {base * 1000:8.1f} ms")
        for group in [g for g in GROUPS if g != "dead_domain"]:
            took = best(lambda group=group: hygiene_report(ws.engine, rules, today, only=(group,)), args.repeat)
            found = hygiene_report(ws.engine, rules, today, only=(group,)).groups[group].count
            print(f"  {group:<17} {took * 1000:8.1f} ms  x{took / base:5.2f}  ({found:,} found)")
        whole = best(lambda: hygiene_report(ws.engine, rules, today), args.repeat)
        print(f"  {'whole report':<17} {whole * 1000:8.1f} ms  x{whole / base:5.2f}")

        doc = load_yaml(_segment(folder))
        query = segment_query(ws.config, parse_segment("thirty", doc, ws.fields))

        def by_sql() -> set[int]:
            with Session(ws.engine) as s:
                return set(s.scalars(query))

        def by_python() -> set[int]:
            return {v.id for v in ws.contacts() if v.payment_terms == "30 hari"}

        assert by_sql() == by_python(), "the derived field's SQL and Python disagree"
        sql, python = best(by_sql, args.repeat), best(by_python, max(1, args.repeat - 1))
        print(f"segment payment_terms = '30 hari': SQL {sql * 1000:.1f} ms (x{sql / base:.2f} the floor), "
              f"Python over every contact {python * 1000:.1f} ms: the same {len(by_sql()):,} contacts; "
              f"SQL {python / sql:.1f}x faster")  # fmt: skip


def _segment(folder: Path) -> Path:
    path = folder / "thirty.yaml"
    path.write_text('where:\n  payment_terms: "30 hari"\n', encoding="utf-8")
    return path


if __name__ == "__main__":
    main()
