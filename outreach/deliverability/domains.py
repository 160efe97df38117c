"""Which contacts' domains take no mail at all: ``contacts hygiene --dns``'s ``dead_domain`` group.

Asked through ``doctor``'s resolver (``resolver.Dns``: the system's, or
``--nameserver``), once per domain, a few domains at a time. A domain is dead
when it does not exist (NXDOMAIN), when it publishes a null MX (RFC 7505:
"no mail here"), or when it has no MX and no A/AAAA address (no host to deliver
to, RFC 5321 5.1). A server that fails to answer (time-out, SERVFAIL, REFUSED)
proves nothing: those domains are counted as unchecked, never dead. Reserved
example names (example.com, *.test) are not asked about.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from outreach.deliverability.names import reserved
from outreach.deliverability.resolver import Dns, DnsFailure, DnsUnavailable

PARALLEL = 8


@dataclass
class DomainVerdicts:
    dead: dict[str, str] = field(default_factory=dict)  # domain -> why
    unchecked: dict[str, str] = field(default_factory=dict)  # domain -> what went wrong
    alive: int = 0
    server: str = ""

    def note(self) -> str:
        if not self.unchecked:
            return ""
        first = next(iter(self.unchecked.values()))
        return (f"{len(self.unchecked)} domain(s) could not be checked ({first}); they are not counted as dead: "
                "run it again later")  # fmt: skip


def dead_domains(domains: Iterable[str], nameserver: str | None, timeout: float) -> DomainVerdicts:
    """Ask the DNS about each domain (reserved ones skipped)."""
    dns = Dns.make(nameserver, timeout)
    verdicts = DomainVerdicts(server=dns.server)
    asked = sorted({d.lower().rstrip(".") for d in domains if d and not reserved(d)})
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        for domain, (state, why) in zip(asked, pool.map(lambda d: _verdict(dns, d), asked), strict=True):
            if state == "dead":
                verdicts.dead[domain] = why
            elif state == "unchecked":
                verdicts.unchecked[domain] = why
            else:
                verdicts.alive += 1
    return verdicts


def _verdict(dns: Dns, domain: str) -> tuple[str, str]:
    try:
        mx = dns.query(domain, "MX")
        if mx.nxdomain:
            return "dead", "the domain does not exist (NXDOMAIN)"
        hosts = [r.split(" ", 1)[-1] for r in mx.records]
        if hosts and all(h in ("", ".") for h in hosts):
            return "dead", "the domain says it takes no mail (null MX)"
        if hosts:
            return "alive", ""
        a, aaaa = dns.query(domain, "A"), dns.query(domain, "AAAA")
        if a.records or aaaa.records:
            return "alive", ""
        return "dead", "no mail server (MX) and no address (A/AAAA)"
    except (DnsFailure, DnsUnavailable) as exc:
        return "unchecked", str(exc)
