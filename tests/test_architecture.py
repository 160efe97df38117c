"""The tree tells the architecture: every import points down a floor, no room imports a sibling above it.

Rooms are the folders (and the few single modules) under outreach/. The floors
are those of the README's architecture section; the CLI sits on top of all,
then the long-running processes (worker, web, devtools), the library face,
the flow, the domain and the ground. Imports inside functions count too: a
lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "outreach"

FLOORS = {
    "__main__": 9,
    "cli": 8,
    "worker": 7, "web": 7, "devtools": 7,  # the running processes: none knows the others
    "workspace": 6,  # the library face: ``from outreach import Workspace``
    "sending": 5, "studio": 5, "reports": 5, "deliverability": 5, "webhooks": 5,
    "campaigns": 4,
    "tracking": 3, "audience": 3,
    "content": 2, "templates": 2, "followups": 2, "guardrails": 2, "accounts": 2,
    "operations": 2,  # heartbeats, metrics, logs, backup and restore: the service's own upkeep
    "audit": 0.75,  # who changed what (accounts, imports, suppressions, files, campaign steps), by hand
    "events": 0.75,  # the feed of what happened: written by the domain above it, read by the API and webhooks
    "settings": 1, "workdays": 1, "sheets": 1, "stopping": 1,
    "storage": 0.5,
    "fields": 0.25,  # the registry of contact fields: storage (the columns) and followups (the card) read it
    "errors": 0, "outreach": 0,  # ``from outreach import __version__``
}  # fmt: skip


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "outreach"


def _imports() -> dict[tuple[str, str], list[str]]:
    """(from room, to room) -> the modules that import across."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        if "migrations" in rel.parts or rel.parts == ("outreach", "__init__"):
            continue  # the package's lazy ``Workspace`` export is the face's own entry point
        module = ".".join(rel.parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "outreach":
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.split(".")[0] == "outreach"]
            for target in targets:
                a, b = _room(module), _room(target)
                if a != b:
                    edges[(a, b)].append(module)
    return edges


def test_every_room_has_a_floor() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    rooms = modules | folders
    assert rooms <= set(FLOORS), f"give these rooms a floor in FLOORS and the README: {sorted(rooms - set(FLOORS))}"


def test_imports_point_down() -> None:
    upward = [f"{a} -> {b} (in {', '.join(sorted(set(mods)))})"
              for (a, b), mods in _imports().items() if FLOORS[b] >= FLOORS[a]]  # fmt: skip
    assert not upward, "imports that run up or sideways:\n" + "\n".join(sorted(upward))


def test_tracking_and_sending_meet_only_in_storage() -> None:
    edges = _imports()
    assert ("tracking", "sending") not in edges and ("sending", "tracking") not in edges
