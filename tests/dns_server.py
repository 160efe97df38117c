"""A real authoritative DNS server for the tests: Knot DNS (``knotd``) on 127.0.0.1, zones written here.

Each zone is a dict of relative owner name -> list of records in zone-file syntax;
SOA and NS are added. The server runs unprivileged-port, foreground, and is stopped
by its pid; readiness is a real query answered, never a sleep.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dns.resolver
import pytest
from helpers import free_port

KNOTD = shutil.which("knotd") or ("/usr/sbin/knotd" if os.path.exists("/usr/sbin/knotd") else None)


def need_knot() -> str:
    if KNOTD is None:
        if os.environ.get("CI") == "true":
            pytest.fail("knotd is missing: .ci/run installs Debian's knot package")
        pytest.skip("knotd (Debian package knot) is not installed")
    return KNOTD


def zone_text(origin: str, records: dict[str, list[str]]) -> str:
    lines = [f"$ORIGIN {origin}.", "$TTL 60",
             f"@ SOA ns.{origin}. hostmaster.{origin}. 1 60 60 60 60", f"@ NS ns.{origin}."]  # fmt: skip
    for owner, values in records.items():
        lines += [f"{owner} {value}" for value in values]
    return "\n".join(lines) + "\n"


def txt(value: str) -> str:
    """A TXT record in zone syntax, split into 255-byte strings."""
    return "TXT " + " ".join(f'"{value[i:i + 255]}"' for i in range(0, len(value), 255))


class PortTaken(RuntimeError):
    """Something took the port between our pick and knotd's bind (parallel test runs): pick another."""


@contextmanager
def knot(folder: Path, zones: dict[str, dict[str, list[str]]]) -> Iterator[str]:
    """Serve ``zones`` on 127.0.0.1; yields ``127.0.0.1:PORT`` (another free port when one was taken)."""
    binary = need_knot()
    folder.mkdir(parents=True, exist_ok=True)
    for origin, records in zones.items():
        (folder / f"{origin}.zone").write_text(zone_text(origin, records))
    for attempt in range(5):
        port = free_port()
        (folder / "knot.conf").write_text(_config(folder, port, zones))
        log = (folder / "knot.log").open("w")
        proc = subprocess.Popen([binary, "-c", str(folder / "knot.conf")], stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                _wait(port, next(iter(zones)), proc, folder)
            except PortTaken:
                if attempt == 4:
                    raise
                continue
            yield f"127.0.0.1:{port}"
            return
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def _config(folder: Path, port: int, zones: dict[str, dict[str, list[str]]]) -> str:
    config = [
        "server:", f'    rundir: "{folder}"', f"    listen: 127.0.0.1@{port}",
        "    background-workers: 1", "    udp-workers: 1", "    tcp-workers: 1",
        "database:", f'    storage: "{folder}"',
        "log:", "  - target: stderr", "    any: warning",
        "template:", "  - id: default", f'    storage: "{folder}"', '    file: "%s.zone"',
        "    zonefile-sync: -1", "    zonefile-load: whole", "    journal-content: none",
        "zone:",
    ]  # fmt: skip
    config += [f"  - domain: {origin}." for origin in zones]
    return "\n".join(config) + "\n"


def _wait(port: int, origin: str, proc: subprocess.Popen[bytes], folder: Path) -> None:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.lifetime = ["127.0.0.1"], port, 0.5
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = (folder / "knot.log").read_text()
            raise (PortTaken if "address already in use" in log else RuntimeError)(f"knotd exited: {log}")
        try:
            resolver.resolve(origin, "SOA")
            return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.05)
    raise RuntimeError(f"knotd did not answer in 30 s: {(folder / 'knot.log').read_text()}")
