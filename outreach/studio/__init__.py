"""The writer's tools: lint, preview, live preview, screenshots, SpamAssassin, starting points.

Kept light: the CLI reads ``STARTER_KINDS`` for its ``--kind`` choices without
loading the renderer.
"""

STARTER_KINDS = ("press-release", "product-offer", "event-invitation", "follow-up")  # `content new --kind`
