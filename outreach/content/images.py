"""Pictures in a message: a local file embedded as an inline part, or a hosted URL left as it is.

A file from the workspace (``![Banner](images/banner.png)``) travels inside
the message as a ``multipart/related`` part named by a Content-ID, so the
recipient sees it even where remote images are blocked; it costs size on
every message, which ``content lint`` holds to a budget. Its width and height
are read from the file's own header (PNG, GIF, JPEG, WebP), so the layout can
give every image an explicit width, as Outlook needs. Pure: files in, bytes out.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from outreach.errors import TemplateError

TYPES = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class InlineImage:
    """One embedded picture: read, measured and base64-encoded once per campaign."""

    cid: str  # without angle brackets
    filename: str
    content_type: str
    size: int  # bytes of the file
    width: int | None
    height: int | None
    b64: bytes  # the encoded body, 76-character lines with CRLF ends

    @property
    def src(self) -> str:
        return f"cid:{self.cid}"


def is_local(src: str) -> bool:
    """A relative file path (no scheme, no ``//host``): an image to embed from the workspace."""
    return bool(src) and not _SCHEME.match(src) and not src.startswith(("//", "/", "#", "\\"))


def load_image(root: Path, src: str, cid_domain: str = "outreach.local") -> InlineImage:
    """The workspace file ``src`` names; a TemplateError (no path: the caller knows the line) when it may not."""
    rel = src.split("?", 1)[0].split("#", 1)[0]
    if ".." in rel.replace("\\", "/").split("/"):
        raise TemplateError(f"image {src}: must be a file inside the workspace (no ..)")
    path = root / rel
    suffix = path.suffix.lower()
    if suffix not in TYPES:
        raise TemplateError(f"image {src}: not a PNG, GIF, JPEG or WebP file ({', '.join(TYPES)})")
    try:
        real = path.resolve(strict=True)
        if not real.is_relative_to(root.resolve()):
            raise TemplateError(f"image {src}: leads outside the workspace")
        data = real.read_bytes()
    except (FileNotFoundError, IsADirectoryError, RuntimeError):
        raise TemplateError(f"image {src}: no such file in the workspace ({path})") from None
    width, height = dimensions(data)
    digest = hashlib.blake2b(data, digest_size=10).hexdigest()
    encoded = base64.b64encode(data)
    lines = b"".join(encoded[i : i + 76] + b"\r\n" for i in range(0, len(encoded), 76))
    return InlineImage(cid=f"{path.stem[:40]}.{digest}@{cid_domain}", filename=_ascii_name(path.name),
                       content_type=TYPES[suffix], size=len(data), width=width, height=height, b64=lines)  # fmt: skip


def _ascii_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:80] or "image"


def dimensions(data: bytes) -> tuple[int | None, int | None]:
    """(width, height) in pixels from the file header, or (None, None) when the format is not recognised."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return w, h
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        w, h = struct.unpack("<HH", data[6:10])
        return w, h
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return _webp(data)
    if data.startswith(b"\xff\xd8"):
        return _jpeg(data)
    return None, None


def _webp(data: bytes) -> tuple[int | None, int | None]:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    if chunk == b"VP8 " and len(data) >= 30:
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None, None


def _jpeg(data: bytes) -> tuple[int | None, int | None]:
    """Walk the JPEG segments to the first start-of-frame, which holds the size."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        i += 2 + length
    return None, None
