"""What every service's hook shares: one recipient's failure judged as mail's are, hostile text made safe.

Everything a service posts is data from outside, even once its signature
verified: strings are cut to size, control characters and lone surrogates
removed (``text``), addresses validated (``address``), so nothing a hook stores
or logs can break a page, a log line or the database.
"""

from __future__ import annotations

import hashlib
import json
import re

from outreach.errors import HookError
from outreach.tracking import dsn, reasons, stages
from outreach.tracking.bounces import Failure
from outreach.tracking.message import clean_address

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")
_ID = re.compile(r"^[\x21-\x7e]{1,200}$")


def text(value: object, limit: int = 2000) -> str:
    """A scalar the service sent, as storable text ("" for objects, lists and null)."""
    if value is None or isinstance(value, dict | list):
        return ""
    found = str(value)[: limit * 2].encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub(" ", found)[:limit].strip()


def address(value: object) -> str | None:
    """The one valid address in ``value``, lower-cased, or None."""
    return clean_address(text(value, 400)) or None


def event_id(value: object, whole: object) -> str:
    """The service's own id of an event, or (when it sends none usable) a digest of the whole event:
    the key that makes an event sent twice recorded once."""
    found = text(value, 300)
    if _ID.match(found):
        return found
    canonical = json.dumps(whole, sort_keys=True, ensure_ascii=True, default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def parse_json(body: bytes) -> object:
    """The JSON document of a post; HookError(400) for anything else (bad UTF-8, NaN, nesting too deep)."""
    try:
        return json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise HookError("the body is not a JSON document", status=400) from None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def reported_failure(recipient: str, *, permanent: bool, diagnostic: str = "", status: str = "",
                     hint: str | None = None, note: str = "") -> Failure:  # fmt: skip
    """One recipient a relay reports as failed, judged as a bounce read from mail is.

    The SMTP reply the relay passes on (``diagnostic``, e.g. "smtp; 550 5.1.1 user unknown") and
    the enhanced status go through the classifier's own ``reasons.decide`` and ``is_hard``.
    ``hint`` is the reason the relay's own bounce type names: it stands when the words say nothing,
    and for a temporary failure, whose type is the better witness ("mailbox full", whatever the
    words). Only a permanent failure can be hard: a relay that will try again has not given up.
    ``note`` is the relay's own description, kept for people but not judged: when the relay did not
    even try ("not delivering to previously bounced address"), its type says it all, and its words
    would read as a filter's.
    """
    diagnostic = text(diagnostic, 2000)
    code = dsn.find_status(text(status, 100)) or dsn.find_status(diagnostic)
    stage = stages.find_stage(diagnostic)
    reason = reasons.decide(code, diagnostic, stage, "failed") if diagnostic or code else reasons.OTHER
    if hint and (reason in (reasons.OTHER, reasons.SYSTEM) or not permanent):
        reason = hint
    hard = permanent and reasons.is_hard(reason, code, stage)
    kept = re.sub(r"\s+", " ", diagnostic or text(note, 500))
    return Failure(recipient, "failed", reason, hard, code, stage, kept[:500])
