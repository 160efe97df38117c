"""Signed unsubscribe tokens and the secret behind them.

A token names one contact and one campaign and carries an HMAC, so a link
cannot be altered to unsubscribe someone else and addresses cannot be
enumerated. The secret comes from the environment variable named in
outreach.yaml; failing that, a random one is generated once and kept in the
database, so a fresh workspace works with nothing to configure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from outreach.settings.workspace import WorkspaceConfig
from outreach.storage import transaction
from outreach.storage.models import Meta

SECRET_KEY = "unsubscribe_secret"
MAX_TOKEN = 200  # characters: a genuine token is ~40; anything longer is refused before any work
_TOKEN = re.compile(r"([0-9]{1,18})-([0-9]{1,18})-([A-Za-z0-9_-]{1,64})")  # ASCII only: \d takes any script's digits


def same(given: str, expected: str) -> bool:
    """Constant-time comparison of a MAC from outside with ours, as bytes.

    ``hmac.compare_digest`` raises TypeError for a ``str`` with a non-ASCII character, and
    a check that raises instead of answering False is how an error path once redirected
    to an unverified URL. Bytes never raise; lone surrogates (from lenient decoding) pass
    through as bytes too, and simply do not match.
    """
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


def workspace_secret(engine: Engine, env_name: str) -> bytes:
    from_env = os.environ.get(env_name)
    if from_env:
        return from_env.encode("utf-8")
    with transaction(engine) as session:
        row = session.get(Meta, SECRET_KEY)
        if row is not None:
            return row.value.encode("ascii")
    try:
        with transaction(engine) as session:
            session.add(Meta(key=SECRET_KEY, value=secrets.token_urlsafe(32)))
    except IntegrityError:
        pass  # another process created it first
    with transaction(engine) as session:
        row = session.get(Meta, SECRET_KEY)
        assert row is not None  # inserted just above, by us or by the process that won the race
        return row.value.encode("ascii")


def workspace_signer(engine: Engine, ws: WorkspaceConfig) -> Signer:
    """The signer of a workspace's links (unsubscribe, clicks, VERP)."""
    return Signer(workspace_secret(engine, ws.settings.unsubscribe.secret_env))


@dataclass(frozen=True)
class Signer:
    secret: bytes

    def sign(self, contact_id: int, campaign_id: int) -> str:
        return f"{contact_id}-{campaign_id}-{self._mac(contact_id, campaign_id)}"

    def verify(self, token: str) -> tuple[int, int] | None:
        """(contact_id, campaign_id) for a genuine token, else None: never raises, whatever the input."""
        match = _TOKEN.fullmatch(token.strip()) if len(token) <= MAX_TOKEN else None
        if match is None:
            return None
        contact_id, campaign_id = int(match.group(1)), int(match.group(2))
        return (contact_id, campaign_id) if same(match.group(3), self._mac(contact_id, campaign_id)) else None

    def check_link(self, token: str, url: str, mac: str) -> bool:
        """``mac`` is the one ``link_mac`` gives for this token and URL."""
        return len(mac) <= MAX_TOKEN and same(mac, self.link_mac(token, url))

    def link_mac(self, token: str, url: str) -> str:
        """Binds a click-tracking URL to its token: the redirect endpoint is no open redirect."""
        digest = hmac.new(self.secret, f"link:{token}:{url}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()[:12]).decode("ascii").rstrip("=")

    def _mac(self, contact_id: int, campaign_id: int) -> str:
        digest = hmac.new(self.secret, f"{contact_id}:{campaign_id}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()[:16]).decode("ascii").rstrip("=")


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def verp_address(signer: Signer, base: str, outbox_id: int) -> str:
    """``local+b36id.mac@domain``: a bounce to it names its outbox row, unforgeably."""
    local, domain = base.rsplit("@", 1)
    ident = _b36(outbox_id)
    mac = hmac.new(signer.secret, f"verp:{outbox_id}".encode(), hashlib.sha256).hexdigest()[:8]
    return f"{local}+{ident}.{mac}@{domain}"


def parse_verp(signer: Signer, address: str) -> int | None:
    """The outbox id a VERP address names, if it is genuine."""
    local = address.rsplit("@", 1)[0]
    if "+" not in local:
        return None
    tag = local.rsplit("+", 1)[1]
    ident, _, mac = tag.partition(".")
    try:
        outbox_id = int(ident, 36)
    except ValueError:
        return None
    good = hmac.new(signer.secret, f"verp:{outbox_id}".encode(), hashlib.sha256).hexdigest()[:8]
    return outbox_id if same(mac.lower(), good) else None
