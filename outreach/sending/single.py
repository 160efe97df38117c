"""One message outside any campaign's outbox (the writer's test copy)."""

from __future__ import annotations

from outreach.errors import DeliveryError
from outreach.sending.smtp import Relay
from outreach.settings.config import Smtp


async def send_one(settings: Smtp, envelope_from: str, to: str, data: bytes) -> str:
    relay = Relay(settings)
    try:
        await relay.connect()
        outcome = await relay.send(envelope_from, to, data, recycle_after=1)
    finally:
        await relay.close()
    if outcome.kind != "sent":
        raise DeliveryError(f"the relay did not take the test message for {to}: {outcome.code} {outcome.text}")
    return outcome.text
