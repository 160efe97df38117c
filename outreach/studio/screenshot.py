"""`content preview NAME --screenshot DIR`: the message as a phone and a desktop show it, as PNGs.

Headless Chromium's own command line does it, with no Python package and no
browser download: ``--dump-dom`` once per width to learn how tall the message
is there (a private copy, its width pinned to the target's because a headless
window may not be as narrow as asked, reports ``scrollHeight`` once loaded),
then ``--screenshot`` with the window exactly that tall. Phone: 375 px wide
(an iPhone's CSS width); desktop: 600 px, the message column at its full
width, as a desktop mail client shows it. Embedded pictures are shown from
``data:`` URLs, since a browser knows no ``cid:``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from outreach.errors import InputError

WIDTHS = (("phone", 375), ("desktop", 600))
MAX_HEIGHT = 16_000  # px: Chromium's screenshots grow unreliable beyond this
TIMEOUT = 120.0  # seconds per Chromium run, for a slow, busy machine
_HEIGHT = re.compile(r'data-outreach-height="(\d+)"')
_MEASURE = ("<script>window.addEventListener('load',function(){document.body.setAttribute("
            "'data-outreach-height',String(document.documentElement.scrollHeight))});</script>")  # fmt: skip
_FLAGS = ["--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--no-default-browser-check",
          "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
          "--mute-audio", "--virtual-time-budget=3000"]  # fmt: skip


@dataclass(frozen=True)
class Shot:
    label: str  # phone | desktop
    width: int
    height: int
    path: Path


def chromium() -> str | None:
    """Chromium (or Chrome) on this machine."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def take(html: str, folder: Path, stem: str, program: str | None = None) -> list[Shot]:
    """``FOLDER/STEM-phone.png`` and ``FOLDER/STEM-desktop.png`` of the HTML ``html``."""
    program = program or chromium()
    if program is None:
        raise InputError("Chromium is not installed (Debian: apt-get install chromium); it takes the screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    shots = []
    with tempfile.TemporaryDirectory(prefix="outreach-shot-") as tmp:
        work = Path(tmp)
        page, measured = work / "message.html", work / "measure.html"
        page.write_text(html, encoding="utf-8")
        for label, width in WIDTHS:
            measured.write_text(_with_measure(html, width), encoding="utf-8")
            dom = _run(program, work, width, 800, ["--dump-dom", measured.as_uri()]).decode("utf-8", "replace")
            m = _HEIGHT.search(dom)
            height = min(max(int(m.group(1)), 100), MAX_HEIGHT) if m else 1200
            out = folder / f"{stem}-{label}.png"
            out.unlink(missing_ok=True)
            _run(program, work, width, height, [f"--screenshot={out}", page.as_uri()])
            if not out.is_file():
                raise InputError(f"Chromium wrote no screenshot to {out}")
            shots.append(Shot(label, width, height, out))
    return shots


def _with_measure(html: str, width: int) -> str:
    script = f"<style>html{{width:{width}px !important}}</style>{_MEASURE}"
    at = html.lower().rfind("</body>")
    return html[:at] + script + html[at:] if at >= 0 else html + script


def _run(program: str, work: Path, width: int, height: int, args: list[str]) -> bytes:
    flags = [*_FLAGS, f"--window-size={width},{height}", f"--user-data-dir={work / 'profile'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    env = {**os.environ, "HOME": str(work)}  # its caches and settings stay in the private folder
    try:
        done = subprocess.run([program, *flags, *args], capture_output=True, timeout=TIMEOUT, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise InputError(f"Chromium did not finish within {TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        why = [line for line in done.stderr.decode("utf-8", "replace").splitlines() if "ERROR" not in line]
        raise InputError(f"Chromium failed (exit {done.returncode}): {why[-1] if why else 'no message'}")
    return done.stdout
