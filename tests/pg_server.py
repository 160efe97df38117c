"""The tests' throwaway PostgreSQL, from the installed server binaries, as the tests run dovecot and knot.

One kind of server serves both uses:

* ``pg_admin_url`` / ``pg_url``: ``make test`` needs no variable and no running server. When
  ``OUTREACH_TEST_POSTGRES_URL`` is not set, the session's throwaway server is used; with it set (a
  server the role may create databases on), that server is, and nothing is started for it.
* ``own_pg``: a server the test may stop and start again (a database outage), with a fresh database
  ``own_pg.test_url``. Always a throwaway one, never the server of ``OUTREACH_TEST_POSTGRES_URL``
  (other test runs share that one); without the variable it is the session's server itself, started
  again after the test if the test left it stopped.

The server is started once per session, when a test first needs it: ``initdb`` in a temporary folder
(trust logins for the role ``outreach``; fsync off: it is thrown away), then ``postgres`` in the
foreground on a free 127.0.0.1 port with its socket in that folder (another port when something took
that one meanwhile). ``stop(mode)`` sends the signal ``pg_ctl stop -m MODE`` would (fast: every
session is cut, as in an operator's restart; immediate: a crash), ``start()`` runs it again on the same
port, so clients reconnect to the URL they have.

The binaries are Debian's (``/usr/lib/postgresql/VERSION/bin``, package ``postgresql``), else whatever
``initdb`` is on the PATH or ``pg_config --bindir`` names; without them the PostgreSQL tests skip,
except under CI=true, where that fails. ``initdb`` refuses to run as root, so as root (containers, CI)
the server belongs to, and runs as, the ``postgres`` user (else ``nobody``); its folder lives outside
pytest's tmp_path, which is private to root. On Linux the server is told (PR_SET_PDEATHSIG) to shut
down fast when the process that started it dies, so a killed session leaves no server behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helpers import DEADLINE, free_port, wait_for

ROLE = "outreach"
SETTINGS = ("listen_addresses=127.0.0.1", "fsync=off", "synchronous_commit=off", "full_page_writes=off",
            "max_connections=200")  # fmt: skip  # several tests' senders, workers and servers at once
# what ``pg_ctl stop -m MODE`` sends the postmaster; SIGTERM's "smart" shutdown would wait for every client
STOP_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}
READY = "database system is ready to accept connections"
PORT_TAKEN = ("could not bind", "Address already in use")


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
    pytest.skip(f"{reason}: PostgreSQL tests skipped")


def _owner() -> pwd.struct_passwd | None:
    """Whom the server runs as: ourselves, or (as root, which initdb refuses) postgres, else nobody."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    pytest.skip("running as root with neither a postgres nor a nobody user to run PostgreSQL as")


def _as(owner: pwd.struct_passwd | None) -> dict[str, object]:
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []} if owner else {}


def _die_with(parent: int) -> None:  # pragma: no cover - runs in the child, after the user switch, before exec
    """Linux: a fast shutdown (SIGINT) when the thread that started the server is gone — and at once if the
    whole process went while we forked. (Set after the switch to the server's user, which clears it.)"""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


class PgServer:
    """One throwaway server: ``start()``, ``stop(mode)``, ``url(database)``, ``database(name)``."""

    def __init__(self, bindir: Path) -> None:
        self.bindir, self.owner = bindir, _owner()
        self.folder = Path(tempfile.mkdtemp(prefix="outreach-pg-"))
        self.data, self.logfile = self.folder / "data", self.folder / "postgres.log"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.test_url = ""  # own_pg's database for the test under way
        if self.owner is not None:
            os.chown(self.folder, self.owner.pw_uid, self.owner.pw_gid)
        try:
            made = subprocess.run([str(bindir / "initdb"), "-D", str(self.data), "-U", ROLE, "--auth=trust", "-E",
                                   "UTF8", "--no-locale", "--no-sync"], capture_output=True, text=True, check=False,
                                  cwd=self.folder, timeout=120, **_as(self.owner))  # type: ignore[call-overload]  # fmt: skip
        except BaseException:  # Ctrl-C (or a timeout) mid-initdb: leave no folder behind
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        if made.returncode != 0:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise RuntimeError(f"initdb failed ({made.returncode}):\n{made.stdout}\n{made.stderr}")

    # -- running it --------------------------------------------------------------------------------

    def first_start(self) -> None:
        """On a free port; another one when something took it between our choice and the server's bind."""
        for _attempt in range(5):
            self.port = free_port()
            if self._launch():
                return
        raise RuntimeError(f"PostgreSQL did not start on any of 5 free ports:\n{self.log()}")

    def start(self) -> None:
        """Again, after ``stop``, on the same port (its clients' URL). Should something hold the port for a
        moment (a free-port probe), it tries again until the deadline."""
        if not self.running():
            wait_for(self._launch, what=f"PostgreSQL to start again on port {self.port}", context=self.log)

    def _launch(self) -> bool:
        """``postgres`` in the foreground; True once it accepts connections, False when the port was taken."""
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("start PostgreSQL from the main thread: PR_SET_PDEATHSIG follows the starting thread")
        offset = self.logfile.stat().st_size if self.logfile.exists() else 0
        options = [arg for setting in SETTINGS for arg in ("-c", setting)]
        die_with_us = functools.partial(_die_with, os.getpid())
        with self.logfile.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.folder),
                 *options], stdout=log, stderr=subprocess.STDOUT, cwd=self.folder,
                preexec_fn=die_with_us, **_as(self.owner))  # type: ignore[call-overload]  # fmt: skip
        proc = self.proc

        def settled() -> bool:
            return proc.poll() is not None or READY in self._log_since(offset)

        wait_for(settled, what="PostgreSQL to start", context=self.log)
        if proc.poll() is None:
            return True
        self.proc = None
        if any(sign in self._log_since(offset) for sign in PORT_TAKEN):
            return False
        raise RuntimeError(f"PostgreSQL exited ({proc.returncode}):\n{self.log()}")

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m MODE``'s signal, and wait for the exit: ``fast`` ends every session (an operator's
        restart), ``immediate`` is a crash (recovery runs at the next start)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(STOP_SIGNALS[mode])
        try:
            proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure_running(self) -> None:
        if not self.running():
            self.start()

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- its databases -----------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{ROLE}@127.0.0.1:{self.port}/{database}"

    def _connect(self, autocommit: bool = False, connect_timeout: int = 10) -> psycopg.Connection[Any]:
        return psycopg.connect(f"host=127.0.0.1 port={self.port} user={ROLE} dbname=postgres",
                               autocommit=autocommit, connect_timeout=connect_timeout)  # fmt: skip

    def database(self, name: str) -> str:
        """A new, empty database (one of that name is dropped first); its SQLAlchemy URL."""
        with self._connect(autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop(self, name: str) -> None:
        with self._connect(autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def answers(self) -> bool:
        try:
            with self._connect(connect_timeout=5):
                return True
        except psycopg.OperationalError:
            return False

    def log(self) -> str:
        return self._log_since(0)[-4000:]

    def _log_since(self, offset: int) -> str:
        with contextlib.suppress(OSError), self.logfile.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode(errors="replace")
        return ""


def start_postgres() -> PgServer:
    """initdb, then ``postgres`` on a free port."""
    server = PgServer(pg_bindir())
    try:
        server.first_start()
    except BaseException:
        server.destroy()
        raise
    return server


# -- fixtures (conftest.py imports them) -----------------------------------------------------------


class _Lazy:
    """The session's throwaway server, started when a test first needs one: a run with
    OUTREACH_TEST_POSTGRES_URL set and no outage test starts none."""

    def __init__(self) -> None:
        self.server: PgServer | None = None

    def get(self) -> PgServer:
        if self.server is None:
            self.server = start_postgres()
        return self.server


@pytest.fixture(scope="session")
def throwaway_pg() -> Iterator[_Lazy]:
    lazy = _Lazy()
    try:
        yield lazy
    finally:
        if lazy.server is not None:
            lazy.server.destroy()


@pytest.fixture(scope="session")
def pg_admin_url(throwaway_pg: _Lazy) -> str:
    """The PostgreSQL the tests use, as a URL to a database the role may create and drop databases from:
    $OUTREACH_TEST_POSTGRES_URL when set, else the session's throwaway server's."""
    return os.environ.get("OUTREACH_TEST_POSTGRES_URL") or throwaway_pg.get().url()


@pytest.fixture
def pg_url(pg_admin_url: str, tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL database for the test, dropped afterwards."""
    from sqlalchemy import create_engine, text

    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    name = f"outreach_t{os.getpid()}_{abs(hash(tmp_path)) % 10**8}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield pg_admin_url.rsplit("/", 1)[0] + "/" + name
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def stoppable_pg(throwaway_pg: _Lazy) -> Iterator[PgServer]:
    """A server of the tests' own: the session's, unless the tests were pointed at another (which others
    may share, so it is never stopped): then one more throwaway server, for the tests that stop it."""
    if not os.environ.get("OUTREACH_TEST_POSTGRES_URL"):
        yield throwaway_pg.get()
        return
    server = start_postgres()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def own_pg(stoppable_pg: PgServer, request: pytest.FixtureRequest) -> Iterator[PgServer]:
    """A throwaway server the test may stop and start, running, with a fresh database ``own_pg.test_url``;
    running again after the test."""
    server = stoppable_pg
    server.ensure_running()
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50].lower()
    server.test_url = server.database(name)
    yield server
    server.ensure_running()
    server.drop(name)
    server.test_url = ""
