"""A throwaway PostgreSQL for the tests, from the installed server binaries, as the tests run dovecot and knot.

``make test`` needs no variable and no running server: when
``OUTREACH_TEST_POSTGRES_URL`` is not set, the session makes its own cluster
(``initdb`` in a temporary folder, trust logins for the role ``outreach``),
runs ``postgres`` in the foreground on a free 127.0.0.1 port with its socket
in that folder, and removes it all at the end. It never touches a system
cluster. With the variable set (a server the role may create databases on),
that server is used instead.

The binaries are Debian's (``/usr/lib/postgresql/VERSION/bin``, package
``postgresql``), else whatever ``initdb`` is on the PATH or ``pg_config
--bindir`` names. ``initdb`` refuses to run as root, so as root (containers,
CI) the cluster belongs to, and runs as, the ``postgres`` user (else
``nobody``). On Linux the server is told to stop when the test process dies,
so a killed session leaves no server behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import wait_for

ROLE = "outreach"
SETTINGS = ("listen_addresses=127.0.0.1", "fsync=off", "synchronous_commit=off", "full_page_writes=off",
            "max_connections=200")  # fmt: skip  # several tests' senders, workers and servers at once


def pg_bindir() -> Path:
    """The folder of ``initdb`` and ``postgres``; skip without them, except under CI=true, where it fails."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]) if
                   p.parts[-3].isdigit() else 0)  # fmt: skip
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        if (Path(bindir) / "initdb").exists():
            return Path(bindir)
    reason = "the PostgreSQL server binaries (initdb, postgres) are not installed (Debian: apt-get install postgresql)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the PostgreSQL tests")
    pytest.skip(f"{reason}, and OUTREACH_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")


def _owner() -> pwd.struct_passwd | None:
    """Whom the cluster runs as: ourselves, or (as root, which initdb refuses) postgres, else nobody."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root, and there is neither a postgres nor a nobody user to run PostgreSQL as")


def _die_with_us() -> None:  # pragma: no cover - runs in the child, before exec
    """Linux: SIGTERM (a fast, clean shutdown) when the process that started the server is gone."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    folder: Path
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """The maintenance database, for creating and dropping each test's own."""
        return f"postgresql+psycopg://{ROLE}@127.0.0.1:{self.port}/postgres"

    def log(self) -> str:
        path = self.folder / "postgres.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: sessions are cut, nothing is written back
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _run(args: list[str], owner: pwd.struct_passwd | None, **kwargs: object) -> subprocess.CompletedProcess[str]:
    as_owner = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []} if owner else {}
    return subprocess.run(args, capture_output=True, text=True, check=False, **as_owner, **kwargs)  # type: ignore[call-overload, no-any-return]


def start_postgres() -> PgServer:
    """initdb, then ``postgres`` on a free port (another, when something took the port meanwhile)."""
    bindir, owner = pg_bindir(), _owner()
    folder = Path(tempfile.mkdtemp(prefix="outreach-pg-"))
    if owner is not None:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    data = folder / "data"
    made = _run([str(bindir / "initdb"), "-D", str(data), "-U", ROLE, "--auth=trust", "-E", "UTF8", "--no-locale",
                 "--no-sync"], owner, cwd=folder)  # fmt: skip
    if made.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed ({made.returncode}):\n{made.stdout}\n{made.stderr}")
    for _attempt in range(5):
        server = _launch(bindir, folder, owner)
        if server is not None:
            return server
    shutil.rmtree(folder, ignore_errors=True)
    raise RuntimeError("PostgreSQL did not start on any of 5 free ports")


def _launch(bindir: Path, folder: Path, owner: pwd.struct_passwd | None) -> PgServer | None:
    port = _free_port()
    log = (folder / "postgres.log").open("ab")
    options = [arg for setting in SETTINGS for arg in ("-c", setting)]
    as_owner = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []} if owner else {}
    proc = subprocess.Popen([str(bindir / "postgres"), "-D", str(folder / "data"), "-p", str(port), "-k", str(folder),
                             *options], stdout=log, stderr=subprocess.STDOUT, cwd=folder,
                            preexec_fn=_die_with_us, **as_owner)  # type: ignore[call-overload]
    log.close()
    server = PgServer(folder, port, proc)

    def ready() -> bool:
        if proc.poll() is not None:
            return True
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return (folder / f".s.PGSQL.{port}").exists() and "ready to accept connections" in server.log()
        return False

    wait_for(ready, what="PostgreSQL to start", context=server.log)
    if proc.poll() is not None:
        if "could not bind" in server.log() or "Address already in use" in server.log():
            return None  # the port was taken meanwhile: another one
        raise RuntimeError(f"PostgreSQL exited ({proc.returncode}):\n{server.log()}")
    return server
