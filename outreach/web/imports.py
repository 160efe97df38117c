"""The sales admin loads a contact list: upload, see how its columns are read, import, download the rejects.

``POST /app/contacts/import`` with a ``file`` (CSV or .xlsx) and an optional
``map`` (one ``COLUMN=FIELD`` a line) imports at once, as ``outreach
contacts import FILE --map ...`` does (the same core function, the same
column recognition), and answers with the summary. The page's own form asks
for the review first (``step=review``): the columns as the import would read
them, each with a select to change it, beside the first rows' cells; the
file waits server-side under a token (web/uploads.py) until the admin imports
it or it expires. The summary lists the first rejects and warnings; every one
is in the CSV files to download (formula-neutralised, like the CLI's).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from outreach.audience.headers import IGNORE, custom_key, field_names
from outreach.audience.importer import ImportResult, Peek, write_rejects, write_warnings
from outreach.errors import OutreachError
from outreach.fields import FieldSet
from outreach.web.auth import requires
from outreach.web.render import context, page
from outreach.web.uploads import MB, Upload, UploadArea, file_of, upload_form

MAX_UPLOAD = 10 * MB  # about 80,000 contacts as CSV, more as .xlsx; larger lists: `outreach contacts import`
SHOWN = 20  # rejects and warnings listed on the summary page; the CSV files have every one
MAX_MAP = 200  # lines of the map field
REPORTS = {"rejects.csv": write_rejects, "warnings.csv": write_warnings}


def _area(request: Request) -> UploadArea:
    area = context(request).uploads
    assert area is not None  # made with the context
    return area


@requires("admin")
async def import_page(request: Request) -> Response:
    return _form_page(request)


def _form_page(request: Request, error: str | None = None, map_text: str = "", status: int = 200) -> Response:
    return page(request, "admin/import.html", status=status, error=error, map_text=map_text,
                limit_mb=MAX_UPLOAD // MB, limit=MAX_UPLOAD)  # fmt: skip


@requires("admin")
async def import_post(request: Request) -> Response:
    form = await upload_form(request, MAX_UPLOAD, what="This file", max_fields=2000)
    ctx, user = context(request), request.state.user
    area = _area(request)
    chosen = file_of(form)
    map_text = str(form.get("map") or "")[:20_000]
    if chosen is not None:
        upload = await ctx.run(area.save, chosen.file, chosen.filename or "upload", user.id)
    elif form.get("token"):
        found = area.find(str(form.get("token")), user.id)
        if found is None or not found.path.exists():
            return _form_page(request, "This upload has expired or was imported already: choose the file again.",
                              status=410)  # fmt: skip
        upload = found
    else:
        return _form_page(request, "Choose a CSV or .xlsx file to import.", map_text, status=400)
    try:
        mapping = [*_map_lines(map_text), *await _column_lines(request, form, upload)]
    except OutreachError as exc:
        return _form_page(request, _told(exc, upload), map_text, status=400)
    if form.get("step") == "review":
        return await _review(request, upload, mapping)
    try:
        result = await ctx.run(functools.partial(ctx.ws.import_contacts, upload.path, mapping, who=user.name,
                                                 via="app", label=upload.name))  # fmt: skip
    except OutreachError as exc:
        if chosen is None:  # from the review: the table again, with the error
            return await _review(request, upload, mapping, _told(exc, upload), status=400)
        return _form_page(request, _told(exc, upload), map_text, status=400)
    await ctx.run(_keep_reports, area, upload, result)
    return page(request, "admin/import_done.html", upload=upload, result=result, shown=SHOWN,
                rejects=_first(result.rejected), warnings=list(itertools.islice(result.warnings, SHOWN)))  # fmt: skip


def _first(rejected: Iterable[tuple[int, str, dict[str, str]]]) -> list[tuple[int, str]]:
    return [(line, reason) for line, reason, _row in itertools.islice(rejected, SHOWN)]


def _keep_reports(area: UploadArea, upload: Upload, result: ImportResult) -> None:
    """Every reject and warning as a CSV beside the upload, for the summary's downloads; the file itself goes."""
    for name, write in REPORTS.items():
        write(result, upload.report(name))
    area.discard_file(upload)


def _told(exc: OutreachError, upload: Upload) -> str:
    """The core's error, naming the file as the admin knows it (never the server's folder)."""
    return exc.message.replace(str(upload.path), upload.name)


def _map_lines(text: str) -> list[str]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_MAP:
        raise HTTPException(400, f"The map has {len(lines)} lines; at most {MAX_MAP}.")
    return lines


async def _column_lines(request: Request, form: FormData, upload: Upload) -> list[str]:
    """The review table's selects (``col.N``: the target of column N) as ``COLUMN=FIELD`` lines."""
    picked = {k[4:]: str(v) for k, v in form.multi_items() if k.startswith("col.") and isinstance(v, str)}
    if not picked:
        return []
    ctx = context(request)
    peek = await ctx.run(ctx.ws.peek_contacts, upload.path, (), 0)
    lines = []
    for key, target in picked.items():
        if not key.isdigit() or int(key) >= len(peek.header) or not peek.header[int(key)].strip():
            raise HTTPException(400, "The column choices do not fit this file; check its columns again.")
        header = peek.header[int(key)].strip()
        if target not in _targets(ctx.ws.fields, header, peek.targets[int(key)]):
            raise HTTPException(400, f"{target!r} is not something column {header!r} can be read as.")
        lines.append(f"{header}={target}")
    return lines


def _targets(fields: FieldSet, header: str, current: str) -> list[str]:
    """What one column can be read as: each field, a custom field under its own name, or nothing."""
    options = [*field_names(fields), f"custom.{custom_key(header)}"]
    if current not in options:
        options.append(current)  # a custom name the import gave it (a second "Phone": custom.phone_2)
    return [*options, IGNORE] if IGNORE not in options else options


async def _review(request: Request, upload: Upload, mapping: list[str], error: str | None = None,
                  status: int = 200) -> Response:  # fmt: skip
    ctx = context(request)
    try:
        peek: Peek = await ctx.run(ctx.ws.peek_contacts, upload.path, mapping, 5)
    except OutreachError as exc:
        return _form_page(request, _told(exc, upload), "\n".join(mapping), status=400)
    columns = [(i, h, peek.targets[i], _targets(ctx.ws.fields, h, peek.targets[i]), [r[i] for r in peek.rows])
               for i, h in enumerate(peek.header) if h.strip()]  # fmt: skip
    return page(request, "admin/import_review.html", status=status, upload=upload, peek=peek, columns=columns,
                error=error, fields=ctx.ws.fields)  # fmt: skip


@requires("admin")
async def report(request: Request) -> Response:
    """A summary's download: every reject or warning of the admin's own import, while it is kept."""
    name = request.path_params["report"]
    upload = _area(request).find(request.path_params["token"], request.state.user.id)
    if name not in REPORTS or upload is None or not upload.report(name).is_file():
        raise HTTPException(404, "This report has expired (reports are kept for an hour); import the file again.")
    return FileResponse(upload.report(name), media_type="text/csv; charset=utf-8", filename=name,
                        headers={"Cache-Control": "no-store"})  # fmt: skip


def routes() -> list[BaseRoute]:
    return [
        Route("/contacts/import", import_page, methods=["GET"]),
        Route("/contacts/import", import_post, methods=["POST"]),
        Route("/contacts/import/{token}/{report}", report, methods=["GET"]),
    ]
