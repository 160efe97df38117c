"""Click tracking, compiled in once per campaign.

Each ``<a href>`` of the body becomes a call to ``track_click(URL)``, where
URL is a jinja expression (the link may hold placeholders such as
``{{ campaign.name }}``). Per recipient, ``track_click`` turns the final URL
into ``BASE/c/TOKEN?u=URL&s=MAC``: the token names the contact and campaign,
the MAC binds the URL to it, so the endpoint is no open redirect. mailto:,
tel: and in-page links are left alone, and so is the footer's unsubscribe
link (it is not in the body).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from outreach.content.tags import TOKEN, TOKEN_PREFIX

_HREF = re.compile(r'(<a\b[^>]*?\bhref=")([^"]*)(")', re.I)
_EXPR = re.compile(r"^\{\{-?\s*(.*?)\s*-?\}\}$", re.S)


def rewrite_links(fragment: str, tags: list[str], new_token: Callable[[str], str]) -> str:
    """Replace trackable hrefs in ``fragment`` by tokens standing for ``{{ track_click(...) }}``.

    ``tags`` are the jinja tags the Markdown's tokens stand for; ``new_token`` registers
    a new one and returns its token.
    """

    def one(m: re.Match[str]) -> str:
        expr = _url_expression(m.group(2), tags)
        if expr is None:
            return m.group(0)
        return m.group(1) + new_token("{{ track_click(" + expr + ") }}") + m.group(3)

    return _HREF.sub(one, fragment)


def _url_expression(value: str, tags: list[str]) -> str | None:
    """The href as one jinja string expression, or None when it should not be tracked."""
    parts: list[str] = []
    pos = 0
    for m in TOKEN.finditer(value):
        parts.append(repr(html.unescape(value[pos : m.start()])))
        inner = _EXPR.match(tags[int(m.group(1))])
        if inner is None:  # a {% block %} inside a URL: leave that link as written
            return None
        parts.append(f"({inner.group(1)})|string")
        pos = m.end()
    parts.append(repr(html.unescape(value[pos:])))
    literal_start = html.unescape(value[: value.find(TOKEN_PREFIX)] if TOKEN_PREFIX in value else value).lower()
    if not literal_start.startswith(("http://", "https://")):
        return None  # mailto:, tel:, #anchors, or a URL that starts with a variable
    return " ~ ".join(p for p in parts if p != "''")
