"""The response headers every page we serve carries: one home, so no route forgets one."""

from __future__ import annotations

DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'"


def security_headers(ctype: str, length: int, csp: str | None = None, **extra: str) -> dict[str, str]:
    """Content type and length, no caching, a Content-Security-Policy, no sniffing, no referrer.

    ``extra`` adds headers (``location=...``, ``allow=...``), capitalised.
    """
    return {
        "Content-Type": f"{ctype}; charset=utf-8",
        "Content-Length": str(length),
        "Cache-Control": "no-store",
        "Content-Security-Policy": csp or DEFAULT_CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        **{k.capitalize(): v for k, v in extra.items()},
    }
