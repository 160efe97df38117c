"""Check the reply corpus: every line parses, fields are present and valid, the halves partition the
whole set, stratified by intent x language; print the counts. Exit 1 on any problem.

Run: python3 validate.py   (from this folder)
"""
from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
INTENTS = ["opt_out", "not_interested", "interested", "meeting", "question", "referral", "left_company",
           "other"]
LANGS = ["id", "en", "mixed"]
KEYS = {"id", "lang", "intent", "subject", "body", "referral", "note"}
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
problems: list[str] = []


def load(name: str) -> list[dict]:
    rows = []
    for n, line in enumerate((HERE / name).read_text(encoding="utf-8").splitlines(), 1):
        where = f"{name}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not JSON ({exc})")
            continue
        check(row, where)
        rows.append(row)
    return rows


def check(r: dict, where: str) -> None:
    for k in ("id", "lang", "intent", "subject", "body"):
        if not isinstance(r.get(k), str):
            problems.append(f"{where}: field {k!r} missing or not a string")
    if set(r) - KEYS:
        problems.append(f"{where}: unknown fields {sorted(set(r) - KEYS)}")
    if not re.fullmatch(r"r\d{4}", r.get("id", "")):
        problems.append(f"{where}: bad id {r.get('id')!r}")
    if r.get("lang") not in LANGS:
        problems.append(f"{where}: bad lang {r.get('lang')!r}")
    if r.get("intent") not in INTENTS:
        problems.append(f"{where}: bad intent {r.get('intent')!r}")
    body = r.get("body", "")
    if not body.strip():
        problems.append(f"{where}: empty body")
    for field in ("subject", "body"):
        if re.search(r"\{(QUOTE|dom|co|first|to|tofirst|me|toemail|myname|myemail|mytitle|csubj)\}",
                     r.get(field, "")):
            problems.append(f"{where}: unfilled placeholder in {field}")
    if "note" in r and not (isinstance(r["note"], str) and r["note"]):
        problems.append(f"{where}: empty note")
    ref = r.get("referral")
    if ref is None:
        return
    if r.get("intent") not in ("referral", "left_company"):
        problems.append(f"{where}: referral on intent {r.get('intent')}")
    if not isinstance(ref, dict) or set(ref) != {"name", "email"}:
        problems.append(f"{where}: referral must be {{name, email}}")
        return
    if ref["name"] is None and ref["email"] is None:
        problems.append(f"{where}: referral with neither name nor email")
    if ref["email"] is not None and not EMAIL.match(ref["email"]):
        problems.append(f"{where}: referral email {ref['email']!r} is not an address")
    for v in ref.values():
        if v is not None and v.lower() not in body.lower():
            problems.append(f"{where}: referral value {v!r} not found in the body")


def table(rows: list[dict]) -> Counter:
    return Counter((r["intent"], r["lang"]) for r in rows if r.get("intent") and r.get("lang"))


def show(title: str, c: Counter) -> None:
    print(f"{title}\n{'intent':16}" + "".join(f"{lang:>7}" for lang in LANGS) + f"{'total':>7}")
    for i in INTENTS:
        print(f"{i:16}" + "".join(f"{c[i, lang]:7}" for lang in LANGS) + f"{sum(c[i, x] for x in LANGS):7}")
    print(f"{'total':16}" + "".join(f"{sum(c[i, lang] for i in INTENTS):7}" for lang in LANGS)
          + f"{sum(c.values()):7}\n")


def main() -> int:
    allr, tun, chk = load("replies.jsonl"), load("tuning.jsonl"), load("checking.jsonl")
    ids = [r["id"] for r in allr]
    if len(ids) != len(set(ids)):
        problems.append("replies.jsonl: duplicate ids")
    bodies = Counter(r["body"] for r in allr)
    problems.extend(f"replies.jsonl: body repeated {n} times: {b[:60]!r}" for b, n in bodies.items() if n > 1)
    if len(allr) < 420:
        problems.append(f"only {len(allr)} replies (want >= 420)")
    by_id = {r["id"]: r for r in allr}
    t_ids, c_ids = {r["id"] for r in tun}, {r["id"] for r in chk}
    if t_ids & c_ids:
        problems.append(f"{len(t_ids & c_ids)} replies in both halves")
    if t_ids | c_ids != set(by_id):
        problems.append("the halves do not cover replies.jsonl exactly")
    for r in tun + chk:
        if r["id"] in by_id and r != by_id[r["id"]]:
            problems.append(f"{r['id']}: differs between a half and replies.jsonl")
    if abs(len(tun) - len(chk)) > 1:
        problems.append(f"halves unequal: {len(tun)} vs {len(chk)}")
    ct, cc, ca = table(tun), table(chk), table(allr)
    for key in ca:
        if abs(ct[key] - cc[key]) > 1:
            problems.append(f"cell {key} not split evenly: {ct[key]} vs {cc[key]}")
    show(f"replies.jsonl ({len(allr)})", ca)
    show(f"tuning.jsonl ({len(tun)})", ct)
    show(f"checking.jsonl ({len(chk)})", cc)
    langs = Counter(r["lang"] for r in allr)
    print("languages: " + ", ".join(f"{k} {v} ({100 * v / len(allr):.0f}%)" for k, v in langs.items()))
    print(f"with referral details: {sum('referral' in r for r in allr)}; with a note: "
          f"{sum('note' in r for r in allr)}")
    for p in problems:
        print("PROBLEM:", p)
    print("OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
