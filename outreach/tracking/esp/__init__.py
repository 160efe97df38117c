"""Email services' event hooks: bounces and complaints that a relay reports over HTTP instead of by mail.

One module per service reads that service's posts (``ses``, ``mailgun``,
``sendgrid``, ``postmark``): it checks that the service really sent it, then
turns each event into a ``ServiceEvent`` (``common``) holding the same
per-recipient ``Failure`` a bounce read from mail gets, with the reason and
hard/soft decided by the same functions (``reasons.decide``, ``is_hard``) from
the SMTP status and diagnostic text the service passes on. ``record`` hands
them to the one recording path of ``ingest.py``; ``hooks`` is the face the web
app calls: one post in, one answer (status and JSON) out.
"""
