"""The relay: can we reach it, does the connection get TLS, and will it let us log in?

One short SMTP conversation with aiosmtplib (EHLO, STARTTLS when offered or
configured, AUTH when a username is set, QUIT); nothing is sent. A relay on
this machine (a local MTA) needs neither TLS nor a login; a relay across a
network without TLS carries the mail and the password in clear.
"""

from __future__ import annotations

import ipaddress
import ssl

import aiosmtplib

from outreach.deliverability.findings import Finding
from outreach.settings.config import Smtp

TIMEOUT = 10.0


def _local(host: str) -> bool:
    """A relay on this machine (loopback): nothing crosses a network to reach it."""
    name = host.strip("[]")
    try:
        return name == "localhost" or ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _context(smtp: Smtp) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=smtp.ca_file)


async def check_relay(smtp: Smtp) -> list[Finding]:
    """Findings ``relay_tls`` and ``relay_auth``."""
    where = f"{smtp.host}:{smtp.port}"
    client = aiosmtplib.SMTP(hostname=smtp.host, port=smtp.port, timeout=min(smtp.timeout, TIMEOUT),
                             use_tls=smtp.security == "tls", start_tls=False, local_hostname=smtp.local_hostname,
                             tls_context=_context(smtp) if smtp.security == "tls" else None)  # fmt: skip
    try:
        await client.connect()
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
        return [Finding("relay_tls", "fail", f"cannot connect to the relay {where}: {exc}"),
                Finding("relay_auth", "skip", "not checked: no connection")]  # fmt: skip
    try:
        await client.ehlo()
        tls = await _tls(client, smtp, where)
        auth = await _auth(client, smtp, where, tls.status != "fail")
        return [tls, auth]
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
        return [Finding("relay_tls", "fail", f"the relay {where} broke off the conversation: {exc}"),
                Finding("relay_auth", "skip", "not checked: no connection")]  # fmt: skip
    finally:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()


async def _tls(client: aiosmtplib.SMTP, smtp: Smtp, where: str) -> Finding:
    if smtp.security == "tls":
        return Finding("relay_tls", "ok", f"{where} speaks TLS from the first byte; its certificate is trusted")
    offered = client.supports_extension("starttls")
    if smtp.security == "starttls":
        if not offered:
            return Finding("relay_tls", "fail", f"smtp.security is starttls but {where} does not offer STARTTLS")
        try:
            await client.starttls(tls_context=_context(smtp))
        except (aiosmtplib.SMTPException, ssl.SSLError, OSError) as exc:
            return Finding("relay_tls", "fail", f"STARTTLS with {where} failed: {exc} (a private CA goes in "
                           "smtp.ca_file)")  # fmt: skip
        await client.ehlo()
        return Finding("relay_tls", "ok", f"{where} offers STARTTLS and its certificate is trusted")
    if _local(smtp.host):
        return Finding("relay_tls", "ok", f"{where} is on this machine: the mail does not cross a network to it")
    if offered:
        return Finding("relay_tls", "warn", f"{where} offers STARTTLS but smtp.security is none: set "
                       "smtp.security: starttls so mail and password are encrypted")  # fmt: skip
    return Finding("relay_tls", "fail", f"{where} offers no TLS: mail (and any password) crosses the network in "
                   "clear; use the relay's TLS port (security: tls) or one that offers STARTTLS")  # fmt: skip


async def _auth(client: aiosmtplib.SMTP, smtp: Smtp, where: str, secure: bool) -> Finding:
    methods = client.server_auth_methods
    if not smtp.username:
        if methods and not _local(smtp.host):
            return Finding("relay_auth", "warn", f"{where} offers AUTH ({', '.join(methods).upper()}) but "
                           "smtp.username is not set: a relay that wants a login refuses the mail")  # fmt: skip
        return Finding("relay_auth", "ok", f"no login configured; {where} does not ask for one")
    if not methods:
        return Finding("relay_auth", "fail", f"smtp.username is set but {where} offers no AUTH"
                       + ("" if secure else " (many relays offer it only after STARTTLS)"))  # fmt: skip
    password = smtp.password()
    if not password:
        return Finding("relay_auth", "fail", f"smtp.username is {smtp.username} but ${smtp.password_env} is empty")
    try:
        await client.login(smtp.username, password)
    except aiosmtplib.SMTPAuthenticationError as exc:
        return Finding("relay_auth", "fail", f"{where} refused the login of {smtp.username} ({exc.code} "
                       f"{exc.message}); check ${smtp.password_env}")  # fmt: skip
    except aiosmtplib.SMTPException as exc:
        return Finding("relay_auth", "fail", f"login to {where} failed: {exc}")
    return Finding("relay_auth", "ok", f"{where} accepts the login of {smtp.username}")
