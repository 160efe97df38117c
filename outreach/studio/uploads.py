"""Pictures uploaded into the content: checked by what they are, not by what they are called, then kept in images/.

A file is a picture when its first bytes say so (PNG, JPEG, GIF, WebP magic
numbers) and its header gives a size in pixels (read by ``content/images.py``,
the renderer's own reader; no imaging library is needed for this). Its name and
its claimed type count for nothing: an HTML page named ``photo.png`` is refused,
a JPEG named ``photo.png`` is kept as ``photo.jpg``. At most ``MAX_IMAGE``
bytes; the web app stops reading an upload as soon as it passes that.

The file goes to the workspace's ``images/`` folder, where the renderer embeds
local pictures from (``![Alt](images/NAME.png)``), under a safe name made from
the upload's (ASCII letters, digits and ``-``; no path); an existing picture
is never replaced: the same bytes reuse its name, other bytes get ``-2``, ``-3``...
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from outreach.content.images import dimensions
from outreach.errors import InputError
from outreach.settings.files import write_bytes_atomically as write_atomically
from outreach.studio.editable import Editable
from outreach.studio.saving import folder_lock, read_bytes, record_version

MAX_IMAGE = 5 * 1024 * 1024
MAX_PIXELS = 20_000  # on a side: a header claiming more is no picture for an email
FOLDER = "images"
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"\xff\xd8\xff", "jpg"),
)
_SAFE = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Stored:
    relpath: str  # images/NAME.EXT
    kind: str  # png | jpg | gif | webp
    width: int
    height: int
    size: int
    alt: str
    reused: bool  # the same picture was there already

    @property
    def markdown(self) -> str:
        """What the editor inserts at the caret (the renderer gives it its width)."""
        return f"![{self.alt}]({self.relpath})"


def sniff(data: bytes) -> tuple[str, int, int]:
    """(kind, width, height) of a picture; ``InputError`` saying what the bytes are instead."""
    kind = next((k for magic, k in _MAGIC if data.startswith(magic)), None)
    if kind is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind = "webp"
    if kind is None:
        raise InputError(f"this file is not a picture: {_looks_like(data)}. Upload a PNG, JPEG, GIF or WebP image")
    width, height = dimensions(data)
    if not width or not height or width > MAX_PIXELS or height > MAX_PIXELS:
        raise InputError(f"this file starts like a {kind.upper()} picture but its header gives no usable size "
                         "(damaged or cut short); export it again and upload that")  # fmt: skip
    return kind, width, height


def _looks_like(data: bytes) -> str:
    head = data[:512].lstrip().lower()
    if not data:
        return "it is empty"
    if head.startswith((b"<!doctype", b"<html", b"<svg", b"<?xml", b"<")):
        return "it is HTML, SVG or XML text (SVG is not shown by most mail apps)"
    if head.startswith(b"%pdf"):
        return "it is a PDF document"
    if head.startswith(b"pk\x03\x04"):
        return "it is a ZIP archive (or an Office document)"
    return "its first bytes match no picture format"


def safe_stem(filename: str) -> str:
    """A file name without its folder and type, as ASCII ``a-z0-9-``: ``../../Brosur (1).PNG`` → ``brosur-1``."""
    base = re.split(r"[\\/]", filename or "")[-1]
    stem = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    ascii_text = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii").lower()
    return _SAFE.sub("-", ascii_text).strip("-")[:60].strip("-") or "image"


def store_image(engine: Engine, root: Path, data: bytes, filename: str, who: str, via: str = "app") -> Stored:
    """Keep an uploaded picture in ``ROOT/images`` (never replacing another) and record who uploaded it."""
    if len(data) > MAX_IMAGE:
        raise InputError(f"the picture is {len(data) / 1024 / 1024:.1f} MB; at most {MAX_IMAGE // 1024 // 1024} MB "
                         "(make it smaller: an email picture is rarely over 200 KB)")  # fmt: skip
    kind, width, height = sniff(data)
    stem = safe_stem(filename)
    folder = root / FOLDER
    if folder.is_symlink():
        raise InputError(f"{FOLDER}/ is a link; make it a folder of the workspace")
    with folder_lock(folder):
        for n in range(1, 1000):
            name = f"{stem}.{kind}" if n == 1 else f"{stem}-{n}.{kind}"
            path = folder / name
            existing = read_bytes(path) if not path.is_symlink() else b""
            if existing == data:
                return Stored(f"{FOLDER}/{name}", kind, width, height, len(data), _alt(stem), reused=True)
            if existing is None:
                write_atomically(path, data)
                file = Editable("image", name, path, f"{FOLDER}/{name}")
                record_version(engine, file, data, who, via, "uploaded", f"{width}×{height} {kind.upper()}")
                return Stored(file.relpath, kind, width, height, len(data), _alt(stem), reused=False)
    raise InputError(f"too many pictures named {stem} in {FOLDER}/; rename the file and upload it again")


def _alt(stem: str) -> str:
    """A first alt text from the name (``brosur-promo`` → ``Brosur promo``): the writer makes it say more."""
    words = stem.replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words != "image" else "Picture"
