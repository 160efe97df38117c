"""Campaign content: Markdown + front matter, compiled once, personalised safely per recipient."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import premailer
import pytest
from helpers import write, write_csv

from outreach.audience.contacts import ContactView
from outreach.audience.importer import import_contacts
from outreach.campaigns.builder import build_campaign
from outreach.campaigns.messages import CampaignInfo
from outreach.content.rendering import Organization, compile_content, load_compiled, read_content
from outreach.errors import TemplateError
from outreach.settings.config import Sender
from outreach.settings.workspace import load_workspace
from outreach.storage import open_engine

ORG = Organization("PT Contoh & Rekan", "Jl. Sudirman No. 1, Jakarta")
SENDER = Sender(name="Awang Prasetyo", email="awang@contoh.example.com", title="Sales", phone="+62 21 1")
UNSUB = "http://127.0.0.1:8025/u/7-3-AbCdEf"

CONTENT = """\
---
subject: "Solusi jaringan untuk {{ contact.company }}"
preheader: "Penawaran khusus untuk {{ contact.first_name }}"
---
# Paket Jaringan Aman

Yth. {{ contact.first_name }} {{ contact.last_name }} dari **{{ contact.company }}**,

{% if contact.title %}
Sebagai {{ contact.title }}, Anda pasti tahu.
{% endif %}

- Wi-Fi 6
- Firewall

Lihat [katalog kami](https://www.example.com/katalog?utm_source=outreach&utm_campaign={{ campaign.name }}).

Salam,
{{ sender.name }}
"""


def contact(**changes: Any) -> ContactView:
    base = ContactView(
        id=7, email="ani@alpha.example.com", first_name="Ani", last_name="Lestari",
        title="IT Manager", phone="+62 21 5550 0001", company="PT Alpha Teknik",
        industry="Manufacturing", city="Jakarta", timezone="Asia/Jakarta", status="prospect",
        owner="sari", last_contacted_at=None, transactions=0, tags=("network",),
        custom={"region": "west"},
    )  # fmt: skip
    return replace(base, **changes)


def context(c: ContactView | None = None) -> dict[str, Any]:
    return {
        "contact": c or contact(),
        "sender": SENDER,
        "campaign": CampaignInfo("promo-2027"),
        "unsubscribe_url": UNSUB,
    }


def compiled(tmp_path: Path, text: str = CONTENT, name: str = "promo.md"):  # type: ignore[no-untyped-def]
    return load_compiled(write(tmp_path / name, text), ORG)


def test_markdown_and_front_matter(tmp_path: Path) -> None:
    r = compiled(tmp_path).render(context())
    assert r.subject == "Solusi jaringan untuk PT Alpha Teknik"
    # HTML: the Markdown's structure, personalised
    assert re.search(r"<h1[^>]*>Paket Jaringan Aman</h1>", r.html)
    assert re.search(r"Yth\. Ani Lestari dari <strong[^>]*>PT Alpha Teknik</strong>,", r.html)
    assert re.search(r"<li[^>]*>Wi-Fi 6</li>", r.html)
    assert "Sebagai IT Manager, Anda pasti tahu." in r.html
    assert "Penawaran khusus untuk Ani" in r.html  # the preheader
    assert "<title>Solusi jaringan untuk PT Alpha Teknik</title>" in r.html
    # text: readable, links spelled out
    assert r.text.startswith("Paket Jaringan Aman\n\nYth. Ani Lestari dari PT Alpha Teknik,\n")
    assert "- Wi-Fi 6\n- Firewall\n" in r.text
    assert "Lihat katalog kami (https://www.example.com/katalog?utm_source=outreach&utm_campaign=promo-2027)." in r.text
    assert "Salam, Awang Prasetyo\n" in r.text
    assert "<" not in r.text.replace("<script>", "")


def test_footer_has_organization_and_unsubscribe_in_both_parts(tmp_path: Path) -> None:
    r = compiled(tmp_path).render(context())
    assert r.text.endswith(
        "\n-- \nPT Contoh & Rekan, Jl. Sudirman No. 1, Jakarta\n"
        "You receive this email because we believe it is relevant to your work.\n"
        f"Unsubscribe: {UNSUB}\n"
    )
    assert "PT Contoh &amp; Rekan · Jl. Sudirman No. 1, Jakarta" in r.html
    assert re.search(rf'<a href="{re.escape(UNSUB)}"[^>]*>Unsubscribe</a>', r.html)


def test_indonesian_footer(tmp_path: Path) -> None:
    text = CONTENT.replace('preheader: "', 'lang: id\npreheader: "', 1)
    r = compiled(tmp_path, text).render(context())
    assert r.text.endswith(
        "\n-- \nPT Contoh & Rekan, Jl. Sudirman No. 1, Jakarta\n"
        "Anda menerima email ini karena kami menilai informasi ini relevan dengan pekerjaan Anda.\n"
        f"Berhenti berlangganan: {UNSUB}\n"
    )
    assert '<html lang="id">' in r.html
    assert re.search(rf'<a href="{re.escape(UNSUB)}"[^>]*>Berhenti berlangganan</a>', r.html)


def test_css_is_inlined(tmp_path: Path) -> None:
    html = compiled(tmp_path).render(context()).html
    assert "<style" not in html
    assert re.search(r'<p style="[^"]*margin', html)
    assert re.search(r'<a href="https://www\.example\.com/katalog[^"]*" style="[^"]*color', html)
    assert re.search(r'<td class="footer" style="[^"]+"', html)


def test_template_in_link_url_survives_css_inlining(tmp_path: Path) -> None:
    html = compiled(tmp_path).render(context()).html
    assert 'href="https://www.example.com/katalog?utm_source=outreach&amp;utm_campaign=promo-2027"' in html
    assert "%7B" not in html and "{{" not in html


def test_underscores_in_tags_are_not_emphasis(tmp_path: Path) -> None:
    text = "---\nsubject: x\n---\n{{ contact.first_name }} and {{ contact.last_name }} _here_\n"
    r = compiled(tmp_path, text).render(context())
    assert re.search(r"<p[^>]*>Ani and Lestari <em>here</em></p>", r.html)
    assert "<p></p>" not in r.html


def test_contact_data_is_escaped_in_html_and_plain_in_text(tmp_path: Path) -> None:
    evil = "PT <script>alert(1)</script> & Co"
    r = compiled(tmp_path).render(context(contact(company=evil)))
    assert "<script>" not in r.html
    assert "PT &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in r.html
    assert f"dari {evil}," in r.text
    assert r.subject == f"Solusi jaringan untuk {evil}"


def test_contact_data_is_never_run_as_a_template(tmp_path: Path) -> None:
    r = compiled(tmp_path).render(context(contact(first_name="{{ 7*7 }}", company="{% raw %}x")))
    assert "Yth. {{ 7*7 }} Lestari" in r.html
    assert "49" not in r.html and "49" not in r.text
    assert "Yth. {{ 7*7 }} Lestari dari {% raw %}x," in r.text
    assert r.subject == "Solusi jaringan untuk {% raw %}x"


def test_subject_with_line_breaks_from_data_is_one_line(tmp_path: Path) -> None:
    r = compiled(tmp_path).render(context(contact(company="PT A\r\nBcc: victim@evil.example\n")))
    assert r.subject == "Solusi jaringan untuk PT A Bcc: victim@evil.example"


def test_undefined_variable_names_file_and_contact(tmp_path: Path) -> None:
    text = "---\nsubject: Halo\n---\nHalo {{ contact.nickname }}\n"
    content = compiled(tmp_path, text, "undef.md")
    with pytest.raises(TemplateError) as exc:
        content.render(context())
    assert str(exc.value) == (f"{tmp_path / 'undef.md'}, line 4 (contact ani@alpha.example.com): undefined "
                              "variable `contact.nickname` (contact has no field `nickname`)")
    assert (exc.value.line, exc.value.contact) == (4, "ani@alpha.example.com")


def test_a_misspelt_field_says_which_was_meant(tmp_path: Path) -> None:
    text = "---\nsubject: \"Untuk {{ contact.compnay }}\"\n---\nHalo\n"
    with pytest.raises(TemplateError) as exc:
        compiled(tmp_path, text, "typo.md").render(context())
    assert exc.value.detail == ("undefined variable `contact.compnay` (contact has no field `compnay`); "
                                "did you mean `contact.company`?")
    assert exc.value.line == 2
    assert "ContactView" not in str(exc.value) and "object" not in str(exc.value)


def test_a_misspelt_name_and_custom_column(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as exc:
        compiled(tmp_path, "---\nsubject: Halo\n---\n\nHalo {{ contct.first_name }}\n").render(context())
    assert (exc.value.detail, exc.value.line) == ("undefined variable `contct`; did you mean `contact`?", 5)
    with pytest.raises(TemplateError) as exc:
        compiled(tmp_path, "---\nsubject: Halo\n---\n{{ contact.custom.regoin }}\n").render(context())
    assert exc.value.detail == (
        "undefined variable `contact.custom.regoin` (no `regoin` value for this contact; write "
        '`{{ contact.custom.regoin | default("...") }}` where some have none); did you mean `contact.custom.region`?'
    )


def test_default_fills_in_empty_fields_too(tmp_path: Path) -> None:
    text = '---\nsubject: Halo\n---\nYth. {{ contact.first_name | default("Bapak/Ibu") }},\n'
    content = compiled(tmp_path, text)
    assert "Yth. Bapak/Ibu," in content.render(context(contact(first_name=""))).text
    assert "Yth. Ani," in content.render(context()).text


def test_front_matter_yaml_error_points_at_its_file_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.md", '---\nlang: id\nsubject: "Halo\npreheader: x\n---\nBody\n')
    with pytest.raises(TemplateError) as exc:
        read_content(path)
    assert str(exc.value) == (f"{path}, line 3: front matter: YAML syntax error: found unexpected end of stream "
                              "(while scanning a quoted scalar that opens here)")
    path = write(tmp_path / "bad2.md", "---\nsubject: Halo\npreheader: [x\n---\nBody\n")
    with pytest.raises(TemplateError) as exc:
        read_content(path)
    assert str(exc.value).startswith(f"{path}, line 3: front matter: YAML syntax error: ")


def test_undefined_custom_field_is_an_error(tmp_path: Path) -> None:
    text = "---\nsubject: Halo\n---\nWilayah {{ contact.custom.segment_code }}\n"
    content = compiled(tmp_path, text)
    with pytest.raises(TemplateError, match="segment_code"):
        content.render(context())
    text = "---\nsubject: Halo\n---\nWilayah {{ contact.custom.region }}\n"
    assert "Wilayah west" in compiled(tmp_path, text).render(context()).text


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("---\nsubject: Halo\npreheader: x\n---\nBaris satu.\n\nBaris {{ contact.first_name }.\n",
         7, "body"),
        ("---\nsubject: Halo\n---\nA\n\n{% if contact.title %}\nB\n", 6, "body"),
        ("---\npreheader: x\nsubject: \"Halo {{ contact.first_name }\"\n---\nBody\n", 3, "subject"),
    ],
)  # fmt: skip
def test_syntax_error_names_file_and_line(tmp_path: Path, text: str, line: int, what: str) -> None:
    path = write(tmp_path / "bad.md", text)
    with pytest.raises(TemplateError) as exc:
        read_content(path)
    assert str(exc.value).startswith(f"{path}, line {line}: template syntax error in {what}: ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("---\nsubject: x\ncolour: red\n---\nBody\n", "line 3: unknown front matter key 'colour'"),
        ("---\nsubject: x\nBody\n", "line 1: front matter opened with --- is never closed"),
        ("---\npreheader: x\n---\nBody\n", "line 1: front matter needs a subject: line"),
        ("---\nsubject: x\nlang: fr\n---\nBody\n", "lang 'fr' is not one of en, id"),
    ],
)
def test_bad_front_matter(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "bad.md", text)
    with pytest.raises(TemplateError) as exc:
        read_content(path)
    assert str(exc.value).startswith(f"{path}, {message}") or str(exc.value) == f"{path}: {message}"


@pytest.mark.parametrize(
    "expression",
    [
        "{{ contact.__class__.__mro__ }}",
        "{{ ''.__class__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ contact.custom.__class__.__base__.__subclasses__() }}",
        "{{ sender.__dict__ }}",
        "{{ contact.of.__func__.__globals__['__builtins__'] }}",
    ],
)
def test_sandbox_blocks_python_internals(tmp_path: Path, expression: str) -> None:
    text = f"---\nsubject: Halo\n---\nHalo {expression}\n"
    content = compiled(tmp_path, text)
    with pytest.raises(TemplateError) as exc:
        content.render(context())
    assert exc.value.contact == "ani@alpha.example.com"
    assert "ContactView" not in str(exc.value) and "Info object" not in str(exc.value)


def test_sandbox_blocks_mutation(tmp_path: Path) -> None:
    text = "---\nsubject: Halo\n---\n{{ contact.custom.update({'region': 'x'}) }}\n"
    c = contact()
    with pytest.raises(TemplateError):
        compiled(tmp_path, text).render(context(c))
    assert c.custom == {"region": "west"}


def test_harmless_jinja_features_work(tmp_path: Path) -> None:
    text = (
        '---\nsubject: "{{ contact.first_name | upper }}"\n---\n'
        "{% for t in contact.tags %}#{{ t }} {% endfor %}{{ contact.full_name | length }}\n"
    )
    r = compiled(tmp_path, text).render(context())
    assert r.subject == "ANI"
    assert "#network 11" in r.text


def test_content_is_compiled_once_per_campaign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    transform = premailer.Premailer.transform

    def counting(self: premailer.Premailer, *args: Any, **kwargs: Any) -> str:
        calls.append(1)
        return transform(self, *args, **kwargs)

    monkeypatch.setattr(premailer.Premailer, "transform", counting)
    content = compile_content(read_content(write(tmp_path / "p.md", CONTENT)), ORG)
    rendered = [
        content.render(context(contact(id=i, email=f"c{i}@example.com", first_name=f"N{i}"))) for i in range(100)
    ]
    assert len(calls) == 1
    assert len({r.html for r in rendered}) == 100
    assert "Yth. N42 Lestari" in rendered[42].html


def test_build_of_100_recipients_compiles_once(
    tmp_path: Path, example_ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = load_workspace(example_ws)
    engine = open_engine(ws.database_url)
    rows = [[f"c{i:03d}@example.com", f"N{i}", "prospect", "PT Seratus"] for i in range(100)]
    import_contacts(engine, write_csv(tmp_path / "c.csv", ["email", "first_name", "status", "company"], rows))
    write(ws.segments_dir / "all.yaml", "where:\n  status: prospect\n")
    write(ws.campaigns_dir / "hundred.yaml", "segment: all\ncontent: promo.md\nsender: awang\n")
    write(ws.campaigns_dir / "promo.md", CONTENT)

    calls = []
    transform = premailer.Premailer.transform

    def counting(self: premailer.Premailer, *args: Any, **kwargs: Any) -> str:
        calls.append(1)
        return transform(self, *args, **kwargs)

    monkeypatch.setattr(premailer.Premailer, "transform", counting)
    result = build_campaign(ws, engine, "hundred")
    assert result.added == 100
    assert len(calls) == 1


OPTIONAL = """\
---
subject: Halo
---
Awal.

{% if contact.title %}
Sebagai {{ contact.title }}, Anda pasti tahu.
{% endif %}

{% if contact.city %}

Kami juga hadir di {{ contact.city }}.

{% endif %}

Di tengah {% if contact.phone %}kami akan menelepon {{ contact.phone }}. {% endif %}Terima kasih.

Akhir.
"""


@pytest.mark.parametrize(
    ("changes", "paragraphs"),
    [
        ({}, ["Awal.", "Sebagai IT Manager, Anda pasti tahu.", "Kami juga hadir di Jakarta.",
              "Di tengah kami akan menelepon +62 21 5550 0001. Terima kasih.", "Akhir."]),
        ({"title": "", "city": "", "phone": ""}, ["Awal.", "Di tengah Terima kasih.", "Akhir."]),
        ({"title": ""}, ["Awal.", "Kami juga hadir di Jakarta.",
                         "Di tengah kami akan menelepon +62 21 5550 0001. Terima kasih.", "Akhir."]),
    ],
)  # fmt: skip
def test_optional_paragraphs_leave_no_gap(tmp_path: Path, changes: dict[str, str], paragraphs: list[str]) -> None:
    r = compiled(tmp_path, OPTIONAL).render(context(contact(**changes)))
    body = r.html[r.html.index('class="content"') : r.html.index('class="footer"')]
    found = [re.sub(r"\s+", " ", p).strip() for p in re.findall(r"<p[^>]*>(.*?)</p>", body, re.S)]
    assert found == paragraphs  # no empty <p></p>: it would show as a gap
    assert r.text.split("\n\n-- \n")[0] == "\n\n".join(paragraphs)
