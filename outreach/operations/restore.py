"""``outreach restore FILE DIR``: a new workspace in DIR from a backup archive, its database included.

The order is what makes a failure leave nothing behind:

1. DIR must be new or empty (a restore never mixes with files that are there).
2. Every member is extracted into a hidden folder beside DIR and checked
   against the manifest (size, SHA-256, nothing missing, nothing extra): a
   corrupt, truncated or foreign archive stops here.
3. The database goes where the restored ``outreach.yaml`` says, after
   ``OUTREACH_DATABASE_URL`` if set: SQLite, a file that must not exist yet
   (inside the workspace it travels with the folder in step 4); PostgreSQL, an
   existing database that must be empty, filled by ``pg_restore`` in one
   transaction. Its row counts must equal the manifest's.
4. The hidden folder is renamed to DIR: the workspace appears whole, or not.

A database made by an older release is restored as it was; it is brought to
the current schema the first time outreach opens it, as any workspace is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from outreach.errors import BackupError, OutreachError
from outreach.operations import archive, databases
from outreach.settings.workspace import load_workspace, resolve_database_url


@dataclass(frozen=True)
class RestoreResult:
    root: Path
    manifest: archive.Manifest
    database: str  # where the database went (a path, or a URL without its password)

    def summary(self) -> str:
        m = self.manifest
        messages = sum(m.outbox_states.values())
        return (f"Restored {len(m.files)} workspace file(s) into {self.root} and the database into {self.database} "
                f"({m.tables.get('contacts', 0)} contact(s), {messages} message(s); schema {m.schema_revision}, "
                f"backed up {m.created_at} by outreach {m.outreach_version})")  # fmt: skip


def restore_backup(source: Path, target: Path) -> RestoreResult:
    """Restore the archive ``source`` into the new or empty folder ``target``."""
    source, target = source.absolute(), target.absolute()
    _check_target(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".restoring", dir=target.parent))
    placed: Path | None = None
    try:
        manifest = archive.extract(source, staging)
        workspace = staging / archive.WORKSPACE
        if not (workspace / "outreach.yaml").is_file():
            raise BackupError("the archive holds no outreach.yaml: not a workspace's backup", path=source)
        url, placed = _restore_database(manifest, staging, target)
        _place(workspace, target)
        placed = None  # in place: nothing to undo any more
    except OSError as exc:
        raise BackupError(f"cannot restore into {target}: {exc.strerror or exc}", path=source) from None
    finally:
        archive.remove_tree(staging)
        if placed is not None:  # a SQLite file put outside the workspace before a later step failed
            placed.unlink(missing_ok=True)
    return RestoreResult(target, manifest, url)


def _check_target(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError("is not empty; restore into a new or empty folder", path=target)
    if not target.parent.is_dir():
        raise BackupError(f"the folder {target.parent} does not exist; create it first", path=target)


def _restore_database(manifest: archive.Manifest, staging: Path, target: Path) -> tuple[str, Path | None]:
    """Put the database where the restored workspace will look for it: (where, a file to remove if a later
    step fails)."""
    workspace = staging / archive.WORKSPACE
    try:
        settings = load_workspace(workspace).settings
    except OutreachError as exc:
        raise BackupError(f"the restored outreach.yaml cannot be read: {exc}") from None
    url = resolve_database_url(settings.database_url, target)
    kind = databases.kind_of(url)
    dump = staging / manifest.database.path
    if kind != manifest.database_kind:
        raise BackupError(f"the archive holds a {manifest.database_kind} database, but the restored workspace names "
                          f"a {kind} one ({databases.hide_password(url)}); set OUTREACH_DATABASE_URL to a "
                          f"{manifest.database_kind} database to restore into")  # fmt: skip
    if kind == "postgresql":
        databases.postgres_target_empty(url)
        databases.postgres_restore(dump, url)
        _same_counts(manifest, databases.postgres_counts(url), databases.hide_password(url))
        return databases.hide_password(url), None
    return _restore_sqlite(manifest, dump, databases.sqlite_path(url), staging, target)


def _restore_sqlite(manifest: archive.Manifest, dump: Path, path: Path, staging: Path,
                    target: Path) -> tuple[str, Path | None]:  # fmt: skip
    databases.sqlite_check(dump)
    _same_counts(manifest, databases.sqlite_counts(dump), str(path))
    try:
        inside = path.resolve().relative_to(target.resolve())
    except ValueError:
        inside = None
    if inside is not None:  # travels with the folder
        destination = staging / archive.WORKSPACE / inside
        if destination.exists():
            raise BackupError(f"the archive holds a file {inside} where the database goes", path=path)
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(dump, destination)
        return str(path), None
    for existing in (path, path.with_name(path.name + "-wal")):
        if existing.exists():
            raise BackupError("already exists; restore refuses to overwrite a database: set OUTREACH_DATABASE_URL "
                              "to a new file (sqlite:////path/new.db)", path=existing)  # fmt: skip
    if not path.parent.is_dir():
        raise BackupError(f"the folder {path.parent} for the database does not exist", path=path)
    partial = path.with_name(f".{path.name}.restoring")
    shutil.move(dump, partial)  # another file system, maybe: copied, then renamed into place below
    try:
        os.link(partial, path)  # fails if someone created it meanwhile: never overwrite
    finally:
        partial.unlink()
    return str(path), path


def _same_counts(manifest: archive.Manifest, restored: databases.Snapshot, where: str) -> None:
    if manifest.tables and restored.tables != manifest.tables:
        wrong = sorted(t for t in {*manifest.tables, *restored.tables}
                       if manifest.tables.get(t) != restored.tables.get(t))  # fmt: skip
        raise BackupError(f"the restored database ({where}) does not hold what the manifest says: table {wrong[0]} "
                          f"has {restored.tables.get(wrong[0])} rows, the manifest {manifest.tables.get(wrong[0])}")


def _place(workspace: Path, target: Path) -> None:
    """The restored folder becomes ``target``: renamed whole (an empty ``target`` is replaced)."""
    if target.exists():
        target.rmdir()  # empty: checked first, and a file appearing meanwhile makes this fail
    os.rename(workspace, target)
