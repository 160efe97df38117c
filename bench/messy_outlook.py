"""A messy Outlook contacts export, as a sales team really hands one over.

    python bench/messy_outlook.py [-n 1000] [--seed 11] [--out outlook.csv] [--run]

Writes Outlook's own CSV layout (its full header, in its order, Windows-1252
like Outlook's "Comma Separated Values" export) with what real address books
hold: names only in "Title"-prefixed or empty cells, mobile numbers in every
local spelling (0812-…, +62 812 …, 62812…, 812… after Excel ate the 0,
6.28123E+11 after Excel turned it into a number, two numbers in one cell),
landlines with area codes, duplicate people (the same address in other
case), broken and missing addresses, owners who are not senders, and the
extra columns (Department, Notes, User 1) that must be kept, not lost.

With ``--run`` it creates a workspace from the example, imports the file,
builds the example campaign on it and then a second campaign on the same
segment, printing what ``outreach contacts import`` and ``outreach campaign
build`` print: the report the issue asks for.

The header is Outlook's export field list (First Name … Categories), as
Outlook 2010–365 write it.
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
from pathlib import Path

OUTLOOK_HEADER = [
    "First Name", "Middle Name", "Last Name", "Title", "Suffix", "Initials", "Web Page", "Gender", "Birthday",
    "Anniversary", "Location", "Language", "Internet Free Busy", "Notes", "E-mail Address", "E-mail 2 Address",
    "E-mail 3 Address", "Primary Phone", "Home Phone", "Home Phone 2", "Mobile Phone", "Pager", "Home Fax",
    "Home Address", "Home Street", "Home Street 2", "Home Street 3", "Home Address PO Box", "Home City",
    "Home State", "Home Postal Code", "Home Country", "Spouse", "Children", "Manager's Name", "Assistant's Name",
    "Referred By", "Company Main Phone", "Business Phone", "Business Phone 2", "Business Fax", "Assistant's Phone",
    "Company", "Job Title", "Department", "Office Location", "Organizational ID Number", "Profession", "Account",
    "Business Address", "Business Street", "Business Street 2", "Business Street 3", "Business Address PO Box",
    "Business City", "Business State", "Business Postal Code", "Business Country", "Other Phone", "Other Fax",
    "Other Address", "Other Street", "Other Street 2", "Other Street 3", "Other Address PO Box", "Other City",
    "Other State", "Other Postal Code", "Other Country", "Callback", "Car Phone", "ISDN", "Radio Phone",
    "TTY/TDD Phone", "Telex", "User 1", "User 2", "User 3", "User 4", "Keywords", "Mileage", "Hobby",
    "Billing Information", "Directory Server", "Sensitivity", "Priority", "Private", "Categories",
]  # fmt: skip

FIRST = ["Budi", "Siti", "Agus", "Dewi", "Hendra", "Rina", "Andi", "Wulan", "Joko", "Ratna", "Yohanes", "Made",
         "Putu", "Fajar", "Intan", "Rizky", "Nur", "Bambang", "Sri", "Eko", "Lestari", "Teguh", "Maria", "André"]
LAST = ["Santoso", "Wijaya", "Pratama", "Kusuma", "Hidayat", "Siregar", "Nasution", "Saputra", "Halim",
        "Gunawan", "Setiawan", "Simanjuntak", "Wibowo", "Tanoto", "Lubis", "Hartono", ""]
COMPANIES = ["PT Maju Jaya Elektronik", "PT Sinar Logistik Nusantara", "CV Mekar Sari", "PT Graha Medika Utama",
             "PT Bank Contoh Tbk", "PT Nusantara Data Prima", "Dinas Kominfo DKI", "PT Cahaya Abadi", ""]
TITLES = ["IT Manager", "Purchasing Manager", "Kepala Bagian Pengadaan", "Head of IT", "CFO", "Direktur",
          "Staff IT", "", ""]
CITIES = ["Jakarta Selatan", "Jakarta Pusat", "DKI Jakarta", "Jakarta", "Tangerang Selatan", "Bekasi", "Bandung",
          "Surabaya", "Medan", ""]
SALUTATIONS = ["Bapak", "Ibu", "Mr.", "Dr.", "", "", ""]
OWNERS = ["Awang Prasetyo", "awang", "sari@contoh-solusi.co.id", "Sari", "Joko (resigned)", "", ""]


def _mobile(rng: random.Random) -> str:
    digits = f"8{rng.choice('1125789')}{rng.randrange(10**7, 10**9)}"[:11]
    style = rng.randrange(10)
    return [
        f"0{digits[:3]}-{digits[3:7]}-{digits[7:]}", f"+62 {digits[:3]} {digits[3:7]} {digits[7:]}",
        f"62{digits}", f"{digits[:3]} {digits[3:7]} {digits[7:]}",  # Excel ate the leading 0
        f"6.2{digits[:4]}E+{len(digits) + 1}",  # Excel turned it into a number
        f"0{digits} / 021 {rng.randrange(5000000, 5999999)}", f"(+62) {digits}", "12345", "-",
        f"0{digits[:3]} {digits[3:7]} {digits[7:]}",
    ][style]


def _landline(rng: random.Random) -> str:
    return rng.choice([f"(021) {rng.randrange(500, 899)}-{rng.randrange(1000, 9999)}",
                       f"021-{rng.randrange(5000000, 8999999)}", f"+62 22 {rng.randrange(5000000, 8999999)}",
                       f"021 {rng.randrange(5000000, 8999999)} ext. {rng.randrange(100, 999)}"])


def _email(rng: random.Random, first: str, last: str, company: str, n: int) -> str:
    domain = (company.split()[-1].lower() if company else rng.choice(["gmail", "yahoo"])) + ".example.co.id"
    local = ".".join(p.lower() for p in (first, last) if p) or f"kontak{n}"
    roll = rng.random()
    if roll < 0.03:
        return ""  # no address at all
    if roll < 0.06:
        return rng.choice([f"{local}@", f"{local} at {domain}", f"{local}@@{domain}", f"{local}@{domain}.",
                           f"{local}@{domain} ; {local}2@{domain}"])  # fmt: skip
    if roll < 0.08:
        return f"{first} {last} <{local}{n}@{domain}>"
    return f"{local}{n}@{domain}"


def make_rows(n: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    for i in range(n):
        if rows and rng.random() < 0.04:  # the same person again, from another device's address book
            again = dict(rng.choice(rows))
            again["E-mail Address"] = again["E-mail Address"].upper()
            rows.append(again)
            continue
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = rng.choice(COMPANIES)
        row = dict.fromkeys(OUTLOOK_HEADER, "")
        if rng.random() < 0.05:
            first = last = ""  # a contact saved by address only
        row.update({
            "First Name": first, "Last Name": last, "Title": rng.choice(SALUTATIONS), "Company": company,
            "Job Title": rng.choice(TITLES), "Business City": rng.choice(CITIES),
            "E-mail Address": _email(rng, first, last, company, i),
            "Mobile Phone": _mobile(rng) if rng.random() < 0.8 else "",
            "Business Phone": _landline(rng) if rng.random() < 0.5 else "",
            "Department": rng.choice(["IT", "Procurement", "Finance", "", "", ""]),
            "Categories": rng.choice(["Prospek;Jaringan", "Pelanggan", "Security", "", ""]),
            "Notes": rng.choice(["Ketemu di pameran IndoComm 2026", "Minta penawaran Q1", "", "", ""]),
            "User 1": rng.choice(OWNERS),
            "Sensitivity": "Normal", "Priority": "Normal", "Private": "False", "Gender": "Unspecified",
        })  # fmt: skip
        if not row["Mobile Phone"] and not row["Business Phone"] and rng.random() < 0.5:
            row["Home Phone"] = _mobile(rng)
        rows.append(row)
    return rows


def write_outlook_csv(path: Path, n: int = 1000, seed: int = 11) -> Path:
    """Outlook writes its CSV export in the Windows ANSI code page, with every cell quoted."""
    with path.open("w", encoding="cp1252", errors="replace", newline="") as fh:
        writer = csv.DictWriter(fh, OUTLOOK_HEADER, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(make_rows(n, seed))
    return path


def run(path: Path) -> None:
    """Import the file into a fresh example workspace and build the example campaign on it."""
    from click.testing import CliRunner

    from outreach.cli import cli

    root = Path(tempfile.mkdtemp(prefix="outlook-")) / "ws"
    runner = CliRunner()
    runner.invoke(cli, ["init", str(root)], catch_exceptions=False)
    # a second campaign on the same segment, built the same day: the contact policy's turn
    (root / "campaigns" / "server-promo.yaml").write_text(
        "segment: jakarta-prospects\ncontent: solusi-jaringan.md\nsender: sari\n", encoding="utf-8")
    for shown, args in (
        (f"contacts import {path.name} --map 'User 1=owner'",
         ["contacts", "import", str(path), "--map", "User 1=owner"]),
        ("campaign build solusi-jaringan", ["campaign", "build", "solusi-jaringan"]),
        ("campaign build server-promo", ["campaign", "build", "server-promo"]),
    ):  # fmt: skip
        result = runner.invoke(cli, [*args, "-w", str(root)], catch_exceptions=False)
        print(f"$ outreach {shown}")
        print(result.stdout + result.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=Path("outlook-contacts.csv"))
    parser.add_argument("--run", action="store_true", help="import it and build the example campaign on it")
    args = parser.parse_args()
    write_outlook_csv(args.out, args.n, args.seed)
    print(f"Wrote {args.n} rows to {args.out}")
    if args.run:
        run(args.out)


if __name__ == "__main__":
    main()
