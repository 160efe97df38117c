"""Addresses and ids of contacts merged into others (``contact_aliases``): who they mean now.

Tracking reads them where it finds a contact by address (a reply from the old
address) or by id (an unsubscribe or click link in a message sent before the
merge), so mail to and from a merged address keeps reaching the person's one
record (audience/merge.py writes them).
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from outreach.storage.models import ContactAlias


def contact_by_alias(session: Session, email: str) -> int | None:
    """The contact an old address was merged into, or None."""
    return session.scalar(select(ContactAlias.contact_id).where(ContactAlias.email == email.strip().lower()))


def merged_into(conn: Connection | Session, ids: Collection[int]) -> dict[int, int]:
    """Old contact id -> the contact it was merged into, for the ids that were merged."""
    if not ids:
        return {}
    rows = conn.execute(select(ContactAlias.merged_id, ContactAlias.contact_id)
                        .where(ContactAlias.merged_id.in_(sorted(ids))))  # fmt: skip
    return {old: new for old, new in rows}
