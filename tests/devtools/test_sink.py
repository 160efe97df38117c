"""`outreach sink` as users run it: a real process that prints one line per message it stores."""

from __future__ import annotations

import os
import smtplib
import socket
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


def _sink(maildir: Path) -> tuple[subprocess.Popen[str], int]:
    """`outreach sink` on a free port; on another one if something took it before the sink could bind it."""
    for _attempt in range(5):
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "outreach", "sink", "--maildir", str(maildir),
                                 "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()  # the banner, or "" when it exited
        if first:
            assert first == f"Sink listening on 127.0.0.1:{port}, storing into {maildir} (Ctrl-C to stop)\n"
            return proc, port
        error = proc.stderr.read()
        proc.wait(30)
        assert "something else listens there" in error, error
    raise AssertionError("the sink found no free port in 5 tries")


def test_the_sink_prints_a_line_per_message(tmp_path: Path) -> None:
    proc, port = _sink(tmp_path / "mail")
    try:
        deadline = time.monotonic() + 60
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


def test_a_taken_port_is_one_error_line_not_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "outreach", "sink", "--maildir", str(tmp_path / "mail"), "--port", str(port)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (f"Error: cannot listen on 127.0.0.1:{port}: something else listens there; "
                           "choose another --port\n")
