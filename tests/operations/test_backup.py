"""``outreach backup`` and ``outreach restore``: a consistent copy while a campaign sends, and a corrupt,
foreign or hostile archive refused with one clear error that leaves nothing behind.

The mid-send tests run a real ``campaign send`` process against a slow sink and take the backup while it
sends. The archive's manifest holds the counts of the snapshot's own moment (read from the copy itself),
so the check is exact: the restored database holds exactly those rows in exactly those states; every
message it calls ``sent`` had reached the sink by the time the backup finished, and every message the sink
had before the backup started is ``sent`` or ``sending`` (durable before the relay saw it) in the copy.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
import stat
import tarfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_support import Faults, FaultySink, bulk_workspace, prepare, running
from helpers import Spawned, invoke, wait_for, write
from sqlalchemy import create_engine, text

from outreach.operations.archive import hash_file

N = 300
SLOW = "throttle: {rate: 25/s, connections: 2}\n"  # 12 s of sending: the backup lands well inside it


def manifest_of(archive: Path) -> dict:  # type: ignore[type-arg]
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        return json.loads(member.read())


def members(archive: Path) -> set[str]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name for m in tar.getmembers()}


def error_line(result) -> str:  # type: ignore[no-untyped-def]
    """The one line a failed command prints: ``Error: ...`` on stderr, nothing on stdout."""
    assert result.exit_code == 1, result.output
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return str(lines[0])


def outbox_of(conn) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {mid: state for mid, state in conn.execute(text("SELECT message_id, state FROM outbox"))}


def table_counts(conn, tables: list[str]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}


def backup_mid_send(root: Path, archive: Path, sink: FaultySink, env: dict[str, str]) -> tuple[set[str], set[str]]:
    """Start ``campaign send`` as a process, back up while it sends, let it finish. (Message-IDs at the sink
    before the backup started, and when it had finished.)"""
    send = Spawned(["-w", str(root), "campaign", "send", "blast", "--yes"], env)
    wait_for(lambda: len(sink.received) >= 40, what="the campaign sending", context=send.output)
    before = set(sink.message_ids())
    result = invoke("backup", str(archive), ws=root)
    after = set(sink.message_ids())
    assert result.exit_code == 0, result.output
    assert re.fullmatch(rf"Backup written to {re.escape(str(archive))} \([\d.]+ (KB|MB)\): \d+ workspace file\(s\), "
                        rf"the (SQLite|PostgreSQL) database at schema \S+ \({N} contact\(s\), {N} message\(s\), "
                        r"\d+ row\(s\) in \d+ table\(s\)\)\n", result.stdout), result.stdout
    assert send.finish() == 0, send.output()
    assert len(before) < len(after) or len(after) < N, "the backup was not taken while sending"
    return before, after


def check_restored(conn, manifest: dict, before: set[str], after: set[str]) -> None:  # type: ignore[no-untyped-def, type-arg]
    states = manifest["database"]["outbox_states"]
    assert sum(states.values()) == N and 0 < states.get("sent", 0) < N, states  # every row, mid-send
    assert table_counts(conn, list(manifest["database"]["tables"])) == manifest["database"]["tables"]
    rows = outbox_of(conn)
    assert Counter(rows.values()) == Counter(states)
    assert {mid for mid, state in rows.items() if state == "sent"} <= after  # no "sent" the relay never had
    assert before <= {mid for mid, state in rows.items() if state in ("sent", "sending")}  # none lost or re-queued


def test_a_backup_taken_mid_send_on_sqlite_restores_the_counts_of_its_moment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    root = bulk_workspace(tmp_path / "ws", N, SLOW)
    archive = tmp_path / "backup.tar.gz"
    with running(FaultySink(Faults(slow_rate=1.0, slow_seconds=0.02))) as sink:
        _ws, engine = prepare(root, sink.port, monkeypatch)
        engine.dispose()
        before, after = backup_mid_send(root, archive, sink, {})
    manifest = manifest_of(archive)
    assert manifest["database"]["kind"] == "sqlite" and "database/outreach.db" in members(archive)
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600  # every contact and the keys: for its owner only

    result = invoke("restore", str(archive), str(tmp_path / "restored"))
    assert result.exit_code == 0, result.output
    assert result.stdout == (f"Restored {len(manifest['files'])} workspace file(s) into {tmp_path / 'restored'} and "
                             f"the database into {tmp_path / 'restored' / 'outreach.db'} ({N} contact(s), {N} "
                             f"message(s); schema {manifest['schema_revision']}, backed up {manifest['created_at']} "
                             f"by outreach {manifest['outreach_version']})\n")  # fmt: skip
    restored = create_engine(f"sqlite:///{tmp_path / 'restored' / 'outreach.db'}")
    with restored.connect() as conn:
        check_restored(conn, manifest, before, after)
    restored.dispose()
    status = json.loads(invoke("campaign", "status", "blast", "--json", ws=tmp_path / "restored").stdout)
    assert (status["total"], status["sent"]) == (N, manifest["database"]["outbox_states"]["sent"])
    for f in manifest["files"]:  # the files as they were, byte for byte
        rel = f["path"].removeprefix("workspace/")
        assert (tmp_path / "restored" / rel).read_bytes() == (root / rel).read_bytes()


@pytest.fixture
def second_pg(pg_url: str, pg_admin_url: str) -> Iterator[str]:
    """Another empty database beside ``pg_url``'s, to restore into."""
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    name = pg_url.rsplit("/", 1)[1] + "_r"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield pg_url.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.postgres
def test_a_backup_taken_mid_send_on_postgresql_restores_into_an_empty_database_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str, second_pg: str) -> None:  # fmt: skip
    root = bulk_workspace(tmp_path / "ws", N, SLOW)
    settings = root / "outreach.yaml"
    settings.write_text(re.sub(r"(?m)^database_url:.*$", f"database_url: {pg_url}", settings.read_text()))
    archive = tmp_path / "backup.tar.gz"
    with running(FaultySink(Faults(slow_rate=1.0, slow_seconds=0.02))) as sink:
        _ws, engine = prepare(root, sink.port, monkeypatch)
        engine.dispose()
        before, after = backup_mid_send(root, archive, sink, {})
    manifest = manifest_of(archive)
    assert manifest["database"]["kind"] == "postgresql" and "database/outreach.dump" in members(archive)
    with open(tmp_path / "restored-dump", "wb") as fh, tarfile.open(archive, "r:gz") as tar:
        fh.write(tar.extractfile("database/outreach.dump").read())  # type: ignore[union-attr]
    assert (tmp_path / "restored-dump").read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format

    # the restored outreach.yaml names the database in use: not empty, so refused, and nothing is written
    message = error_line(invoke("restore", str(archive), str(tmp_path / "restored")))
    assert re.fullmatch(r"Error: the database postgresql\+psycopg://outreach(?::\*\*\*)?@[^ ]+ is not empty "
                        r"\(\d+ tables, sequences or views\); restore into a new, empty database \(createdb NAME, then "
                        r"OUTREACH_DATABASE_URL or database_url in the restored outreach.yaml\)", message), message
    assert not (tmp_path / "restored").exists() and not [p for p in tmp_path.iterdir() if ".restoring" in p.name]

    monkeypatch.setenv("OUTREACH_DATABASE_URL", second_pg)
    result = invoke("restore", str(archive), str(tmp_path / "restored"))
    assert result.exit_code == 0, result.output
    assert f"and the database into {second_pg.replace(':outreach@', ':***@')} ({N} contact(s)" in result.stdout
    restored = create_engine(second_pg)
    with restored.connect() as conn:
        check_restored(conn, manifest, before, after)
    restored.dispose()
    status = json.loads(invoke("campaign", "status", "blast", "--json", ws=tmp_path / "restored").stdout)
    assert (status["total"], status["sent"]) == (N, manifest["database"]["outbox_states"]["sent"])


# -- what goes into the archive -------------------------------------------------------------------


def test_the_archive_holds_the_workspace_files_and_not_the_raw_database_nor_caches(example_ws: Path,
                                                                                   tmp_path: Path) -> None:  # fmt: skip
    write(example_ws / "images" / "logo.png", "png")
    key = write(example_ws / "keys" / "dkim.pem", "-----BEGIN PRIVATE KEY-----\n")
    key.chmod(0o600)
    write(example_ws / "__pycache__" / "x.pyc", "cache")
    write(example_ws / ".cache" / "y", "cache")
    write(example_ws / "segments" / "__pycache__" / "z.pyc", "cache")
    assert invoke("contacts", "import", str(example_ws / "contacts.csv"), ws=example_ws).exit_code == 0
    (example_ws / "outreach.db-wal").write_bytes(b"")  # SQLite's own files, as a running sender leaves them
    inside = example_ws / "backups" / "b.tar.gz"  # kept inside the workspace: it leaves itself out
    inside.parent.mkdir()
    assert invoke("backup", str(inside), ws=example_ws).exit_code == 0

    names = members(inside)
    expected = {f"workspace/{p.relative_to(example_ws).as_posix()}" for p in example_ws.rglob("*") if p.is_file()
                and not {"__pycache__", ".cache", "backups"} & set(p.relative_to(example_ws).parts)
                and not p.name.startswith("outreach.db")}  # fmt: skip
    assert names == {"manifest.json", "database/outreach.db", *expected}
    assert {"workspace/images/logo.png", "workspace/keys/dkim.pem", "workspace/outreach.yaml"} <= names
    manifest = manifest_of(inside)
    for entry in manifest["files"]:
        assert (entry["size"], entry["sha256"]) == hash_file(example_ws / entry["path"].removeprefix("workspace/"))

    assert invoke("restore", str(inside), str(tmp_path / "restored")).exit_code == 0
    assert stat.S_IMODE((tmp_path / "restored" / "keys" / "dkim.pem").stat().st_mode) == 0o600


def test_an_existing_archive_is_replaced_only_with_force(example_ws: Path, tmp_path: Path) -> None:
    archive = write(tmp_path / "b.tar.gz", "an older backup")
    message = error_line(invoke("backup", str(archive), ws=example_ws))
    assert message == f"Error: {archive}: already exists; choose a new name, or --force to replace it"
    assert archive.read_text() == "an older backup"
    assert invoke("backup", str(archive), "--force", ws=example_ws).exit_code == 0
    assert manifest_of(archive)["format"] == "outreach-backup"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left behind


# -- restoring: refused, with nothing left behind -----------------------------------------------


@pytest.fixture
def archive(example_ws: Path, tmp_path: Path) -> Path:
    assert invoke("contacts", "import", str(example_ws / "contacts.csv"), ws=example_ws).exit_code == 0
    path = tmp_path / "good.tar.gz"
    assert invoke("backup", str(path), ws=example_ws).exit_code == 0
    return path


def nothing_written(folder: Path, target: Path) -> None:
    assert not target.exists()
    assert [p.name for p in folder.iterdir() if ".restoring" in p.name or p.name == "evil"] == []


def test_restore_refuses_a_folder_that_is_not_empty(archive: Path, tmp_path: Path) -> None:
    target = tmp_path / "busy"
    write(target / "notes.txt", "mine")
    assert error_line(invoke("restore", str(archive), str(target))) == \
        f"Error: {target}: is not empty; restore into a new or empty folder"
    assert [p.name for p in target.iterdir()] == ["notes.txt"] and (target / "notes.txt").read_text() == "mine"

    (target / "notes.txt").unlink()  # an empty folder is fine
    assert invoke("restore", str(archive), str(target)).exit_code == 0
    assert (target / "outreach.yaml").is_file() and (target / "outreach.db").is_file()


def _retar(archive: Path, out: Path, change) -> Path:  # type: ignore[no-untyped-def]
    """A copy of ``archive`` with ``change(name, data) -> (name, data) | None`` applied to each member."""
    with tarfile.open(archive, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            changed = change(member.name, data)
            if changed is None:
                continue
            info = tarfile.TarInfo(changed[0])
            info.size = len(changed[1])
            dst.addfile(info, io.BytesIO(changed[1]))
    return out


def _forge_manifest(name: str, data: bytes, path: str) -> tuple[str, bytes]:
    if name != "manifest.json":
        return name, data
    manifest = json.loads(data)
    manifest["files"][0]["path"] = path
    return name, json.dumps(manifest).encode()


def _flip(raw: bytes) -> bytes:
    mid = len(raw) // 2
    return raw[:mid] + bytes([raw[mid] ^ 0x55]) + raw[mid + 1:]


MUTILATIONS = {
    "truncated in the middle": lambda raw: raw[: len(raw) // 2],
    "its last bytes missing": lambda raw: raw[:-20],
    "a byte changed": _flip,
    "empty": lambda raw: b"",
    "not an archive": lambda raw: b"outreach.yaml\ndatabase_url: sqlite:///x.db\n",
}
REASONS = {
    "truncated in the middle": "not a readable backup archive: it is truncated or corrupt",
    "its last bytes missing": "not a readable backup archive: it is truncated or corrupt",
    "a byte changed": "(not a readable backup archive: it is truncated or corrupt|"
                      r"\S+ does not match its checksum: the archive is corrupt)",
    "empty": "not a readable backup archive: it is truncated or corrupt",
    "not an archive": "not a readable backup archive: it is truncated or corrupt",
}


@pytest.mark.parametrize("how", list(MUTILATIONS))
def test_a_corrupt_archive_is_one_clear_error_and_restores_nothing(archive: Path, tmp_path: Path, how: str) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(MUTILATIONS[how](archive.read_bytes()))
    message = error_line(invoke("restore", str(bad), str(tmp_path / "restored")))
    assert re.match(rf"Error: {re.escape(str(bad))}: {REASONS[how]}", message), message
    nothing_written(tmp_path, tmp_path / "restored")


def test_a_foreign_or_tampered_or_hostile_archive_is_refused(archive: Path, tmp_path: Path) -> None:
    cases = {
        "foreign": (_retar(archive, tmp_path / "foreign.tar.gz",
                           lambda n, d: None if n == "manifest.json" else (n, d)),
                    "not an outreach backup archive (its first member is not manifest.json)"),
        "edited file": (_retar(archive, tmp_path / "edited.tar.gz",
                               lambda n, d: (n, d.replace(b"PT Contoh", b"PT Palsuu")) if n.endswith("outreach.yaml")
                               else (n, d)), "workspace/outreach.yaml does not match its checksum"),
        "extra file": (_retar(archive, tmp_path / "extra.tar.gz",
                              lambda n, d: ("workspace/x.sh", d) if n.endswith("README.md") else (n, d)),
                       "member 'workspace/x.sh' is unlisted"),
        "path out of the folder": (_retar(archive, tmp_path / "escape.tar.gz",
                                          lambda n, d: _forge_manifest(n, d, "workspace/../../evil")),
                                   "not an outreach backup archive (manifest.json is incomplete: unsafe or "
                                   "unexpected path 'workspace/../../evil')"),
        "absolute path": (_retar(archive, tmp_path / "absolute.tar.gz",
                                 lambda n, d: _forge_manifest(n, d, str(tmp_path / "evil"))),
                          "not an outreach backup archive (manifest.json is incomplete: unsafe or unexpected path"),
    }
    for what, (bad, reason) in cases.items():
        message = error_line(invoke("restore", str(bad), str(tmp_path / "restored")))
        assert message.startswith(f"Error: {bad}: {reason}"), (what, message)
        nothing_written(tmp_path, tmp_path / "restored")


def test_a_link_in_the_archive_is_refused(archive: Path, tmp_path: Path) -> None:
    bad = tmp_path / "link.tar.gz"
    with tarfile.open(archive, "r:gz") as src, tarfile.open(bad, "w:gz") as dst:
        for member in src.getmembers():
            if member.name.endswith("README.md"):
                link = tarfile.TarInfo(member.name)
                link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
                dst.addfile(link)
            else:
                dst.addfile(member, src.extractfile(member))
    message = error_line(invoke("restore", str(bad), str(tmp_path / "restored")))
    assert message == (f"Error: {bad}: member 'workspace/README.md' is a link: the archive does not match its "
                       "manifest")  # fmt: skip
    nothing_written(tmp_path, tmp_path / "restored")


def test_a_sqlite_database_outside_the_workspace_is_never_overwritten(
        example_ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    db = tmp_path / "data" / "live.db"
    db.parent.mkdir()
    settings = example_ws / "outreach.yaml"
    settings.write_text(re.sub(r"(?m)^database_url:.*$", f"database_url: sqlite:///{db}", settings.read_text()))
    assert invoke("contacts", "import", str(example_ws / "contacts.csv"), ws=example_ws).exit_code == 0
    archive = tmp_path / "b.tar.gz"
    assert invoke("backup", str(archive), ws=example_ws).exit_code == 0
    assert "workspace/outreach.db" not in members(archive)
    before = db.read_bytes()

    message = error_line(invoke("restore", str(archive), str(tmp_path / "restored")))
    assert message == (f"Error: {db}: already exists; restore refuses to overwrite a database: set "
                       "OUTREACH_DATABASE_URL to a new file (sqlite:////path/new.db)")  # fmt: skip
    assert db.read_bytes() == before
    nothing_written(tmp_path, tmp_path / "restored")

    monkeypatch.setenv("OUTREACH_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'copy.db'}")
    assert invoke("restore", str(archive), str(tmp_path / "restored")).exit_code == 0
    with sqlite3.connect(tmp_path / "data" / "copy.db") as conn:
        assert conn.execute("SELECT count(*) FROM contacts").fetchone() == (40,)
    assert not (tmp_path / "restored" / "outreach.db").exists()


def test_a_database_of_another_kind_than_the_archive_is_refused(archive: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("OUTREACH_DATABASE_URL", "postgresql+psycopg://someone:secret@127.0.0.1:1/elsewhere")
    message = error_line(invoke("restore", str(archive), str(tmp_path / "restored")))
    assert message == ("Error: the archive holds a sqlite database, but the restored workspace names a postgresql "
                       "one (postgresql+psycopg://someone:***@127.0.0.1:1/elsewhere); set OUTREACH_DATABASE_URL to a "
                       "sqlite database to restore into")  # fmt: skip
    nothing_written(tmp_path, tmp_path / "restored")
