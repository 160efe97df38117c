"""What is wrong with a template for a recipient, said so a writer can act on it.

Two kinds of trouble, found by rendering for every recipient:

* a render error: ``{{ contact.compnay }}`` names no field. jinja says
  ``'outreach.audience.contacts.ContactView object' has no attribute
  'compnay'``; the writer is told ``undefined variable `contact.compnay`
  (contact has no field `compnay`); did you mean `contact.company`?``, at the
  line of the tag, never Python's words;
* an empty variable: ``{{ contact.first_name }}`` renders, but as nothing, and
  the greeting reads "Yth. Bapak/Ibu ,". These are the plain ``{{ ... }}``
  outputs of the content, minus those with a ``default`` filter or inside an
  ``{% if %}`` on the same variable.

Both are collected per distinct problem (how many recipients, the first few)
so 20,000 recipients with one typo make one line. Pure: strings in, strings out.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import nodes
from jinja2.exceptions import UndefinedError

from outreach.content.tags import TAG
from outreach.errors import TemplateError

if TYPE_CHECKING:
    from outreach.content.rendering import ContentSource

EXAMPLES = 3  # recipients named per problem
_NO_ATTRIBUTE = re.compile(r"has no attribute '([^']+)'")
_IS_UNDEFINED = re.compile(r"'([^']+)' is undefined")
_PYTHON_OBJECT = re.compile(r"'[\w.]+ object'")
_UNSAFE = re.compile(r"access to attribute '([^']+)' of .* is unsafe")


def explain(exc: Exception, source: ContentSource, context: dict[str, Any]) -> tuple[str, int | None]:
    """(what is wrong, in the writer's words; the file line of the tag at fault, when found)."""
    message = str(getattr(exc, "message", None) or exc)
    name_match = _NO_ATTRIBUTE.search(message) or _IS_UNDEFINED.search(message)
    unsafe = _UNSAFE.search(message)
    if unsafe is not None:
        line, expression = tag_naming(source, unsafe.group(1))
        return f"`{expression}` is not allowed in a template (only the fields of contact, sender and campaign)", line
    if not isinstance(exc, UndefinedError) or name_match is None:
        return f"cannot evaluate an expression: {_PYTHON_OBJECT.sub('a value', message)}", None
    name = name_match.group(1)
    line, expression = tag_naming(source, name)
    parts = expression.split(".")
    parent = _resolve(context, parts[:-1])
    if len(parts) == 1:
        return f"undefined variable `{name}`{_did_you_mean(name, _names(context), '')}", line
    prefix = ".".join(parts[:-1])
    if isinstance(parent, dict):
        return (f"undefined variable `{expression}` (no `{name}` value for this contact; write "
                f'`{{{{ {expression} | default("...") }}}}` where some have none)'
                f"{_did_you_mean(name, parent, prefix + '.')}"), line  # fmt: skip
    return (f"undefined variable `{expression}` ({prefix} has no field `{name}`)"
            f"{_did_you_mean(name, _names(parent), prefix + '.')}"), line  # fmt: skip


def _did_you_mean(name: str, candidates: Iterable[str], prefix: str) -> str:
    close = difflib.get_close_matches(name, [c for c in candidates if not c.startswith("_")], n=1, cutoff=0.6)
    return f"; did you mean `{prefix}{close[0]}`?" if close else ""


def _names(obj: Any) -> list[str]:
    """What can follow ``obj.``: a data view's allowed fields, a mapping's keys."""
    fields = getattr(type(obj), "__template_fields__", None)
    if fields is not None:
        return sorted(fields)
    if isinstance(obj, dict):
        return sorted(str(k) for k in obj)
    return []


def _resolve(context: dict[str, Any], parts: list[str]) -> Any:
    value: Any = context
    for part in parts:
        if isinstance(value, dict):
            value = value.get(part)
        elif part in _names(value):
            value = getattr(value, part, None)
        else:
            return None
    return value


@lru_cache(maxsize=256)
def tag_naming(source: ContentSource, name: str) -> tuple[int | None, str]:
    """Where a jinja tag first names ``name`` (where the writer has to look), and its dotted form."""
    word = re.compile(rf"(?:\b[A-Za-z_]\w*\.)*\b{re.escape(name)}\b")
    for text, first_line in _parts(source):
        for m in TAG.finditer(text):
            hit = word.search(m.group(0))
            if hit:
                return first_line + text.count("\n", 0, m.start() + hit.start()), hit.group(0)
    return None, name


def _parts(source: ContentSource) -> Iterator[tuple[str, int]]:
    """Each template text of a content file with the file line it starts on."""
    yield source.subject, source.subject_line
    for i, variant in enumerate(source.variants):
        yield variant, source.line_of("variant", i)
    yield source.preheader, source.preheader_line
    yield source.body, source.body_line


# -- variables that render empty ----------------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    """A plain ``{{ a.b.c }}`` output of the content, at its file line (``file``: the content file,
    or the included block the tag is written in)."""

    path: tuple[str, ...]
    line: int
    file: Path | None = None

    @property
    def name(self) -> str:
        return ".".join(self.path)


def output_variables(source: ContentSource, parse: Callable[[str], nodes.Template]) -> tuple[Variable, ...]:
    """The variables the content prints as they are: no ``default``, not guarded by an ``{% if %}`` on them."""
    found: dict[tuple[str, ...], Variable] = {}
    for text, first_line in _parts(source):
        if not text:
            continue
        for path, lineno in _outputs(parse(text), frozenset()):
            if path not in found:
                file, line = source.locate(first_line + lineno - 1)
                found[path] = Variable(path, line, file)
    return tuple(found.values())


def _outputs(node: nodes.Node, guarded: frozenset[tuple[str, ...]]) -> Iterator[tuple[tuple[str, ...], int]]:
    if isinstance(node, nodes.If):
        inside = guarded | {p for p in (_path(n) for n in node.test.find_all((nodes.Getattr, nodes.Name))) if p}
        test_path = _path(node.test)
        if test_path:
            inside |= {test_path}
        for child in node.body:
            yield from _outputs(child, inside)
        for child in (*node.elif_, *node.else_):
            yield from _outputs(child, guarded)
        return
    if isinstance(node, nodes.Output):
        for expr in node.nodes:
            if isinstance(expr, nodes.TemplateData):
                continue
            path = _printed_path(expr)
            if path and path not in guarded:
                yield path, expr.lineno
        return
    for child in node.iter_child_nodes():
        yield from _outputs(child, guarded)


def _printed_path(expr: nodes.Node) -> tuple[str, ...] | None:
    """``contact.first_name | upper`` prints the variable; ``| default(...)`` fills it in."""
    while isinstance(expr, nodes.Filter):
        if expr.name in ("default", "d"):
            return None
        assert expr.node is not None
        expr = expr.node
    return _path(expr)


def _path(expr: nodes.Node) -> tuple[str, ...] | None:
    if isinstance(expr, nodes.Name):
        return (expr.name,)
    if isinstance(expr, nodes.Getattr):
        parent = _path(expr.node)
        return (*parent, expr.attr) if parent else None
    return None


def is_empty(context: dict[str, Any], variable: Variable) -> bool:
    """True when the variable is there and renders as nothing (a missing one is a render error)."""
    value: Any = context
    for part in variable.path:
        if isinstance(value, dict):
            if part not in value:
                return False
            value = value[part]
        elif part in _names(value):
            value = getattr(value, part)
        else:
            return False
    return value is None or (isinstance(value, str) and not value.strip())


# -- collecting problems over many recipients ------------------------------------------------------


@dataclass
class Problem:
    """One distinct problem: where, what, and whom it hits."""

    path: Path
    line: int | None
    detail: str
    emails: list[str] = field(default_factory=list)
    count: int = 0

    def add(self, email: str) -> None:
        if self.emails and self.emails[-1] == email:
            return  # the same recipient again (another subject variant, another step)
        self.count += 1
        if len(self.emails) < EXAMPLES:
            self.emails.append(email)

    def who(self) -> str:
        more = self.count - len(self.emails)
        return ", ".join(self.emails) + (f" and {more} more" if more > 0 else "")


class Problems:
    """Distinct problems in the order first seen, each counted over recipients."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, int | None, str], Problem] = {}
        self.recipients: set[str] = set()

    def add(self, path: Path, line: int | None, detail: str, email: str) -> None:
        key = (str(path), line, detail)
        problem = self.by_key.get(key)
        if problem is None:
            problem = self.by_key[key] = Problem(path, line, detail)
        problem.add(email)
        self.recipients.add(email)

    def add_error(self, exc: TemplateError, email: str) -> None:
        self.add(Path(str(exc.path)) if exc.path else Path("content"), exc.line, exc.detail, email)

    def __bool__(self) -> bool:
        return bool(self.by_key)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.by_key.values())

    def lines(self, rel: Callable[[Path], str], total: int, unit: str = "recipients") -> list[str]:
        """``FILE:LINE: detail — N of TOTAL recipients: a, b, c and K more``, one per problem."""
        out = []
        for p in self:
            where = f"{rel(p.path)}:{p.line}" if p.line else rel(p.path)
            out.append(f"{where}: {p.detail} — {p.count} of {total} {unit}: {p.who()}")
        return out
