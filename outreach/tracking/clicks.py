"""Recording a click on a tracked link, then sending the reader on.

The link carries the contact-and-campaign token and a MAC over the target
URL; only a genuine pair is recorded and redirected, so nobody can use the
endpoint to bounce visitors elsewhere or to fake interest for a contact.

Checking a link (``verify_click``) needs no database: the redirect can be
answered at once, and the web server records clicks in batches
(``record_clicks``) on its own time. A link that does not verify is never
redirected, whatever else fails.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import cast

from sqlalchemy import Engine, Table, insert, select

from outreach.settings.tokens import Signer
from outreach.storage import transaction, utcnow
from outreach.storage.aliases import merged_into
from outreach.storage.models import Campaign, Contact, Event, Outbox

TOKEN = re.compile(r"^[0-9]{1,12}-[0-9]{1,12}-[A-Za-z0-9_-]{1,64}$")  # what Signer.sign makes, nothing else
MAX_URL = 4000
MAX_MAC = 64
EVENTS = cast(Table, Event.__table__)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")  # never in a Location header: it could split the response


@dataclass(frozen=True)
class Click:
    """A verified click, waiting to be written."""

    contact_id: int
    campaign_id: int
    url: str
    at: datetime


def click_target(signer: Signer, token: str, url: str, mac: str) -> tuple[int, int] | None:
    """(contact_id, campaign_id) when the token is genuine and ``mac`` binds ``url`` to it, else None.

    Pure and never raising: the web checks it before anything else, so no later failure
    (the database, say) can send a reader to a URL whose signature did not verify.
    """
    ids = signer.verify(token)
    if ids is None or not url.lower().startswith(("http://", "https://")) or _UNSAFE.search(url):
        return None
    return ids if signer.check_link(token, url, mac) else None


def verify_click(signer: Signer, token: str, url: str, mac: str, now: datetime | None = None) -> Click | None:
    """The click a genuine link names; None for anything else (malformed, oversized, altered, non-ASCII).

    Pure: no database. MACs are compared as bytes, so odd input can only fail, never raise.
    """
    if not TOKEN.match(token) or not 0 < len(mac) <= MAX_MAC or len(url) > MAX_URL:
        return None
    ids = click_target(signer, token, url, mac)
    return Click(ids[0], ids[1], url, now or utcnow()) if ids is not None else None


def record_clicks(engine: Engine, clicks: Sequence[Click]) -> int:
    """Write ``clicked`` events for a batch in one transaction; clicks of a deleted campaign or contact are
    dropped.

    Returns how many events were written.
    """
    if not clicks:
        return 0
    campaigns = {c.campaign_id for c in clicks}
    with transaction(engine) as session:
        merged = merged_into(session, {c.contact_id for c in clicks})  # links sent before a merge: the kept contact
        clicks = [replace(c, contact_id=merged.get(c.contact_id, c.contact_id)) for c in clicks]
        contacts = {c.contact_id for c in clicks}
        alive = set(session.scalars(select(Campaign.id).where(Campaign.id.in_(campaigns))))
        people = set(session.scalars(select(Contact.id).where(Contact.id.in_(contacts))))
        first: dict[tuple[int, int], tuple[int, int]] = {}  # (contact, campaign) -> (step, outbox id)
        sent = session.execute(select(Outbox.contact_id, Outbox.campaign_id, Outbox.step, Outbox.id).where(
            Outbox.campaign_id.in_(alive), Outbox.contact_id.in_(contacts)))  # fmt: skip
        for contact_id, campaign_id, step, outbox_id in sent:
            key = (contact_id, campaign_id)
            if key not in first or (step, outbox_id) < first[key]:
                first[key] = (step, outbox_id)
        rows = [
            {"kind": "clicked", "at": c.at, "campaign_id": c.campaign_id, "contact_id": c.contact_id,
             "outbox_id": first[(c.contact_id, c.campaign_id)][1] if (c.contact_id, c.campaign_id) in first else None,
             "source_id": None, "detail": {"url": c.url[:2000]}}
            for c in clicks
            # the campaign or contact is gone: the reader was still sent where they wanted to go
            if c.campaign_id in alive and c.contact_id in people
        ]  # fmt: skip
        if rows:  # one Core executemany, not an ORM object per click: a batch holds the GIL for little time
            session.connection().execute(insert(EVENTS), rows)
    return len(rows)


def record_click(engine: Engine, signer: Signer, token: str, url: str, mac: str,
                 now: datetime | None = None) -> str | None:  # fmt: skip
    """Check and record one click at once: the URL to redirect to, or None when the link is not one of ours."""
    click = verify_click(signer, token, url, mac, now)
    if click is None:
        return None
    record_clicks(engine, [click])
    return url
