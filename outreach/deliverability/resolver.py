"""The DNS questions the checks ask, through dnspython, of the system's resolver or ``--nameserver``.

An empty answer and a name that does not exist are answers (the checks say what
is missing); a server that does not answer at all is not, and the first time-out
marks the whole resolver unavailable, so an offline machine waits once, not once
per question.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

import dns.exception
import dns.name
import dns.rcode
import dns.resolver

from outreach.errors import InputError


class DnsUnavailable(Exception):
    """No DNS server answered (time-out, nothing configured): nothing can be concluded."""


class DnsFailure(Exception):
    """The server answered with an error for this name (SERVFAIL, REFUSED): that name's DNS is broken."""


@dataclass(frozen=True)
class Answer:
    records: tuple[str, ...]
    nxdomain: bool = False  # the name does not exist at all


def parse_nameserver(value: str) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT``, ``[v6]:PORT`` or a bare IPv6 address; HOST may be a name."""
    value = value.strip()
    host, port = value, 53
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:], value)
    elif value.count(":") == 1:
        host, raw = value.split(":")
        port = _port(raw, value)
    if not host:
        raise InputError(f"--nameserver {value!r}: expected HOST[:PORT]")
    try:
        address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0][4][0]
    except (OSError, UnicodeError) as exc:
        raise InputError(f"--nameserver {value!r}: cannot resolve {host} ({exc})") from None
    return str(address), port


def _port(raw: str, value: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise InputError(f"--nameserver {value!r}: the port must be a number from 1 to 65535")
    return int(raw)


@dataclass
class Dns:
    """One resolver for one doctor run; remembers when the DNS turned out to be unreachable."""

    resolver: dns.resolver.Resolver
    server: str
    down: str | None = None
    asked: int = field(default=0)

    @classmethod
    def make(cls, nameserver: str | None, timeout: float) -> Dns:
        if nameserver:
            host, port = parse_nameserver(nameserver)
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = [host]
            resolver.port = port
            server = f"{host}:{port}" if port != 53 else host
        else:
            try:
                resolver = dns.resolver.Resolver()
            except dns.resolver.NoResolverConfiguration:
                resolver = dns.resolver.Resolver(configure=False)
            server = ", ".join(str(n) for n in resolver.nameservers) or "none configured"
        resolver.lifetime = timeout
        resolver.timeout = min(timeout, 1.0)  # per try; several tries fit in the lifetime
        resolver.cache = None
        return cls(resolver, f"the system's resolver ({server})" if not nameserver else server)

    def query(self, name: str, rdtype: str) -> Answer:
        if self.down:
            raise DnsUnavailable(self.down)
        if not self.resolver.nameservers:
            self.down = "no DNS server is configured on this machine"
            raise DnsUnavailable(self.down)
        self.asked += 1
        try:
            answer = self.resolver.resolve(dns.name.from_text(name), rdtype, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return Answer((), nxdomain=True)
        except dns.resolver.NoNameservers as exc:
            raise DnsFailure(f"the DNS server could not answer for {name} ({_rcode(exc)})") from None
        except dns.exception.Timeout:
            self.down = f"no answer from {self.server} within {self.resolver.lifetime:g} s"
            raise DnsUnavailable(self.down) from None
        except (dns.exception.DNSException, OSError) as exc:
            raise DnsFailure(f"DNS error for {name}: {exc}") from None
        return Answer(tuple(_text(r, rdtype) for r in answer))

    def txt(self, name: str) -> Answer:
        return self.query(name, "TXT")

    def addresses(self, name: str) -> list[str]:
        return [*self.query(name, "A").records, *self.query(name, "AAAA").records]


def _text(rdata: object, rdtype: str) -> str:
    if rdtype == "TXT":
        strings = getattr(rdata, "strings", ())
        return b"".join(strings).decode("utf-8", "replace")
    if rdtype == "MX":
        return f"{getattr(rdata, 'preference', 0)} {str(getattr(rdata, 'exchange', '')).rstrip('.')}"
    return str(rdata).rstrip(".")


def _rcode(exc: dns.resolver.NoNameservers) -> str:
    errors = exc.kwargs.get("errors") or []
    for error in errors:
        answer = error[-1] if isinstance(error, tuple) else None
        if answer is not None and hasattr(answer, "rcode"):
            return str(dns.rcode.to_text(answer.rcode()))
    return "SERVFAIL"
