"""Domain names: reserved ones (RFC 2606, RFC 6761), organizational domains, DMARC alignment."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from publicsuffixlist import PublicSuffixList

RESERVED_SUFFIXES = ("example", "test", "invalid", "localhost", "local")
RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
# addresses a receiver never sees as the sender: this machine, a LAN, carrier NAT
INTERNAL_NETS = tuple(ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16",
    "0.0.0.0/8", "::1/128", "fc00::/7", "fe80::/10",
))  # fmt: skip


def reserved(domain: str) -> bool:
    """True for names that never exist in public DNS: example.com, *.example, *.test, localhost ..."""
    d = domain.lower().rstrip(".")
    return (d.rsplit(".", 1)[-1] in RESERVED_SUFFIXES
            or any(d == r or d.endswith("." + r) for r in RESERVED_DOMAINS))  # fmt: skip


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList()  # the list shipped with the package: no network


def organizational_domain(domain: str) -> str:
    """``mail.contoh.co.id`` -> ``contoh.co.id`` (the public suffix list), as DMARC defines it."""
    d = domain.lower().rstrip(".")
    return _psl().privatesuffix(d) or d


def aligned(a: str, b: str, mode: str) -> bool:
    """DMARC identifier alignment: strict (``s``) wants the same name, relaxed the same organization."""
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    return a == b if mode == "s" else organizational_domain(a) == organizational_domain(b)


def internal(address: str) -> bool:
    """An address the outside world never sees a connection from (loopback, private, link-local)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in INTERNAL_NETS if net.version == ip.version)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
