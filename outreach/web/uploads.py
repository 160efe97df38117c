"""Files people upload to the app: read with a cap, kept a short while under a random token, then gone.

Why it works as it does:

* An upload is refused as soon as it is known to be too big: by its
  ``Content-Length`` before a byte of it is read, else (a chunked body, a
  lying length) as soon as more than the limit has arrived. The form is
  parsed as it streams in (Starlette's multipart parser over a capped
  stream), so a file never sits whole in memory.
* Between showing the columns of a contact list and importing it, the file
  waits in an upload area outside the workspace (the system's temporary
  folder, one folder per workspace, readable by this user only), under a
  token of 192 random bits that only the user who uploaded it can use. It
  expires after ``TTL``; the area keeps at most ``MAX_PENDING`` uploads, the
  oldest going first. Nothing of an upload ever reaches a path built from
  what the client sent: the token is checked against its alphabet first, and
  the client's file name is only ever shown.
* The import's reports (rejects, warnings) are kept beside it for download,
  until the upload expires.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from outreach.web.sessions import check_csrf

MB = 1024 * 1024
TTL = 3600.0  # seconds an upload waits for its import, and its reports for their download
MAX_PENDING = 50
SLACK = 256 * 1024  # a multipart body's boundaries and other fields, beside its file
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
FILE = "upload"
META = "meta.json"


class TooLarge(Exception):
    pass


def too_large(limit: int, what: str) -> HTTPException:
    return HTTPException(413, f"{what} is larger than the limit of {limit // MB} MB for an upload here.")


async def _capped(stream: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit:
            raise TooLarge
        yield chunk


async def upload_form(request: Request, limit: int, *, what: str = "The file", max_fields: int = 1000) -> FormData:
    """The POSTed form (multipart with at most one file, or urlencoded), read with ``limit`` bytes of file at
    most (413 beyond, before reading it all), after its CSRF token matched the session's (403 otherwise)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + SLACK:
        raise too_large(limit, what)
    try:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            parser = MultiPartParser(request.headers, _capped(request.stream(), limit + SLACK), max_files=1,
                                     max_fields=max_fields, max_part_size=64 * 1024)  # fmt: skip
            form = await parser.parse()
        else:
            form = await Request(request.scope, _capped_receive(request, limit + SLACK)).form(
                max_files=0, max_fields=max_fields, max_part_size=64 * 1024)  # fmt: skip
    except TooLarge:
        raise too_large(limit, what) from None
    except MultiPartException as exc:
        raise HTTPException(400, f"This upload could not be read ({exc}). Try again.") from None
    check_csrf(request, form)
    return form


def _capped_receive(request: Request, limit: int) -> Any:
    seen = [0]
    receive = request.receive

    async def capped() -> Any:
        message = await receive()
        seen[0] += len(message.get("body", b""))
        if seen[0] > limit:
            raise TooLarge
        return message

    return capped


@dataclass(frozen=True)
class Upload:
    token: str
    folder: Path
    name: str  # the client's file name, for showing only
    size: int
    user: int
    at: float

    @property
    def path(self) -> Path:
        return self.folder / FILE

    def report(self, name: str) -> Path:
        """A report kept beside the upload (``rejects.csv``, ``warnings.csv``)."""
        return self.folder / name


class UploadArea:
    """One workspace's pending uploads: ``TOKEN/upload`` and ``TOKEN/meta.json`` under a private folder."""

    def __init__(self, root: Path, workspace: Path, ttl: float = TTL, max_pending: int = MAX_PENDING) -> None:
        key = hashlib.sha256(str(workspace.resolve()).encode()).hexdigest()[:16]
        self.root = root / f"outreach-uploads-{os.getuid() if hasattr(os, 'getuid') else 0}" / key
        self.ttl, self.max_pending = ttl, max_pending

    @classmethod
    def for_workspace(cls, workspace: Path) -> UploadArea:
        return cls(Path(tempfile.gettempdir()), workspace)

    def _folder(self) -> Path:
        """The area, made private; refused if someone else made (or linked) its folder first in /tmp."""
        for folder in (self.root.parent, self.root):
            with contextlib.suppress(FileExistsError):
                folder.mkdir(mode=0o700)
            found = os.lstat(folder)
            if stat.S_ISLNK(found.st_mode) or not stat.S_ISDIR(found.st_mode) or (
                    hasattr(os, "getuid") and found.st_uid != os.getuid()):  # fmt: skip
                raise HTTPException(500, f"The upload folder {folder} is not this server's own; remove it.")
            os.chmod(folder, 0o700)
        return self.root

    def save(self, source: IO[bytes], name: str, user: int) -> Upload:
        """Copy an uploaded file into the area under a new token."""
        self.expire()
        token = secrets.token_urlsafe(24)
        folder = self._folder() / token
        folder.mkdir(mode=0o700)
        with (folder / FILE).open("wb") as out:
            shutil.copyfileobj(source, out, 1024 * 1024)
            size = out.tell()
        at = time.time()
        (folder / META).write_text(json.dumps({"name": name[:255], "size": size, "user": user, "at": at}),
                                   encoding="utf-8")  # fmt: skip
        return Upload(token, folder, name[:255], size, user, at)

    def find(self, token: str, user: int) -> Upload | None:
        """The upload of this token, if it is this user's and not expired; None for anything else."""
        if not _TOKEN.match(token):
            return None
        folder = self.root / token
        try:
            meta = json.loads((folder / META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if meta.get("user") != user or time.time() - float(meta.get("at", 0)) > self.ttl:
            return None
        return Upload(token, folder, str(meta.get("name", "")), int(meta.get("size", 0)), user, float(meta["at"]))

    def discard_file(self, upload: Upload) -> None:
        """The uploaded file goes once imported; its reports stay until the upload expires."""
        with contextlib.suppress(FileNotFoundError):
            upload.path.unlink()

    def expire(self) -> None:
        """Remove expired uploads, and the oldest beyond ``max_pending``."""
        if not self.root.is_dir():
            return
        found: list[tuple[float, Path]] = []
        for folder in self.root.iterdir():
            try:
                at = float(json.loads((folder / META).read_text(encoding="utf-8")).get("at", 0))
            except (OSError, ValueError):
                at = folder.stat().st_mtime if folder.exists() else 0.0
            found.append((at, folder))
        found.sort(reverse=True)
        now = time.time()
        for n, (at, folder) in enumerate(found):
            if now - at > self.ttl or n >= self.max_pending - 1:
                shutil.rmtree(folder, ignore_errors=True)


def file_of(form: FormData, field: str = "file") -> UploadFile | None:
    """The form's file in ``field``, if one was chosen (a browser sends an empty part when none was)."""
    value = form.get(field)
    if isinstance(value, UploadFile) and (value.filename or value.size):
        return value
    return None
