"""The writer's editor without the web: names, saving against a base version, atomic writes, history, the
subject fields, drafts rendered as a send renders them, pictures, and the build refusing content with lint errors.

Everything is real: workspace files on disk, the SQLite database, a crash of a real process between the
temporary file and the rename.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import PROMO_MD, invoke, make_workspace, png, write

from outreach.errors import InputError, LintError
from outreach.studio.frontmatter import apply_fields, changed_fields, read_fields
from outreach.studio.saving import ABSENT, StaleCopy, version_of, with_newlines
from outreach.studio.uploads import MAX_IMAGE, safe_stem, sniff
from outreach.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = make_workspace(tmp_path / "ws")
    write(root / "blocks" / "salam.md", "Salam hangat,\n{{ sender.name }}\n")
    opened = Workspace.open(root)
    yield opened  # type: ignore[misc]
    opened.close()


# -- names: what the editor opens -------------------------------------------------------------------


def test_content_names_map_to_their_files(ws: Workspace) -> None:
    assert ws.content_file("promo").relpath == "campaigns/promo.md"
    english = ws.content_file("promo", "en")
    assert (english.relpath, english.lang, english.exists) == ("campaigns/promo.en.md", "en", False)
    assert ws.content_file("promo.en").relpath == "campaigns/promo.en.md"  # the file's own name works too
    assert ws.block_file("salam").relpath == "blocks/salam.md"
    assert ws.editable("campaigns/promo.md") == ws.content_file("promo")
    assert ws.editable("blocks/salam.md") == ws.block_file("salam")
    write(ws.root / "campaigns" / "launch.yaml", "segment: prospects\ncontent: promo.md\nsender: awang\n")
    assert ws.content_file("launch").relpath == "campaigns/promo.md"  # a campaign's name: its content file


@pytest.mark.parametrize("name", ["../outreach", "../../etc/passwd", "/etc/passwd", "a/../../b", "..", ".hidden",
                                  "promo\\..\\x", "promo.md", "a\0b", "x" * 300, "", "sub//x"])
def test_hostile_names_are_refused_before_any_path_is_made(ws: Workspace, name: str) -> None:
    with pytest.raises(InputError):
        ws.content_file(name)
    with pytest.raises(InputError):
        ws.block_file(name)


def test_a_link_out_of_the_folder_is_not_opened(ws: Workspace, tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("---\nsubject: x\n---\nsecret\n", encoding="utf-8")
    (ws.root / "campaigns" / "leak.md").symlink_to(secret)
    with pytest.raises(InputError, match="is a link"):
        ws.content_file("leak")
    with pytest.raises(InputError, match="not a file the editor keeps"):
        ws.editable("outreach.yaml/x")


# -- saving -----------------------------------------------------------------------------------


def test_open_and_save_round_trip_bytes_exactly(ws: Workspace) -> None:
    file = ws.content_file("promo")
    crlf = PROMO_MD.replace("\n", "\r\n").rstrip("\r\n")  # CR LF line ends and no newline at the end
    file.path.write_bytes(crlf.encode())
    opened = ws.open_content(file)
    assert (opened.text, opened.newline, opened.base) == (crlf, "crlf", version_of(crlf.encode()))
    browser = opened.text.replace("\r\n", "\n").replace("\n", "\r\n")  # what a textarea posts: CR LF always
    assert with_newlines(browser, opened.newline) == crlf
    saved = ws.save_content(file, with_newlines(browser, opened.newline), opened.base, "wina")
    assert not saved.changed and file.path.read_bytes() == crlf.encode()  # nothing to write, nothing recorded
    lf = "---\nsubject: Hai\n---\nBody"
    assert with_newlines(lf.replace("\n", "\r\n"), "lf") == lf


def test_a_stale_copy_is_refused_and_the_file_is_unchanged(ws: Workspace) -> None:
    file = ws.content_file("promo")
    first = second = ws.open_content(file)
    mine = first.text.replace("Kami menawarkan", "Kami dengan bangga menawarkan")
    saved = ws.save_content(file, mine, first.base, "wina")
    assert saved.changed and saved.base == version_of(mine.encode())
    theirs = second.text + "\nTambahan dari Rudi.\n"
    with pytest.raises(StaleCopy) as refused:
        ws.save_content(file, theirs, second.base, "rudi")
    assert file.path.read_text(encoding="utf-8") == mine
    assert (refused.value.theirs, refused.value.yours, refused.value.base) == (mine, theirs, saved.base)
    assert "campaigns/promo.md was changed by someone else" in str(refused.value)
    ws.save_content(file, mine + "\nTambahan dari Rudi.\n", refused.value.base, "rudi")  # merged, saved again
    assert [(v.who, v.action) for v in ws.content_history(file)] == [("rudi", "saved"), ("wina", "saved"),
                                                                      ("on disk", "found")]


def test_edited_on_disk_meanwhile_is_stale_too_and_kept_in_history(ws: Workspace) -> None:
    file = ws.content_file("promo")
    opened = ws.open_content(file)
    file.path.write_text(opened.text + "\nDari editor lain.\n", encoding="utf-8")
    with pytest.raises(StaleCopy):
        ws.save_content(file, opened.text + "x", opened.base, "wina")
    assert file.path.read_text(encoding="utf-8").endswith("Dari editor lain.\n")
    now = ws.open_content(file)
    ws.save_content(file, now.text + "Dan dari app.\n", now.base, "wina")
    found, saved = ws.content_history(file)[::-1]
    assert (found.action, found.who, saved.action) == ("found", "on disk", "saved")


def test_a_missing_file_is_created_only_from_the_absent_base(ws: Workspace) -> None:
    english = ws.content_file("promo", "en")
    assert ws.open_content(english).base == ABSENT
    ws.save_content(english, PROMO_MD.replace("lang: id\n", ""), ABSENT, "wina")
    assert english.path.is_file()
    with pytest.raises(StaleCopy):  # a second writer starting the same language version
        ws.save_content(english, "---\nsubject: other\n---\n", ABSENT, "rudi")
    assert [v.action for v in ws.content_history(english)] == ["created"]


@pytest.mark.parametrize(("text", "why"), [("a\0b", "NUL"), ("x" * (1024 * 1024 + 1), "too big"),
                                           ("\ud800", "not valid Unicode")])  # fmt: skip
def test_text_that_cannot_be_a_content_file_is_refused(ws: Workspace, text: str, why: str) -> None:
    file = ws.content_file("promo")
    before = file.path.read_bytes()
    with pytest.raises(InputError, match=why):
        ws.save_content(file, text, ws.open_content(file).base, "wina")
    assert file.path.read_bytes() == before and ws.content_history(file) == []


CRASH = textwrap.dedent("""
    import os, sys
    from outreach.workspace import Workspace
    import outreach.studio.saving as saving

    def crash(src, dst):  # the process dies between the temporary file and the rename
        os._exit(9)

    saving.os.replace = crash
    with Workspace.open(sys.argv[1]) as ws:
        file = ws.content_file("promo")
        opened = ws.open_content(file)
        ws.save_content(file, opened.text + "\\nsetengah jadi\\n", opened.base, "wina")
""")


def test_a_crash_between_the_temporary_file_and_the_rename_leaves_the_old_file(ws: Workspace) -> None:
    file = ws.content_file("promo")
    before = file.path.read_bytes()
    result = subprocess.run([sys.executable, "-c", CRASH, str(ws.root)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 9, result.stderr
    assert file.path.read_bytes() == before
    leftovers = list(file.path.parent.glob(".promo.md.*.saving"))
    assert len(leftovers) == 1 and leftovers[0].read_text(encoding="utf-8").endswith("setengah jadi\n")
    assert ws.content_history(file) == []  # the transaction never committed
    opened = ws.open_content(file)  # the restart: the next save works and sweeps the leftover
    ws.save_content(file, opened.text + "\nutuh\n", opened.base, "wina")
    assert file.path.read_text(encoding="utf-8").endswith("utuh\n")
    assert list(file.path.parent.glob(".promo.md.*.saving")) == []


def test_history_diff_and_restore(ws: Workspace) -> None:
    file = ws.content_file("promo")
    v0 = ws.open_content(file)
    one = ws.save_content(file, v0.text.replace("20%", "25%"), v0.base, "wina")
    two = ws.save_content(file, v0.text.replace("20%", "30%"), one.base, "rudi")
    versions = ws.content_history(file)
    assert [(v.number, v.who) for v in versions] == [(3, "rudi"), (2, "wina"), (1, "on disk")]
    diff = ws.content_diff(file, versions[0].id)
    assert [line for line in diff.lines if line[:1] in "+-" and line[:3] not in ("+++", "---")] == [
        "-Kami menawarkan **diskon 20%** untuk {{ contact.company }} di {{ contact.city }}.".replace("20", "25"),
        "+Kami menawarkan **diskon 30%** untuk {{ contact.company }} di {{ contact.city }}.",
    ]
    with pytest.raises(StaleCopy):  # a restore is a save: checked against the version shown
        ws.restore_content(file, versions[2].id, one.base, "wina")
    restored = ws.restore_content(file, versions[2].id, two.base, "wina")
    assert file.path.read_text(encoding="utf-8") == v0.text and restored.changed
    newest = ws.content_history(file)[0]
    assert (newest.action, newest.number, newest.label.startswith("restored (version 1 of")) == ("restored", 4, True)


def test_history_and_restore_from_the_command_line(ws: Workspace) -> None:
    file = ws.content_file("promo")
    opened = ws.open_content(file)
    ws.save_content(file, opened.text + "\nP.S. Stok terbatas.\n", opened.base, "wina")
    listed = invoke("content", "history", "campaigns/promo.md", ws=ws.root)
    assert listed.exit_code == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == "campaigns/promo.md: 2 version(s), newest first"
    assert "wina  saved" in lines[1] and "on disk  changed outside the app" in lines[2]
    first_id = lines[2].split()[0]
    shown = invoke("content", "history", "promo", "--diff", lines[1].split()[0], ws=ws.root)
    assert "+P.S. Stok terbatas." in shown.stdout.splitlines()
    back = invoke("content", "restore", "campaigns/promo.md", first_id, ws=ws.root)
    size = len(opened.text.encode())
    assert back.stdout == f"Restored campaigns/promo.md as it was in version {first_id} ({size} bytes)\n"
    assert file.path.read_text(encoding="utf-8") == opened.text
    missing = invoke("content", "restore", "promo", "999999", ws=ws.root)
    assert missing.exit_code == 1 and "has no version 999999" in missing.stderr


def test_content_new_records_its_first_version(ws: Workspace) -> None:
    ws.new_content("brosur", "product-offer", "id", who="wina", via="app")
    (first,) = ws.content_history(ws.content_file("brosur"))
    assert (first.who, first.action, first.note) == ("wina", "created", "content new --kind product-offer")


def test_a_new_block_is_refused_when_it_exists(ws: Workspace) -> None:
    saved = ws.new_block("penutup", "wina")
    assert saved.file.path.read_text(encoding="utf-8").startswith('{# A reusable block: include it in content with '
                                                                   '{% include "blocks/penutup.md" %}')
    with pytest.raises(InputError, match="already exists"):
        ws.new_block("salam", "wina")


# -- the subject fields -----------------------------------------------------------------------


FRONT = ('---\r\n# judul untuk kampanye\r\nsubject: "Halo {{ contact.first_name }}"  # tetap\r\nvariants:\r\n'
         "  - Kedua\r\n  - 'Ketiga'\r\nlang: id\r\n---\r\nIsi.\r\n")


def test_fields_are_written_into_the_front_matter_keeping_the_rest() -> None:
    assert read_fields(FRONT) is not None
    changed = apply_fields(FRONT, {"subject": 'Penawaran: "Diskon" {{ contact.company }}', "preheader": "Akhir tahun",
                                   "variants": "B\n\nC"})  # fmt: skip
    assert changed == ('---\r\n# judul untuk kampanye\r\nsubject: "Penawaran: \\"Diskon\\" {{ contact.company }}"'
                       '  # tetap\r\nvariants: ["B", "C"]\r\nlang: id\r\npreheader: "Akhir tahun"\r\n---\r\nIsi.\r\n')
    fields = read_fields(changed)
    assert fields is not None and fields.subject == 'Penawaran: "Diskon" {{ contact.company }}'
    assert (fields.preheader, fields.variants) == ("Akhir tahun", ("B", "C"))
    assert apply_fields("Isi saja.\n", {"subject": "Baru"}) == '---\nsubject: "Baru"\n---\nIsi saja.\n'
    with pytest.raises(ValueError, match="not valid YAML"):
        apply_fields("---\nsubject: [\n---\nIsi\n", {"subject": "x"})


def test_a_changed_field_wins_over_the_text_and_an_untouched_one_never_touches_it() -> None:
    shown = {"subject": "Lama", "preheader": "P", "variants": ""}
    assert changed_fields({"subject": "Lama", "preheader": "P", "variants": ""}, shown) == {}
    assert changed_fields({"subject": "Baru ", "preheader": "P", "variants": "\n"}, shown) == {"subject": "Baru "}
    text = "---\nsubject: Dari teks\n---\nIsi\n"  # the writer changed the text's subject and the field
    assert read_fields(apply_fields(text, changed_fields({"subject": "Dari field"}, shown))).subject == "Dari field"
    assert apply_fields(text, changed_fields({"subject": "Lama"}, shown)) == text  # field untouched: the text wins


# -- drafts: rendered as a send renders them, nothing written ------------------------------------------------


def test_a_draft_is_rendered_and_linted_without_touching_the_file(ws: Workspace) -> None:
    assert invoke("contacts", "import", str(ws.root / "small.csv"), ws=ws.root).exit_code == 0
    file = ws.content_file("promo")
    before = file.path.read_bytes()
    draft = PROMO_MD.replace("Kami menawarkan", "Hari ini kami menawarkan").replace(
        "Salam,", 'Lihat [brosur](brosur.pdf).\n\n{% include "blocks/salam.md" %}')
    check = ws.check_draft(file, draft, "budi@beta.example.com")
    assert check.campaign == "promo" and check.prepared is not None and check.contact is not None
    assert check.contact.email == "budi@beta.example.com"
    html = check.prepared.html_for_browser()
    assert "Hari ini kami menawarkan" in html and "Budi" in html and "Salam hangat" in html
    assert [(f.file, f.line, f.level) for f in check.findings if f.level == "error"] == [("campaigns/promo.md", 12,
                                                                                         "error")]
    assert file.path.read_bytes() == before and ws.content_history(file) == []
    assert check.fields is not None and check.fields.subject == "Penawaran spesial — Tahun Baru 2027 ✓"
    broken = ws.check_draft(file, draft.replace("{{ sender.name }}", "{{ sender.name }"))
    assert broken.prepared is None and "template syntax error" in (broken.error or "")


def test_a_block_draft_shows_in_the_campaigns_that_include_it(ws: Workspace) -> None:
    promo = ws.content_file("promo")
    promo.path.write_text(PROMO_MD + '\n{% include "blocks/salam.md" %}\n', encoding="utf-8")
    block = ws.block_file("salam")
    check = ws.check_draft(block, "Hormat kami,\n{{ sender.name }}\n")
    assert check.campaign == "promo" and check.prepared is not None
    assert "Hormat kami" in check.prepared.html_for_browser()
    alone = ws.check_draft(ws.block_file("salam"), "{% if %}")
    assert any(f.file == "blocks/salam.md" and f.level == "error" for f in alone.findings)


# -- pictures ---------------------------------------------------------------------------------


def test_pictures_are_known_by_their_bytes(ws: Workspace) -> None:
    assert sniff(png(40, 30)) == ("png", 40, 30)
    with pytest.raises(InputError, match="HTML, SVG or XML"):
        sniff(b"<!doctype html><script>alert(1)</script>")
    with pytest.raises(InputError, match="no usable size"):
        sniff(png(40, 30)[:20])
    stored = ws.upload_image(png(120, 60), "../../Brosur Promo (1).PNG", "wina")
    assert (stored.relpath, stored.width, stored.markdown) == ("images/brosur-promo-1.png", 120,
                                                               "![Brosur promo 1](images/brosur-promo-1.png)")
    again = ws.upload_image(png(120, 60), "brosur promo 1.png", "wina")
    other = ws.upload_image(png(10, 10), "brosur promo 1.png", "wina")
    assert (again.reused, again.relpath, other.relpath) == (True, stored.relpath, "images/brosur-promo-1-2.png")
    with pytest.raises(InputError, match="at most 5 MB"):
        ws.upload_image(png(1, 1) + b"\0" * MAX_IMAGE, "big.png", "wina")
    assert safe_stem("C:\\Users\\x\\Foto Ünik.jpeg") == "foto-unik" and safe_stem("...") == "image"


# -- the build refuses content with lint errors ---------------------------------------------------------


def test_build_refuses_content_with_lint_errors_naming_file_and_line(ws: Workspace) -> None:
    assert invoke("contacts", "import", str(ws.root / "small.csv"), ws=ws.root).exit_code == 0
    md = ws.content_file("promo").path
    md.write_text(PROMO_MD.replace("(https://www.example.com/promo?c={{ campaign.name }})", "(katalog.html)"),
                  encoding="utf-8")  # a draft saved with a broken link: allowed
    result = invoke("campaign", "build", "promo", ws=ws.root)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "Error: campaign promo was not built: its content has 1 lint error; nothing was written. Fix them and build "
        "again:\n  campaigns/promo.md:10: error: link [katalog kami]: not an http(s), mailto or tel URL (relative "
        "links do not work in email) (katalog.html)\n")
    with pytest.raises(LintError) as refused:
        ws.build("promo")
    assert [(f.file, f.line) for f in refused.value.findings] == [("campaigns/promo.md", 10)]
    assert "has not been built yet" in invoke("campaign", "status", "promo", ws=ws.root).stderr


@pytest.mark.postgres
def test_two_processes_save_one_file_on_postgresql_one_wins(tmp_path: Path, pg_url: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock is the folder's (every process), the history the shared database's."""
    root = make_workspace(tmp_path / "ws")
    monkeypatch.setenv("OUTREACH_DATABASE_URL", pg_url)
    with Workspace.open(root) as ws:
        file = ws.content_file("promo")
        base = ws.open_content(file).base
        assert ws.content_history(file) == []  # the database made (migrated) before the two processes start
    script = textwrap.dedent("""
        import sys
        from outreach.studio.saving import StaleCopy
        from outreach.workspace import Workspace
        with Workspace.open(sys.argv[1]) as ws:
            file = ws.content_file("promo")
            try:
                text = "---\\nsubject: dari " + sys.argv[3] + "\\n---\\nIsi\\n"
                ws.save_content(file, text, sys.argv[2], sys.argv[3])
            except StaleCopy:
                print("stale")
            else:
                print("saved")
    """)
    runs = [subprocess.Popen([sys.executable, "-c", script, str(root), base, who], stdout=subprocess.PIPE, text=True)
            for who in ("wina", "rudi")]  # fmt: skip
    outcomes = sorted(run.communicate(timeout=120)[0].strip() for run in runs)
    assert outcomes == ["saved", "stale"]
    with Workspace.open(root) as ws:
        file = ws.content_file("promo")
        (winner,) = [v for v in ws.content_history(file) if v.action == "saved"]
        assert file.path.read_text(encoding="utf-8") == f"---\nsubject: dari {winner.who}\n---\nIsi\n"
        assert [v.action for v in ws.content_history(file)] == ["saved", "found"]
