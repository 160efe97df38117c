"""The sales admin's core, on SQLite and PostgreSQL: finding contacts, a contact's whole page, suppressions.

The app's pages (tests/web/test_admin_http.py) call these through the
Workspace; here each is driven on both databases, since case-insensitive
search, keyset pages and the loose index scan of the filters' values are
written once for both.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import make_workspace, write_csv

from outreach.audience.search import COUNT_CAP, ContactFilter
from outreach.errors import ConflictError, InputError, NotFoundError, StateError
from outreach.storage import transaction, utcnow
from outreach.storage.outbox import add_suppression
from outreach.workspace import Workspace


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ws(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    root = make_workspace(tmp_path / "ws")
    if request.param == "postgresql":
        monkeypatch.setenv("OUTREACH_DATABASE_URL", request.getfixturevalue("pg_url"))
    rows = [[f"orang{n:04d}@kota{n % 7}.example.com", f"Orang{n:04d}", "Santoso" if n % 3 else "Wijaya",
             f"PT Kota {n % 7}", ["Jakarta", "Medan", "Bandung"][n % 3], "existing" if n % 4 == 0 else "prospect",
             "awang" if n % 2 else "", "cloud;network" if n % 5 == 0 else ""] for n in range(1200)]  # fmt: skip
    write_csv(root / "many.csv", ["email", "first_name", "last_name", "company", "city", "status", "owner", "tags"],
              rows)  # fmt: skip
    opened = Workspace.open(root)
    opened.import_contacts(root / "small.csv")
    opened.import_contacts(root / "many.csv")
    request.addfinalizer(opened.close)
    return opened


def emails(ws: Workspace, **filters: str) -> list[str]:
    out, after = [], None
    while True:
        page = ws.search_contacts(ContactFilter(**filters), after=after, limit=97)
        out += [row.email for row in page.rows]
        if page.after is None:
            return out
        after = page.after


def test_search_is_case_blind_and_pages_cover_every_match_once(ws: Workspace) -> None:
    everyone = emails(ws)
    assert len(everyone) == 1206 and everyone == sorted(everyone)
    assert emails(ws, q="ANI LESTARI") == ["ani@alpha.example.com"]
    assert emails(ws, q="alpha teknik") == ["ani@alpha.example.com"]
    assert len(emails(ws, q="wijaya")) == 400 + 1  # 1,200 / 3, and Citra Wijaya of the small list
    assert emails(ws, q="50%") == [] and emails(ws, q="orang_") == []  # LIKE's wildcards are characters here
    medan = emails(ws, city="Medan", status="existing")
    assert len(medan) == 100 and all(e.startswith("orang") for e in medan)
    assert len(emails(ws, tag="cloud")) == 240 + 2  # and Dedi and Eka of the small list
    assert emails(ws, owner="awang", q="orang0001") == ["orang0001@kota1.example.com"]
    first = ws.search_contacts(ContactFilter(), limit=50)
    assert first.total == 1206 and first.before is None and first.after == first.rows[-1].email
    second = ws.search_contacts(ContactFilter(), after=first.after, limit=50)
    back = ws.search_contacts(ContactFilter(), before=second.rows[0].email, limit=50)
    assert [r.email for r in back.rows] == [r.email for r in first.rows] and back.before is None
    common = ws.search_contacts(ContactFilter(q="orang"), limit=10)
    assert common.capped and common.total == COUNT_CAP and len(common.rows) == 10
    choices = ws.contact_choices()
    cities = {v.city for v in ws.contacts() if v.city}
    assert set(choices.cities) == cities and len(choices.cities) == len(cities) and "Medan" in cities
    assert choices.owners == ("awang", "sari")


def test_suppressed_filter_and_the_profile(ws: Workspace) -> None:
    ws.suppress("orang0003@kota3.example.com", "minta lewat telepon", who="sari", via="app")
    assert emails(ws, suppressed="yes") == ["orang0003@kota3.example.com"]
    assert "orang0003@kota3.example.com" not in emails(ws, suppressed="no", q="orang000")
    profile = ws.contact_profile("ORANG0003@kota3.example.com")
    assert profile.suppressed is not None and profile.suppressed.reason == "manual"
    assert not profile.suppressed.personal
    assert dict((n, v) for n, _label, v in profile.fields)["company"] == "PT Kota 3"
    assert [(c.field, c.new, c.who, c.via) for c in profile.changes] == [
        ("suppressed", "manual: minta lewat telepon", "sari", "app")]
    assert ws.contact_profile(profile.id).email == profile.email
    for missing in ("nobody@example.com", "0", "99999999", "x" * 1000):
        with pytest.raises(NotFoundError):
            ws.contact_profile(missing)


def test_lifting_the_persons_own_wish_needs_the_address_typed(ws: Workspace) -> None:
    with transaction(ws.engine) as session:
        add_suppression(session, "ani@alpha.example.com", "complaint", "abuse report", None, utcnow())
    for confirm in ("", "ani@alpha.example", "budi@beta.example.com"):
        with pytest.raises(InputError, match="the person asked not to be mailed"):
            ws.unsuppress("ani@alpha.example.com", "telepon: minta dikirimi lagi", confirm=confirm)
    with pytest.raises(InputError, match="say why"):
        ws.unsuppress("ani@alpha.example.com", " ", confirm="ani@alpha.example.com")
    assert ws.contact_profile("ani@alpha.example.com").suppressed is not None
    said = ws.unsuppress("ani@alpha.example.com", "telepon: minta dikirimi lagi", confirm="Ani@Alpha.example.com")
    assert said == "ani@alpha.example.com may be mailed again (the complaint suppression is lifted)"
    with pytest.raises(StateError, match="is not suppressed"):
        ws.unsuppress("ani@alpha.example.com", "lagi")
    (record,) = ws.audit(subject="contact:ani@alpha.example.com")
    assert record.detail == ("lifted complaint: abuse report; reason: telepon: minta dikirimi lagi; confirmed by "
                             "typing the address (the person's own request was lifted)")  # fmt: skip


def test_a_stale_edit_changes_nothing(ws: Workspace) -> None:
    base = ws.contact_profile("budi@beta.example.com").version
    ws.change_contact("budi@beta.example.com", {"title": "Kepala Pembelian"}, "sari", "app", base=base)
    with pytest.raises(ConflictError, match="changed since you opened it"):
        ws.change_contact("budi@beta.example.com", {"title": "Direktur"}, "boss", "app", base=base)
    fields = dict((n, v) for n, _label, v in ws.contact_profile("budi@beta.example.com").fields)
    assert fields["title"] == "Kepala Pembelian"
