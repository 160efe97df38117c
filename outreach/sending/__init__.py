"""Sending: throttled, crash-safe delivery of outbox rows through an SMTP relay."""
