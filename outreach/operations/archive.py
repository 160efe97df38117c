"""The backup archive: a tar.gz whose first member, ``manifest.json``, says what the rest must be.

::

    manifest.json               format, versions, schema revision, database kind, counts, checksums
    workspace/outreach.yaml     every workspace file, by its path in the workspace
    workspace/segments/...
    database/outreach.db        SQLite: a copy made with SQLite's online backup API
    database/outreach.dump      PostgreSQL: pg_dump's custom format

Reading trusts nothing: a member must be a regular file the manifest lists,
under a relative path without ``..``, of the size and SHA-256 the manifest
says, and every listed file must be there. So a truncated or corrupted
archive, a foreign one, or one crafted to write outside the target all stop
with one clear error, before anything is put in place.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from outreach.errors import BackupError

FORMAT = "outreach-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
WORKSPACE = "workspace"
DATABASE = "database"
MAX_MANIFEST = 16 * 1024 * 1024  # bytes: a manifest larger than this is not ours
CHUNK = 1024 * 1024
KINDS = {"sqlite": "outreach.db", "postgresql": "outreach.dump"}  # database kind -> its member's name


@dataclass(frozen=True)
class Entry:
    """One file of the archive: its path inside the archive, size and SHA-256."""

    path: str
    size: int
    sha256: str
    mode: int = 0o644

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256, "mode": self.mode}


@dataclass(frozen=True)
class Manifest:
    outreach_version: str
    created_at: str  # ISO 8601, UTC
    schema_revision: str | None
    database_kind: str  # sqlite | postgresql
    database: Entry
    files: tuple[Entry, ...]
    tables: dict[str, int] = field(default_factory=dict)  # rows per table at the snapshot's moment
    outbox_states: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> bytes:
        data = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "outreach_version": self.outreach_version,
            "created_at": self.created_at, "schema_revision": self.schema_revision,
            "database": {"kind": self.database_kind, **self.database.as_dict(), "tables": self.tables,
                         "outbox_states": self.outbox_states},
            "files": [f.as_dict() for f in self.files],
        }  # fmt: skip
        return json.dumps(data, indent=1, sort_keys=False).encode("utf-8")

    def entries(self) -> dict[str, Entry]:
        """Every member the archive must hold besides the manifest, by its path in the archive."""
        return {e.path: e for e in (*self.files, self.database)}


def parse_manifest(raw: bytes, archive: Path) -> Manifest:
    """The manifest, validated: a clear error for anything that is not a manifest of a format we read."""

    def bad(why: str) -> BackupError:
        return BackupError(f"not an outreach backup archive ({why})", path=archive)

    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad(f"{MANIFEST} is not JSON") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise bad(f"{MANIFEST} does not say format {FORMAT!r}")
    if data.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"backup format version {data.get('format_version')!r} is not one this outreach reads "
                          f"({FORMAT_VERSION}); restore it with the outreach version that wrote it "
                          f"({data.get('outreach_version')!r})", path=archive)  # fmt: skip
    try:
        db = data["database"]
        kind = db["kind"]
        if kind not in KINDS or db["path"] != f"{DATABASE}/{KINDS[kind]}":
            raise bad(f"unknown database kind {kind!r}")
        files = tuple(_entry(f, WORKSPACE) for f in data["files"])
        return Manifest(outreach_version=str(data["outreach_version"]), created_at=str(data["created_at"]),
                        schema_revision=data.get("schema_revision"), database_kind=kind,
                        database=_entry(db, DATABASE), files=files,
                        tables={str(k): int(v) for k, v in (db.get("tables") or {}).items()},
                        outbox_states={str(k): int(v) for k, v in (db.get("outbox_states") or {}).items()})
    except (KeyError, TypeError, ValueError) as exc:
        raise bad(f"{MANIFEST} is incomplete: {exc}") from None


def _entry(data: Any, top: str) -> Entry:
    path = member_path(str(data["path"]), top)
    size, digest, mode = int(data["size"]), str(data["sha256"]), int(data.get("mode", 0o644))
    if size < 0 or len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
        raise ValueError(f"bad size or checksum for {path}")
    return Entry(path, size, digest, mode & 0o777)


def member_path(name: str, top: str) -> str:
    """``name`` if it is a plain relative path under ``top/``; ValueError for anything else."""
    pure = PurePosixPath(name)
    if (pure.is_absolute() or "\\" in name or "\x00" in name or len(pure.parts) < 2 or pure.parts[0] != top
            or any(p in ("", ".", "..") for p in pure.parts) or name != pure.as_posix()):  # fmt: skip
        raise ValueError(f"unsafe or unexpected path {name!r}")
    return name


# -- writing ------------------------------------------------------------------------------------


def copy_hashed(source: IO[bytes], target: Path, mode: int = 0o644, limit: int | None = None) -> tuple[int, str]:
    """Copy a stream to ``target`` (a new file), hashing it on the way: (size, SHA-256). More than ``limit``
    bytes is a ValueError (a member longer than its manifest says)."""
    digest, size = hashlib.sha256(), 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode & 0o777 | 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if limit is not None and size > limit:
                raise ValueError(f"more than the {limit} bytes the manifest says")
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return size, digest.hexdigest()


def hash_file(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            size += len(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()


def write_archive(out: Path, manifest: Manifest, staged: Path) -> None:
    """The tar.gz at ``out`` (created, mode 0600: it holds every contact and the keys), manifest first,
    then each entry from ``staged/PATH``; fsynced, so a rename makes it whole or not at all."""
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as raw:
        with tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.PAX_FORMAT, compresslevel=6) as tar:
            body = manifest.as_json()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(body), 0o644
            tar.addfile(info, _bytes_io(body))
            for entry in manifest.entries().values():
                info = tarfile.TarInfo(entry.path)
                info.size, info.mode = entry.size, entry.mode
                with (staged / entry.path).open("rb") as fh:
                    tar.addfile(info, fh)
        raw.flush()
        os.fsync(raw.fileno())


def _bytes_io(data: bytes) -> IO[bytes]:
    import io

    return io.BytesIO(data)


# -- reading ------------------------------------------------------------------------------------


def extract(archive: Path, into: Path) -> Manifest:
    """Every member into ``into`` (empty) after checking it against the manifest; the manifest.

    Raises BackupError naming the archive for anything wrong; the caller removes ``into``.
    """
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            return _extract(tar, archive, into)
    except FileNotFoundError as exc:
        if Path(str(exc.filename)) == archive:
            raise BackupError("no such file", path=archive) from None
        raise BackupError(f"cannot restore: {exc.strerror}: {exc.filename}") from None
    except IsADirectoryError:
        raise BackupError("is a folder, not a backup archive", path=archive) from None
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BackupError(f"not a readable backup archive: it is truncated or corrupt ({_why(exc)})",
                          path=archive) from None  # fmt: skip
    except OSError as exc:
        raise BackupError(f"cannot restore: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""),
                          path=archive) from None  # fmt: skip


def _why(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _extract(tar: tarfile.TarFile, archive: Path, into: Path) -> Manifest:
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isfile() or first.size > MAX_MANIFEST:
        raise BackupError(f"not an outreach backup archive (its first member is not {MANIFEST})", path=archive)
    stream = tar.extractfile(first)
    assert stream is not None
    manifest = parse_manifest(stream.read(), archive)
    expected, folders, seen = manifest.entries(), _folders(manifest.entries()), set()
    while (member := tar.next()) is not None:  # streaming: the archive is read once, front to back
        entry = expected.get(member.name)
        if member.isdir() and member.name in folders:
            continue
        if entry is None or not member.isfile() or member.name in seen:
            what = ("a link" if member.issym() or member.islnk() else
                    "a duplicate" if member.name in seen else "unlisted")  # fmt: skip
            raise BackupError(f"member {member.name!r} is {what}: the archive does not match its manifest",
                              path=archive)  # fmt: skip
        seen.add(member.name)
        _extract_one(tar, member, entry, into, archive)
    while tar.fileobj is not None and tar.fileobj.read(CHUNK):  # to gzip's end: its CRC and length checked too
        pass
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(f"the archive is truncated or incomplete: {len(missing)} file(s) of its manifest are "
                          f"missing, the first {missing[0]}", path=archive)  # fmt: skip
    return manifest


def _folders(expected: dict[str, Entry]) -> set[str]:
    return {str(p) for path in expected for p in PurePosixPath(path).parents if str(p) != "."}


def _extract_one(tar: tarfile.TarFile, member: tarfile.TarInfo, entry: Entry, into: Path, archive: Path) -> None:
    if member.size != entry.size:
        raise BackupError(f"{entry.path} is {member.size} bytes, its manifest says {entry.size}: the archive is "
                          "corrupt", path=archive)  # fmt: skip
    target = into.joinpath(*PurePosixPath(entry.path).parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    stream = tar.extractfile(member)
    assert stream is not None
    try:
        size, sha256 = copy_hashed(stream, target, entry.mode, limit=entry.size)
    except ValueError as exc:
        raise BackupError(f"{entry.path}: {exc}: the archive is corrupt", path=archive) from None
    if sha256 != entry.sha256 or size != entry.size:
        raise BackupError(f"{entry.path} does not match its checksum: the archive is corrupt", path=archive)


def iter_files(root: Path, skip: set[Path], skip_names: frozenset[str]) -> Iterator[tuple[Path, str]]:
    """Every regular file under ``root`` (symlinks followed, loops cut), as (real path, posix path in the
    workspace); ``skip`` are absolute paths left out, ``skip_names`` names of files or folders left out."""
    seen: set[tuple[int, int]] = set()

    def walk(folder: Path, rel: PurePosixPath) -> Iterator[tuple[Path, str]]:
        try:
            st = folder.stat()
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except FileNotFoundError:
            return
        if (st.st_dev, st.st_ino) in seen:
            return
        seen.add((st.st_dev, st.st_ino))
        for item in entries:
            path = Path(item.path)
            if item.name in skip_names or path.resolve() in skip:
                continue
            try:
                if item.is_dir():  # follows a symlink to a folder
                    yield from walk(path, rel / item.name)
                elif item.is_file():
                    yield path, (rel / item.name).as_posix()
            except FileNotFoundError:
                continue  # gone while we looked

    yield from walk(root, PurePosixPath())


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
