"""Parsing the small human units users write in YAML: rates, durations and sizes."""

from __future__ import annotations

import re
from datetime import timedelta

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$", re.I)
_PER = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$", re.I)
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|k|kib|mb|m|mib)?\s*$", re.I)
_BYTES = {"b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2, "mib": 1024**2}


def parse_rate(text: str | float | int) -> float:
    """``"20/s"`` -> 20.0 messages per second; ``"600/h"`` -> 0.1676."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        if text <= 0:
            raise ValueError("a rate must be positive")
        return float(text)
    m = _RATE.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a rate; write e.g. 20/s, 300/m or 1000/h")
    value = float(m.group(1)) / _PER[m.group(2).lower()]
    if value <= 0:
        raise ValueError("a rate must be positive")
    return value


def parse_duration(text: str | int | float) -> timedelta:
    """``"30s"``, ``"1h"``, ``"90d"``; a bare number (``0``, ``"0"``) is seconds."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return timedelta(seconds=float(text))
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a duration; write e.g. 30s, 15m, 1h or 90d")
    return timedelta(seconds=float(m.group(1)) * _SECONDS[(m.group(2) or "s").lower()])


def parse_size(text: str | int | float) -> int:
    """``"300KB"`` -> 307200 bytes (KB and MB count in 1024s, as mail clients show sizes); a bare number is bytes."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
    else:
        m = _SIZE.match(str(text))
        if not m:
            raise ValueError(f"{text!r} is not a size; write e.g. 300KB or 1MB")
        value = float(m.group(1)) * _BYTES[(m.group(2) or "b").lower()]
    if value < 0:
        raise ValueError("a size cannot be negative")
    return int(value)
