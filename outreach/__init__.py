"""outreach: email blasts, tracking and follow-up queues for B2B sales teams.

``from outreach import Workspace`` is the library face (outreach/workspace.py);
it is loaded on first use so that ``import outreach`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Workspace", "__version__"]

if TYPE_CHECKING:
    from outreach.workspace import Workspace


def __getattr__(name: str) -> Any:
    if name == "Workspace":
        from outreach.workspace import Workspace

        return Workspace
    raise AttributeError(f"module 'outreach' has no attribute {name!r}")
