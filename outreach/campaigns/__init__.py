"""Campaigns: definitions (YAML + Markdown), building the outbox, status."""
