"""The workspace's own settings that receivers judge: the unsubscribe link and the postal address.

RFC 8058 one-click unsubscribe needs an HTTPS URL that recipients can reach,
and CAN-SPAM a physical postal address in every message. The URL is fetched
once with a short timeout; a name is resolved through the doctor's DNS (so
``--nameserver`` governs it too) and the certificate is checked against it.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from urllib.parse import urlsplit

from outreach.deliverability.findings import Finding
from outreach.deliverability.names import is_ip
from outreach.deliverability.resolver import Dns, DnsFailure, DnsUnavailable
from outreach.settings.config import Settings

TIMEOUT = 5.0


class _Connection(http.client.HTTPSConnection):
    """HTTPS to a given address, with SNI and the certificate check against the URL's host."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        assert self._context is not None  # type: ignore[attr-defined]  # set by HTTPSConnection.__init__
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def check_unsubscribe(settings: Settings, dns: Dns, *, trial: bool = False) -> Finding:
    """``trial``: the sender's domain is a reserved example one (nothing real is sent), so an address on this
    machine is only a warning: fine for trying things out, not for production."""
    url = settings.unsubscribe.base_url
    parts = urlsplit(url)
    host = parts.hostname or ""
    local = host in ("localhost",) or host.startswith("127.") or host == "::1"
    if trial and (local or parts.scheme != "https"):
        return Finding("unsubscribe", "warn", f"unsubscribe.base_url {url} is fine for trying things out here; in "
                       "production it must be https, at the public address of `outreach serve` that recipients "
                       "reach (one-click unsubscribe, RFC 8058, required by Gmail and Yahoo)")  # fmt: skip
    if parts.scheme != "https":
        return Finding("unsubscribe", "fail", f"unsubscribe.base_url {url} is not https: one-click unsubscribe "
                       "(RFC 8058, required by Gmail and Yahoo) needs an https address recipients reach")  # fmt: skip
    if local:
        return Finding("unsubscribe", "fail", f"unsubscribe.base_url {url} points at this machine: recipients "
                       "cannot reach it; use the public https address of `outreach serve`")  # fmt: skip
    try:
        addresses = [host] if is_ip(host) else dns.addresses(host)
    except (DnsFailure, DnsUnavailable) as exc:
        return Finding("unsubscribe", "fail", f"cannot resolve {host} of unsubscribe.base_url: {exc}")
    if not addresses:
        return Finding("unsubscribe", "fail", f"{host} of unsubscribe.base_url has no address in DNS")
    connection = _Connection(host, parts.port or 443, addresses[0], TIMEOUT)
    try:
        connection.request("HEAD", parts.path or "/", headers={"User-Agent": "outreach-doctor"})
        status = connection.getresponse().status
    except ssl.SSLCertVerificationError as exc:
        return Finding("unsubscribe", "fail", f"{url}: the certificate is not trusted ({exc.verify_message})")
    except (OSError, http.client.HTTPException) as exc:
        return Finding("unsubscribe", "fail", f"{url} is not reachable: {exc}")
    finally:
        connection.close()
    if status >= 500:
        return Finding("unsubscribe", "warn", f"{url} answers {status}: is `outreach serve` running behind it?")
    return Finding("unsubscribe", "ok", f"{url} is reachable over https (HTTP {status})")


def check_organization(settings: Settings) -> Finding:
    org = settings.organization
    address = " ".join(org.address.split())
    if len(address) < 10 or not any(c.isdigit() for c in address):
        return Finding("organization", "warn", f"organization.address {address!r} does not look like a postal "
                       "address (street, number, city); CAN-SPAM wants one in every message")  # fmt: skip
    return Finding("organization", "ok", f"every footer carries {org.name}, {address}")
