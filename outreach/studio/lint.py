"""`outreach content lint`: every problem of a campaign's content, found before anything is sent.

Preflight (at build) stops the build on the first render error; a writer
wants the whole list at once, with file and line, including what renders
fine but still hurts: a broken link, a missing alt text, a subject cut off in
the inbox, a message Gmail clips, phrases spam filters score. Errors make the
command fail (exit 1); warnings are advice.

Personalisation is tried against every contact of the campaign's segment,
streamed, because a template that works for the first contact can still fail
for the one whose custom column is empty. Distinct problems are reported
once, with the first few contacts they hit (a contact's message stops at its
first problem, so it is named under that one); so are variables that print
empty for some contacts. Every content file is checked: each follow-up step
and each language version (against the contacts who get it), and a problem
inside an included block is reported at the block's own file and line.

On the rendered message: text colours against their background (WCAG AA),
images without a width, embedded pictures over the size budget, and with
``--spam`` SpamAssassin's score for a few recipients per file (spam.py). The
phrase list below is a fast hint; ``--spam`` adds the real score to it and to
every other check, never replaces them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlsplit

from sqlalchemy import Engine

from outreach.audience.contacts import ContactView, iter_contacts
from outreach.audience.fields import fields_of
from outreach.audience.segments import contacts_query, load_segment
from outreach.campaigns.builder import campaign_id, new_message_id
from outreach.campaigns.definition import CampaignSpec, ContentFiles, campaign_names, load_campaign
from outreach.campaigns.messages import MessageFactory
from outreach.content.images import is_local, load_image
from outreach.content.includes import Drafts
from outreach.content.problems import Problems
from outreach.content.rendering import (
    CompiledContent,
    ContentSource,
    Organization,
    compile_content,
    html_problems,
    read_content,
)
from outreach.content.tags import TAG
from outreach.errors import InputError, LintError, NotFoundError, OutreachError, TemplateError
from outreach.settings.config import SETTINGS_FILE
from outreach.settings.tokens import Signer
from outreach.settings.workspace import WorkspaceConfig
from outreach.settings.yamlfile import YamlDoc, load_yaml
from outreach.studio import contrast, spam

BUILD_SAMPLE = 20  # contacts the build's lint tries personalisation with (the build renders them all anyway)
MAX_SUBJECT = 78  # RFC 5322's recommended line length; longer subjects get cut off in inbox lists
MAX_BYTES = 100 * 1024  # Gmail clips bigger messages, hiding the footer and its unsubscribe link
URL_SCHEMES = ("http", "https", "mailto", "tel")
SPAM_PHRASES = (
    # English
    "100% free", "act now", "click here", "risk-free", "risk free", "winner", "you have been selected",
    "limited time offer", "order now", "no obligation", "guaranteed", "cash bonus", "earn money",
    "double your", "urgent", "congratulations",
    # Indonesian
    "gratis 100%", "klik di sini", "segera", "dijamin", "tanpa risiko", "hadiah", "pemenang",
    "penawaran terbatas", "selamat anda", "untung besar", "uang tunai",
)  # fmt: skip
_JINJA = "\x1a"  # what a masked jinja tag is made of: no space, bracket or parenthesis
_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~).*?^[ \t]{0,3}\1[^\n]*$", re.S | re.M)
_CODE_SPAN = re.compile(r"(`+)[^`].*?\1", re.S)
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)]*)\)")
_LINK = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")
_REF_LINK = re.compile(r"(!?)\[([^\]]+)\]\[([^\]]*)\]")
_REF_DEF = re.compile(r"^[ \t]{0,3}\[([^\]]+)\]:[ \t]*(\S*)", re.M)
_ATTRS_AFTER = re.compile(r"\{[^}\n]*\}")  # attr_list: {.banner width=300}
_HTML_A = re.compile(r"<a\b[^>]*>", re.I)
_HTML_IMG = re.compile(r"<img\b[^>]*>", re.I)
_ATTR = re.compile(r"""([a-zA-Z-]+)\s*=\s*("([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_BANG = re.compile(r"!{3,}")
_ADMONITION = re.compile(r"(?m)^[ \t]*!!!(?=[ \t]+[\w-])")  # `!!! note "Title"`: a callout, not shouting


@dataclass(frozen=True)
class Finding:
    """One problem: where it is (workspace-relative file, 1-based line when known) and what."""

    level: str  # error | warning
    file: str
    line: int | None
    message: str
    kind: str = field(default="", compare=False)  # "render": a recipient's message failed (the build says it too)

    def format(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.level}: {self.message}"


@dataclass(frozen=True)
class SpamScore:
    """SpamAssassin's score of one content file: the highest over the recipients sampled."""

    file: str
    email: str
    recipients: int
    verdict: spam.Verdict
    threshold: float

    @property
    def over(self) -> bool:
        return self.verdict.score >= self.threshold

    def lines(self) -> list[str]:
        """``SpamAssassin score: X (threshold T)``, whose message it is, and the rules hit."""
        whose = (f"the highest of {self.recipients} recipients" if self.recipients > 1 else "one recipient")
        shown = round(self.verdict.score, 1) or 0.0  # SpamAssassin's -0.001 is no "-0.0"
        out = [f"SpamAssassin score: {shown:.1f} (threshold {self.threshold:.1f})",
               f"  {self.file}, as sent to {self.email} ({whose})"]  # fmt: skip
        if not self.verdict.rules:
            return [*out, "  rules hit: none"]
        width = max(len(r.name) for r in self.verdict.rules)
        out.append("  rules hit:")
        out += [f"  {r.score:>6.1f} {r.name:<{width}}  {r.description}".rstrip() for r in self.verdict.rules]
        return out


@dataclass
class LintResult:
    campaigns: list[str]
    findings: list[Finding] = field(default_factory=list)
    spam: list[SpamScore] = field(default_factory=list)  # with --spam: one per content file

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    def summary(self) -> str:
        return (
            f"Checked {_plural(len(self.campaigns), 'campaign')}: "
            f"{_plural(len(self.errors), 'error')}, {_plural(len(self.warnings), 'warning')}"
        )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@dataclass
class _Sample:
    """A rendered message kept for SpamAssassin."""

    file: Path
    email: str
    message_id: str
    data: bytes


class _Report:
    """Collects findings of one campaign, naming files relative to the workspace."""

    def __init__(self, ws: WorkspaceConfig, samples: list[_Sample] | None = None) -> None:
        self.ws = ws
        self.findings: list[Finding] = []
        self.samples = samples  # None: no spam scoring asked for

    def rel(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.ws.root).as_posix()
        except ValueError:
            return str(path)

    def add(self, level: str, path: Path, line: int | None, message: str, kind: str = "") -> None:
        self.findings.append(Finding(level, self.rel(path), line, message, kind))

    def error_from(self, exc: OutreachError, default: Path) -> None:
        """A finding at the error's own file and line; at ``default`` when it names no file."""
        if exc.path is None:
            self.add("error", default, None, exc.message)
        else:
            self.add("error", Path(exc.path), exc.line, exc.detail)


# -- entry points -------------------------------------------------------------------


def lint_workspace(ws: WorkspaceConfig, engine: Engine, names: Sequence[str] | None = None,
                   spam_check: bool = False) -> LintResult:  # fmt: skip
    """Lint the named campaigns, or every campaign of the workspace; a missing name is an error.

    ``spam_check``: also score the rendered messages with SpamAssassin (one run for all of them), on
    top of every other check (the phrase list included); a score at or over ``studio.spam_threshold``
    is an error. Without SpamAssassin installed,
    the phrase list's hints are all there is, and a warning says so.
    """
    names = list(names) if names else campaign_names(ws)
    result = LintResult(campaigns=names)
    seen: set[Finding] = set()
    program = spam.spamassassin() if spam_check else None
    samples: list[_Sample] | None = [] if program else None
    for name in names:
        for finding in lint_campaign(ws, engine, name, samples):
            if finding not in seen:  # two campaigns may share a content file
                seen.add(finding)
                result.findings.append(finding)
    if spam_check and program is None:
        result.findings.append(Finding("warning", SETTINGS_FILE, None, "SpamAssassin is not installed (Debian: "
                                       "apt-get install spamassassin), so no spam score; the spam-trigger phrases "
                                       "above are only a phrase list's hint"))  # fmt: skip
    if samples:
        _score(ws, samples, program, result)
    return result


def _score(ws: WorkspaceConfig, samples: list[_Sample], program: str | None, result: LintResult) -> None:
    """One SpamAssassin run over every sample; per content file, the highest score is the one shown."""
    threshold = ws.settings.studio.spam_threshold
    unique = {s.message_id: s for s in samples}
    verdicts = spam.score([(s.message_id, s.data) for s in unique.values()], threshold, program)
    report = _Report(ws)
    by_file: dict[Path, list[_Sample]] = {}
    for sample in unique.values():
        by_file.setdefault(sample.file, []).append(sample)
    for path, group in by_file.items():
        scored = [(verdicts[s.message_id], s) for s in group if s.message_id in verdicts]
        if not scored:
            raise InputError(f"SpamAssassin gave no score for {report.rel(path)}")
        verdict, worst = max(scored, key=lambda pair: pair[0].score)
        found = SpamScore(report.rel(path), worst.email, len(scored), verdict, threshold)
        result.spam.append(found)
        if found.over:
            top = ", ".join(f"{r.name} {r.score:.1f}" for r in verdict.rules if r.score > 0)
            result.findings.append(Finding(
                "error", found.file, None,
                f"SpamAssassin scores this message {verdict.score:.1f} for {worst.email}, at or over the "
                f"threshold {threshold:g} (studio.spam_threshold in outreach.yaml); rules: {top or 'none'}",
            ))  # fmt: skip


def lint_campaign(ws: WorkspaceConfig, engine: Engine, name: str, samples: list[_Sample] | None = None, *,
                  drafts: Drafts | None = None, sample: int | None = None) -> list[Finding]:  # fmt: skip
    """One campaign's findings, by file and line. Only a campaign that does not exist raises:
    a broken one is itself a finding, so linting every campaign never stops at the first.
    ``samples``: where to keep rendered messages for SpamAssassin. ``drafts``: unsaved text in place of
    files (the editor's live check; a drafted language version not on disk yet is checked too).
    ``sample``: personalisation tried with the segment's first ``sample`` contacts only (None: every one)."""
    report = _Report(ws, samples)
    path = ws.campaigns_dir / f"{name}.yaml"
    try:
        spec = load_campaign(ws, name)
    except NotFoundError:
        if not path.is_file():
            raise
        spec = None
    except OutreachError as exc:
        spec = None
        report.error_from(exc, path)
    if spec is not None:
        for files, path in _content_files(spec, report, drafts):
            _lint_content(ws, engine, spec, files, path, report, drafts, sample)
    return sorted(report.findings, key=lambda f: (f.file, f.line or 0))


def build_blockers(ws: WorkspaceConfig, engine: Engine, name: str) -> list[Finding]:
    """The lint errors that stop ``campaign build`` (the CLI's and the app's): every check but SpamAssassin.
    A broken campaign or segment file raises its own error first, and a message that fails to render for a
    recipient is left to the build, which renders every recipient and says how many each problem hits."""
    spec = load_campaign(ws, name)
    load_segment(ws, spec.file.segment)
    found = lint_campaign(ws, engine, name, sample=BUILD_SAMPLE)
    return [f for f in found if f.level == "error" and f.kind != "render"]


def check_buildable(ws: WorkspaceConfig, engine: Engine, name: str, shown: int = 10) -> None:
    """Raise ``LintError`` naming each lint error (``FILE:LINE: error: why``) when the campaign may not be built;
    the CLI prints it, the app shows it: the same words."""
    errors = build_blockers(ws, engine, name)
    if not errors:
        return
    lines = [f"  {f.format()}" for f in errors[:shown]]
    if len(errors) > shown:
        lines.append(f"  ... and {len(errors) - shown} more (outreach content lint {name})")
    raise LintError(f"campaign {name} was not built: its content has {_plural(len(errors), 'lint error')}; nothing "
                    "was written. Fix them and build again:\n" + "\n".join(lines), findings=tuple(errors))


def _content_files(spec: CampaignSpec, report: _Report,
                   drafts: Drafts | None = None) -> Iterator[tuple[ContentFiles, Path]]:  # fmt: skip
    """Each file of the first message and of each follow-up step (every language version), when there."""
    for k in range(len(spec.file.steps) + 1):
        files = spec.step_files(k)
        drafted = [p for p in files.candidates if drafts and p.resolve() in drafts and p not in files.paths]
        if files.exists or drafted:
            for path in (*files.paths, *drafted):
                yield files, path
        else:
            step = spec.file.steps[k - 1]
            line = load_yaml(spec.path).line(("steps", k - 1, "content"))
            report.add("error", spec.path, line, f"step {k}: content file {step.content} not found")


def _lint_content(ws: WorkspaceConfig, engine: Engine, spec: CampaignSpec, files: ContentFiles, path: Path,
                  report: _Report, drafts: Drafts | None = None, sample: int | None = None) -> None:  # fmt: skip
    try:
        source = read_content(path, ws.root, check_html=False, drafts=drafts)
    except OutreachError as exc:
        report.error_from(exc, path)
        return
    for problem in html_problems(source):
        report.error_from(problem, path)
    lines = front_matter_lines(source)
    check_links(source, report)
    check_spam(source, lines, report)
    org = ws.settings.organization
    try:
        compiled = compile_content(source, Organization(org.name, org.address), ws.settings.tracking.clicks,
                                   ws.settings.theme, ws.root)  # fmt: skip
    except TemplateError as exc:
        report.error_from(exc, path)
        return
    check_blocks(source, compiled, report)
    check_image_budget(ws, compiled, report)
    factory = MessageFactory(ws, spec, campaign_id(engine, spec, create=False), Signer(b"lint"), compiled)
    contacts = _segment_contacts(ws, engine, spec, report, files, path, sample)
    if contacts is None:
        return
    samples = check_recipients(factory, contacts, source, report)
    check_subjects(_subject_only(factory, source), samples.by_variant, lines, report)
    first = samples.by_variant.get(0)
    if first is not None:
        check_unsubscribe(factory, first, report)
        check_size(factory, first, report)
        check_contrast(ws, factory, first, report)
    if report.samples is not None:
        _keep_samples(factory, path, samples.clean, report)


def _keep_samples(factory: MessageFactory, path: Path, views: list[ContactView], report: _Report) -> None:
    """The messages SpamAssassin will score: the first few recipients this file renders for."""
    assert report.samples is not None
    for view in views:
        message_id = new_message_id(factory.spec.sender.domain)
        data = factory.prepare(view, message_id).data
        report.samples.append(_Sample(path, view.email, message_id, data))


def _segment_contacts(ws: WorkspaceConfig, engine: Engine, spec: CampaignSpec, report: _Report,
                      files: ContentFiles, path: Path, sample: int | None = None) -> Iterable[ContactView] | None:
    """The segment's contacts who get ``path`` (their language's version), streamed (the first ``sample``
    of the segment only, when given); a placeholder contact when there are none."""
    segment_file = ws.segments_dir / f"{spec.file.segment}.yaml"
    try:
        query = contacts_query(ws, load_segment(ws, spec.file.segment), engine=engine)
    except OutreachError as exc:
        report.error_from(exc, segment_file if segment_file.is_file() else spec.path)
        return None
    if sample is not None:
        query = query.limit(sample)
    return _or_placeholder(iter_contacts(engine, query, registry=fields_of(ws)), ws, spec, report, files, path)


def _or_placeholder(views: Iterator[ContactView], ws: WorkspaceConfig, spec: CampaignSpec, report: _Report,
                    files: ContentFiles, path: Path) -> Iterator[ContactView]:  # fmt: skip
    any_contact = False
    for view in views:
        any_contact = True
        if files.pick(view.language) == path:
            yield view
            yield from (v for v in views if files.pick(v.language) == path)
            return
    if not any_contact:
        report.add("warning", spec.path, None,
                   f"segment {spec.file.segment} has no contacts; personalisation was checked "
                   "with a placeholder contact only (import contacts to check real data)")  # fmt: skip
    # else: nobody of the segment gets this language version yet; it is still checked
    yield placeholder_contact(ws, spec)


class _AnyCustom(dict[str, str]):
    """The placeholder's custom fields: any column a template names exists."""

    def __missing__(self, key: str) -> str:
        return f"Sample {key}"


def placeholder_contact(ws: WorkspaceConfig, spec: CampaignSpec) -> ContactView:
    """The registry's stand-in contact (a value in every field), in the workspace's timezone, owned by
    the campaign's sender, with any custom column a template names."""
    return fields_of(ws).placeholder(timezone=ws.settings.timezone, owner=spec.sender_key, custom=_AnyCustom())


# -- where things are in the file ----------------------------------------------------


@dataclass(frozen=True)
class FrontLines:
    """File lines of the front matter values: subjects[0] is the subject, then each variant."""

    subjects: tuple[int, ...]
    preheader: int


def front_matter_lines(source: ContentSource) -> FrontLines:
    variants = tuple(source.line_of("variant", i) for i in range(len(source.variants)))
    return FrontLines((source.subject_line, *variants), source.preheader_line)


def _file_text(path: Path) -> str:
    return path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")


def _blank(text: str, pattern: re.Pattern[str], fill: str) -> str:
    """Overwrite every match, keeping newlines, so offsets and line numbers stay put."""
    return pattern.sub(lambda m: re.sub(r"[^\n]", fill, m.group(0)), text)


def masked_body(body: str) -> str:
    """The body with jinja tags masked and code blanked: what Markdown will read as links."""
    text = _blank(body, TAG, _JINJA)
    text = _blank(text, _FENCE, " ")
    return _blank(text, _CODE_SPAN, " ")


def _line_of(source: ContentSource, text: str, offset: int) -> tuple[Path, int]:
    """(file, line) of an offset in the body: an included block's own file and line."""
    return source.locate(source.body_line + text.count("\n", 0, offset))


# -- links and images ------------------------------------------------------------------


def url_problem(url: str) -> str | None:
    """Why a (masked) link target would not work in an email, or None."""
    if not url:
        return "empty URL"
    if url.startswith(_JINJA):
        return None  # the whole target comes from a variable; the render check covers it
    parts = urlsplit(url)
    if parts.scheme.lower() not in URL_SCHEMES:
        return "not an http(s), mailto or tel URL (relative links do not work in email)"
    if parts.scheme.lower() in ("http", "https") and not parts.netloc:
        return "no host name"
    return None


def _target(inside: str) -> str:
    """The URL part of ``(url "title")`` or ``(<url>)``."""
    inside = inside.strip()
    if inside.startswith("<"):
        return inside[1:].split(">", 1)[0].strip()
    return inside.split(None, 1)[0] if inside else ""


def check_links(source: ContentSource, report: _Report) -> None:
    """Broken Markdown and HTML links, unresolved references, images without alt text."""
    body = source.body
    text = masked_body(body)
    definitions = {_label(m.group(1)): m for m in _REF_DEF.finditer(text)}
    for m in _IMAGE.finditer(text):
        _check_image(source, report, text, m.start(), alt=m.group(1), url=_target(m.group(2)),
                     original=_target(body[m.start(2) : m.end(2)]))  # fmt: skip
    text_links = _blank(text, _IMAGE, "I")  # an image inside a link is not the link's target
    for m in _LINK.finditer(text_links):
        _check_url(source, report, text, m.start(), _target(m.group(2)), _target(body[m.start(2) : m.end(2)]),
                   f"link [{_short(body[m.start(1) : m.end(1)])}]")  # fmt: skip
    for m in _REF_LINK.finditer(_blank(text_links, _LINK, "L")):
        label = m.group(3) or m.group(2)
        if _label(label) not in definitions:
            shown = _short(body[m.start(0) : m.end(0)])
            report.add("error", *_line_of(source, text, m.start()),
                       f"reference link {shown}: no definition [{label}]: URL in the file")  # fmt: skip
    for label, m in definitions.items():
        _check_url(source, report, text, m.start(), m.group(2), body[m.start(2) : m.end(2)],
                   f"link definition [{label}]")  # fmt: skip
    _check_html_tags(source, report, text, body)


def _label(text: str) -> str:
    return " ".join(text.split()).casefold()


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_url(source: ContentSource, report: _Report, text: str, offset: int, url: str, original: str,
               what: str) -> None:  # fmt: skip
    problem = url_problem(url)
    if problem:
        shown = f" ({_short(original, 60)})" if original else ""
        report.add("error", *_line_of(source, text, offset), f"{what}: {problem}{shown}")


def _check_image(source: ContentSource, report: _Report, text: str, offset: int, alt: str, url: str,
                 original: str) -> None:  # fmt: skip
    if is_local(url) and _JINJA not in url:
        try:
            load_image(report.ws.root, url)
        except TemplateError as exc:
            report.add("error", *_line_of(source, text, offset), exc.detail)
    else:
        _check_url(source, report, text, offset, url, original, "image")
    if not alt.strip():
        report.add("warning", *_line_of(source, text, offset),
                   f"image {_short(original, 60)} has no alt text (most mail apps block images at first)")  # fmt: skip


def _attrs(tag: str) -> dict[str, str]:
    return {m.group(1).lower(): next(g for g in m.group(3, 4, 5) if g is not None) for m in _ATTR.finditer(tag)}


def _check_html_tags(source: ContentSource, report: _Report, text: str, body: str) -> None:
    """Raw HTML written in the Markdown: <a href> targets and <img alt>."""
    for m in _HTML_A.finditer(text):
        attrs, original = _attrs(m.group(0)), _attrs(body[m.start() : m.end()])
        if "href" in attrs:
            _check_url(source, report, text, m.start(), attrs["href"].strip(), original.get("href", ""), "<a> link")
    for m in _HTML_IMG.finditer(text):
        attrs, original = _attrs(m.group(0)), _attrs(body[m.start() : m.end()])
        _check_image(source, report, text, m.start(), attrs.get("alt", ""), attrs.get("src", "").strip(),
                     original.get("src", ""))  # fmt: skip


# -- spam triggers -------------------------------------------------------------------


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)", re.I)


_PHRASES = tuple((p, _phrase_pattern(p)) for p in SPAM_PHRASES)


def spam_hits(text: str) -> list[str]:
    """The spam-trigger phrases (and runs of '!!!') in one piece of text, in list order."""
    hits = [phrase for phrase, pattern in _PHRASES if pattern.search(text)]
    if _BANG.search(text):
        hits.append("!!!")
    return hits


def all_caps(subject: str) -> bool:
    letters = [c for c in TAG.sub("", subject) if c.isalpha()]
    return len(letters) >= 8 and sum(c.isupper() for c in letters) >= 0.8 * len(letters)


def check_spam(source: ContentSource, lines: FrontLines, report: _Report) -> None:
    """Phrases spam filters score, in the subjects, the preheader and the body (warnings)."""
    subjects = (source.subject, *source.variants)
    for i, subject in enumerate(subjects):
        what = "subject" if i == 0 else f"subject variant {i + 1}"
        _spam_line(report, source.path, lines.subjects[i], what, _blank(subject, TAG, " "))
        if all_caps(subject):
            report.add("warning", source.path, lines.subjects[i],
                       f"{what} is in capitals, which reads as shouting and spam filters score")  # fmt: skip
    if source.preheader:
        _spam_line(report, source.path, lines.preheader, "preheader", _blank(source.preheader, TAG, " "))
    text = _blank(_blank(source.body, TAG, " "), _ADMONITION, " ")
    for n, line in enumerate(text.split("\n")):
        _spam_line(report, *source.locate(source.body_line + n), "body", line)


def _spam_line(report: _Report, path: Path, line: int, what: str, text: str) -> None:
    for hit in spam_hits(text):
        if hit == "!!!":
            report.add("warning", path, line, f"{what}: many exclamation marks ('!!!') look like spam")
        else:
            report.add("warning", path, line, f'{what}: spam-trigger phrase "{hit}" (a phrase-list hint; '
                                              "--spam asks SpamAssassin)")


# -- rendering for every recipient --------------------------------------------------------


@dataclass
class Samples:
    """Whom the checks on a finished message use: per subject variant, the first contact it renders
    for (``-1 - variant``: the first it fails for); ``clean``: the first few every variant renders for."""

    by_variant: dict[int, ContactView] = field(default_factory=dict)
    clean: list[ContactView] = field(default_factory=list)


def check_recipients(factory: MessageFactory, contacts: Iterable[ContactView], source: ContentSource,
                     report: _Report) -> Samples:  # fmt: skip
    """Render every subject variant for every contact; report each distinct render error, and each
    variable that prints empty for some contacts (a warning: the greeting reads "Yth. ,").

    Returns the samples the checks on a finished message (subject length, unsubscribe link, size,
    contrast, SpamAssassin) use.
    """
    errors, empty = Problems(), Problems()
    found = Samples()
    samples = found.by_variant
    wanted = factory.ws.settings.studio.spam_samples
    total = 0
    for view in contacts:
        total += 1
        fine = True
        for variant in range(factory.subject_count):
            try:
                factory.render(view, variant)
            except TemplateError as exc:
                errors.add_error(exc, view.email)
                samples.setdefault(-1 - variant, view)  # for the subject check: the body may be at fault
                fine = False
                continue
            samples.setdefault(variant, view)
        if fine and len(found.clean) < wanted:
            found.clean.append(view)
        if view.id:  # the placeholder contact has every field
            for variable in factory.empty_variables(view):
                empty.add(variable.file or source.path, variable.line, variable.name, view.email)
    who = f"of {_plural(total, 'contact')}"
    for problem in errors:
        report.add("error", problem.path, problem.line,
                   f"{problem.detail} — {problem.count} {who}: {problem.who()}", "render")  # fmt: skip
    for problem in empty:
        field = problem.detail.removeprefix("contact.")
        report.add("warning", problem.path, problem.line,
                   f"`{problem.detail}` is empty for {problem.count} {who}: {problem.who()}; write "
                   f'{{{{ {problem.detail} | default("...") }}}} or add require: [{field}] '
                   "to the campaign")  # fmt: skip
    return found


# -- checks on one rendered message ---------------------------------------------------------


def _subject_only(factory: MessageFactory, source: ContentSource) -> MessageFactory:
    """A factory for the subjects alone, so a broken body does not hide a subject's length."""
    compiled = compile_content(replace(source, body="", preheader=""), Organization("-", "-"))
    return MessageFactory(factory.ws, factory.spec, factory.campaign_id, factory.signer, compiled)


def check_subjects(factory: MessageFactory, samples: dict[int, ContactView], lines: FrontLines,
                   report: _Report) -> None:  # fmt: skip
    """Subjects over 78 characters, rendered for the first contact each renders for."""
    for variant in range(factory.subject_count):
        sample = samples.get(variant) or samples.get(-1 - variant)
        if sample is None:
            continue
        try:
            subject = factory.render(sample, variant).subject
        except TemplateError:
            continue  # already reported as a render error
        if len(subject) > MAX_SUBJECT:
            what = "subject" if variant == 0 else f"subject variant {variant + 1}"
            report.add("warning", factory.content.path, lines.subjects[variant],
                       f"{what} is {len(subject)} characters for {sample.email} (inboxes cut it off after "
                       f"about {MAX_SUBJECT}): {subject!r}")  # fmt: skip


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(v for k, v in attrs if k == "href" and v)


def html_links(html: str) -> list[str]:
    parser = _Hrefs()
    parser.feed(html)
    parser.close()
    return parser.hrefs


def has_link(html: str, url: str) -> bool:
    return url in html_links(html)


def check_unsubscribe(factory: MessageFactory, sample: ContactView, report: _Report) -> None:
    """The footer link is the law (CAN-SPAM) and the first thing spam filters look for."""
    html = factory.render(sample).html
    url = factory.unsub_base + quote(factory.signer.sign(sample.id, factory.campaign_id))
    if not has_link(html, url):
        report.add("error", factory.content.path, None,
                   f"the HTML for {sample.email} has no link to its unsubscribe URL {url}")  # fmt: skip


def check_size(factory: MessageFactory, sample: ContactView, report: _Report) -> None:
    """Gmail clips a message whose text and markup pass about 102 KB; embedded pictures do not count there
    (they have their own budget, ``check_image_budget``)."""
    prepared = factory.prepare(sample, f"lint@{factory.spec.sender.domain}")
    size = len(prepared.data) - sum(len(image.b64) for image in prepared.images)
    if size > MAX_BYTES:
        report.add("warning", factory.content.path, None,
                   f"the message is {size / 1024:.0f} KB for {sample.email}; over "
                   f"{MAX_BYTES // 1024} KB Gmail clips it and hides the footer")  # fmt: skip


# -- building blocks, images, colours -------------------------------------------------------------

_IMG_TAG = re.compile(r"<img\b[^>]*>", re.I)
_A_CLASS = re.compile(r"<a\b[^>]*\bclass=\"([^\"]*)\"", re.I)


def check_blocks(source: ContentSource, compiled: CompiledContent, report: _Report) -> None:
    """What the blocks could not make email-safe: an image of unknown width, a button inside a sentence."""
    for m in _IMG_TAG.finditer(compiled.html_source):
        attrs = _attrs(m.group(0))
        src = attrs.get("src", "")
        if "width" in attrs or src.startswith("cid:"):
            continue
        path, line = _written_at(source, src)
        report.add("warning", path, line, f"image {_short(src, 60)} has no width; Outlook shows it at its full "
                                          "size: add {width=600} (pixels) right after it")  # fmt: skip
    for m in _A_CLASS.finditer(compiled.html_source):
        if "button" in m.group(1).split():
            href = _attrs(m.group(0)).get("href", "")
            path, line = _written_at(source, href)
            report.add("warning", path, line, "a {.button} link shares its paragraph with other text, so it shows "
                                              "as a plain link; give it a paragraph of its own")  # fmt: skip


def _written_at(source: ContentSource, text: str) -> tuple[Path, int | None]:
    """Where ``text`` (a URL from the compiled HTML) is written in the content; the file alone when not found."""
    probe = re.split(r"\{\{|\{%", text, maxsplit=1)[0].strip() if text else ""
    at = source.body.find(probe) if probe else -1
    if at < 0:
        return source.path, None
    return source.locate(source.body_line + source.body.count("\n", 0, at))


def check_image_budget(ws: WorkspaceConfig, compiled: CompiledContent, report: _Report) -> None:
    """Embedded pictures travel in every message: past the budget they cost delivery, not just bandwidth."""
    budget = ws.settings.studio.image_budget
    total = sum(image.size for image in compiled.images)
    if total > budget:
        each = ", ".join(f"{image.filename} {_kb(image.size)}" for image in compiled.images)
        report.add("error", compiled.path, None,
                   f"embedded images are {_kb(total)} per message, over the {_kb(budget)} budget "
                   f"(studio.image_budget in outreach.yaml): {each}; make them smaller, or host them and "
                   "link the https URL")  # fmt: skip


def _kb(size: int) -> str:
    return f"{size / 1024:.0f} KB"


_TEXT_COLOURS = ("text_color", "heading_color", "footer_color", "primary_color", "button_text_color")
_BACKGROUNDS = ("card_color", "callout_color", "background_color", "primary_color")


def check_contrast(ws: WorkspaceConfig, factory: MessageFactory, sample: ContactView, report: _Report) -> None:
    """Text colours under WCAG AA against their background, in the message as rendered: a colour written
    in the content is reported at its line there, a theme colour at its line of outreach.yaml."""
    html = factory.render(sample).html
    doc: YamlDoc | None = None
    theme, source = ws.settings.theme, factory.content.source
    for pair in contrast.failing(html):
        fg_key = next((k for k in _TEXT_COLOURS if getattr(theme, k) == pair.foreground), None)
        bg_key = next((k for k in _BACKGROUNDS if getattr(theme, k) == pair.background), None)
        written = _colour_written_at(source, pair.foreground) or _colour_written_at(source, pair.background)
        if written is not None:
            fg_key = bg_key = None  # the writer's own colour, whatever the theme also uses
        what = (f"text colour {_named(fg_key, pair.foreground)} on {_named(bg_key, pair.background)} has a contrast "
                f"of {pair.ratio:.2f}:1, under WCAG AA's {pair.required:g}:1 for "
                f"{'large' if pair.large else 'normal'} text (\"{_short(pair.sample, 40)}\")")  # fmt: skip
        if written is not None:
            report.add("warning", *written, what)
        elif fg_key or bg_key:
            doc = doc or load_yaml(ws.root / SETTINGS_FILE)
            report.add("warning", ws.root / SETTINGS_FILE, doc.line(("theme", fg_key or bg_key)), what)
        else:
            report.add("warning", source.path, None, what)


def _colour_written_at(source: ContentSource, hex_colour: str) -> tuple[Path, int] | None:
    """Where the content writes this colour (``#ffffff``, ``#fff``), if it does."""
    short = "#" + hex_colour[1::2] if all(hex_colour[i] == hex_colour[i + 1] for i in (1, 3, 5)) else None
    pattern = re.compile("|".join(re.escape(c) for c in (hex_colour, short) if c) + r"(?![0-9a-f])", re.I)
    m = pattern.search(source.body)
    if m is None:
        return None
    return source.locate(source.body_line + source.body.count("\n", 0, m.start()))


def _named(key: str | None, value: str) -> str:
    return f"{value} (theme.{key})" if key else value
