"""``outreach backup FILE``: the workspace's files and a consistent copy of its database, in one archive.

Safe to run while a campaign sends: the database copy is one snapshot (see
databases.py), taken without stopping the writers. The workspace files are
copied first, each hashed as it is copied, so the checksums in the manifest are
those of the bytes in the archive even if someone saves a file meanwhile.

Everything is prepared in a hidden folder beside FILE and the archive is
written to a hidden file there, fsynced, then renamed to FILE: a backup that
fails (disk full, pg_dump refused) leaves no half archive under FILE's name.

Left out: the database file itself (its copy is in the archive), SQLite's
``-wal``/``-shm`` files, caches (``__pycache__``, ``.cache``…), a ``.git`` or
``.venv`` folder, and FILE if it is inside the workspace.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from outreach import __version__
from outreach.errors import BackupError
from outreach.operations import archive, databases
from outreach.settings.workspace import SKIP, WorkspaceConfig

LEFT_OUT = frozenset({*SKIP, ".cache", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git", ".venv"})


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: archive.Manifest
    size: int  # bytes of the archive

    def summary(self) -> str:
        m = self.manifest
        kind = "SQLite" if m.database_kind == "sqlite" else "PostgreSQL"
        messages = sum(m.outbox_states.values())
        return (f"Backup written to {self.path} ({_size(self.size)}): {len(m.files)} workspace file(s), the {kind} "
                f"database at schema {m.schema_revision} ({m.tables.get('contacts', 0)} contact(s), {messages} "
                f"message(s), {sum(m.tables.values())} row(s) in {len(m.tables)} table(s))")  # fmt: skip


def _size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError


def backup_workspace(ws: WorkspaceConfig, engine: Engine, out: Path, *, force: bool = False) -> BackupResult:
    """Write the archive ``out``; ``force`` replaces an existing file (atomically: the old one stays until
    the new one is whole)."""
    out = out.absolute()
    if out.parent.is_dir():
        out = out.parent.resolve() / out.name
    if out.is_dir():
        raise BackupError("is a folder; name the archive file to write, e.g. backup-2026-12-01.tar.gz", path=out)
    if out.exists() and not force:
        raise BackupError("already exists; choose a new name, or --force to replace it", path=out)
    if not out.parent.is_dir():
        raise BackupError(f"the folder {out.parent} does not exist", path=out)
    kind = databases.kind_of(engine.url.render_as_string(hide_password=False))
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        manifest = _stage(ws, engine, kind, out, staging)
        partial = staging / "archive.tar.gz"
        archive.write_archive(partial, manifest, staging)
        os.replace(partial, out)
        _fsync_folder(out.parent)
    except OSError as exc:
        raise BackupError(f"cannot write the backup: {exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename
                          else ""), path=out) from None  # fmt: skip
    finally:
        archive.remove_tree(staging)
    return BackupResult(out, manifest, out.stat().st_size)


def _stage(ws: WorkspaceConfig, engine: Engine, kind: str, out: Path, staging: Path) -> archive.Manifest:
    """Copy the files and the database into ``staging``; the manifest that describes them."""
    url = engine.url.render_as_string(hide_password=False)
    skip = {out, staging}
    if kind == "sqlite":
        db = databases.sqlite_path(url).resolve()
        skip |= {db, *(db.with_name(db.name + suffix) for suffix in ("-wal", "-shm", "-journal"))}
    files = _copy_files(ws.root, staging, skip)
    (staging / archive.DATABASE).mkdir()
    member = f"{archive.DATABASE}/{archive.KINDS[kind]}"
    target = staging / member
    if kind == "sqlite":
        snapshot = databases.sqlite_snapshot(databases.sqlite_path(url), target)
    else:
        snapshot = databases.postgres_snapshot(engine, target)
    size, digest = archive.hash_file(target)
    return archive.Manifest(
        outreach_version=__version__, created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        schema_revision=snapshot.revision, database_kind=kind, database=archive.Entry(member, size, digest, 0o600),
        files=tuple(files), tables=snapshot.tables, outbox_states=snapshot.outbox_states,
    )  # fmt: skip


def _copy_files(root: Path, staging: Path, skip: set[Path]) -> list[archive.Entry]:
    entries = []
    for path, rel in archive.iter_files(root, skip, LEFT_OUT):
        member = f"{archive.WORKSPACE}/{rel}"
        target = staging / member
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode = path.stat().st_mode & 0o777
            with path.open("rb") as fh:
                size, digest = archive.copy_hashed(fh, target, mode)
        except FileNotFoundError:
            continue  # deleted while the backup ran: it is not part of the workspace any more
        except PermissionError:
            raise BackupError("cannot be read (permission denied); a backup must hold every workspace file: "
                              "fix its permissions or run the backup as its owner", path=path) from None
        entries.append(archive.Entry(member, size, digest, mode))
    return entries


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (a power cut after it must not bring back the old name)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
