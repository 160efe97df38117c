"""Settings: outreach.yaml validated once into frozen objects, the workspace folder, YAML, units, tokens.

Kept light: the CLI reads ``LANGUAGES`` for its ``--lang`` choices without loading pydantic.
"""

LANGUAGES = ("id", "en")  # the languages content can be written in (footer labels, pages, starters)
LANGUAGE_NAMES = {"id": "Bahasa Indonesia", "en": "English"}  # as the reports and the editor name them
