"""Signed tokens: a MAC from outside is compared as bytes, so hostile input is refused, never an exception."""

from __future__ import annotations

import pytest

from outreach.settings.tokens import Signer, parse_verp, verp_address
from outreach.tracking.clicks import click_target

SIGNER = Signer(b"a test secret")
GOOD = SIGNER.sign(12, 3)
URL = "https://www.example.com/promo?x=1"


def test_a_genuine_token_verifies() -> None:
    assert SIGNER.verify(GOOD) == (12, 3)
    assert SIGNER.verify(f"  {GOOD}\n") == (12, 3)  # copied from a mail with the line's whitespace


@pytest.mark.parametrize("token", [
    "12-3-é", GOOD + "é", GOOD[:-1] + "\u0661", "\u0661\u0662-3-" + GOOD.split("-", 2)[2],  # Arabic-Indic digits
    "+12-3-" + GOOD.split("-", 2)[2], "1_2-3-" + GOOD.split("-", 2)[2], " 12 -3-x", "12--3-x", "12-3-",
    "12-3-" + "A" * 300, "9" * 40 + "-3-x", "", "-", "12-3-x\x00", "12-3-\udce9", GOOD + "-extra",
])  # fmt: skip
def test_malformed_non_ascii_and_oversized_tokens_are_refused_without_raising(token: str) -> None:
    assert SIGNER.verify(token) is None


def test_a_click_verifies_only_with_its_own_signature() -> None:
    mac = SIGNER.link_mac(GOOD, URL)
    assert click_target(SIGNER, GOOD, URL, mac) == (12, 3)
    for bad in ("x", "", "é", mac + "é", "\udce9", mac.upper(), "A" * 5000):
        assert click_target(SIGNER, GOOD, URL, bad) is None, bad
    assert click_target(SIGNER, GOOD, "https://evil.example/phish", mac) is None
    assert click_target(SIGNER, "12-3-é", URL, mac) is None


def test_a_signed_target_that_could_split_a_header_is_refused() -> None:
    for url in ("https://evil.example/\r\nX-Injected: 1", "https://a.example/\x00", "javascript:alert(1)"):
        assert click_target(SIGNER, GOOD, url, SIGNER.link_mac(GOOD, url)) is None, url


def test_verp_addresses_with_hostile_tags_are_refused() -> None:
    address = verp_address(SIGNER, "sari@contoh-solusi.co.id", 4242)
    assert parse_verp(SIGNER, address) == 4242
    local, domain = address.split("@")
    for tag in ("é", "\udce9", "zz.é", "2mi.0000000é"):
        assert parse_verp(SIGNER, f"{local.split('+')[0]}+{tag}@{domain}") is None
