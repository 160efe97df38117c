"""Deliverability: ``outreach doctor``'s pre-flight checks (SPF, DKIM, DMARC, MX, relay, settings)."""
