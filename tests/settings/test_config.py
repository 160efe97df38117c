"""outreach.yaml: loading, errors that name file and line, environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import invoke

from outreach.errors import ConfigError
from outreach.settings.workspace import load_workspace, resolve_database_url

SETTINGS = """\
database_url: sqlite:///outreach.db
timezone: Asia/Jakarta
organization:
  name: PT Uji Coba
  address: Jl. Percobaan No. 7, Bandung
smtp:
  host: 127.0.0.1
  port: 2525
  security: none
  username: null
  password_env: OUTREACH_SMTP_PASSWORD
senders:
  awang:
    name: Awang
    email: awang@example.com
    title: Sales Executive
    phone: "+62 21 555 0100"
unsubscribe:
  base_url: http://127.0.0.1:8025/
  secret_env: OUTREACH_SECRET
"""


def settings_ws(tmp_path: Path, text: str = SETTINGS) -> Path:
    root = tmp_path / "cfg"
    root.mkdir()
    (root / "outreach.yaml").write_text(text, encoding="utf-8")
    return root


def error_of(root: Path) -> str:
    """The one stderr line the CLI prints for this workspace's settings."""
    result = invoke("segments", "list", ws=root)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr.rstrip("\n")


def test_valid_settings_load(tmp_path: Path) -> None:
    ws = load_workspace(settings_ws(tmp_path))
    s = ws.settings
    assert s.organization.name == "PT Uji Coba"
    assert s.organization.address == "Jl. Percobaan No. 7, Bandung"
    assert (s.smtp.host, s.smtp.port, s.smtp.security, s.smtp.username) == (
        "127.0.0.1",
        2525,
        "none",
        None,
    )
    assert s.senders["awang"].email == "awang@example.com"
    assert s.senders["awang"].domain == "example.com"
    assert s.unsubscribe.base_url == "http://127.0.0.1:8025"  # trailing slash dropped
    assert str(ws.tz) == "Asia/Jakarta"


def test_example_workspace_loads(example_ws: Path) -> None:
    ws = load_workspace(example_ws)
    assert set(ws.settings.senders) == {"awang", "sari"}
    assert ws.root == example_ws.resolve()


def test_relative_sqlite_path_is_resolved_to_the_workspace(tmp_path: Path) -> None:
    root = settings_ws(tmp_path)
    ws = load_workspace(root)
    assert ws.database_url == f"sqlite:///{(root / 'outreach.db').resolve()}"
    # the CLI creates the database there, not in the current directory
    assert invoke("segments", "list", ws=root).exit_code == 0
    assert (root / "outreach.db").is_file()
    assert not (Path.cwd() / "outreach.db").exists()


def test_database_url_resolution_rules(tmp_path: Path) -> None:
    assert resolve_database_url("sqlite:///a/b.db", tmp_path) == f"sqlite:///{tmp_path.resolve()}/a/b.db"
    assert resolve_database_url("sqlite:////abs/x.db", tmp_path) == "sqlite:////abs/x.db"
    assert resolve_database_url("sqlite:///:memory:", tmp_path) == "sqlite:///:memory:"
    pg = "postgresql+psycopg://u@h/db"
    assert resolve_database_url(pg, tmp_path) == pg


def test_unknown_key_names_file_and_line(tmp_path: Path) -> None:
    root = settings_ws(
        tmp_path,
        SETTINGS.replace("timezone: Asia/Jakarta\n", "timezone: Asia/Jakarta\ncolour: blue\n"),
    )
    path = root.resolve() / "outreach.yaml"
    assert error_of(root) == f"Error: {path}, line 3: colour: unknown key"


def test_unknown_nested_key_names_its_line(tmp_path: Path) -> None:
    root = settings_ws(tmp_path, SETTINGS.replace("  security: none\n", "  security: none\n  tls_mode: on\n"))
    path = root.resolve() / "outreach.yaml"
    assert error_of(root) == f"Error: {path}, line 10: smtp.tls_mode: unknown key"


def test_wrong_type_names_the_line(tmp_path: Path) -> None:
    root = settings_ws(tmp_path, SETTINGS.replace("port: 2525", "port: abc"))
    path = root.resolve() / "outreach.yaml"
    assert error_of(root) == (
        f"Error: {path}, line 8: smtp.port: Input should be a valid integer, unable to parse string as an integer"
    )


def test_bad_enum_names_the_line(tmp_path: Path) -> None:
    root = settings_ws(tmp_path, SETTINGS.replace("security: none", "security: ssl"))
    err = error_of(root)
    assert err.startswith(f"Error: {root.resolve() / 'outreach.yaml'}, line 9: smtp.security: ")


def test_missing_organization_is_reported(tmp_path: Path) -> None:
    text = SETTINGS.replace("organization:\n  name: PT Uji Coba\n  address: Jl. Percobaan No. 7, Bandung\n", "")
    err = error_of(settings_ws(tmp_path, text))
    assert "organization: Field required" in err


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    root = settings_ws(tmp_path, SETTINGS.replace("  host: 127.0.0.1\n", "\thost: 127.0.0.1\n"))
    path = root.resolve() / "outreach.yaml"
    assert error_of(root) == (
        f"Error: {path}, line 7: YAML syntax error: found character '\\t' that cannot start any token"
    )


def test_missing_settings_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    err = error_of(empty)
    assert err.startswith(f"Error: {empty.resolve() / 'outreach.yaml'}: not found")


def test_workspace_from_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = settings_ws(tmp_path)
    monkeypatch.setenv("OUTREACH_WORKSPACE", str(root))
    assert load_workspace().root == root.resolve()


def test_env_overrides_are_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = settings_ws(tmp_path)
    monkeypatch.setenv("OUTREACH_DATABASE_URL", "sqlite:///other/place.db")
    monkeypatch.setenv("OUTREACH_SMTP_HOST", "smtp.example.net")
    monkeypatch.setenv("OUTREACH_SMTP_PORT", "587")
    monkeypatch.setenv("OUTREACH_SMTP_SECURITY", "starttls")
    ws = load_workspace(root)
    assert ws.settings.smtp.host == "smtp.example.net"
    assert ws.settings.smtp.port == 587
    assert ws.settings.smtp.security == "starttls"
    assert ws.database_url == f"sqlite:///{(root / 'other' / 'place.db').resolve()}"
    # everything else is still the file's
    assert ws.settings.smtp.password_env == "OUTREACH_SMTP_PASSWORD"
    assert ws.settings.organization.name == "PT Uji Coba"


def test_empty_env_override_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTREACH_SMTP_PORT", "")
    assert load_workspace(settings_ws(tmp_path)).settings.smtp.port == 2525


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        (
            "OUTREACH_SMTP_PORT",
            "abc",
            "smtp.port: Input should be a valid integer, unable to parse string as an integer",
        ),
        ("OUTREACH_SMTP_PORT", "70000", "smtp.port: Input should be less than or equal to 65535"),
        (
            "OUTREACH_SMTP_SECURITY",
            "ssl",
            "smtp.security: Input should be 'none', 'starttls' or 'tls'",
        ),
    ],
)
def test_bad_env_override_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, var: str, value: str, message: str
) -> None:
    root = settings_ws(tmp_path)
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as exc:
        load_workspace(root)
    assert str(exc.value) == f"environment override ({var}): {message}"
    assert error_of(root) == f"Error: environment override ({var}): {message}"


def test_secrets_are_not_read_from_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = settings_ws(tmp_path, SETTINGS.replace("  username: null\n", "  username: null\n  password: hunter2\n"))
    assert error_of(root).endswith("smtp.password: unknown key")
    monkeypatch.setenv("OUTREACH_SMTP_PASSWORD", "s3cret")
    (tmp_path / "b").mkdir()
    other = load_workspace(settings_ws(tmp_path / "b"))
    assert other.settings.smtp.password() == "s3cret"


def test_sender_must_be_one_line(tmp_path: Path) -> None:
    root = settings_ws(tmp_path, SETTINGS.replace("    name: Awang\n", '    name: "Awang\\nBcc: x@evil.test"\n'))
    assert error_of(root) == (
        f"Error: {root.resolve() / 'outreach.yaml'}, line 14: senders.awang.name: must be on one line"
    )


def test_unknown_section_names_the_key_line_not_its_value(tmp_path: Path) -> None:
    root = settings_ws(tmp_path, SETTINGS + "smtpx:\n  host: x\n")
    path = root.resolve() / "outreach.yaml"
    assert error_of(root) == f"Error: {path}, line 21: smtpx: unknown key"


def test_campaign_file_errors_name_the_line(example_ws: Path) -> None:
    path = example_ws / "campaigns" / "x.yaml"
    path.write_text(
        "segment: jakarta-prospects\ncontent: solusi-jaringan.md\nsender: awang\n"
        "throttle:\n  rate: fast\nextras:\n  a: 1\n",
        encoding="utf-8",
    )
    result = invoke("campaign", "build", "x", ws=example_ws)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {path}, line 5: throttle.rate: 'fast' is not a rate; write e.g. 20/s, 300/m or 1000/h; "
        f"{path}, line 6: extras: unknown key\n"
    )


# -- the brand theme, the studio, the language ------------------------------------------------------

THEME = """\
theme:
  logo: images/logo.png
  primary_color: "#B3261E"
  text_color: "#222"
  font_family: "Georgia, 'Times New Roman', serif"
  footer_lines: ["Distributor resmi sejak 2009"]
studio:
  spam_threshold: 4
  image_budget: 150KB
language: en
"""


def test_theme_studio_and_language_load(tmp_path: Path) -> None:
    ws = load_workspace(settings_ws(tmp_path, SETTINGS + THEME))
    theme = ws.settings.theme
    assert (theme.primary_color, theme.text_color, theme.logo) == ("#b3261e", "#222222", "images/logo.png")
    assert theme.footer_lines == ("Distributor resmi sejak 2009",)
    assert (ws.settings.studio.spam_threshold, ws.settings.studio.image_budget) == (4.0, 150 * 1024)
    assert ws.settings.language == "en"
    (tmp_path / "d").mkdir()
    assert load_workspace(settings_ws(tmp_path / "d", SETTINGS)).settings.language == "id"  # the default


@pytest.mark.parametrize(("line", "value", "message"), [
    (3, '  primary_color: "blue"', "theme.primary_color: 'blue' is not a hex colour like #0b5cab"),
    (4, '  text_color: "#12345"', "theme.text_color: '#12345' is not a hex colour like #0b5cab"),
    (5, '  font_family: "Arial; color: red"', "theme.font_family: must be a font stack"),
    (2, "  logo: ../../etc/logo.png", "theme.logo: must be an http(s) URL or an image file inside"),
])  # fmt: skip
def test_bad_theme_values_name_the_line(tmp_path: Path, line: int, value: str, message: str) -> None:
    key = value.split(":")[0]
    text = "\n".join(value if row.startswith(key + ":") else row for row in THEME.splitlines()) + "\n"
    root = settings_ws(tmp_path, SETTINGS + text)
    err = error_of(root)
    at = SETTINGS.count("\n") + line
    assert err.startswith(f"Error: {root.resolve() / 'outreach.yaml'}, line {at}: {message}")


def test_language_is_id_or_en(tmp_path: Path) -> None:
    root = settings_ws(tmp_path, SETTINGS + "language: fr\n")
    assert "language: Input should be 'id' or 'en'" in error_of(root)
