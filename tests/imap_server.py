"""A private, real IMAP server for the tests: Debian's dovecot, run in the foreground.

Each instance has its own folder (config, self-signed certificate, logs,
sockets, mail), listens on 127.0.0.1 only, on free ports (IMAPS and IMAP with
STARTTLS), so it never touches a system dovecot. Any user name logs in with
``PASSWORD`` (a static passdb) and gets its own Maildir, so tests share one
server without seeing each other's mail.

Dovecot refuses to store mail as root, so when the tests run as root the mail
belongs to ``nobody``; run as anyone else, everything runs as that user.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import free_port, wait_for

PASSWORD = "secret-imap-pw"
DOVECOT_PATHS = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")


def dovecot_binary() -> str:
    """The dovecot binary; skip without it, except under CI=true where its absence is a failure."""
    found = shutil.which("dovecot") or next((p for p in DOVECOT_PATHS if Path(p).exists()), None)
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("dovecot is not installed (apt-get install dovecot-imapd); CI must run the IMAP tests")
    pytest.skip("dovecot is not installed (apt-get install dovecot-imapd) — IMAP tests skipped")


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost and its key (EC: quick to generate)."""
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _identity() -> tuple[str, str, str]:
    """(mail user, mail group, extra settings): who owns the mail and runs the helpers."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        return "nobody", grp.getgrgid(nobody.pw_gid).gr_name, ""
    me = pwd.getpwuid(os.geteuid())
    group = grp.getgrgid(me.pw_gid).gr_name
    extra = (
        f"default_internal_user = {me.pw_name}\ndefault_internal_group = {group}\n"
        f"default_login_user = {me.pw_name}\n"
    )
    return me.pw_name, group, extra


CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = outreach-test-{port}
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/server.crt
ssl_key = <{root}/server.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
{extra}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={root}/mail/%u
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {plain_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {port}
    ssl = yes
  }}
}}
"""


@dataclass
class Dovecot:
    """A running server: its ports, the CA file clients must trust, and helpers to fill mailboxes."""

    root: Path
    port: int  # IMAPS
    plain_port: int  # IMAP, STARTTLS offered
    ca_file: Path
    process: subprocess.Popen[bytes]
    _users: int = 0

    def new_user(self) -> str:
        self._users += 1
        return f"user{self._users}"

    def connect(self, user: str) -> imaplib.IMAP4_SSL:
        client = imaplib.IMAP4_SSL("127.0.0.1", self.port, timeout=30,
                                   ssl_context=ssl.create_default_context(cafile=str(self.ca_file)))  # fmt: skip
        client.login(user, PASSWORD)
        return client

    def append(self, user: str, *messages: bytes, folder: str = "INBOX") -> None:
        client = self.connect(user)
        try:
            for raw in messages:
                typ, data = client.append(folder, None, None, raw)
                assert typ == "OK", data
        finally:
            client.logout()

    def messages(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """Every message of a folder (none if the folder does not exist), in UID order."""
        client = self.connect(user)
        try:
            typ, _ = client.select(f'"{folder}"', readonly=True)
            if typ != "OK":
                return []
            _, data = client.uid("SEARCH", None, "ALL")
            out = []
            for uid in data[0].split():
                _, fetched = client.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
                out.extend(bytes(item[1]) for item in fetched if isinstance(item, tuple))
            return out
        finally:
            client.logout()

    def flags(self, user: str, folder: str = "INBOX") -> list[str]:
        client = self.connect(user)
        try:
            client.select(f'"{folder}"', readonly=True)
            _, data = client.fetch("1:*", "(FLAGS)")
            return [d.decode() for d in data if isinstance(d, bytes)]
        finally:
            client.logout()

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Kill the server's own process group at once (a graceful dovecot shutdown takes seconds)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


class PortTaken(RuntimeError):
    """Something took a port between our pick and dovecot's bind (parallel test runs): pick others."""


def start_dovecot() -> Dovecot:
    """dovecot -F on two free ports; on two others when something took one before dovecot could bind it."""
    binary = dovecot_binary()
    for _attempt in range(4):
        with contextlib.suppress(PortTaken):
            return _start_dovecot(binary)
    return _start_dovecot(binary)


def _start_dovecot(binary: str) -> Dovecot:
    """Write a config in a fresh short folder (unix socket paths are limited) and start dovecot -F."""
    root = Path(tempfile.mkdtemp(prefix="dovecot-"))
    root.chmod(0o711)  # the mail user must reach its folder below
    user, group, extra = _identity()
    (root / "mail").mkdir()
    shutil.chown(root / "mail", user, group)
    self_signed(root, "server")
    ca_file = root / "server.crt"
    port, plain_port = free_port(), free_port()
    config = root / "dovecot.conf"
    config.write_text(CONFIG.format(root=root, port=port, plain_port=plain_port, user=user, group=group,
                                    extra=extra, password=PASSWORD))  # fmt: skip
    with (root / "stdout.log").open("wb") as out:
        process = subprocess.Popen([binary, "-F", "-c", str(config)], stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # its own group: stop() kills it and its children
    server = Dovecot(root, port, plain_port, ca_file, process)
    _wait_ready(server)
    return server


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _wait_ready(server: Dovecot) -> None:
    def ready() -> bool:
        if server.process.poll() is not None:
            out = (server.root / "stdout.log").read_text(errors="replace")
            log = server.log()
            shutil.rmtree(server.root, ignore_errors=True)
            kind = PortTaken if "Address already in use" in out + log else RuntimeError
            raise kind(f"dovecot exited with {server.process.returncode}:\n{out}\n{log}")
        return _listening(server.port) and _listening(server.plain_port)

    try:
        wait_for(ready, what="dovecot listening")
    except AssertionError:
        log = server.log()
        server.stop()
        raise RuntimeError(f"dovecot did not start listening:\n{log}") from None

def configure_imap(root: Path, server: Dovecot, user: str, **settings: object) -> None:
    """Point a workspace's ``imap:`` section at ``server`` as ``user`` (TLS, trusting its CA)."""
    values: dict[str, object] = {"host": "127.0.0.1", "port": server.port, "security": "tls", "username": user,
                                 "ca_file": str(server.ca_file)}  # fmt: skip
    values.update(settings)
    lines = "".join(f"  {k}: {v}\n" for k, v in values.items() if v is not None)
    with (root / "outreach.yaml").open("a", encoding="utf-8") as fh:
        fh.write(f"imap:\n{lines}")
