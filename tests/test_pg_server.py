"""The tests' throwaway PostgreSQL (pg_server.py) leaves nothing running behind a session that was killed."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from helpers import wait_for

TESTS = Path(__file__).parent
SESSION = f"""
import sys, time
sys.path.insert(0, {str(TESTS)!r})
from pg_server import start_postgres
server = start_postgres()
server.stop("fast")
server.start()  # again, as an outage test does: that one too must go with the session
print(server.proc.pid, server.port, server.folder, flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:  # a zombie has exited: only its parent has not reaped it yet
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.postgres
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_session_killed_with_sigkill_leaves_no_server_running() -> None:
    """Even with a client still connected (a sender that outlived the session): the server is told to shut
    down fast, which ends every session, not smart, which would wait for them to leave."""
    session = subprocess.Popen([sys.executable, "-c", SESSION], stdout=subprocess.PIPE, text=True)
    assert session.stdout is not None
    pid, port, folder = session.stdout.readline().split()
    try:
        client = psycopg.connect(f"host=127.0.0.1 port={port} user=outreach dbname=postgres", autocommit=True)
        assert client.execute("SELECT 1").fetchone() == (1,)
        session.send_signal(signal.SIGKILL)
        session.wait()
        wait_for(lambda: not alive(int(pid)), what=f"the server (pid {pid}) to go after its session died")
        with pytest.raises(psycopg.OperationalError):  # our session was ended, not waited for
            client.execute("SELECT 1")
        client.close()
    finally:
        if session.poll() is None:
            session.kill()
            session.wait()
        shutil.rmtree(folder, ignore_errors=True)  # what a killed session could not remove
