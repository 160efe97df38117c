"""``outreach doctor`` and the pre-flight of ``campaign send``: every check for one sender.

DNS checks need a domain that exists: for a reserved example domain (RFC 2606
and 6761: example.com, *.example, *.test, localhost ...) they are skipped, and
the pre-flight of ``campaign send`` does not run at all, so the demo, the
example workspace and tests send to a local sink with nothing configured. A
real domain with broken DNS, or whose DNS cannot be asked, fails: sending
then would burn the domain's reputation, and ``--force`` is the way round.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from outreach.deliverability.dkim_record import check_dkim
from outreach.deliverability.dmarc import check_alignment, check_dmarc, check_mx
from outreach.deliverability.findings import Checkup, Finding, Target
from outreach.deliverability.names import reserved
from outreach.deliverability.relay import check_relay
from outreach.deliverability.resolver import Dns, DnsFailure, DnsUnavailable
from outreach.deliverability.settings_checks import check_organization, check_unsubscribe
from outreach.deliverability.spf import check_spf
from outreach.errors import PreflightError
from outreach.settings.workspace import WorkspaceConfig

DNS_CHECKS = ("spf", "dkim", "dmarc", "alignment", "mx")


def target_of(ws: WorkspaceConfig, sender_key: str) -> Target:
    s = ws.settings
    sender = ws.sender(sender_key)
    return Target(sender_key=sender_key, from_address=sender.email, envelope=s.bounces.address or sender.email,
                  relay_host=s.smtp.host, relay_port=s.smtp.port,
                  helo=s.smtp.local_hostname or socket.getfqdn())  # fmt: skip


def default_sender(ws: WorkspaceConfig) -> str:
    return next(iter(ws.settings.senders))


def reserved_domains(target: Target) -> list[str]:
    return sorted({d for d in (target.from_domain, target.envelope_domain) if reserved(d)})


def run_doctor(ws: WorkspaceConfig, sender_key: str | None = None, nameserver: str | None = None) -> Checkup:
    """Every check, for one sender (default: the first in outreach.yaml)."""
    return asyncio.run(doctor_async(ws, sender_key, nameserver))


async def doctor_async(ws: WorkspaceConfig, sender_key: str | None = None,
                       nameserver: str | None = None) -> Checkup:  # fmt: skip
    target = target_of(ws, sender_key or default_sender(ws))
    d = ws.settings.deliverability
    dns = Dns.make(nameserver or d.nameserver, d.dns_timeout)
    relay = asyncio.create_task(check_relay(ws.settings.smtp))  # the SMTP talk overlaps the DNS questions
    findings = await asyncio.to_thread(_dns_findings, ws, target, dns)
    findings += await relay
    trial = reserved_domains(target)
    findings.append(await asyncio.to_thread(_guarded, "unsubscribe",
                                            lambda: check_unsubscribe(ws.settings, dns, trial=bool(trial))))
    findings.append(check_organization(ws.settings))
    return Checkup(target.sender_key, target.from_address, f"{target.relay_host}:{target.relay_port}",
                   dns.server, tuple(findings), _trial_notes(trial))  # fmt: skip


def _trial_notes(reserved: list[str]) -> tuple[str, ...]:
    """A reserved example domain (the example workspace's): say so once, and what to change for real mail."""
    if not reserved:
        return ()
    return (f"{', '.join(reserved)} is a reserved example domain (RFC 2606/6761), as in the example workspace: "
            "nothing can be published for it and no real mailbox accepts its mail, so the DNS checks are skipped "
            "and `campaign send` runs no pre-flight. For real mail, give each sender in outreach.yaml an "
            "address of your own domain.",)  # fmt: skip


def _dns_findings(ws: WorkspaceConfig, target: Target, dns: Dns) -> list[Finding]:
    skipped = reserved_domains(target)
    if skipped:
        why = f"skipped: {', '.join(skipped)} is a reserved domain (RFC 2606/6761), so nothing is published for it"
        return [Finding(check, "skip", why) for check in DNS_CHECKS]
    dkim = ws.settings.dkim
    findings = [_guarded("spf", lambda: check_spf(target, dns))]
    findings += _guarded_many("dkim", lambda: check_dkim(dkim, ws.root, dns))
    record = None
    try:
        dmarc, record = check_dmarc(target, dns)
    except (DnsUnavailable, DnsFailure) as exc:
        dmarc = _unknown("dmarc", exc)
    findings += [dmarc, check_alignment(target, dkim, record), _guarded("mx", lambda: check_mx(target, dns))]
    return findings


def _unknown(check: str, exc: Exception) -> Finding:
    return Finding(check, "fail", f"cannot be checked: {exc}")


def _guarded(check: str, run: Callable[[], Finding]) -> Finding:
    try:
        return run()
    except (DnsUnavailable, DnsFailure) as exc:
        return _unknown(check, exc)


def _guarded_many(check: str, run: Callable[[], list[Finding]]) -> list[Finding]:
    try:
        return run()
    except (DnsUnavailable, DnsFailure) as exc:
        return [_unknown(check, exc)]


def preflight(ws: WorkspaceConfig, sender_key: str, nameserver: str | None = None) -> tuple[Checkup | None, str]:
    """The gate before a campaign is sent: (the checkup, or None when it did not run; and why not).

    Raises PreflightError naming the failed checks.
    """
    if not ws.settings.deliverability.preflight:
        return None, "pre-flight off (deliverability.preflight: false)"
    target = target_of(ws, sender_key)
    skipped = reserved_domains(target)
    if skipped:
        return None, f"pre-flight skipped: {', '.join(skipped)} is a reserved example domain"
    checkup = run_doctor(ws, sender_key, nameserver)
    if checkup.failed:
        raise PreflightError(
            f"deliverability pre-flight failed for sender {sender_key}: {checkup.failed_labels()}; run "
            f"`outreach doctor --sender {sender_key}` for the records to publish, or pass --force to send anyway",
            failed=tuple(f.check for f in checkup.failed), checkup=checkup,
        )  # fmt: skip
    return checkup, ""

