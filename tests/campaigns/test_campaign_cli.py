"""The command line as a whole: version, help everywhere, init, -w handling, content preview and lint."""

from __future__ import annotations

import email
import email.policy
import os
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from helpers import PROMO_SUBJECT, SendWorkspace, invoke, make_workspace, write

from outreach import __version__
from outreach.cli import cli
from outreach.settings.workspace import example_dir


def command_paths(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    ctx = click.Context(group)
    paths = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None
        paths.append((*prefix, name))
        if isinstance(cmd, click.Group):
            paths.extend(command_paths(cmd, (*prefix, name)))
    return paths


def is_hidden(path: tuple[str, ...]) -> bool:
    cmd: click.Command | None = cli
    for name in path:
        assert isinstance(cmd, click.Group)
        cmd = cmd.get_command(click.Context(cmd), name)
    return bool(cmd is not None and cmd.hidden)


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"outreach, version {__version__}\n"


def test_the_contract_commands_exist() -> None:
    paths = set(command_paths())
    for path in [("init",), ("contacts", "import"), ("contacts", "list"), ("segments", "list"),
                 ("segments", "show"), ("content", "preview"), ("campaign", "build"),
                 ("campaign", "send"), ("campaign", "status"), ("campaign", "pause"),
                 ("campaign", "resume"), ("campaign", "cancel"), ("campaign", "resend-uncertain"),
                 ("track", "ingest"), ("track", "classify"), ("followups", "list"),
                 ("followups", "export"), ("followups", "import"), ("sink",), ("demo",)]:  # fmt: skip
        assert path in paths, path


@pytest.mark.parametrize("path", [(), *command_paths()], ids=lambda p: " ".join(p) or "outreach")
def test_help_on_every_command(path: tuple[str, ...]) -> None:
    for flag in ("--help", "-h"):
        result = CliRunner().invoke(cli, [*path, flag], prog_name="outreach")
        assert result.exit_code == 0, result.output
        # a hidden command may word its usage as users type it (`report CAMPAIGN`)
        usage = " ".join(("outreach", *(path[:-1] if is_hidden(path) else path)))
        assert result.stdout.startswith(f"Usage: {usage} ")
        assert "-h, --help" in result.stdout
        assert result.stderr == ""


def test_unknown_command_and_option_are_usage_errors() -> None:
    result = invoke("frobnicate")
    assert result.exit_code == 2
    assert "No such command 'frobnicate'" in result.stderr
    result = invoke("campaign", "send", "x", "--bogus")
    assert result.exit_code == 2
    assert "No such option '--bogus'" in result.stderr


def test_main_module_runs(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "outreach", "--version"], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": ""})  # fmt: skip
    assert out.stdout == f"outreach, version {__version__}\n"


def test_init_creates_a_working_workspace(tmp_path: Path) -> None:
    target = tmp_path / "new-ws"
    result = invoke("init", str(target))
    assert result.exit_code == 0, result.output
    source_files = sorted(
        p.relative_to(example_dir()) for p in example_dir().rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith("outreach.db")
    )  # fmt: skip
    assert result.stdout == (
        f"Created workspace {target} ({len(source_files)} files). Next:\n"
        f"  cd {target} && outreach contacts import contacts.csv\n"
    )
    created = sorted(p.relative_to(target) for p in target.rglob("*") if p.is_file())
    assert created == source_files
    for rel in ("outreach.yaml", "contacts.csv", "segments/jakarta-prospects.yaml",
                "campaigns/solusi-jaringan.yaml", "campaigns/solusi-jaringan.md"):  # fmt: skip
        assert (target / rel).is_file(), rel
    # it works as a workspace at once
    result = invoke("contacts", "import", str(target / "contacts.csv"), ws=target)
    assert result.stdout == "Contacts: 40 imported, 0 updated, 0 rejected\nKept as custom fields: employees\n"


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "ws"
    invoke("init", str(target))
    (target / "outreach.yaml").write_text("# mine\n", encoding="utf-8")
    result = invoke("init", str(target))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (f"Error: {target / 'outreach.yaml'} already exists; refusing to overwrite a workspace\n")
    assert (target / "outreach.yaml").read_text(encoding="utf-8") == "# mine\n"


def test_init_refuses_to_overwrite_any_file(tmp_path: Path) -> None:
    target = tmp_path / "half"
    write(target / "contacts.csv", "email\nmine@example.com\n")
    result = invoke("init", str(target))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {target / 'contacts.csv'} already exists; refusing to overwrite it (choose an empty folder)\n"
    )
    assert (target / "contacts.csv").read_text(encoding="utf-8") == "email\nmine@example.com\n"
    assert not (target / "outreach.yaml").exists()


def test_workspace_option_positions_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_workspace(tmp_path / "ws")
    small = str(root / "small.csv")
    # -w after the command, before it, and the long form
    assert CliRunner().invoke(cli, ["contacts", "import", small, "-w", str(root)]).exit_code == 0
    r = CliRunner().invoke(cli, ["-w", str(root), "contacts", "import", small])
    assert r.stdout == "Contacts: 0 imported, 6 updated, 0 rejected\nKept as custom fields: region\n"
    r = CliRunner().invoke(cli, ["contacts", "--help"])
    assert r.exit_code == 0
    r = CliRunner().invoke(cli, ["contacts", "import", "--workspace", str(root), small])
    assert r.stdout == "Contacts: 0 imported, 6 updated, 0 rejected\nKept as custom fields: region\n"
    # $OUTREACH_WORKSPACE, then the current directory
    monkeypatch.setenv("OUTREACH_WORKSPACE", str(root))
    assert (
        CliRunner().invoke(cli, ["segments", "show", "prospects"]).stdout.startswith("Segment prospects: 4 contact(s)")
    )
    monkeypatch.delenv("OUTREACH_WORKSPACE")
    monkeypatch.chdir(root)
    assert (
        CliRunner().invoke(cli, ["segments", "show", "prospects"]).stdout.startswith("Segment prospects: 4 contact(s)")
    )


def test_not_a_workspace(tmp_path: Path) -> None:
    result = invoke("segments", "list", ws=tmp_path)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {tmp_path.resolve() / 'outreach.yaml'}: not found; ")
    assert "outreach init DIR" in result.stderr


# -- content preview and lint ------------------------------------------------------------


def test_preview_prints_subject_and_text(send_ws: SendWorkspace) -> None:
    result = send_ws.run("content", "preview", "promo", "--contact", "citra@gamma.example.com")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(f"Subject: {PROMO_SUBJECT}\n\nYth. Citra Wijaya,\n\n")
    assert "Kami menawarkan diskon 20% untuk CV Gamma Ritel di Bandung." in out
    assert "Berhenti berlangganan: http://127.0.0.1:8025/u/" in out
    assert send_ws.server.received == []


def test_preview_defaults_to_the_segments_first_contact(send_ws: SendWorkspace) -> None:
    result = send_ws.run("content", "preview", "promo")
    assert result.exit_code == 0
    assert "Yth. Ani Lestari," in result.stdout


def test_preview_to_files(send_ws: SendWorkspace, tmp_path: Path) -> None:
    eml, html = tmp_path / "p.eml", tmp_path / "p.html"
    assert send_ws.run("content", "preview", "promo", "--out", str(eml)).stdout == f"Wrote {eml}\n"
    assert send_ws.run("content", "preview", "promo", "--out", str(html)).stdout == f"Wrote {html}\n"
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == PROMO_SUBJECT
    assert msg.get_content_type() == "multipart/alternative"
    page = html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Yth. Ani Lestari," in page
    result = send_ws.run("content", "preview", "promo", "--out", str(tmp_path / "p.txt"))
    assert result.exit_code == 2
    assert "--out must end in .html or .eml" in result.stderr


def test_preview_unknown_contact(send_ws: SendWorkspace) -> None:
    result = send_ws.run("content", "preview", "promo", "--contact", "nobody@example.com")
    assert result.exit_code == 1
    assert result.stderr == ("Error: no contact 'nobody@example.com'; import it first or pick another with --contact\n")


def test_preview_template_error_names_file_and_contact(send_ws: SendWorkspace) -> None:
    md = write(send_ws.root / "campaigns" / "oops.md", "---\nsubject: Halo\n---\nHalo {{ contact.nama }}\n")
    write(send_ws.root / "campaigns" / "oops.yaml", "segment: prospects\ncontent: oops.md\nsender: awang\n")
    result = send_ws.run("content", "preview", "oops")
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {md}, line 4 (contact ani@alpha.example.com): undefined variable "
                             "`contact.nama` (contact has no field `nama`)\n")


def test_lint_clean_content(send_ws: SendWorkspace) -> None:
    result = send_ws.run("content", "lint", "promo")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith("Checked 1 campaign: 0 errors")


def test_lint_finds_errors_and_exits_1(send_ws: SendWorkspace) -> None:
    md = write(send_ws.root / "campaigns" / "oops.md", "---\nsubject: Halo\n---\nA\n\nB {{ contact.first_name }\n")
    write(send_ws.root / "campaigns" / "oops.yaml", "segment: prospects\ncontent: oops.md\nsender: awang\n")
    result = send_ws.run("content", "lint", "oops")
    assert result.exit_code == 1
    assert result.stdout == (
        "campaigns/oops.md:6: error: template syntax error in body: unexpected '}'\n"
        "Checked 1 campaign: 1 error, 0 warnings\n"
    )
    assert result.stderr.startswith("Error: content lint found 1 error(s), the first at ")
    assert "oops.md, line 6" in result.stderr
    assert md.is_file()


def test_every_command_takes_the_workspace_option() -> None:
    import click

    from outreach.cli import cli

    def walk(cmd: click.Command, path: list[str]) -> list[str]:
        if isinstance(cmd, click.Group):
            return [p for name, sub in cmd.commands.items() for p in walk(sub, [*path, name])]
        opts = [o for p in cmd.params for o in getattr(p, "opts", [])]
        return [] if "-w" in opts and "--workspace" in opts else [" ".join(path)]

    assert walk(cli, []) == []


def test_init_into_the_workspace_option(tmp_path: Path) -> None:
    result = invoke("init", ws=tmp_path / "fresh")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fresh" / "outreach.yaml").is_file()
    assert invoke("init").exit_code == 2


NOT_BUILT = "Error: campaign 'promo' has not been built yet; run `outreach campaign build promo` first\n"


def test_status_of_a_campaign_that_does_not_exist_lists_those_that_do(send_ws: SendWorkspace) -> None:
    result = send_ws.run("campaign", "status", "promo-2027")
    assert result.exit_code == 1
    assert result.stderr == ("Error: there is no campaign 'promo-2027' (campaigns: promo, solusi-jaringan, "
                             "year-end-licensing)\n")  # fmt: skip
    result = send_ws.run("campaign", "status", "promo")
    assert result.stderr == NOT_BUILT


def test_dry_run_before_a_build_says_to_build_first(send_ws: SendWorkspace, tmp_path: Path) -> None:
    result = send_ws.run("campaign", "send", "promo", "--dry-run", "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert result.stderr == NOT_BUILT
    assert not (tmp_path / "out").exists()
