"""A workspace's contact fields: the registry's built-in ones, and what the workspace adds.

The extension point for per-workspace fields (docs/contact-fields.md):

* derived fields (``fields:`` in outreach.yaml: a value per contact, the first
  rule that matches) are ``Field(name, kind, source="derived", compute=...)``:
  templates read ``compute(view)``, segments filter on ``expression(columns)``
  when the field gives one (the rules compiled to a SQL ``CASE``); they are made
  in ``audience/derived.py``;
* typed custom columns are ``Field("custom.KEY", NUMBER, source="custom", parse=...)``:
  the import parses the cell with the field's parser (reject or warn), segments
  compare by its kind; templates read it as ``contact.custom.KEY``.

Whoever reads contacts for a workspace asks ``fields_of(ws)`` and hands the set
on: ``ImportOptions.registry``, ``parse_segment(..., registry)``, ``FieldSet.view``
(the ``ContactView`` class templates get).
"""

from __future__ import annotations

from outreach.fields import FieldSet
from outreach.settings.workspace import WorkspaceConfig


def fields_of(ws: WorkspaceConfig) -> FieldSet:
    """The fields of ``ws``'s contacts: the built-in ones (``outreach.fields.builtin``) and the
    workspace's derived ones (``fields:`` in outreach.yaml); the same set for the same settings."""
    from outreach.audience.derived import workspace_fields

    return workspace_fields(ws)
