"""Recording a click on a tracked link, then sending the reader on.

The link carries the contact-and-campaign token and a MAC over the target
URL; only a genuine pair is recorded and redirected, so nobody can use the
endpoint to bounce visitors elsewhere or to fake interest for a contact.
"""

from __future__ import annotations

import hmac
from datetime import datetime

from sqlalchemy import Engine, select

from outreach.settings.tokens import Signer
from outreach.storage import transaction, utcnow
from outreach.storage.models import Campaign, Event, Outbox


def record_click(engine: Engine, signer: Signer, token: str, url: str, mac: str,
                 now: datetime | None = None) -> str | None:  # fmt: skip
    """The URL to redirect to after recording the click; None when the link is not one of ours."""
    ids = signer.verify(token)
    if ids is None or not url.lower().startswith(("http://", "https://")):
        return None
    if not hmac.compare_digest(mac, signer.link_mac(token, url)):
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
