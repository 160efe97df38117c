"""The workspace folder: loading it (outreach.yaml validated once) and creating one from the example."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from outreach.errors import ConfigError, InputError
from outreach.settings.config import SETTINGS_FILE, Sender, Settings, parse_settings
from outreach.settings.yamlfile import load_yaml

SKIP = {"outreach.db", "outreach.db-wal", "outreach.db-shm", "__pycache__"}


@dataclass(frozen=True)
class WorkspaceConfig:
    """A loaded workspace: its folder and its validated settings."""

    root: Path
    settings: Settings

    @property
    def segments_dir(self) -> Path:
        return self.root / "segments"

    @property
    def campaigns_dir(self) -> Path:
        return self.root / "campaigns"

    def campaign_names(self) -> list[str]:
        """The campaigns defined (``campaigns/NAME.yaml``), without loading any."""
        if not self.campaigns_dir.is_dir():
            return []
        return sorted(p.stem for p in self.campaigns_dir.glob("*.yaml"))

    @property
    def database_url(self) -> str:
        return resolve_database_url(self.settings.database_url, self.root)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def zone(self, name: str | None) -> ZoneInfo:
        """A contact's (or company's) timezone by name; the workspace's when empty or unknown."""
        try:
            return ZoneInfo(name) if name else self.tz
        except (ZoneInfoNotFoundError, ValueError):
            return self.tz

    def sender(self, key: str) -> Sender:
        try:
            return self.settings.senders[key]
        except KeyError:
            known = ", ".join(sorted(self.settings.senders))
            raise ConfigError(
                f"unknown sender {key!r}; senders in {self.root / SETTINGS_FILE}: {known}"
            ) from None


def resolve_database_url(url: str, root: Path) -> str:
    """Make ``sqlite:///relative.db`` relative to the workspace, not the cwd."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        rest = url[len(prefix) :]
        if rest and not rest.startswith(":memory:"):
            return prefix + str((root / rest).resolve())
    return url


def load_workspace(root: Path | str | None = None) -> WorkspaceConfig:
    """Load ``outreach.yaml`` from ``root`` (or $OUTREACH_WORKSPACE, else cwd)."""
    root = Path(root or os.environ.get("OUTREACH_WORKSPACE") or ".").resolve()
    path = root / SETTINGS_FILE
    if not path.is_file():
        raise ConfigError(f"not found; is {root} a workspace? Create one with `outreach init DIR` or pass -w DIR",
                          path=path)
    doc = load_yaml(path)
    return WorkspaceConfig(root=root, settings=parse_settings(doc))


def example_dir() -> Path:
    """The example workspace: packaged as outreach/_content, or the repository's content/."""
    packaged = Path(str(resources.files("outreach"))) / "_content"
    if packaged.is_dir():
        return packaged
    repo = Path(__file__).resolve().parents[2] / "content"
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
