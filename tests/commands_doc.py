"""docs/commands.md, made from the command line itself: every command, its usage, its help and its options.

One source for the reference: the click commands' own help texts. After adding
or changing a command, write it again with

    .venv/bin/python tests/commands_doc.py > docs/commands.md

(tests/test_docs.py fails while the file and the commands differ).
"""

from __future__ import annotations

import inspect
import sys

import click

from outreach.cli import cli

HEADER = """\
# Command reference

Every command of `outreach`, as `outreach COMMAND --help` prints it. Every
command also takes `-w/--workspace DIR` (default: `$OUTREACH_WORKSPACE`, else
the current directory). Exit codes: 0 success, 1 a user-facing error (one line
on stderr, starting `Error:`), 2 bad usage.

This page is generated from the commands' own help texts: after changing a
command, run `.venv/bin/python tests/commands_doc.py > docs/commands.md`.
"""


def _commands(group: click.Group, ctx: click.Context) -> list[tuple[click.Context, click.Command]]:
    out = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None:
            continue
        sub = click.Context(cmd, info_name=name, parent=ctx)
        out.append((sub, cmd))
        if isinstance(cmd, click.Group):
            out += _commands(cmd, sub)
    return out


def _section(ctx: click.Context, cmd: click.Command) -> list[str]:
    usage = " ".join([ctx.command_path, *cmd.collect_usage_pieces(ctx)])
    lines = [f"## {ctx.command_path}", "", "```text", usage, "```", ""]
    for paragraph in inspect.cleandoc(cmd.help or "").split("\n\n"):
        if paragraph.startswith("\b\n"):  # click's unwrapped block: as it is, in a fence
            lines += ["```text", *(line.strip() for line in paragraph[2:].splitlines()), "```", ""]
        elif paragraph.strip():
            lines += [" ".join(paragraph.split()), ""]
    if isinstance(cmd, click.Group):
        names = cmd.list_commands(ctx)
        return [*lines, "Commands: " + ", ".join(f"`{n}`" for n in names) + ".", ""]
    options = [p for p in cmd.get_params(ctx) if isinstance(p, click.Option) and "--help" not in p.opts
               and "--workspace" not in p.opts]  # fmt: skip
    rows = [record for param in options if (record := param.get_help_record(ctx)) is not None]
    if rows:
        lines += ["| option | meaning |", "| --- | --- |"]
        lines += [f"| `{opts}` | {_cell(help_text)} |" for opts, help_text in rows]
        lines.append("")
    return lines


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def reference() -> str:
    root = click.Context(cli, info_name="outreach", **cli.context_settings)  # -h too: click caches the help option
    lines = [HEADER]
    for ctx, cmd in _commands(cli, root):
        lines += _section(ctx, cmd)
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    sys.stdout.write(reference())
