"""Editor benchmark: the live check behind each pause in typing, on a small segment and a big one, side by side.

    python bench/editor.py [--small 200] [--big 20000] [--repeat 10]

The writer's editor posts the draft about 0.4 s after the last keystroke; the
server renders it as a real send does and lints the campaign with the draft
in place of the file (``Workspace.check_draft``). Lint tries personalisation
against the segment's contacts, so done naively its cost grows with the
segment; the live check tries the first ``LIVE_SAMPLE`` contacts only (the
build and ``content lint`` still try them all). This measures, in one run,
two workspaces made the same way (the example workspace, one campaign, its
segment holding SMALL or BIG imported contacts), the median of REPEAT checks
of the same draft, and the full lint of each for comparison. It prints the
medians and the big/small ratios: the live check should stay flat (~1×),
the full lint grows with the contacts.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from outreach.settings.workspace import init_workspace  # noqa: E402
from outreach.studio.lint import lint_campaign  # noqa: E402
from outreach.workspace import Workspace  # noqa: E402

DRAFT = """---
subject: "Penawaran lisensi untuk {{ contact.company }}"
preheader: "Harga khusus sampai akhir tahun"
lang: id
---
Yth. {{ contact.first_name | default("Bapak/Ibu") }},

Kami menawarkan **diskon 20%** untuk {{ contact.company }} di {{ contact.city }}.

[Lihat penawaran](https://www.example.com/promo?c={{ campaign.name }}){.button}

{% include "blocks/salam.md" %}
"""


def workspace(folder: Path, contacts: int) -> Path:
    root = folder / f"ws-{contacts}"
    init_workspace(root)
    (root / "segments" / "bench.yaml").write_text("description: bench\nwhere:\n  status: prospect\n", encoding="utf-8")
    (root / "campaigns" / "bench.yaml").write_text("segment: bench\ncontent: bench.md\nsender: awang\n",
                                                   encoding="utf-8")  # fmt: skip
    (root / "campaigns" / "bench.md").write_text(DRAFT, encoding="utf-8")
    listing = folder / f"contacts-{contacts}.csv"
    with listing.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["email", "first_name", "last_name", "company", "city", "status"])
        for n in range(contacts):
            out.writerow([f"c{n}@firma{n % 997}.example.com", f"Nama{n}", "Uji", f"PT Firma {n % 997}", "Jakarta",
                          "prospect"])  # fmt: skip
    with Workspace.open(root) as ws:
        ws.import_contacts(listing)
    return root


def median_seconds(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(root: Path, repeat: int) -> tuple[float, float, int]:
    with Workspace.open(root) as ws:
        file = ws.content_file("bench")
        draft = DRAFT.replace("diskon 20%", "diskon 25%")
        check = ws.check_draft(file, draft)  # warm: the first compile loads the layout and CSS
        assert check.prepared is not None and check.errors == 0, check.findings
        live = median_seconds(lambda: ws.check_draft(file, draft), repeat)
        full = median_seconds(lambda: lint_campaign(ws.config, ws.engine, "bench"), max(repeat // 3, 1))
        return live, full, len(check.findings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--big", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small = workspace(Path(tmp), args.small)
        big = workspace(Path(tmp), args.big)
        (s_live, s_full, _), (b_live, b_full, _) = measure(small, args.repeat), measure(big, args.repeat)
    print(f"live check of a draft (median of {args.repeat}), full lint for comparison")
    print(f"{'contacts':>10} {'live check':>12} {'full lint':>12}")
    print(f"{args.small:>10} {s_live * 1000:>10.0f}ms {s_full * 1000:>10.0f}ms")
    print(f"{args.big:>10} {b_live * 1000:>10.0f}ms {b_full * 1000:>10.0f}ms")
    print(f"ratio {args.big}/{args.small}: live check {b_live / s_live:.2f}x, full lint {b_full / s_full:.2f}x")


if __name__ == "__main__":
    main()
