"""Creating workspaces from the example that ships with the package."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from outreach.config import SETTINGS_FILE
from outreach.errors import InputError

SKIP = {"outreach.db", "outreach.db-wal", "outreach.db-shm", "__pycache__"}


def example_dir() -> Path:
    """The example workspace: packaged as outreach/_content, or the repository's content/."""
    packaged = Path(str(resources.files("outreach"))) / "_content"
    if packaged.is_dir():
        return packaged
    repo = Path(__file__).resolve().parent.parent / "content"
    if repo.is_dir():
        return repo
    raise InputError("the example workspace is missing from this installation; reinstall outreach")


def init_workspace(target: Path) -> list[Path]:
    """Copy the example into ``target``; never overwrite anything that is there."""
    source = example_dir()
    if (target / SETTINGS_FILE).exists():
        raise InputError(f"{target / SETTINGS_FILE} already exists; refusing to overwrite a workspace")
    files = [p for p in sorted(source.rglob("*")) if p.is_file() and not (set(p.relative_to(source).parts) & SKIP)]
    clashes = [target / p.relative_to(source) for p in files if (target / p.relative_to(source)).exists()]
    if clashes:
        raise InputError(f"{clashes[0]} already exists; refusing to overwrite it (choose an empty folder)")
    written = []
    for p in files:
        dest = target / p.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, dest)
        written.append(dest)
    return written
