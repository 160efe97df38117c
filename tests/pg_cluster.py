"""A throwaway PostgreSQL cluster of the tests' own, which a test may stop and start at will.

The system cluster on 127.0.0.1:5432 is shared (other test runs use it at the
same time), so a test that needs the database to go away — an outage — runs
its own: ``initdb`` into a temporary folder, ``pg_ctl`` on a free port,
listening on 127.0.0.1 only, trust authentication for the role ``outreach``,
fsync off (it is thrown away). Each test takes a database of its own with
``database()``; a test that stopped the cluster has it started again before
the next one (``ensure_running``).

PostgreSQL refuses to run as root, so when the tests run as root (CI
containers) the cluster belongs to the ``postgres`` user, else to ``nobody``;
its folder lives outside pytest's tmp_path, which is private to root.
Without the binaries the tests skip, except under CI=true, where that is a
failure.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import free_port, wait_for

ROLE = "outreach"


def pg_bindir() -> Path | None:
    """The newest installed server's binaries (Debian: /usr/lib/postgresql/VERSION/bin), else PATH's."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _owner() -> str | None:
    """Whom the cluster runs as: None for the current user, unless that is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    pytest.skip("running as root with neither a postgres nor a nobody user to run PostgreSQL as")


class PgCluster:
    """One cluster: ``start()``, ``stop(mode)``, and URLs of its databases."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.user = _owner()
        self.root = Path(tempfile.mkdtemp(prefix="outreach-pg-"))
        self.data, self.log = self.root / "data", self.root / "server.log"
        self.port = free_port()
        self.test_url = ""  # own_pg's database for the test under way
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", ROLE, "--auth=trust", "-E", "UTF8", "--no-sync",
                  "--locale=C.UTF-8")  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                       "fsync = off\nfull_page_writes = off\nsynchronous_commit = off\nmax_connections = 60\n")

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bindir / tool), *args], user=self.user, capture_output=True, text=True,
                              check=check, timeout=120, cwd=self.root)  # fmt: skip

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m MODE``: fast ends every session (a restart by an operator), immediate is a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def ensure_running(self) -> None:
        if not self.running():
            self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{ROLE}@127.0.0.1:{self.port}/{database}"

    def database(self, name: str) -> str:
        """A new, empty database; its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={ROLE} dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def answers(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(f"host=127.0.0.1 port={self.port} user={ROLE} dbname=postgres", connect_timeout=5):
                return True
        except psycopg.OperationalError:
            return False

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            if self.running():
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> PgCluster:
    bindir = pg_bindir()
    if bindir is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL's server binaries are not installed (apt-get install postgresql); CI needs them")
        pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    cluster = PgCluster(bindir)
    try:
        cluster.start()
        wait_for(cluster.answers, what="the throwaway PostgreSQL answering")
    except BaseException:
        cluster.destroy()
        raise
    return cluster


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A throwaway cluster for the session; running again at the start of every test that uses it."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def own_pg(pg_cluster: PgCluster, request: pytest.FixtureRequest) -> Iterator[PgCluster]:
    """The throwaway cluster, running, with a fresh database ``own_pg.test_url`` for this test."""
    pg_cluster.ensure_running()
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50].lower()
    pg_cluster.test_url = pg_cluster.database(name)
    yield pg_cluster
    pg_cluster.ensure_running()
