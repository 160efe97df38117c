"""What a check found: a status, a sentence a sales executive can act on, and the DNS record to publish."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "warn", "fail", "skip"]

LABELS = {
    "spf": "SPF", "dkim": "DKIM", "dkim_ed25519": "DKIM Ed25519", "dmarc": "DMARC", "alignment": "alignment",
    "mx": "MX", "relay_tls": "relay TLS", "relay_auth": "relay AUTH", "unsubscribe": "unsubscribe URL",
    "organization": "organisation address",
}  # fmt: skip


@dataclass(frozen=True)
class Finding:
    check: str  # a key of LABELS
    status: Status
    message: str
    record: str | None = None  # the record to publish (zone-file syntax), when one would fix it

    @property
    def label(self) -> str:
        return LABELS.get(self.check, self.check)

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "label": self.label, "status": self.status, "message": self.message,
                "record": self.record}  # fmt: skip


@dataclass(frozen=True)
class Checkup:
    """Every finding for one sender, in the order they were checked."""

    sender: str
    address: str
    relay: str
    nameserver: str
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = ()  # said once above the findings (e.g. that the domain is a reserved example)

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "fail"]

    def failed_labels(self) -> str:
        return ", ".join(dict.fromkeys(f.label for f in self.failed))

    def counts(self) -> dict[str, int]:
        counts = {"ok": 0, "warn": 0, "fail": 0, "skip": 0}
        for f in self.findings:
            counts[f.status] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {"sender": self.sender, "address": self.address, "relay": self.relay, "nameserver": self.nameserver,
                "ok": not self.failed, "failed": [f.check for f in self.failed], "counts": self.counts(),
                "checks": [f.as_dict() for f in self.findings], "notes": list(self.notes)}  # fmt: skip

    def text(self, only_problems: bool = False) -> str:
        """Fixed-width lines: status, check, sentence; the record to publish indented below."""
        out = [] if only_problems else [
            f"Deliverability of sender {self.sender} <{self.address}> via {self.relay} (DNS: {self.nameserver})",
            *(f"Note: {note}" for note in self.notes), ""]
        for f in self.findings:
            if only_problems and f.status in ("ok", "skip"):
                continue
            out.append(f"{f.status:<6}{f.label:<22}{f.message}")
            if f.record:
                out.append(f"{'':<6}{'publish:':<22}{f.record}")
        if not only_problems:
            c = self.counts()
            out += ["", f"{c['ok']} ok, {c['warn']} warning(s), {c['fail']} failed, {c['skip']} skipped"]
        return "\n".join(out) + "\n"


def txt_record(name: str, value: str) -> str:
    """``name. TXT "..."`` in zone-file syntax, split into 255-character strings as DNS requires."""
    chunks = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
    return f"{name.rstrip('.')}. TXT " + " ".join(f'"{c}"' for c in chunks)


@dataclass(frozen=True)
class Target:
    """What is checked: one sender's domains as the workspace sends for it."""

    sender_key: str
    from_address: str  # the From header
    envelope: str  # MAIL FROM (before VERP's +token): bounces.address, else the sender's address
    relay_host: str
    relay_port: int
    helo: str

    @property
    def from_domain(self) -> str:
        return self.from_address.rsplit("@", 1)[1].lower()

    @property
    def envelope_domain(self) -> str:
        return self.envelope.rsplit("@", 1)[1].lower()
