"""outreach.content.mime.build, held to the standard by parsing its bytes back with the stdlib."""

from __future__ import annotations

import base64
import email
import email.header
import email.policy
import email.utils
import re
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from outreach.campaigns.builder import new_message_id
from outreach.content.mime import Envelope, address, b64, build, encode_words, header_text, wire_safe
from outreach.errors import InputError

ENV = Envelope(
    from_name="Awang Prasetyo",
    from_email="awang@contoh.example.com",
    to_name="Ani Lestari",
    to_email="ani@alpha.example.com",
    subject="Solusi jaringan untuk PT Alpha",
    message_id="0123456789abcdef01234567@contoh.example.com",
    date=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
    list_unsubscribe_url="https://contoh.example.com/u/7-3-AbCdEf",
    list_unsubscribe_mailto="mailto:unsubscribe@contoh.example.com?subject=unsubscribe%207-3-AbCdEf",
    extra=(("X-Outreach-Campaign", "promo"),),
)
TEXT = "Yth. Ani,\n\nHarga spesial: Rp 1.000.000 — hemat 20%.\n= tanda sama dengan =\n\n-- \nPT Contoh\n"
HTML = '<!DOCTYPE html>\n<html><body><p style="margin:0">Yth. Ani — “kutipan” ✓</p>\n</body></html>\n'


def decoded_name(data: bytes, header: str = "To") -> str:
    """The display name as an RFC 2047 reader shows it.

    (The stdlib's modern address parser keeps the whitespace between adjacent
    encoded words of a display name, which RFC 2047 section 6.2 says to drop;
    compat32 plus decode_header follows the RFC.)
    """
    raw = email.message_from_bytes(data, policy=email.policy.compat32)[header]
    name, _addr = email.utils.parseaddr(re.sub(r"\r?\n[ \t]", " ", str(raw)))
    return str(email.header.make_header(email.header.decode_header(name)))


def parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def crlf_lines(data: bytes) -> list[bytes]:
    assert b"\n" not in data.replace(b"\r\n", b""), "bare LF"
    assert b"\r" not in data.replace(b"\r\n", b""), "bare CR"
    return data.split(b"\r\n")


def test_structure_and_bodies_round_trip() -> None:
    data = build(ENV, TEXT, HTML)
    msg = parse(data)
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["MIME-Version"] == "1.0"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for part, original in zip(parts, (TEXT, HTML), strict=True):
        assert part.get_content_charset() == "utf-8"
        assert part.get_content().replace("\r\n", "\n") == original
    assert msg.defects == [] and all(p.defects == [] for p in parts)


def test_every_line_ends_in_crlf_and_is_short() -> None:
    long_html = "<p>" + "x" * 5000 + "</p>\n" + ("kata " * 2000) + "\n"
    long_text = "é" * 3000 + "\n"
    data = build(ENV, long_text, long_html)
    lines = crlf_lines(data)
    assert max(len(line) for line in lines) <= 78
    parts = list(parse(data).iter_parts())
    assert parts[0].get_content().replace("\r\n", "\n") == long_text
    assert parts[1].get_content().replace("\r\n", "\n") == long_html


def test_headers() -> None:
    msg = parse(build(ENV, TEXT, HTML))
    assert msg["From"] == "Awang Prasetyo <awang@contoh.example.com>"
    assert msg["To"] == "Ani Lestari <ani@alpha.example.com>"
    assert msg["Subject"] == "Solusi jaringan untuk PT Alpha"
    assert msg["Message-ID"] == "<0123456789abcdef01234567@contoh.example.com>"
    assert msg["Date"].datetime == datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    assert msg["X-Outreach-Campaign"] == "promo"
    assert "Reply-To" not in msg


def test_list_unsubscribe_headers() -> None:
    data = build(ENV, TEXT, HTML)
    msg = parse(data)
    assert msg["List-Unsubscribe"] == (
        "<https://contoh.example.com/u/7-3-AbCdEf>, "
        "<mailto:unsubscribe@contoh.example.com?subject=unsubscribe%207-3-AbCdEf>"
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    urls = re.findall(r"<([^>]+)>", str(msg["List-Unsubscribe"]))
    assert urls[0].startswith(("https://", "http://")) and urls[1].startswith("mailto:")


@pytest.mark.parametrize(
    "subject",
    [
        "Penawaran spesial — Tahun Baru 2027 ✓",
        "Solusi jaringan untuk PT Maju & Jaya Elektronik — “Paket Aman” untuk Ibu Siti Nurhaliza",
        "日本語のテキストと混在した件名 Indonesia",
        "=?utf-8?q?looks_encoded?= but is not",
        "émoji 🎉🎉🎉 " * 12,
    ],
)
def test_non_ascii_subject_is_rfc2047_and_decodes_exactly(subject: str) -> None:
    subject = " ".join(subject.split())
    data = build(replace(ENV, subject=subject), TEXT, HTML)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"Subject: =?utf-8?b?" in head
    assert max(len(line) for line in crlf_lines(head)) <= 78
    assert parse(data)["Subject"] == subject


def test_long_ascii_subject_is_folded() -> None:
    subject = " ".join(["Penawaran"] * 40)
    data = build(replace(ENV, subject=subject), TEXT, HTML)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in crlf_lines(head)) <= 78
    assert parse(data)["Subject"] == subject


def test_no_header_line_over_998_bytes_whatever_the_data() -> None:
    """Contact fields may be 500 characters each; a header built from them must still be legal."""
    word = "X" * 1200
    env = replace(ENV, subject=f"Halo {word}", to_name=f"Ani{word}", from_name=word[:900])
    data = build(env, TEXT, HTML)
    assert max(len(line) for line in crlf_lines(data)) <= 998
    msg = parse(data)
    assert msg["Subject"] == f"Halo {word}"
    assert decoded_name(data) == f"Ani{word}"
    assert msg["To"].addresses[0].addr_spec == "ani@alpha.example.com"


@pytest.mark.parametrize(
    "name",
    [
        'Lestari, Ani "The Boss"',
        "Siti Nurhaliza (Kepala Bagian)",
        "José Müller",
        "Nguyễn Văn An, S.Kom.",
        "Dr. Nguyễn Thị Minh Khai, Kepala Bagian Pengadaan — Công ty TNHH Hà Nội",
        'Back\\slash "quoted"',
        "Ani <ani@evil.example>",
        "O'Brien; Jr.",
        "",
    ],
)
def test_display_names_round_trip(name: str) -> None:
    data = build(replace(ENV, to_name=name), TEXT, HTML)
    assert data.split(b"\r\n\r\n", 1)[0].isascii()
    to = parse(data)["To"]
    assert len(to.addresses) == 1
    assert to.addresses[0].addr_spec == "ani@alpha.example.com"
    assert decoded_name(data) == name
    assert max(len(line) for line in crlf_lines(data.split(b"\r\n\r\n", 1)[0])) <= 76


@pytest.mark.parametrize(
    "field",
    ["subject", "message_id", "list_unsubscribe_url", "list_unsubscribe_mailto", "to_email"],
)
def test_header_injection_in_fields_is_rejected(field: str) -> None:
    evil = replace(ENV, **{field: getattr(ENV, field) + "\r\nBcc: victim@evil.example"})
    with pytest.raises(InputError):
        build(evil, TEXT, HTML)


def test_header_injection_in_names_is_neutralised() -> None:
    env = replace(
        ENV,
        to_name="Ani\r\nBcc: victim@evil.example",
        from_name="Awang\nX-Evil: 1",
    )
    data = build(env, TEXT, HTML)
    msg = parse(data)
    assert "Bcc" not in msg and "X-Evil" not in msg
    assert msg["To"].addresses[0].display_name == "Ani Bcc: victim@evil.example"
    assert msg["To"].addresses[0].addr_spec == "ani@alpha.example.com"
    assert msg["From"].addresses[0].display_name == "Awang X-Evil: 1"
    header_names = [line.split(b":")[0] for line in data.split(b"\r\n\r\n")[0].split(b"\r\n")]
    assert b"Bcc" not in header_names


def test_non_ascii_or_odd_addresses_are_refused() -> None:
    for bad in ("josé@example.com", "a b@example.com", "a@b@example.com", "<a@example.com>"):
        with pytest.raises(InputError):
            address("X", bad)


def test_reply_to() -> None:
    msg = parse(build(replace(ENV, reply_to="sales@contoh.example.com"), TEXT, HTML))
    assert msg["Reply-To"] == "sales@contoh.example.com"


def test_message_ids_are_unique() -> None:
    ids = {new_message_id("contoh.example.com") for _ in range(5000)}
    assert len(ids) == 5000
    assert all(re.fullmatch(r"[0-9a-f]{24}@contoh\.example\.com", i) for i in ids)


def test_boundary_does_not_collide_with_body() -> None:
    data = build(ENV, "--=_ not a boundary\n", "<p>--=_</p>")
    parts = list(parse(data).iter_parts())
    assert len(parts) == 2
    assert parts[0].get_content().replace("\r\n", "\n") == "--=_ not a boundary\n"


def test_header_text_and_encode_words() -> None:
    assert header_text("Plain ASCII") == "Plain ASCII"
    words = encode_words("é" * 100)
    assert all(len(w.strip()) <= 75 for w in words.split("\r\n"))
    assert str(email.header.make_header(email.header.decode_header(words))) == "é" * 100


HOSTILE_BODIES = [
    ".\n",  # alone on a line: would end DATA early
    ".hidden line\n..two dots\n. space\n",
    "first\r\n.second\rthird\r.fourth\n",  # CRLF, bare CR, a dot after a bare CR
    "\r\n.\r\n",
    "tail without newline .",
    "é.\n.é\n" * 50,
]


@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_bytes_are_wire_safe_whatever_the_bodies(body: str) -> None:
    """build()'s bytes go after DATA as they are, so no line may start with a dot and
    every line must end in CRLF; the bodies must still read back as written."""
    data = build(ENV, body, body)
    assert wire_safe(data)
    crlf_lines(data)
    parts = list(parse(data).iter_parts())
    expected = body.replace("\r\n", "\n").replace("\r", "\n")
    assert [p.get_content().replace("\r\n", "\n") for p in parts] == [expected, expected]


@pytest.mark.parametrize("data, safe", [
    (b"a\r\nb\r\n", True),
    (b"a\nb\r\n", False),  # bare LF
    (b"a\rb\r\n", False),  # bare CR
    (b"a\r\n.b\r\n", False),  # would need dot-stuffing
    (b".a\r\n", False),
    (b"a.\r\nb.c\r\n", True),
])  # fmt: skip
def test_wire_safe(data: bytes, safe: bool) -> None:
    assert wire_safe(data) is safe


def test_html_base64_is_the_standard_encoding() -> None:
    html = "<p>é</p>\n" * 400 + "tail"
    expected = base64.encodebytes(html.replace("\n", "\r\n").encode()).replace(b"\n", b"\r\n")
    assert b64(html) == expected


def test_embedded_images_make_a_related_part_the_stdlib_reads_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from helpers import png

    from outreach.content.images import load_image

    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "banner.png").write_bytes(png(600, 200))
    (tmp_path / "images" / "logo.png").write_bytes(png(120, 40))
    images = [load_image(tmp_path, "images/banner.png"), load_image(tmp_path, "images/logo.png")]
    html = "".join(f'<img src="{i.src}" alt="x">' for i in images) + "<p>Yth. Ani</p>\n"
    data = build(ENV, TEXT, html, images)
    assert wire_safe(data) and max(len(line) for line in crlf_lines(data)) <= 78
    msg = parse(data)
    assert msg.get_content_type() == "multipart/alternative" and msg.defects == []
    text, related = msg.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related" and related.get_param("type") == "text/html"
    html_part, *pictures = related.iter_parts()  # type: ignore[attr-defined]
    assert html_part.get_content().replace("\r\n", "\n") == html
    assert [p.get_content_type() for p in pictures] == ["image/png", "image/png"]
    for part, image in zip(pictures, images, strict=True):
        assert part["Content-ID"] == f"<{image.cid}>" and f'src="cid:{image.cid}"' in html
        assert part.get_content_disposition() == "inline" and part.get_filename() == image.filename
        assert part.get_content() == (tmp_path / "images" / image.filename).read_bytes()
        assert part.defects == []
