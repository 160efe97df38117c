"""OpenDKIM as an independent verifier: ``opendkim-testmsg`` with the public keys served by a private DNS.

``opendkim-testmsg`` (Debian's ``opendkim-tools``) has no option to read a key
from a file: its ``-k`` is the signing key and ``-K`` keeps temporary files;
verification always asks the resolver for ``SELECTOR._domainkey.DOMAIN`` TXT.
So the check runs in its own network and mount namespaces (``unshare``, as
root): a loopback of its own, a tiny DNS server on 127.0.0.1:53 answering the
test's TXT records (dnspython builds the answers), and ``/etc/resolv.conf``
bind-mounted to point there, visible to that process tree only. Nothing about
the machine's network or resolver changes, and nothing leaves it.

Run as a script, this file is the part inside the namespaces.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

TESTMSG = shutil.which("opendkim-testmsg") or "/usr/sbin/opendkim-testmsg"


@functools.cache
def available() -> str | None:
    """Why the check cannot run here, or None when it can (asked once per test session)."""
    if not Path(TESTMSG).exists():
        return "opendkim-testmsg is not installed (apt-get install opendkim-tools)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = subprocess.run(["unshare", "--net", "--mount", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create network namespaces here: {probe.stderr.strip()}"
    return None


def require() -> None:
    """Skip with the reason where the check cannot run; under CI=true fail instead, as a missing tool is a bug."""
    reason = available()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def verify(messages: list[bytes], records: dict[str, str]) -> list[str]:
    """opendkim-testmsg's verdict on each message: ``""`` when it verifies, else what it printed.

    ``records`` maps ``selector._domainkey.domain`` to its TXT record.
    """
    with tempfile.TemporaryDirectory(prefix="opendkim-") as tmp:
        folder = Path(tmp)
        (folder / "records.json").write_text(json.dumps(records))
        for i, m in enumerate(messages):
            (folder / f"{i}.eml").write_bytes(m)
        out = subprocess.run(["unshare", "--net", "--mount", sys.executable, __file__, tmp, str(len(messages))],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)


# -- inside the namespaces --------------------------------------------------------


def _loopback_up() -> None:
    import fcntl
    import socket
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sh", fcntl.ioctl(s, siocgifflags, struct.pack("16sh", b"lo", 0))[:18])[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


def _serve_dns(records: dict[str, str]) -> None:
    import socket
    import threading

    import dns.flags
    import dns.message
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype
    import dns.rrset

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 53))
    known = {name.lower().rstrip("."): value for name, value in records.items()}

    def answer(wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        value = known.get(question.name.to_text().lower().rstrip("."))
        if value is None or question.rdtype != dns.rdatatype.TXT:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            chunks = " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))
            response.answer.append(dns.rrset.from_text(question.name, 60, dns.rdataclass.IN, dns.rdatatype.TXT,
                                                       chunks))  # fmt: skip
        return response.to_wire()

    def loop() -> None:
        while True:
            wire, peer = sock.recvfrom(4096)
            sock.sendto(answer(wire), peer)

    threading.Thread(target=loop, daemon=True).start()


def _inside(folder: Path, count: int) -> None:
    _loopback_up()
    (folder / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:2 attempts:2\n")
    subprocess.run(["mount", "--bind", str(folder / "resolv.conf"), "/etc/resolv.conf"], check=True)
    _serve_dns(json.loads((folder / "records.json").read_text()))
    verdicts = []
    for i in range(count):
        with (folder / f"{i}.eml").open("rb") as fh:
            run = subprocess.run([TESTMSG, "-t", str(folder)], stdin=fh, capture_output=True, text=True)
        verdicts.append("" if run.returncode == 0 and not run.stdout.strip() and not run.stderr.strip()
                        else f"exit {run.returncode}: {(run.stdout + run.stderr).strip()}")  # fmt: skip
    print(json.dumps(verdicts))


if __name__ == "__main__":
    _inside(Path(sys.argv[1]), int(sys.argv[2]))
