"""What receivers said about authentication: ``Authentication-Results`` headers (RFC 8601).

A bounce or a complaint (ARF) usually returns our original message with the
headers the receiving side added, among them its verdict on our SPF, DKIM and
DMARC: the one place we learn how Gmail or Outlook judged our mail. A reply
carries the verdict of our own mailbox on the replier's mail. Ingest keeps
the results (method, result, the domain they are about, and where the header
was found) in the event detail so the campaign report can count them; the
headers are parsed with ``authres``, and anything malformed is skipped, since
inbound mail is hostile.
"""

from __future__ import annotations

import email
from email import policy
from email.message import Message

import authres

from outreach.tracking.message import returned_headers

METHODS = ("spf", "dkim", "dmarc", "arc")
MAX_RESULTS = 12
# the property that names the domain a result is about, most specific first
DOMAIN_PROPERTIES = (("header", "d"), ("header", "i"), ("header", "from"), ("smtp", "mailfrom"), ("smtp", "helo"))


def authentication_results(raw: bytes, *, returned: bool) -> list[dict[str, str]]:
    """The SPF/DKIM/DMARC/ARC results in a message's headers and, with ``returned``, in the
    headers of the original message a bounce or complaint sends back (listed first)."""
    try:
        msg = email.message_from_bytes(raw, policy=policy.compat32)
    except Exception:  # noqa: BLE001 - never fail ingest over a header we only report on
        return []
    sources: list[tuple[str, Message]] = []
    original = returned_headers(msg) if returned else None
    if original is not None:
        sources.append(("returned", original))
    sources.append(("message", msg))
    found: list[dict[str, str]] = []
    for where, headers in sources:
        for value in headers.get_all("Authentication-Results") or []:
            found += parse_header(str(value), where)
    return found[:MAX_RESULTS]


def parse_header(value: str, where: str) -> list[dict[str, str]]:
    """One header's results as plain dicts; [] when authres cannot parse it."""
    try:
        header = authres.AuthenticationResultsHeader.parse("Authentication-Results: " + " ".join(value.split()))
    except Exception:  # noqa: BLE001 - authres raises its own and ValueError on hostile input
        return []
    results = []
    for r in header.results:
        method = str(r.method or "").lower()
        if method not in METHODS:
            continue
        results.append({"method": method, "result": _word(r.result), "domain": _domain(r.properties),
                        "where": where})  # fmt: skip
    return results


def _word(value: object) -> str:
    text = str(value or "").lower()
    return text[:20] if text.replace("-", "").isalnum() else "other"


def _domain(properties: list[authres.core.AuthenticationResultProperty]) -> str:
    values = {(str(p.type).lower(), str(p.name).lower()): str(p.value or "") for p in properties}
    for key in DOMAIN_PROPERTIES:
        value = values.get(key, "").strip().strip("<>")
        if value:
            domain = value.rsplit("@", 1)[-1].lower().rstrip(".")
            if domain and all(c.isalnum() or c in ".-_" for c in domain):
                return domain[:253]
    return ""
