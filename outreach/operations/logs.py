"""The log of the long-running processes (``serve``, ``worker``): text as always, or JSON lines.

``--log-format json`` writes every record as one JSON object on one line of
stderr — ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, then
the record's structured fields (``campaign``, ``sent``, ``failed``, ``status``
…) and, for an error with a traceback, ``exc_info`` as one string — so a log
shipper (journald's JSON output, Loki, Elasticsearch) reads fields instead of
parsing sentences. In that mode the commands' own progress lines become
records too (a line on stdout that is not JSON would break the stream).
python-json-logger does the formatting.

The text format is what the commands printed before: the worker's
``TIME LEVEL LOGGER: message`` lines, and nothing configured for ``serve``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

FORMATS = ("text", "json")


class _Formatter(JsonFormatter):
    """``time`` first, then level, logger and message, then the record's own fields."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {"time": log_data.pop("time", None), **log_data}


def json_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter("{levelname}{name}{message}", style="{", timestamp="time",
                                    rename_fields={"levelname": "level", "name": "logger"},
                                    json_ensure_ascii=False))  # fmt: skip
    return handler


def configure(fmt: str, *, text_default: bool) -> None:
    """Set the process's logging up for ``fmt``.

    ``text_default``: for the text format, configure what the worker always had (a plain line per
    record on stderr, outreach's INFO records included); False leaves logging alone, as ``serve`` did.
    """
    if fmt == "json":
        root = logging.getLogger()
        for old in root.handlers[:]:
            root.removeHandler(old)
        root.addHandler(json_handler())
        root.setLevel(logging.WARNING)  # libraries: warnings and errors; outreach: its INFO records too
        logging.getLogger("outreach").setLevel(logging.INFO)
    elif text_default:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # a no-op if already configured
        logging.getLogger("outreach").setLevel(logging.INFO)
    logging.getLogger("apscheduler.executors").setLevel(logging.CRITICAL)  # the worker logs job errors itself
