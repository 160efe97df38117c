"""A form's body, read only up to a size: a 20 MB post to a page that takes a few lines is refused unread.

Starlette parses a url-encoded form whole, whatever its size; the pages that
take text (a campaign, a segment's YAML) call ``read_limited`` first, which
answers 413 past ``limit`` bytes (by ``Content-Length``, or while reading a
chunked body) and leaves what it read for ``request.form()``.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"This form is larger than {limit // 1024} KB; nothing was saved.")
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise HTTPException(413, f"This form is larger than {limit // 1024} KB; nothing was saved.")
    body = bytes(received)
    request._body = body  # what request.form() reads next (Starlette keeps a read body there)
    return body
