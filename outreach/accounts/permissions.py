"""Which role may do what through the JSON API: one table, role -> permissions.

The team app guards its pages by role (web/auth.py ``requires``); the API asks
this table instead, so a new role (``admin``, the sales admin) is one row here.
A permission is ``AREA:read`` or ``AREA:write``.

* executives run campaigns and own the leads: everything, including the
  callers' outcomes (a CRM's integration user is usually an executive);
* writers write content: campaigns and segments, read only;
* callers work their queue: follow-ups, read and write (their own items);
* the sales admin: everything.
"""

from __future__ import annotations

AREAS = ("contacts", "segments", "campaigns", "followups", "events")
EVERYTHING = frozenset(f"{area}:{mode}" for area in AREAS for mode in ("read", "write"))

PERMISSIONS: dict[str, frozenset[str]] = {
    "executive": EVERYTHING,
    "writer": frozenset({"campaigns:read", "segments:read"}),
    "caller": frozenset({"followups:read", "followups:write"}),
    "admin": EVERYTHING,
}


def allowed(role: str, permission: str) -> bool:
    return permission in PERMISSIONS.get(role, frozenset())


def roles_with(permission: str) -> list[str]:
    return [role for role, granted in PERMISSIONS.items() if permission in granted]
