"""The registry of contact fields: one home for what a contact field is (issue 22).

``builtin.BUILTIN`` lists the fields; everything that used to list them again
reads it: the database model's columns, the import (columns, synonyms,
parsers, defaults), ``ContactView`` and the templates' allow-list, the
engine's claim, segments' operators, lint's placeholder contact, a campaign's
``require:``, the caller's card and list. See docs/contact-fields.md.

A ground-floor room: ``storage`` (the model's columns) and ``followups`` (the
caller's card) read it, so it imports nothing of outreach but itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from outreach.fields.builtin import BUILTIN
from outreach.fields.registry import Field, FieldSet
from outreach.fields.view import ViewBase

if TYPE_CHECKING:
    ContactView = ViewBase
else:
    ContactView = BUILTIN.view

__all__ = ["BUILTIN", "ContactView", "Field", "FieldSet", "ViewBase"]
