"""Contact import against its floor: reading the CSV and validating every address and phone.

    python bench/import.py [--rows 100000] [--million 1000000] [--repeat 3] [--database-url URL]

Writes a realistic contacts CSV (Indonesian B2B: mixed-case addresses, phones in
national, +62 and landline forms, ~10 contacts per company, a custom column, a
few bad addresses, duplicates and bad phones), then, each in a fresh process,
alternately:

  * the floor: a bare loop that reads the same CSV with the csv module and runs
    the same two validations on every row (email-validator's
    ``validate_email``, phonenumbers' ``parse`` + ``is_valid_number``);
  * ``outreach contacts import``'s core (``import_contacts``) into a new database.

and prints both times, their ratio (target: at most 1.5), the CPU they used,
then the import's peak memory (its own process and its parsing worker) for
``--rows`` and ``--million`` rows, and the ratio (target: at most 1.3).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADER = ["Email", "First Name", "Last Name", "Company", "Job Title", "Mobile Phone", "City", "Industry", "Status",
          "Tags", "Jumlah Karyawan"]  # fmt: skip
FIRST = ["Budi", "Siti", "Agus", "Dewi", "Andi", "Rina", "Joko", "Putri", "Hendra", "Wulan", "Yohanes", "Nur", "I Made"]
LAST = ["Santoso", "Wijaya", "Lestari", "Hidayat", "Saputra", "Kusuma", "Pratama", "Halim", "Gunawan", "", ""]
CITY = ["Jakarta", "Surabaya", "Bandung", "Medan", "Semarang", "Makassar", "Tangerang", "Bekasi", "Denpasar", ""]
INDUSTRY = ["Manufacturing", "Government", "Retail", "Banking", "Logistics", "Education", ""]
TITLE = ["IT Manager", "Purchasing Manager", "Direktur", "Staff IT", "CTO", "Procurement Lead", "Kepala Bagian TI", ""]
MOBILE = ["811", "812", "813", "821", "822", "823", "851", "852", "853", "857", "858", "877", "878", "895", "896",
          "897", "898", "899", "881", "882"]  # fmt: skip
TARGET_TIME, TARGET_MEMORY = 1.5, 1.3


def write_contacts(path: Path, n: int, seed: int = 14) -> None:
    rnd = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i in range(n):
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            company = rnd.randrange(max(n // 10, 1))
            email = f"{first.replace(' ', '.')}.{last or 'x'}{i}@pt-contoh{company}.co.id"
            r = rnd.random()
            if r < 0.004:
                email = email.replace("@", " at ")  # rejected: no @
            elif r < 0.007 and i:
                email = f"{rnd.choice(FIRST)}.dup{rnd.randrange(i)}@pt-contoh1.co.id".lower()
            elif r < 0.5:
                email = email.lower()
            w.writerow([email, first, last, f"PT Contoh {company}", rnd.choice(TITLE), _phone(rnd), rnd.choice(CITY),
                        rnd.choice(INDUSTRY), rnd.choice(["prospect", "existing", ""]),
                        rnd.choice(["network;security", "", "cloud", "lisensi"]),
                        rnd.choice(["", str(rnd.randrange(10, 5000))])])  # fmt: skip


def _phone(rnd: random.Random) -> str:
    mobile = rnd.choice(MOBILE) + str(rnd.randrange(10**7, 10**8))
    p = rnd.random()
    if p < 0.45:
        return f"0{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}"
    if p < 0.75:
        return f"+62 {mobile[:3]} {mobile[3:7]} {mobile[7:]}"
    if p < 0.90:
        return f"(021) {rnd.randrange(5000000, 5999999)}"
    if p < 0.97:
        return ""
    return rnd.choice(["12345", "0812", "021-555"])  # a warning: kept without the phone


# -- the measured children -------------------------------------------------------------------


def child_floor(path: Path) -> dict[str, float]:
    import phonenumbers
    from email_validator import EmailNotValidError, validate_email

    start, cpu = time.perf_counter(), time.process_time()
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        for row in reader:
            try:  # noqa: SIM105 - try/except, not contextlib.suppress: the floor must cost no more than it is
                validate_email(row[0], check_deliverability=False, allow_smtputf8=False)
            except EmailNotValidError:
                pass
            if row[5]:
                try:  # noqa: SIM105
                    phonenumbers.is_valid_number(phonenumbers.parse(row[5], "ID"))
                except phonenumbers.NumberParseException:
                    pass
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu, **_peaks()}


def child_import(path: Path, url: str, workers: int | None) -> dict[str, float | str]:
    from outreach.audience.importer import ImportOptions, import_contacts
    from outreach.storage import open_engine

    engine = open_engine(url)
    start, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time()
    result = import_contacts(engine, path, ImportOptions(workers=workers))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    return {"seconds": seconds, "cpu": cpu, "worker_cpu": worker_cpu, "summary": result.summary(),
            "warnings": len(result.warnings), **_peaks()}  # fmt: skip


def _peaks() -> dict[str, float]:
    return {"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}  # fmt: skip


def run_child(*args: str) -> dict[str, float | str]:
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child {' '.join(args)} failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def database(work: Path, url: str | None, n: int, created: list[str]) -> str:
    """A new, empty database: a SQLite file in ``work``, or a database on the PostgreSQL server of ``url``."""
    if url is None:
        db = work / f"bench-{n}-{time.monotonic_ns()}.db"
        return f"sqlite:///{db}"
    name = f"outreach_bench_import_{os.getpid()}_{n}_{time.monotonic_ns() % 10**6}"
    _admin(url, f'CREATE DATABASE "{name}"')
    created.append(name)
    return url.rsplit("/", 1)[0] + "/" + name


def _admin(url: str, sql: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(sql))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="rows timed against the floor (default 100000)")
    parser.add_argument("--million", type=int, default=1_000_000,
                        help="rows of the second memory measure (default 1000000; 0: skip)")
    parser.add_argument("--repeat", type=int, default=3, help="floor and import runs, alternately (default 3)")
    parser.add_argument("--workers", type=int, default=None, help="parsing workers (default: the importer's choice)")
    parser.add_argument("--database-url", help="a PostgreSQL server URL to import into (default: a new SQLite file)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path, *rest = args.child
        if kind == "floor":
            print(json.dumps(child_floor(Path(path))))
        else:
            print(json.dumps(child_import(Path(path), rest[0], None if rest[1] == "auto" else int(rest[1]))))
        return

    work = Path(tempfile.mkdtemp(prefix="outreach-bench-import-"))
    workers = "auto" if args.workers is None else str(args.workers)
    created: list[str] = []
    try:
        small = work / "contacts.csv"
        write_contacts(small, args.rows)
        floors, imports = [], []
        for _ in range(args.repeat):
            floors.append(run_child("floor", str(small)))
            url = database(work, args.database_url, args.rows, created)
            imports.append(run_child("import", str(small), url, workers))
        big = None
        if args.million:
            large = work / "contacts-large.csv"
            write_contacts(large, args.million)
            big = run_child("import", str(large), database(work, args.database_url, args.million, created), workers)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for name in created:
            _admin(str(args.database_url), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"database: {'SQLite file' if args.database_url is None else 'PostgreSQL'}; workers: {workers}")
    print(f"rows: {args.rows:,} ({imports[0]['summary']}, {imports[0]['warnings']} warnings)")
    for n, (floor, imp) in enumerate(zip(floors, imports, strict=True), 1):
        print(f"  run {n}: floor {floor['seconds']:.2f} s, import {imp['seconds']:.2f} s, ratio "
              f"{float(imp['seconds']) / float(floor['seconds']):.2f}")  # fmt: skip
    best_floor = min(float(f["seconds"]) for f in floors)
    best_import = min(float(i["seconds"]) for i in imports)
    ratio = best_import / best_floor
    print(f"floor (read + validate email and phone): {best_floor:.2f} s, "
          f"{best_floor / args.rows * 1e6:.0f} µs a row; "
          f"CPU {statistics.median(float(f['cpu']) for f in floors) / args.rows * 1e6:.0f} µs a row")
    print(f"import (read, parse, upsert, commit):    {best_import:.2f} s, "
          f"{best_import / args.rows * 1e6:.0f} µs a row; "
          f"CPU {statistics.median(float(i['cpu']) for i in imports) / args.rows * 1e6:.0f} µs a row here + "
          f"{statistics.median(float(i['worker_cpu']) for i in imports) / args.rows * 1e6:.0f} in workers")
    pairs = [float(i["seconds"]) / float(f["seconds"]) for f, i in zip(floors, imports, strict=True)]
    print(f"ratio import / floor (best / best): {ratio:.2f}; median of the runs' own ratios "
          f"{statistics.median(pairs):.2f} (target {TARGET_TIME}: {'met' if ratio <= TARGET_TIME else 'NOT met'})")
    small_peak = min(float(i["peak_mb"]) for i in imports)
    small_worker = min(float(i["worker_peak_mb"]) for i in imports)
    print(f"peak memory, {args.rows:,} rows: {small_peak:.0f} MB importing process, {small_worker:.0f} MB worker")
    if big is not None:
        peak, worker = float(big["peak_mb"]), float(big["worker_peak_mb"])
        grew = max(peak / small_peak, worker / small_worker if small_worker else 1.0)
        print(f"peak memory, {args.million:,} rows: {peak:.0f} MB importing process, {worker:.0f} MB worker "
              f"({big['summary']}, {big['seconds']:.0f} s)")
        print(f"ratio {args.million:,} / {args.rows:,} rows: {peak / small_peak:.2f} importing process, "
              f"{worker / small_worker if small_worker else 0:.2f} worker (target {TARGET_MEMORY}: "
              f"{'met' if grew <= TARGET_MEMORY else 'NOT met'})")


if __name__ == "__main__":
    main()
