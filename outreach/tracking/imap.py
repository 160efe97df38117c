"""Reading the IMAP mailbox: the same path as ``track ingest``, then each message moved aside.

Why it is shaped like this:

* Every message goes through ``record_message``, the code ``track ingest`` uses,
  so a mailbox and a folder of ``.eml`` files give the same answers.
* What was seen is remembered (UIDVALIDITY and the last UID handled, in the
  ``meta`` table), so polling again never processes a message twice, even when
  moving it to the processed folder failed. Ingest's own key (the inbound
  Message-ID) makes a ``--rescan`` safe as well.
* A message is only ever moved (MOVE, or COPY then ``\\Deleted`` and an
  expunge of that UID alone), never deleted without a copy.
* One bad message never stops the rest: it is left where it is, counted as an
  error and logged. Only a lost connection — to the mailbox or to the
  database — ends a poll early, and then the messages not yet handled simply
  wait for the next one (``track poll`` rides a database outage out, see
  storage/outage.py; the worker polls again at its next time).
* At most ``MAX_FETCH_BYTES`` of a message are fetched: the part that says
  what a message is (headers, the reply's text, a bounce's report) comes
  first, and a 10 MB attachment must not cost 10 MB of memory per message.

imaplib is synchronous; the worker runs a poll in a thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import json
import logging
import re
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from outreach.errors import ConfigError, MailboxError
from outreach.operations.heartbeat import record_mailbox_poll
from outreach.settings.config import Imap
from outreach.settings.tokens import Signer, workspace_signer
from outreach.settings.workspace import WorkspaceConfig
from outreach.storage import transaction, utcnow
from outreach.storage.models import Meta
from outreach.storage.outage import is_outage
from outreach.tracking.ingest import IngestReport, SoftBouncePolicy, check_guardrails, policy_of, record_message

log = logging.getLogger("outreach.imap")

MAX_FETCH_BYTES = 2 * 1024 * 1024
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


@dataclass
class PollReport:
    """What one poll did: the ingest counts plus what happened in the mailbox."""

    mailbox: str
    processed_folder: str
    ingest: IngestReport = field(default_factory=IngestReport)
    new: int = 0
    moved: int = 0
    errors: int = 0
    truncated: int = 0
    left: list[int] = field(default_factory=list)  # UIDs left in the folder (errors, failed moves)

    def summary(self) -> str:
        line = (
            f"Mailbox {self.mailbox}: {self.new} new message(s), {self.moved} moved to "
            f"{self.processed_folder}, {self.errors} error(s)"
        )
        if self.left:
            shown = ", ".join(map(str, self.left[:10])) + (" ..." if len(self.left) > 10 else "")
            line += f"; left in place: UID {shown}"
        return f"{self.ingest.summary()}\n{line}"


@dataclass(frozen=True)
class Seen:
    """How far a folder has been read; UIDs only mean something within one UIDVALIDITY."""

    uidvalidity: int
    last_uid: int


class _BadMessage(Exception):
    """This message cannot be fetched; the others can."""


# -- remembering what was seen -------------------------------------------------------


def state_key(cfg: Imap) -> str:
    """The ``meta`` key of one folder (hashed: the key column holds 64 characters)."""
    ident = f"{cfg.username}@{cfg.host}:{cfg.effective_port}/{cfg.folder}"
    return "imap:" + hashlib.sha256(ident.encode("utf-8")).hexdigest()[:40]


def load_seen(engine: Engine, key: str) -> Seen | None:
    with transaction(engine) as session:
        row = session.get(Meta, key)
        if row is None:
            return None
        try:
            data = json.loads(row.value)
            return Seen(int(data["uidvalidity"]), int(data["last_uid"]))
        except (ValueError, KeyError, TypeError):
            return None


def save_seen(engine: Engine, key: str, seen: Seen, mailbox: str) -> None:
    value = json.dumps({"mailbox": mailbox, "uidvalidity": seen.uidvalidity, "last_uid": seen.last_uid})
    for _ in range(2):  # a concurrent first save may win the insert; then update
        try:
            with transaction(engine) as session:
                row = session.get(Meta, key)
                if row is None:
                    session.add(Meta(key=key, value=value))
                else:
                    row.value = value
            return
        except IntegrityError:
            continue


# -- the connection --------------------------------------------------------------------


def _where(cfg: Imap) -> str:
    return f"IMAP {cfg.host}:{cfg.effective_port}"


def _tls_context(cfg: Imap, root: Path) -> ssl.SSLContext:
    """Certificate and host name are always verified; ``ca_file`` only changes whom we trust."""
    if cfg.ca_file is None:
        return ssl.create_default_context()
    path = Path(cfg.ca_file)
    path = path if path.is_absolute() else root / path
    try:
        return ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"imap.ca_file {path}: cannot read a CA certificate from it ({exc})") from None


def _connection_error(cfg: Imap, exc: BaseException) -> MailboxError:
    where = _where(cfg)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return MailboxError(
            f"{where}: the server's TLS certificate is not trusted ({exc.verify_message}); "
            "set imap.ca_file in outreach.yaml to the CA that signed it"
        )
    if isinstance(exc, ssl.SSLError):
        return MailboxError(f"{where}: TLS failed ({exc.reason or exc}); check imap.security and imap.port")
    if isinstance(exc, TimeoutError | socket.timeout):
        return MailboxError(f"{where}: no answer within {cfg.timeout:g}s")
    if isinstance(exc, OSError):
        return MailboxError(f"{where}: cannot connect ({exc.strerror or exc})")
    return MailboxError(f"{where}: {exc}")


def connect(cfg: Imap, root: Path) -> imaplib.IMAP4:
    """A connection, TLS established as configured, not yet logged in."""
    context = _tls_context(cfg, root) if cfg.security != "none" else None
    try:
        if cfg.security == "tls":
            return imaplib.IMAP4_SSL(cfg.host, cfg.effective_port, ssl_context=context, timeout=cfg.timeout)
        client = imaplib.IMAP4(cfg.host, cfg.effective_port, timeout=cfg.timeout)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise _connection_error(cfg, exc) from None
    if cfg.security == "starttls":
        try:
            client.starttls(ssl_context=context)
        except (OSError, imaplib.IMAP4.error) as exc:
            _close(client)
            raise _connection_error(cfg, exc) from None
    return client


def password(cfg: Imap) -> str:
    """Checked before connecting: a missing secret is a configuration error, not a network one."""
    value = cfg.password()
    if value is None:
        raise ConfigError(f"imap: the password for {cfg.username} is read from ${cfg.password_env}, which is not set")
    return value


def login(client: imaplib.IMAP4, cfg: Imap, password: str) -> None:
    try:
        client.login(cfg.username, password)
    except (imaplib.IMAP4.error, UnicodeEncodeError) as exc:
        raise MailboxError(f"{_where(cfg)}: login as {cfg.username} failed: {_text(exc)}") from None


def _close(client: imaplib.IMAP4) -> None:
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        client.logout()


def _text(exc: BaseException) -> str:
    return str(exc).strip("b'\"") or type(exc).__name__


def capabilities(client: imaplib.IMAP4) -> set[str]:
    """Asked again after login: servers advertise MOVE and UIDPLUS only to a logged-in user."""
    typ, data = client.capability()
    if typ != "OK" or not data or not isinstance(data[-1], bytes):
        return {c.upper() for c in client.capabilities}
    return {c.upper() for c in data[-1].decode("ascii", "replace").split()}


def quote(name: str) -> str:
    """A folder name as an IMAP quoted string (imaplib sends arguments as they are)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def select(client: imaplib.IMAP4, cfg: Imap) -> int:
    """Open the folder read-write; its UIDVALIDITY."""
    typ, data = client.select(quote(cfg.folder))
    if typ != "OK":
        raise MailboxError(f"{_where(cfg)}: cannot open folder {cfg.folder!r}: {_first(data)}")
    _, values = client.response("UIDVALIDITY")
    try:
        return int(values[0])
    except (TypeError, ValueError, IndexError):
        raise MailboxError(f"{_where(cfg)}: folder {cfg.folder!r} has no UIDVALIDITY") from None


def ensure_folder(client: imaplib.IMAP4, cfg: Imap) -> None:
    folder = quote(cfg.processed_folder)
    typ, data = client.list('""', folder)
    if typ == "OK" and any(item for item in data if item):
        return
    typ, data = client.create(folder)
    if typ != "OK" and "ALREADYEXISTS" not in _first(data).upper():
        raise MailboxError(f"{_where(cfg)}: cannot create folder {cfg.processed_folder!r}: {_first(data)}")


def _first(data: Sequence[object]) -> str:
    item = data[0] if data else b""
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item or "")


def new_uids(client: imaplib.IMAP4, after: int) -> list[int]:
    """UIDs above ``after``, ascending. ``N:*`` always names the newest message, so filter."""
    typ, data = client.uid("SEARCH", f"UID {after + 1}:*")
    if typ != "OK":
        raise MailboxError(f"UID SEARCH failed: {_first(data)}")
    uids = {int(tok) for chunk in data if isinstance(chunk, bytes) for tok in chunk.split() if tok.isdigit()}
    return sorted(u for u in uids if u > after)


def fetch(client: imaplib.IMAP4, uid: int) -> tuple[bytes, int]:
    """The message's first MAX_FETCH_BYTES and its full size; PEEK leaves \\Seen alone."""
    typ, data = client.uid("FETCH", str(uid), f"(RFC822.SIZE BODY.PEEK[]<0.{MAX_FETCH_BYTES}>)")
    if typ != "OK":
        raise _BadMessage(f"FETCH refused: {_first(data)}")
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and b"BODY[" in item[0]:
            size = _SIZE.search(item[0])
            body = bytes(item[1])
            return body, int(size.group(1)) if size else len(body)
    raise _BadMessage("the server returned no body")


def move(client: imaplib.IMAP4, uid: int, cfg: Imap, caps: set[str]) -> bool:
    """MOVE if offered; else COPY, and only once the copy exists, flag and expunge this UID alone."""
    target = quote(cfg.processed_folder)
    if "MOVE" in caps:
        typ, _ = client.uid("MOVE", str(uid), target)
        return typ == "OK"
    typ, _ = client.uid("COPY", str(uid), target)
    if typ != "OK":
        return False
    typ, _ = client.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)")
    if typ != "OK":
        return False
    if "UIDPLUS" in caps:  # without it, EXPUNGE would also remove what a person marked deleted
        typ, _ = client.uid("EXPUNGE", str(uid))
    return typ == "OK"


# -- the poll ----------------------------------------------------------------------------


def poll_mailbox(ws: WorkspaceConfig, engine: Engine, signer: Signer | None, *, rescan: bool = False) -> PollReport:
    """Record every new message of the configured folder, then move it to the processed folder."""
    cfg = ws.settings.imap
    if cfg is None:
        raise ConfigError(f"{ws.root / 'outreach.yaml'}: no imap section; add one to poll a mailbox")
    report = PollReport(mailbox=f"{cfg.username}@{cfg.host}/{cfg.folder}", processed_folder=cfg.processed_folder)
    secret = password(cfg)
    client = connect(cfg, ws.root)
    try:
        login(client, cfg, secret)
        _poll(client, cfg, engine, signer, report, rescan, policy_of(ws.settings))
    except (imaplib.IMAP4.abort, OSError) as exc:
        raise MailboxError(
            f"{_where(cfg)}: connection lost after {report.new} message(s) ({_text(exc)}); "
            "the rest wait for the next poll"
        ) from None
    except imaplib.IMAP4.error as exc:
        raise MailboxError(f"{_where(cfg)}: the server refused a command: {_text(exc)}") from None
    finally:
        _close(client)
    check_guardrails(engine, report.ingest, ws.settings.guardrails)
    return report


def _poll(client: imaplib.IMAP4, cfg: Imap, engine: Engine, signer: Signer | None, report: PollReport,
          rescan: bool, policy: SoftBouncePolicy) -> None:  # fmt: skip
    caps = capabilities(client)
    uidvalidity = select(client, cfg)
    ensure_folder(client, cfg)
    key = state_key(cfg)
    seen = load_seen(engine, key)
    high = seen.last_uid if seen and seen.uidvalidity == uidvalidity else 0  # a new UIDVALIDITY: start over
    for uid in new_uids(client, 0 if rescan else high):
        report.new += 1
        if _handle(client, cfg, engine, signer, report, uid, policy):
            _move_one(client, cfg, report, uid, caps)
        high = max(high, uid)
        save_seen(engine, key, Seen(uidvalidity, high), report.mailbox)


def _handle(client: imaplib.IMAP4, cfg: Imap, engine: Engine, signer: Signer | None, report: PollReport,
            uid: int, policy: SoftBouncePolicy) -> bool:  # fmt: skip
    """Fetch and record one message; False (and logged) if it cannot be, leaving it in place."""
    try:
        raw, size = fetch(client, uid)
        if size > len(raw):
            report.truncated += 1
            log.info("%s UID %d: %d bytes, read the first %d", cfg.folder, uid, size, len(raw))
        record_message(engine, raw, signer, report.ingest, policy=policy)
        return True
    except (imaplib.IMAP4.abort, OSError):
        raise  # the connection is gone: nothing more can be done in this poll
    except Exception as exc:  # noqa: BLE001 - one bad message must not stop the others
        if is_outage(exc):
            raise  # not this message's fault: it stays unread (its UID unsaved) for the poll after the outage
        _leave(cfg, report, uid, exc)
        return False


def _move_one(client: imaplib.IMAP4, cfg: Imap, report: PollReport, uid: int, caps: set[str]) -> None:
    """Recorded already; a failed move only leaves it in place (the seen UID keeps it from coming back)."""
    try:
        moved = move(client, uid, cfg, caps)
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as exc:
        _leave(cfg, report, uid, f"move to {cfg.processed_folder!r} failed: {_text(exc)}")
        return
    if moved:
        report.moved += 1
    else:
        _leave(cfg, report, uid, f"move to {cfg.processed_folder!r} refused")


def _leave(cfg: Imap, report: PollReport, uid: int, why: object) -> None:
    report.errors += 1
    report.left.append(uid)
    log.warning("%s UID %d left in place: %s", cfg.folder, uid, why, exc_info=isinstance(why, Exception)
                and log.isEnabledFor(logging.DEBUG))  # fmt: skip


def poll_and_promote(ws: WorkspaceConfig, engine: Engine, *, rescan: bool = False) -> tuple[PollReport, int]:
    """One poll and the follow-ups it creates: what ``track poll`` and the worker both do. Its time and
    outcome are recorded (``/metrics`` reports the last poll)."""
    from outreach.followups.promotion import promote

    signer = workspace_signer(engine, ws)
    try:
        report = poll_mailbox(ws, engine, signer, rescan=rescan)
    except MailboxError as exc:
        record_mailbox_poll(engine, utcnow(), ok=False, error=str(exc))
        raise
    record_mailbox_poll(engine, utcnow(), ok=True, new=report.new)
    return report, promote(engine, ws)
