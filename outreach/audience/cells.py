"""The cell parsers moved to ``outreach.fields.cells``, beside the registry of fields that uses them
(storage and the follow-ups read the registry, and they sit below ``audience``); importable from here
too, where they were."""

from outreach.fields.cells import (
    LANGUAGES,
    Phone,
    RowError,
    first_value,
    normalise_email,
    parse_language,
    parse_phone,
    parse_tags,
    resolve_owner,
    split_name,
)

__all__ = ["LANGUAGES", "Phone", "RowError", "first_value", "normalise_email", "parse_language", "parse_phone",
           "parse_tags", "resolve_owner", "split_name"]  # fmt: skip
