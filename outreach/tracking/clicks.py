"""Recording a click on a tracked link, then sending the reader on.

The link carries the contact-and-campaign token and a MAC over the target
URL; only a genuine pair is recorded and redirected, so nobody can use the
endpoint to bounce visitors elsewhere or to fake interest for a contact.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Engine, select

from outreach.settings.tokens import Signer
from outreach.storage import transaction, utcnow
from outreach.storage.models import Campaign, Event, Outbox

_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")  # never in a Location header: it could split the response


def click_target(signer: Signer, token: str, url: str, mac: str) -> tuple[int, int] | None:
    """(contact_id, campaign_id) when the token is genuine and ``mac`` binds ``url`` to it, else None.

    Pure and never raising: the web checks it before anything else, so no later failure
    (the database, say) can send a reader to a URL whose signature did not verify.
    """
    ids = signer.verify(token)
    if ids is None or not url.lower().startswith(("http://", "https://")) or _UNSAFE.search(url):
        return None
    return ids if signer.check_link(token, url, mac) else None


def record_click(engine: Engine, signer: Signer, token: str, url: str, mac: str,
                 now: datetime | None = None) -> str | None:  # fmt: skip
    """The URL to redirect to after recording the click; None when the link is not one of ours."""
    ids = click_target(signer, token, url, mac)
    if ids is None:
        return None
    contact_id, campaign_id = ids
    with transaction(engine) as session:
        if session.get(Campaign, campaign_id) is None:
            return url  # the campaign is gone; the reader still gets where they wanted to go
        first = select(Outbox.id).where(Outbox.contact_id == contact_id, Outbox.campaign_id == campaign_id)
        outbox_id = session.scalar(first.order_by(Outbox.step).limit(1))
        session.add(Event(kind="clicked", at=now or utcnow(), campaign_id=campaign_id, outbox_id=outbox_id,
                          contact_id=contact_id, detail={"url": url[:2000]}))  # fmt: skip
    return url
