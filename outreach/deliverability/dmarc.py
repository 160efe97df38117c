"""DMARC (RFC 7489): the policy record, and whether our mail can pass it (identifier alignment).

DMARC passes when DKIM or SPF passes *for a domain aligned with the From
domain*: the DKIM ``d=`` and the envelope (Return-Path, VERP) domain are
compared with the From domain, strictly (the same name) or relaxed (the same
organizational domain, by the public suffix list), as the record's ``adkim``
and ``aspf`` say. The record is looked up at ``_dmarc.FROM-DOMAIN``, then at
the organizational domain (RFC 7489 6.6.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from outreach.deliverability.findings import Finding, Target, txt_record
from outreach.deliverability.names import aligned, organizational_domain
from outreach.deliverability.resolver import Dns

POLICIES = ("none", "quarantine", "reject")


@dataclass(frozen=True)
class DmarcRecord:
    name: str  # where it was found
    tags: dict[str, str]

    @property
    def policy(self) -> str:
        return self.tags.get("p", "")

    def mode(self, tag: str) -> str:
        return "s" if self.tags.get(tag, "r").lower() == "s" else "r"


def find_record(dns: Dns, domain: str) -> tuple[DmarcRecord | None, int]:
    """The DMARC record that applies to ``domain``, and how many ``v=DMARC1`` records were at its name."""
    names = [f"_dmarc.{domain}"]
    org = organizational_domain(domain)
    if org != domain:
        names.append(f"_dmarc.{org}")
    for name in names:
        records = [r for r in dns.txt(name).records if r.replace(" ", "").upper().startswith("V=DMARC1")]
        if records:
            return DmarcRecord(name, parse_tags(records[0])), len(records)
    return None, 0


def parse_tags(value: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in value.split(";"):
        name, _, tag_value = part.partition("=")
        if name.strip():
            tags[name.strip().lower()] = tag_value.strip()
    return tags


def suggested(domain: str, report_to: str) -> str:
    return txt_record(f"_dmarc.{domain}", f"v=DMARC1; p=none; rua=mailto:{report_to}")


def check_dmarc(target: Target, dns: Dns) -> tuple[Finding, DmarcRecord | None]:
    domain = target.from_domain
    wanted = suggested(domain, f"dmarc-reports@{organizational_domain(domain)}")
    record, count = find_record(dns, domain)
    if record is None:
        return Finding("dmarc", "fail", f"no DMARC record for {domain}: Gmail and Yahoo require one from bulk "
                       "senders; p=none is enough to start and sends you reports", wanted), None  # fmt: skip
    if count > 1:
        return Finding("dmarc", "fail", f"{count} DMARC records at {record.name}: receivers then ignore them all; "
                       "keep one", wanted), record  # fmt: skip
    p = record.policy.lower()
    if p not in POLICIES:
        return Finding("dmarc", "fail", f"the DMARC record at {record.name} has no valid p= (found {p or 'none'!r}); "
                       "receivers ignore it", wanted), record  # fmt: skip
    inherited = "" if record.name == f"_dmarc.{domain}" else f" (inherited from {record.name})"
    if p == "none":
        return Finding("dmarc", "ok", f"DMARC p=none at {record.name}{inherited}: monitoring, enough for Gmail and "
                       "Yahoo; move to quarantine once the reports are clean"), record  # fmt: skip
    return Finding("dmarc", "ok", f"DMARC p={p} at {record.name}{inherited}"), record


def check_alignment(target: Target, dkim: Any, record: DmarcRecord | None) -> Finding:
    """Can our mail pass DMARC at all? DKIM ``d=`` and the envelope domain against From."""
    adkim = record.mode("adkim") if record else "r"
    aspf = record.mode("aspf") if record else "r"
    mode = {"r": "relaxed", "s": "strict"}
    f, e = target.from_domain, target.envelope_domain
    dkim_ok = dkim is not None and aligned(dkim.domain, f, adkim)
    spf_ok = aligned(e, f, aspf)
    dkim_text = (f"DKIM d={dkim.domain} is {'' if dkim_ok else 'not '}aligned with From {f} ({mode[adkim]})"
                 if dkim is not None else "no DKIM signature to align")  # fmt: skip
    spf_text = f"the envelope domain {e} is {'' if spf_ok else 'not '}aligned ({mode[aspf]})"
    if dkim_ok and spf_ok:
        return Finding("alignment", "ok", f"{dkim_text}; {spf_text}")
    if dkim_ok or spf_ok:
        return Finding("alignment", "warn", f"{dkim_text}; {spf_text}: DMARC passes on "
                       f"{'DKIM' if dkim_ok else 'SPF'} alone: a forwarded or re-signed message may fail")  # fmt: skip
    fix = (f"set dkim.domain to {organizational_domain(f) if adkim == 'r' else f}"
           + (f", or bounces.address to an address @{f}" if aspf == "r" or e != f else ""))
    return Finding("alignment", "fail", f"{dkim_text}; {spf_text}: DMARC fails for every message; {fix}")


def check_mx(target: Target, dns: Dns) -> Finding:
    """Bounces come back to the envelope (VERP) domain: it must accept mail."""
    domain = target.envelope_domain
    answer = dns.query(domain, "MX")
    exchanges = [r.split()[-1] for r in answer.records]
    if answer.nxdomain:
        return Finding("mx", "fail", f"{domain} (where bounces go) does not exist in DNS: every bounce is lost and "
                       "receivers refuse mail from a domain that cannot receive", _mx(domain))  # fmt: skip
    if exchanges and all(x in ("", ".") for x in exchanges):
        return Finding("mx", "fail", f"{domain} publishes a null MX (it accepts no mail), so bounces to the envelope "
                       "address are lost; use a bounce address whose domain receives mail")  # fmt: skip
    if not exchanges:
        if dns.addresses(domain):
            return Finding("mx", "warn", f"{domain} has no MX record; bounces fall back to its A record, which "
                           "rarely runs a mail server", _mx(domain))  # fmt: skip
        return Finding("mx", "fail", f"{domain} has no MX record: bounces to the envelope address have nowhere to go",
                       _mx(domain))  # fmt: skip
    return Finding("mx", "ok", f"bounces to {domain} go to {', '.join(sorted(exchanges))}")


def _mx(domain: str) -> str:
    return f"{domain}. MX 10 YOUR-MAIL-SERVER."
