"""Outbound webhooks: the worker POSTs the feed's events to the receivers of ``webhooks:``, signed.

``deliveries.py`` keeps one row per event and receiver (pending, delivered,
dead) and decides what is due; ``post.py`` is the HTTP POST and its
signature; ``runner.py`` drives a receiver's deliveries for the worker;
``status.py`` is what ``outreach webhooks status`` and ``/app/webhooks`` show.
"""
