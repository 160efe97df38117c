"""`outreach sink` as users run it: a real process that prints one line per message it stores."""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

from helpers import free_port


def _line(proc: subprocess.Popen[str], deadline: float) -> str:
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            return line.rstrip("\n")
    raise AssertionError("the sink printed nothing in time")


def test_the_sink_prints_a_line_per_message(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "outreach", "sink", "--maildir", str(tmp_path / "mail"),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        assert _line(proc, deadline) == (f"Sink listening on 127.0.0.1:{port}, storing into {tmp_path / 'mail'} "
                                         "(Ctrl-C to stop)")  # fmt: skip
        for n in (1, 2):
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "awang@example.com", "budi@example.com", f"Penawaran {n} ✓"
            msg.set_content("Halo")
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
                smtp.send_message(msg)
            line = _line(proc, deadline)
            assert f" awang@example.com -> budi@example.com: Penawaran {n} ✓ (" in line
        assert len(list((tmp_path / "mail" / "new").iterdir())) == 2
    finally:
        proc.terminate()
        proc.wait(30)
