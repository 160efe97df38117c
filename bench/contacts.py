"""Contacts benchmark: the sales admin's contact list and a contact's page, at 1,000 and at 100,000 contacts.

    python bench/contacts.py [--small 1000] [--large 100000] [--loads 10]

Two workspaces are made by the import itself (a generated list: names,
companies, cities, owners, tags as real lists have them, a few hundred
suppressed), then the admin's pages are loaded through the whole app
(Starlette's TestClient: routing, the session, the query, the template),
``--loads`` times each, and the medians printed side by side with the ratio
large/small. The baseline is the small workspace in the same run: a page
that does not grow with the list stays near 1x.

What is loaded: the first page; a page deep in the list (keyset: after the
address 80% of the way); a search for a common surname (it counts to 1,000
and pages through the email index); a search that matches nobody (no index
can serve a substring: the one page that reads the whole list);
a filter (city and status, the indexed ones); the suppressed contacts; a
contact's page.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "web"))

CITIES = ["Jakarta", "Tangerang", "Bekasi", "Bandung", "Surabaya", "Medan", "Semarang", "Makassar", "Denpasar",
          "Yogyakarta", "Palembang", "Balikpapan"]  # fmt: skip
FIRST = ["Ani", "Budi", "Citra", "Dedi", "Eka", "Fajar", "Gita", "Hadi", "Indah", "Joko", "Kartika", "Lukman",
         "Maya", "Nanda", "Oki", "Putri", "Rina", "Sari", "Tono", "Wati", "Yudi"]  # fmt: skip
LAST = ["Lestari", "Santoso", "Wijaya", "Kurniawan", "Putri", "Pratama", "Saputra", "Hidayat", "Siregar",
        "Nasution", "Halim", "Gunawan", "Tanoto", "Sembiring"]  # fmt: skip
TAGS = ["network", "security", "cloud", "printer", "license", "server", ""]


def make_list(path: Path, n: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["email", "first_name", "last_name", "company", "city", "status", "owner", "tags", "phone"])
        for i in range(n):
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            company = f"PT {rnd.choice(LAST)} {rnd.choice(['Teknik', 'Niaga', 'Medika', 'Logistik', 'Data'])} {i % 997}"
            out.writerow([f"{first.lower()}.{last.lower()}.{i}@c{i % 5003}.example.com", first, last, company,
                          rnd.choice(CITIES), "existing" if rnd.random() < 0.2 else "prospect",
                          rnd.choice(["awang", "sari", ""]), ";".join({rnd.choice(TAGS), rnd.choice(TAGS)} - {""}),
                          f"08{rnd.randrange(10**9, 10**10)}"])  # fmt: skip


def workspace(base: Path, n: int) -> Path:
    from helpers import init_workspace

    from outreach.workspace import Workspace

    root = base / f"ws-{n}"
    init_workspace(root)
    make_list(base / f"list-{n}.csv", n)
    with Workspace.open(root) as ws:
        started = time.perf_counter()
        result = ws.import_contacts(base / f"list-{n}.csv")
        print(f"  {n:>7,} contacts: {result.summary()} in {time.perf_counter() - started:.1f} s", flush=True)
        emails = [v.email for v in ws.find_contacts(limit=n)][:: max(n // 300, 1)]
        for email in emails:
            ws.suppress(email, "bench: asked by phone", who="bench")
        ws.add_user("sari", "admin", "sari-password-1", sender="sari" if "sari" in ws.config.settings.senders else None)
    return root


def pages(root: Path, n: int) -> dict[str, str]:
    """The paths loaded, the deep page's cursor and the contact taken from this workspace's own data."""
    from outreach.audience.search import ContactFilter
    from outreach.workspace import Workspace

    with Workspace.open(root) as ws:
        emails = [v.email for v in ws.find_contacts(limit=n)]
        deep = sorted(emails)[int(len(emails) * 0.8)]
        contact = ws.search_contacts(ContactFilter(q="wijaya"), limit=1).rows[0].id
    return {
        "first page": "/app/contacts",
        "deep page (80%)": f"/app/contacts?after={deep}",
        "search 'wijaya'": "/app/contacts?q=wijaya",
        "search, no match": "/app/contacts?q=nobody+here",
        "city + status": "/app/contacts?city=Medan&status=existing",
        "suppressed": "/app/contacts?suppressed=yes",
        "a contact's page": f"/app/contacts/{contact}",
    }


def measure(root: Path, n: int, loads: int) -> dict[str, float]:
    from team_support import app_client

    out = {}
    with app_client(root, "sari") as client:
        for label, path in pages(root, n).items():
            assert client.get(path).status_code == 200, path  # warm: templates compiled, pages cached by the OS
            times = []
            for _ in range(loads):
                started = time.perf_counter()
                response = client.get(path)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200 and re.search(r"</html>\s*$", response.text), path
            out[label] = statistics.median(times) * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--loads", type=int, default=10)
    args = parser.parse_args()
    for var in ("OUTREACH_DATABASE_URL", "OUTREACH_WORKSPACE"):
        os.environ.pop(var, None)
    base = Path(tempfile.mkdtemp(prefix="bench-contacts-"))
    try:
        print("Making the workspaces (the import itself):")
        small, large = workspace(base, args.small), workspace(base, args.large)
        print(f"\nMedian of {args.loads} loads, ms ({os.cpu_count()} cores, machine possibly shared):")
        a, b = measure(small, args.small, args.loads), measure(large, args.large, args.loads)
        print(f"{'page':<20}{args.small:>12,}{args.large:>12,}{'ratio':>9}")
        for label in a:
            print(f"{label:<20}{a[label]:>12.1f}{b[label]:>12.1f}{b[label] / a[label]:>8.1f}x")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
