"""The feed of what happened: one record per event, read by the API (``/api/v1/events``) and the webhooks.

``TYPES`` lives here, without imports, so that outreach.yaml's ``webhooks:``
are validated against it without loading the database layer.
"""

TYPES = ("sent", "failed", "bounce", "complaint", "reply", "unsubscribe", "outcome")
