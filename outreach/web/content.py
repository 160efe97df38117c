"""The writer's editor: every campaign's content and the reusable blocks, edited, previewed live, saved safely.

Routes (writers and executives; every POST checks the CSRF token first):

* ``/app/content``: each campaign's content files (every step, every language) with their lint state, the
  files no campaign uses, the blocks; ``POST /app/content/new`` (``name``, ``kind``, ``lang``) starts one as
  ``outreach content new`` does; ``POST /app/blocks/new`` (``name``) starts a block.
* ``/app/content/NAME/edit`` (``?lang=en``: that language's file) and ``/app/blocks/NAME/edit``: GET is the
  editor (the file exactly as on disk in ``<textarea name="source">``, its version in ``base``); POST saves
  through ``Workspace.save_content`` (atomic, checked against ``base``): 303, or 409 with both versions.
* ``.../preview`` (POST the draft): the message as a real send renders it and the lint findings, as JSON for the
  editor's script; nothing is written. ``.../history``: every version, its diff; ``.../restore`` (POST).
* ``.../image`` (POST multipart ``file``): a picture into images/, at most 5 MB (refused while streaming).
* ``.../test-send`` (POST): the saved message to the writer's own address, refused while it has lint errors.

Everything shown comes from files people edit or contacts: escaped by the templates, never trusted as markup;
the message itself is shown only inside the preview's sandboxed iframe (no scripts, an opaque origin).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from outreach.errors import InputError, NotFoundError, OutreachError
from outreach.settings import LANGUAGE_NAMES, LANGUAGES
from outreach.studio import STARTER_KINDS
from outreach.studio.drafts import DraftCheck
from outreach.studio.editable import Editable, Overview
from outreach.studio.frontmatter import FIELDS, Fields, apply_fields, changed_fields, declared_language, read_fields
from outreach.studio.lint import Finding, lint_campaign
from outreach.studio.live import file_version
from outreach.studio.saving import ABSENT, MAX_SOURCE, Opened, StaleCopy, with_newlines
from outreach.studio.uploads import MAX_IMAGE
from outreach.web.auth import requires
from outreach.web.headers import MESSAGE_IMAGES, csp
from outreach.web.render import context, flash, page, redirect
from outreach.web.sessions import TooLarge, checked_form, checked_upload
from outreach.web.writer import own_address
from outreach.workspace import Workspace

ROLES = ("writer", "executive")
FORM_LIMIT = 4 * MAX_SOURCE  # an editor's form: the text (urlencoded, up to 3 bytes a character) and the fields
LIST_SAMPLE = 50  # contacts the list's lint state tries personalisation with (the editor: 200; lint: all)
LIST_CACHE_SECONDS = 60.0
_HEAD = re.compile(r"<head\b[^>]*>", re.I)
_PREHEADER = re.compile(r'<div class="preheader"[^>]*>(.*?)</div>', re.S)
_TAGS = re.compile(r"<[^>]+>")


# -- which file ------------------------------------------------------------------------------


def _file(request: Request, kind: str, form: FormData | None = None) -> Editable:
    """The file the address names; 404 (with the reason) for a name the editor does not open."""
    ws = context(request).ws
    name = str(request.path_params["name"])
    raw = request.query_params.get("lang") or (str(form.get("lang") or "") if form is not None else "") or None
    try:
        return ws.block_file(name) if kind == "block" else ws.content_file(name, raw)
    except InputError as exc:
        raise HTTPException(404, exc.detail) from None


def _openable(ws: Workspace, file: Editable) -> Opened:
    """The file as the editor shows it; a language version not written yet opens with its sibling's text."""
    opened = ws.open_content(file)
    if opened.exists:
        return opened
    if file.kind == "content" and file.lang is not None:
        sibling = _sibling(ws, file)
        if sibling is not None:
            text = ws.open_content(sibling).text
            return Opened(file, text, ABSENT, "lf")
    what = "block" if file.kind == "block" else "content"
    raise HTTPException(404, f"There is no {what} {file.relpath} in the workspace.")


def _sibling(ws: Workspace, file: Editable) -> Editable | None:
    """Another language's file of the same content (to start a new language version from)."""
    for lang in (None, *LANGUAGES):
        if lang == file.lang:
            continue
        try:
            other = ws.content_file(file.name, lang)
        except OutreachError:
            continue
        if other.exists and other.path != file.path:
            return other
    return None


def _who(request: Request) -> str:
    return str(request.state.user.name)


# -- the list --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    errors: int = 0
    warnings: int = 0
    broken: str | None = None  # the lint itself failed (a missing segment...)


class LintCache:
    """Per campaign, the lint state of its files, kept while none of the files it reads changed (at most a minute:
    contacts change too)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: dict[str, tuple[str, float, dict[str, Counts]]] = {}

    def counts(self, ws: Workspace, campaign: str) -> dict[str, Counts]:
        version = _campaign_version(ws, campaign)
        with self._lock:
            found = self._found.get(campaign)
            if found and found[0] == version and time.monotonic() - found[1] < LIST_CACHE_SECONDS:
                return found[2]
        try:
            findings = lint_campaign(ws.config, ws.engine, campaign, sample=LIST_SAMPLE)
        except OutreachError as exc:
            return {"": Counts(broken=exc.message_in(ws.root))}
        counts: dict[str, Counts] = {}
        for f in findings:
            c = counts.get(f.file, Counts())
            counts[f.file] = Counts(c.errors + (f.level == "error"), c.warnings + (f.level == "warning"))
        with self._lock:
            self._found[campaign] = (version, time.monotonic(), counts)
        return counts


def _campaign_version(ws: Workspace, campaign: str) -> str:
    root = ws.root
    paths = [root / "outreach.yaml", ws.config.campaigns_dir / f"{campaign}.yaml"]
    for folder in (ws.config.campaigns_dir, root / "blocks", ws.config.segments_dir):
        if folder.is_dir():
            paths += sorted(p for p in folder.rglob("*") if p.suffix in (".md", ".yaml"))
    return file_version(tuple(paths))


def _lint_cache(request: Request) -> LintCache:
    state = request.app.state
    cache: LintCache | None = getattr(state, "content_lint", None)
    if cache is None:
        cache = state.content_lint = LintCache()
    return cache


def _listing(ws: Workspace, cache: LintCache) -> tuple[Overview, dict[str, Counts]]:
    found = ws.content_overview()
    counts: dict[str, Counts] = {}
    for row in found.campaigns:
        if row.error is None:
            found_counts = cache.counts(ws, row.name)
            if "" not in found_counts:  # linted: a file without findings is clean
                found_counts = {**{r.file.relpath: Counts() for r in row.files}, **found_counts}
            for file, c in found_counts.items():
                if file:
                    prev = counts.get(file, Counts())  # a file two campaigns send: the worse of the two
                    counts[file] = Counts(max(prev.errors, c.errors), max(prev.warnings, c.warnings))
    return found, counts


async def _list_page(request: Request, status: int = 200, **values: Any) -> Response:
    ctx = context(request)
    found, counts = await ctx.run(_listing, ctx.ws, _lint_cache(request))
    values.setdefault("error", None)
    values.setdefault("block_error", None)
    values.setdefault("form", {})
    return page(request, "writer/content.html", status=status, overview=found, counts=counts, kinds=STARTER_KINDS,
                languages=LANGUAGE_NAMES, default_lang=ctx.ws.config.settings.language, **values)  # fmt: skip


@requires(*ROLES)
async def content_list(request: Request) -> Response:
    return await _list_page(request)


@requires(*ROLES)
async def content_new(request: Request) -> Response:
    """``content new`` from the app: the same core function, its refusals shown on the form (nothing written)."""
    form = await checked_form(request)
    name, kind = str(form.get("name") or "").strip()[:120], str(form.get("kind") or "")
    lang = str(form.get("lang") or "") or None
    ctx = context(request)
    try:
        await ctx.run(lambda: ctx.ws.new_content(name, kind, lang, who=_who(request), via="app"))
    except OutreachError as exc:
        return await _list_page(request, 400, error=exc.message_in(ctx.ws.root),
                                form={"name": name, "kind": kind, "lang": lang or ""})  # fmt: skip
    flash(request, f"Started {name}: campaigns/{name}.md and its campaign file campaigns/{name}.yaml.")
    return redirect(request, f"/app/content/{name}/edit")


@requires(*ROLES)
async def block_new(request: Request) -> Response:
    form = await checked_form(request)
    name = str(form.get("name") or "").strip()[:120]
    ctx = context(request)
    try:
        saved = await ctx.run(ctx.ws.new_block, name, _who(request))
    except OutreachError as exc:
        return await _list_page(request, 400, block_error=exc.message_in(ctx.ws.root), form={"block": name})
    flash(request, f"Started {saved.file.relpath}; include it with {{% include \"{saved.file.relpath}\" %}}.")
    return redirect(request, saved.file.url)


# -- the editor ------------------------------------------------------------------------------


def _draft_json(ws: Workspace, check: DraftCheck, merged: str | None) -> dict[str, Any]:
    """What the editor's script shows after each pause in typing."""
    prepared = check.prepared
    html = prepared.html_for_browser() if prepared else ""
    return {
        "html": _HEAD.sub(lambda m: m.group(0) + '<base target="_blank">', html, count=1),
        "subject": prepared.rendered.subject if prepared else "",
        "preheader": _preheader(prepared.rendered.html) if prepared else "",
        "to": check.contact.email if check.contact else "",
        "size": f"{len(prepared.data) / 1024:.1f} KB" if prepared else "",
        "error": check.error,
        "findings": [_finding(ws, check.file, f) for f in check.findings],
        "errors": check.errors, "warnings": check.warnings,
        "summary": _summary(check),
        "checked": check.checked,
        "fields": check.fields.as_form() if check.fields else None,
        "source": merged,
    }  # fmt: skip


def _preheader(html: str) -> str:
    import html as html_lib

    match = _PREHEADER.search(html)
    return " ".join(html_lib.unescape(_TAGS.sub("", match.group(1))).split()) if match else ""


def _summary(check: DraftCheck) -> str:
    e, w = check.errors, check.warnings
    return f"{e} error{'s' if e != 1 else ''}, {w} warning{'s' if w != 1 else ''}"


def _finding(ws: Workspace, file: Editable, f: Finding) -> dict[str, Any]:
    here = f.file == file.relpath
    url = None
    if not here and f.file.endswith(".md"):
        try:
            url = ws.editable(f.file).url
        except OutreachError:
            url = None
    return {"level": f.level, "file": f.file, "line": f.line, "message": f.message, "here": here, "url": url}


def _fields_shown(form: FormData) -> dict[str, str]:
    return {k: str(form[f"{k}_was"]) for k in FIELDS if f"{k}_was" in form}


def _with_fields(form: FormData, source: str) -> tuple[str, bool]:
    """The submitted text with the fields the writer changed written into its front matter (the fields win)."""
    fields = {k: str(form[k]) for k in FIELDS if k in form}
    changes = changed_fields(fields, _fields_shown(form))
    if not changes:
        return source, False
    try:
        return apply_fields(source, changes), True
    except ValueError as exc:
        raise InputError(f"the subject fields could not be written into the text: {exc}") from None


def _source(form: FormData) -> str:
    raw = form.get("source")
    if not isinstance(raw, str):
        raise InputError("the form has no text (source)")
    return with_newlines(raw, str(form.get("newline") or "") or None)


async def _edit_page(request: Request, file: Editable, text: str, base: str, newline: str, *, status: int = 200,
                     problem: str | None = None, theirs: str | None = None,
                     fields: Fields | None = None) -> Response:  # fmt: skip
    ctx = context(request)
    check: DraftCheck = await ctx.run(ctx.ws.check_draft, file, text, request.query_params.get("contact"))
    shown = fields or read_fields(text) or Fields()
    conflict_diff = None
    if theirs is not None:
        from outreach.studio.history import unified

        conflict_diff = unified(theirs, text, "theirs (the file now)", "yours (not saved)")
    others = _other_languages(ctx.ws, file, text)
    values = {
        "file": file, "text": text, "base": base, "newline": newline, "check": check,
        "draft": _draft_json(ctx.ws, check, None), "fields": shown.as_form(), "problem": problem, "theirs": theirs,
        "conflict_diff": conflict_diff, "languages": LANGUAGE_NAMES, "others": others,
        "own_address": own_address(request), "max_image": MAX_IMAGE, "max_source": MAX_SOURCE,
        "leading_newline": text.startswith(("\n", "\r\n")),
        "first_email": await ctx.run(_first_email, ctx.ws, check.campaign, file),
    }  # fmt: skip
    headers = {"Content-Security-Policy": csp(request.state.nonce, images=MESSAGE_IMAGES)}
    return page(request, "writer/edit.html", status=status, headers=headers, **values)


def _other_languages(ws: Workspace, file: Editable, text: str) -> list[tuple[str, Editable]]:
    """The language versions to link to (or to start): not this file's own language, nor the one the base file
    (``NAME.md``) already is."""
    if file.kind != "content":
        return []
    base = ws.content_file(file.name) if file.lang else file
    taken = {file.lang, declared_language(ws.open_content(base).text if base.exists else text)}
    out = []
    for lang in LANGUAGES:
        other = ws.content_file(file.name, lang)
        if other.path != file.path and (other.exists or lang not in taken):
            out.append((lang, other))
    return out


def _first_email(ws: Workspace, campaign: str | None, file: Editable) -> bool:
    """Whether ``file`` is (a language version of) the first email of ``campaign``: what a test copy sends."""
    if campaign is None or file.kind != "content":
        return False
    from outreach.campaigns.definition import load_campaign

    try:
        return file.path in load_campaign(ws.config, campaign).content_files.candidates
    except OutreachError:
        return False


async def _edit(request: Request, kind: str) -> Response:
    ctx = context(request)
    if request.method != "POST":
        file = _file(request, kind)
        opened = await ctx.run(_openable, ctx.ws, file)
        return await _edit_page(request, file, opened.text, opened.base, opened.newline)
    form = await checked_form(request, max_part_size=MAX_SOURCE * 2, limit=FORM_LIMIT)
    file = _file(request, kind, form)
    base = str(form.get("base") or "")[:80]
    newline = str(form.get("newline") or "lf")
    if base == ABSENT:  # starting a file: only a language version of existing content (blocks: /app/blocks/new)
        await ctx.run(_openable, ctx.ws, file)
    try:
        source, _ = _with_fields(form, _source(form))
        saved = await ctx.run(ctx.ws.save_content, file, source, base, _who(request))
    except StaleCopy as stale:
        theirs = stale.theirs if stale.theirs is not None else ""
        return await _edit_page(request, file, stale.yours, stale.base, newline, status=409,
                                problem=stale.detail, theirs=theirs)  # fmt: skip
    except OutreachError as exc:
        text = str(form.get("source") or "")
        return await _edit_page(request, file, text, base, newline, status=400, problem=exc.message_in(ctx.ws.root))
    if saved.changed:
        flash(request, f"Saved {file.relpath} ({saved.size / 1024:.1f} KB).")
    else:
        flash(request, f"No change to save in {file.relpath}.")
    return redirect(request, file.url)


async def _preview(request: Request, kind: str) -> Response:
    form = await checked_form(request, max_part_size=MAX_SOURCE * 2, limit=FORM_LIMIT)
    file = _file(request, kind, form)
    ctx = context(request)
    try:
        source, merged = _with_fields(form, _source(form))
    except InputError as exc:
        return JSONResponse({"error": exc.detail, "findings": [], "errors": 1, "warnings": 0}, status_code=400)
    contact = str(form.get("contact") or "")[:320] or None
    check = await ctx.run(ctx.ws.check_draft, file, source, contact)
    return JSONResponse(_draft_json(ctx.ws, check, source if merged else None))


# -- history ---------------------------------------------------------------------------------


async def _history(request: Request, kind: str) -> Response:
    ctx = context(request)
    file = _file(request, kind)
    found = await ctx.run(ctx.ws.content_history, file)
    if not found and not file.exists:
        raise HTTPException(404, f"There is no {file.relpath} in the workspace, and no history of one.")
    raw = request.query_params.get("v", "")
    chosen = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else (found[0].id if found else None)
    shown = None
    if chosen is not None:
        try:
            shown = await ctx.run(ctx.ws.content_diff, file, chosen)
        except NotFoundError as exc:
            raise HTTPException(404, exc.detail) from None
    current = (await ctx.run(ctx.ws.open_content, file)).base
    return page(request, "writer/history.html", file=file, versions=found, shown=shown, base=current)


async def _restore(request: Request, kind: str) -> Response:
    form = await checked_form(request)
    file = _file(request, kind, form)
    ctx = context(request)
    raw = str(form.get("version") or "")
    if not (raw.isascii() and raw.isdigit() and len(raw) < 12):
        raise HTTPException(404, "No such version.")
    base = str(form.get("base") or "")[:80]
    try:
        saved = await ctx.run(ctx.ws.restore_content, file, int(raw), base, _who(request))
    except NotFoundError as exc:
        raise HTTPException(404, exc.detail) from None
    except StaleCopy as stale:
        return await _edit_page(request, file, stale.yours, stale.base, "lf", status=409, problem=stale.detail,
                                theirs=stale.theirs or "")  # fmt: skip
    flash(request, f"Restored {file.relpath} as it was in that version." if saved.changed
          else f"{file.relpath} is already as it was in that version.")  # fmt: skip
    return redirect(request, file.url)


# -- pictures and test copies ------------------------------------------------------------------


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


async def _image(request: Request, kind: str) -> Response:
    """One picture, refused while it streams in once past the limit; JSON for the editor's script, else a page."""
    ctx = context(request)
    try:
        form = await checked_upload(request, MAX_IMAGE + 64 * 1024)  # the picture and the form around it
        file = _file(request, kind, form)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InputError("choose a picture to upload (the form's file field is empty)")
        data = await upload.read(MAX_IMAGE + 1)
        stored = await ctx.run(ctx.ws.upload_image, data, upload.filename or "", _who(request))
    except TooLarge:
        return _image_refused(request, 413, f"The picture is larger than {MAX_IMAGE // 1024 // 1024} MB; nothing "
                                            "was saved. Make it smaller (an email picture is rarely over 200 KB).")
    except InputError as exc:
        return _image_refused(request, 400, f"Not saved: {exc.detail}.")
    if _wants_json(request):
        return JSONResponse({"markdown": stored.markdown, "path": stored.relpath, "width": stored.width,
                             "height": stored.height, "reused": stored.reused})  # fmt: skip
    flash(request, f"Uploaded {stored.relpath} ({stored.width}×{stored.height}); put {stored.markdown} in the text.")
    return redirect(request, file.url)


def _image_refused(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    return page(request, "error.html", status=status, title="Picture refused", message=message, home=None)


async def _test_send(request: Request, kind: str) -> Response:
    """The saved message to the writer's own address: the existing test send, refused while the file has errors."""
    form = await checked_form(request)
    file = _file(request, kind, form)
    ctx = context(request)
    to = own_address(request)
    if to is None:
        flash(request, "Your account has no address for test copies; ask for one with "
                       "`outreach users add NAME --role writer --email ADDRESS`.", "error")  # fmt: skip
        return redirect(request, file.url)
    opened = await ctx.run(_openable, ctx.ws, file)
    check = await ctx.run(ctx.ws.check_draft, file, opened.text, None)
    if not opened.exists or not await ctx.run(_first_email, ctx.ws, check.campaign, file):
        flash(request, "No test copy: test copies are of a campaign's first email, and no campaign sends this file "
                       "as one.", "error")  # fmt: skip
        return redirect(request, file.url)
    if check.errors:
        first = next((f for f in check.findings if f.level == "error"), None)
        why = first.format() if first else check.error
        flash(request, f"The test copy was not sent: the saved content has {check.errors} error(s), the first: "
                       f"{why}. Fix and save first.", "error")  # fmt: skip
        return redirect(request, file.url)
    contact = str(form.get("contact") or "")[:320] or None
    try:
        prepared = await ctx.run(ctx.ws.test_send, check.campaign, to, contact, 0, file.lang)
    except OutreachError as exc:
        flash(request, f"The test copy was not sent: {exc.message_in(ctx.ws.root)}", "error")
    else:
        flash(request, f"Sent a test copy to {to}: {prepared.rendered.subject}")
    return redirect(request, file.url)


# -- routes ---------------------------------------------------------------------------------------


def _endpoints(kind: str) -> dict[str, Any]:
    """The same handlers for content files and blocks, each behind the role guard."""

    def bind(handler: Any, name: str) -> Any:
        async def endpoint(request: Request) -> Any:
            return await handler(request, kind)

        endpoint.__name__ = endpoint.__qualname__ = f"{kind}_{name}"
        return requires(*ROLES)(endpoint)

    handlers = {"edit": _edit, "preview": _preview, "history": _history, "restore": _restore, "image": _image,
                "test-send": _test_send}  # fmt: skip
    return {name: bind(handler, name) for name, handler in handlers.items()}


def routes() -> list[BaseRoute]:
    out: list[BaseRoute] = [
        Route("/content", content_list, methods=["GET"]),
        Route("/content/new", content_new, methods=["POST"]),
        Route("/blocks/new", block_new, methods=["POST"]),
    ]
    for prefix, kind in (("/content", "content"), ("/blocks", "block")):
        ends = _endpoints(kind)
        out += [
            Route(prefix + "/{name:path}/edit", ends["edit"], methods=["GET", "POST"]),
            Route(prefix + "/{name:path}/preview", ends["preview"], methods=["POST"]),
            Route(prefix + "/{name:path}/history", ends["history"], methods=["GET"]),
            Route(prefix + "/{name:path}/restore", ends["restore"], methods=["POST"]),
            Route(prefix + "/{name:path}/image", ends["image"], methods=["POST"]),
            Route(prefix + "/{name:path}/test-send", ends["test-send"], methods=["POST"]),
        ]
    return out
