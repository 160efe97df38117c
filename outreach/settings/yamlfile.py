"""YAML loading that remembers where each value came from.

Users edit YAML by hand; an error must name the file and the line. PyYAML's
composed node tree has the marks, so we keep it beside the plain data and
translate a pydantic error location (a tuple of keys) into a line number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from outreach.errors import ConfigError, OutreachError


@dataclass(frozen=True)
class YamlDoc:
    path: Path
    data: Any
    root: yaml.Node | None

    def line(self, loc: Sequence[Any]) -> int:
        """1-based line of the deepest node reachable along ``loc``."""
        node = self.root
        best = node.start_mark.line + 1 if node is not None else 1
        for key in loc:
            child = _child(node, key)
            if child is None:
                break
            node = child
            best = node.start_mark.line + 1
        return best

    def where(self, loc: Sequence[Any] = ()) -> str:
        return f"{self.path}, line {self.line(loc)}"

    def at(self, loc: Sequence[Any] = ()) -> dict[str, Any]:
        """The place of ``loc`` as an error's fields: ``raise ConfigError("...", **doc.at(("key",)))``."""
        return {"path": self.path, "line": self.line(loc)}

    def key_line(self, loc: Sequence[Any]) -> int:
        """1-based line of the key at ``loc`` itself, even when its value starts on a later line."""
        if not loc:
            return self.line(loc)
        parent = self.root
        for key in loc[:-1]:
            parent = _child(parent, key)
        if isinstance(parent, yaml.MappingNode):
            for k, _v in parent.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(loc[-1]):
                    return k.start_mark.line + 1
        return self.line(loc)


def _child(node: yaml.Node | None, key: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                # point at the key for unknown/extra keys, at the value otherwise
                return v if not isinstance(v, yaml.ScalarNode) else _KeyAnchored(k, v)
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
        return node.value[key]
    return None


class _KeyAnchored(yaml.ScalarNode):
    """A scalar value reported at its key's line (they are on the same line usually)."""

    def __init__(self, key: yaml.Node, value: yaml.Node) -> None:
        super().__init__(value.tag, value.value, key.start_mark, value.end_mark)


# libyaml (PyYAML's C parser) where installed: every command reads outreach.yaml, and the pure-Python
# parser costs a few tens of milliseconds for it
_FAST: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse(text: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for line numbers) and its data, in one pass. A document the C
    parser rejects is parsed again by PyYAML's own, whose words the error messages are in."""
    try:
        return _parse_with(text, _FAST)
    except yaml.YAMLError:
        if _FAST is yaml.SafeLoader:
            raise
    return _parse_with(text, yaml.SafeLoader)


def _parse_with(text: str, loader_class: Any) -> tuple[yaml.Node | None, Any]:
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        return root, (loader.construct_document(root) if root is not None else None)
    finally:
        loader.dispose()


def read_text_file(path: Path, error: type[OutreachError] = ConfigError) -> str:
    """A workspace file's text (UTF-8, a BOM from Windows editors dropped); ``error`` naming the file when it
    is missing or not UTF-8, the two ways a hand-edited file goes wrong before its syntax does."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise error("file not found", path=path) from None
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text ({exc.reason})", path=path) from None


def load_yaml(path: Path, text: str | None = None) -> YamlDoc:
    """Parse ``path``; a syntax error becomes a ConfigError with file and line."""
    if text is None:
        text = read_text_file(path)
    try:
        root, data = _parse(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or str(exc)
        if exc.context_mark is not None and ("end of stream" in problem or "<stream end>" in problem):
            # an unclosed quote or bracket is noticed at the end of the text; the writer must look where it opened
            mark, problem = exc.context_mark, f"{problem} ({exc.context} that opens here)"
        line = mark.line + 1 if mark else 1
        raise ConfigError(f"YAML syntax error: {problem}", path=path, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML syntax error: {exc}", path=path) from None
    return YamlDoc(path=path, data=data, root=root)


def pydantic_error(doc: YamlDoc, exc: Any) -> ConfigError:
    """Turn a pydantic ValidationError into one readable ConfigError."""
    parts: list[str] = []
    problems: list[tuple[int | None, str, str]] = []
    first_line: int | None = None
    for err in exc.errors()[:5]:
        loc = tuple(p for p in err["loc"] if not str(p).startswith("function-"))
        dotted = ".".join(str(p) for p in loc) or "(top level)"
        msg = error_text(err)
        line = doc.line(loc)
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
            line = doc.key_line(loc)  # the key, not its (maybe multi-line) value
        first_line = line if first_line is None else first_line
        parts.append(f"{dotted}: {msg}" if not parts else f"{doc.path}, line {line}: {dotted}: {msg}")
        problems.append((line, dotted, msg))
    error = ConfigError("; ".join(parts), path=doc.path, line=first_line)
    error.problems = tuple(problems)
    return error


def error_text(err: Any) -> str:
    """One pydantic error's message as a user reads it: a validator's own words without
    pydantic's "Value error, " prefix (the type of a Python exception means nothing to them)."""
    ctx = err.get("ctx") or {}
    if err.get("type") == "value_error" and "error" in ctx:
        return str(ctx["error"])
    return str(err["msg"])
