"""Jinja tags in content, and the inert tokens that stand in for them while Markdown runs.

Markdown must not see ``{{ contact.first_name }}`` (it would escape or link
parts of it), so each tag is swapped for an alphanumeric token before the
Markdown pass and swapped back after it. Rendering, click tracking and lint
all read content through these names, so the tag pattern and the token
format have one home.
"""

from __future__ import annotations

import re

TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
TOKEN_PREFIX = "QJTK"
TOKEN_PATTERN = rf"{TOKEN_PREFIX}\d{{5}}Q"  # for composing larger patterns
TOKEN = re.compile(rf"{TOKEN_PREFIX}(\d{{5}})Q")


def token(index: int) -> str:
    """The token standing for the ``index``-th tag."""
    return f"{TOKEN_PREFIX}{index:05d}Q"


def token_index(text: str) -> int:
    """The tag index of a token (``text`` is exactly one token)."""
    match = TOKEN.fullmatch(text)
    if match is None:
        raise ValueError(f"not a tag token: {text!r}")
    return int(match.group(1))
