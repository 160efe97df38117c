"""SPF (RFC 7208): does the sender domain's record authorise the relay's address?

Evaluated here, on dnspython, rather than with pyspf or checkdmarc: pyspf asks
DNS through a module-global lookup function (no resolver of ours, so no
``--nameserver``), and checkdmarc, which takes a resolver, validates a record
without evaluating an address against it and keeps answers in a process-wide
cache keyed by name only (stale across nameservers and in a long-running
worker). The evaluation follows ``check_host()`` of RFC 7208 section 4-5: the
mechanisms ``all include a mx ptr ip4 ip6 exists``, the ``redirect`` modifier,
macros (section 7), the limit of 10 DNS-querying terms and of 2 void lookups
(section 4.6.4), and a syntax error anywhere is a permerror.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from outreach.deliverability.findings import Finding, Target, txt_record
from outreach.deliverability.names import internal, is_ip
from outreach.deliverability.resolver import Dns, DnsFailure, DnsUnavailable

MAX_LOOKUPS = 10
MAX_VOID = 2
MAX_MX_NAMES = 10
MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
_MODIFIER = re.compile(r"^([a-z][a-z0-9_.-]*)=(.*)$", re.I)
_MACRO = re.compile(r"%\{([slodiphcrtv])(\d*)(r?)([.+,/_=-]*)\}", re.I)


class PermError(Exception):
    pass


class TempError(Exception):
    pass


@dataclass
class SpfResult:
    result: str  # pass fail softfail neutral none permerror temperror
    record: str | None = None
    reason: str = ""
    lookups: int = 0
    matched: str | None = None  # the term that decided


@dataclass
class _Context:
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    sender: str
    helo: str
    dns: Dns
    lookups: int = 0
    void: int = 0
    stack: list[str] = field(default_factory=list)


def spf_records(dns: Dns, domain: str) -> list[str]:
    """The ``v=spf1`` TXT records of ``domain`` (RFC 7208 4.5)."""
    return [r for r in dns.txt(domain).records if re.match(r"^v=spf1(\s|$)", r, re.I)]


def check_host(dns: Dns, ip: str, sender: str, helo: str, domain: str | None = None) -> SpfResult:
    """The SPF result for a connection from ``ip`` sending as ``sender`` (the envelope address)."""
    domain = domain or sender.rsplit("@", 1)[-1]
    ctx = _Context(ipaddress.ip_address(ip), sender, helo, dns)
    try:
        result, record, matched = _check(ctx, domain)
    except PermError as exc:
        return SpfResult("permerror", _first_record(ctx), str(exc), ctx.lookups)
    except TempError as exc:
        return SpfResult("temperror", _first_record(ctx), str(exc), ctx.lookups)
    return SpfResult(result, record, "", ctx.lookups, matched)


def _first_record(ctx: _Context) -> str | None:
    return ctx.stack[0] if ctx.stack else None


def _check(ctx: _Context, domain: str) -> tuple[str, str | None, str | None]:
    records = _records(ctx, domain)
    if not records:
        return "none", None, None
    if len(records) > 1:
        raise PermError(f"{domain} has {len(records)} SPF records; it must have exactly one")
    record = records[0]
    ctx.stack.append(record)
    terms = _parse(record)
    redirect = next((v for k, v in terms if k == "redirect"), None)
    for key, value in terms:
        if key in ("redirect", "exp") or "=" in key:
            continue
        qualifier, name = (key[0], key[1:]) if key[0] in "+-~?" else ("+", key)
        if _matches(ctx, domain, name, value):
            return {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}[qualifier], record, key + value
    if redirect is not None and not any(_mech(k) == "all" for k, _ in terms):
        _count(ctx)
        target = _expand(ctx, redirect, domain)
        result, _, matched = _check(ctx, target)
        if result == "none":
            raise PermError(f"redirect={target} has no SPF record")
        return result, record, matched
    return "neutral", record, None


def _records(ctx: _Context, domain: str) -> list[str]:
    try:
        return spf_records(ctx.dns, domain)
    except (DnsFailure, DnsUnavailable) as exc:
        raise TempError(str(exc)) from None


def _mech(key: str) -> str:
    return key[1:] if key[:1] in "+-~?" else key


def _parse(record: str) -> list[tuple[str, str]]:
    """(key, rest) per term; a syntax error anywhere is a permerror before anything is evaluated."""
    terms: list[tuple[str, str]] = []
    seen: set[str] = set()
    for term in record.split()[1:]:
        modifier = _MODIFIER.match(term)
        if modifier:
            name = modifier.group(1).lower()
            if name in ("redirect", "exp"):
                if name in seen:
                    raise PermError(f"{name}= appears twice")
                seen.add(name)
                terms.append((name, modifier.group(2)))
            else:
                terms.append((name + "=", modifier.group(2)))  # unknown modifiers are ignored
            continue
        match = re.match(r"^([+?~-]?)([a-z0-9]+)(.*)$", term, re.I)
        if not match or match.group(2).lower() not in MECHANISMS:
            raise PermError(f"unknown term {term!r}")
        name, rest = match.group(2).lower(), match.group(3)
        _validate(name, rest, term)
        terms.append((match.group(1) + name, rest))
    return terms


def _validate(name: str, rest: str, term: str) -> None:
    if name == "all" and rest:
        raise PermError(f"bad term {term!r}")
    if name in ("include", "exists") and not rest.startswith(":"):
        raise PermError(f"{name} needs a domain: {term!r}")
    if name in ("ip4", "ip6"):
        try:
            network = ipaddress.ip_network(rest[1:], strict=False) if rest.startswith(":") else None
        except ValueError:
            network = None
        if network is None or network.version != int(name[-1]):
            raise PermError(f"bad address in {term!r}")
    if name in ("a", "mx") and rest and not re.match(r"^(:[^/]+)?(/\d{1,2})?(//\d{1,3})?$", rest):
        raise PermError(f"bad term {term!r}")


def _count(ctx: _Context) -> None:
    ctx.lookups += 1
    if ctx.lookups > MAX_LOOKUPS:
        raise PermError(f"more than {MAX_LOOKUPS} DNS lookups (include, a, mx, ptr, exists, redirect)")


def _lookup(ctx: _Context, name: str, rdtype: str) -> list[str]:
    try:
        answer = ctx.dns.query(name, rdtype)
    except (DnsFailure, DnsUnavailable) as exc:
        raise TempError(str(exc)) from None
    if not answer.records:
        ctx.void += 1
        if ctx.void > MAX_VOID:
            raise PermError(f"more than {MAX_VOID} lookups found nothing (void lookups)")
    return list(answer.records)


def _matches(ctx: _Context, domain: str, name: str, rest: str) -> bool:
    if name == "all":
        return True
    if name in ("ip4", "ip6"):
        return ctx.ip in ipaddress.ip_network(rest[1:], strict=False)
    _count(ctx)
    if name == "include":
        target = _expand(ctx, rest[1:], domain)
        result, _, _ = _check(ctx, target)
        if result == "none":
            raise PermError(f"include:{target} has no SPF record")
        return result == "pass"
    if name == "exists":
        return bool(_lookup(ctx, _expand(ctx, rest[1:], domain), "A"))
    if name == "ptr":
        return False  # deprecated (RFC 7208 5.5) and not worth its lookups; counted, never matched
    target, cidr4, cidr6 = _target(ctx, domain, rest)
    if name == "a":
        return _in_any(ctx, _addresses(ctx, target), cidr4, cidr6)
    exchanges = [r.split()[-1] for r in _lookup(ctx, target, "MX")]
    if len(exchanges) > MAX_MX_NAMES:
        raise PermError(f"mx:{target} has more than {MAX_MX_NAMES} MX names")
    return any(_in_any(ctx, _addresses(ctx, mx), cidr4, cidr6) for mx in exchanges if mx)


def _target(ctx: _Context, domain: str, rest: str) -> tuple[str, int, int]:
    match = re.match(r"^(?::([^/]+))?(?:/(\d{1,2}))?(?://(\d{1,3}))?$", rest)
    assert match is not None  # _validate checked it
    spec, c4, c6 = match.groups()
    return (_expand(ctx, spec, domain) if spec else domain), int(c4 or 32), int(c6 or 128)


def _addresses(ctx: _Context, name: str) -> list[str]:
    return _lookup(ctx, name, "A" if ctx.ip.version == 4 else "AAAA")


def _in_any(ctx: _Context, addresses: list[str], cidr4: int, cidr6: int) -> bool:
    prefix = cidr4 if ctx.ip.version == 4 else cidr6
    if prefix > (32 if ctx.ip.version == 4 else 128):
        raise PermError(f"bad prefix length /{prefix}")
    return any(ctx.ip in ipaddress.ip_network(f"{a}/{prefix}", strict=False) for a in addresses)


def _expand(ctx: _Context, spec: str, domain: str) -> str:
    """Macro expansion (RFC 7208 section 7) of a domain-spec."""
    local, _, sender_domain = ctx.sender.rpartition("@")
    values = {
        "s": ctx.sender, "l": local or "postmaster", "o": sender_domain, "d": domain, "h": ctx.helo,
        "i": _dotted(ctx.ip), "v": "in-addr" if ctx.ip.version == 4 else "ip6", "p": "unknown",
    }  # fmt: skip

    def one(m: re.Match[str]) -> str:
        letter, digits, reverse, delimiters = m.group(1).lower(), m.group(2), m.group(3), m.group(4) or "."
        if letter not in values:
            raise PermError(f"macro %{{{m.group(1)}}} is not allowed here")
        parts = re.split("[" + re.escape(delimiters) + "]", values[letter])
        if reverse:
            parts.reverse()
        if digits:
            if int(digits) == 0:
                raise PermError("a macro keeps at least one label")
            parts = parts[-int(digits) :]
        return ".".join(parts)

    out, i = [], 0
    while i < len(spec):
        if spec[i] != "%":
            out.append(spec[i])
            i += 1
            continue
        nxt = spec[i + 1 : i + 2]
        if nxt in ("%", "_", "-"):
            out.append({"%": "%", "_": " ", "-": "%20"}[nxt])
            i += 2
            continue
        m = _MACRO.match(spec, i)
        if not m:
            raise PermError(f"bad macro in {spec!r}")
        out.append(one(m))
        i = m.end()
    expanded = "".join(out).rstrip(".")
    while len(expanded) > 253 and "." in expanded:
        expanded = expanded.split(".", 1)[1]
    return expanded


def _dotted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if ip.version == 4:
        return str(ip)
    return ".".join(ip.exploded.replace(":", ""))



# -- the doctor's finding -------------------------------------------------------------------


def check_spf(target: Target, dns: Dns) -> Finding:
    """Evaluate the envelope domain's SPF for each of the relay's addresses (what receivers do)."""
    domain = target.envelope_domain
    ips = [target.relay_host.strip("[]")] if is_ip(target.relay_host) else dns.addresses(target.relay_host)
    if not ips:
        records = spf_records(dns, domain)
        return Finding("spf", "warn" if records else "fail",
                       f"the relay {target.relay_host} has no address in DNS, so SPF cannot be evaluated"
                       + ("" if records else f"; and {domain} has no SPF record"),
                       None if records else txt_record(domain, _suggest(None, [], target.relay_host)))  # fmt: skip
    results = [(ip, check_host(dns, ip, target.envelope, target.helo, domain)) for ip in ips]
    if dns.down:  # not an answer about the domain: nothing can be concluded
        raise DnsUnavailable(dns.down)
    worst = next((r for _, r in results if r.result != "pass"), results[0][1])
    record = worst.record
    fresh = txt_record(domain, _suggest(None, ips, target.relay_host))
    if worst.result == "none":
        return Finding("spf", "fail", f"{domain} has no SPF record: receivers cannot tell that the relay "
                       f"({', '.join(ips)}) may send for it", fresh)
    if worst.result in ("permerror", "temperror"):
        what = "is broken" if worst.result == "permerror" else "could not be evaluated"
        return Finding("spf", "fail", f"{domain}'s SPF record {what} ({worst.result}: {worst.reason}); "
                       "receivers treat that as no SPF at all", fresh)
    if worst.result == "pass":
        lookups = max(r.lookups for _, r in results)
        return Finding("spf", "ok", f"{domain} authorises the relay {', '.join(ips)}: \"{record}\" gives pass "
                       f"({lookups} of {MAX_LOOKUPS} DNS lookups)")  # fmt: skip
    failing = [ip for ip, r in results if r.result != "pass"]
    if all(internal(ip) for ip in failing):
        return Finding("spf", "warn", f"the relay is {', '.join(failing)}, an address receivers never see: make sure "
                       f"\"{record}\" covers the public address your relay sends from (doctor cannot see it)")
    return Finding("spf", "fail", f"{domain}'s SPF does not authorise the relay {', '.join(failing)} (result "
                   f"{worst.result}): receivers will treat the mail as forged",
                   txt_record(domain, _suggest(record, failing, target.relay_host)))  # fmt: skip


def _suggest(record: str | None, ips: list[str], host: str) -> str:
    """The record to publish: the current one with the relay's addresses added, or a new one."""
    public = [ip for ip in ips if not internal(ip)]
    mechanisms = [f"ip{ipaddress.ip_address(ip).version}:{ip}" for ip in public]
    if not mechanisms:
        mechanisms = [f"a:{host}"] if not is_ip(host) and host != "localhost" else ["ip4:YOUR.RELAY.PUBLIC.IP"]
    if record:
        head, _, rest = record.partition(" ")
        return " ".join([head, *mechanisms, rest]).strip()
    return " ".join(["v=spf1", *mechanisms, "-all"])
