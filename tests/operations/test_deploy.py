"""The systemd units docs/deploy.md ships: systemd's own verifier accepts them, and they run real commands.

``systemd-analyze verify`` checks each unit as systemd would load it (it also wants the ExecStart program
to exist, so the test points the units at this installation's ``outreach``); any warning fails the test,
not only errors. Where systemd-analyze is absent (a container without systemd), the same units go through
a strict reader of the unit format here instead, so the test never skips; that reader is itself checked
against units systemd refuses or warns about.
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import invoke

DOCS = Path(__file__).resolve().parents[2] / "docs"
UNITS = sorted((DOCS / "systemd").glob("outreach-*.*"))
PROGRAM = "/opt/outreach/venv/bin/outreach"

# the keys our units may use, by section; anything else is a typo systemd would ignore with a warning
KEYS = {
    "Unit": {"Description", "Documentation", "After", "Before", "Wants", "Requires", "BindsTo", "PartOf"},
    "Service": {"Type", "User", "Group", "WorkingDirectory", "Environment", "EnvironmentFile", "ExecStart",
                "ExecStartPre", "ExecStartPost", "ExecReload", "Restart", "RestartSec", "KillMode", "KillSignal",
                "TimeoutStopSec", "TimeoutStartSec", "NoNewPrivileges", "PrivateTmp", "PrivateDevices",
                "ProtectSystem", "ProtectHome", "ReadWritePaths", "ProtectKernelTunables", "ProtectKernelModules",
                "ProtectControlGroups", "RestrictSUIDSGID", "LockPersonality", "UMask", "LimitNOFILE"},
    "Timer": {"OnCalendar", "OnBootSec", "OnUnitActiveSec", "RandomizedDelaySec", "Persistent", "Unit"},
    "Install": {"WantedBy", "RequiredBy", "Alias"},
}  # fmt: skip
CHOICES = {
    "Type": {"simple", "exec", "forking", "oneshot", "dbus", "notify", "idle"},
    "Restart": {"no", "on-success", "on-failure", "on-abnormal", "on-watchdog", "on-abort", "always"},
    "KillMode": {"control-group", "mixed", "process", "none"},
    "ProtectSystem": {"yes", "no", "full", "strict"},
    "ProtectHome": {"yes", "no", "read-only", "tmpfs"},
}
BOOLEAN = {"yes", "no", "true", "false", "on", "off", "1", "0"}
BOOLEANS = {"NoNewPrivileges", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables", "ProtectKernelModules",
            "ProtectControlGroups", "RestrictSUIDSGID", "LockPersonality", "Persistent"}  # fmt: skip
DURATION = re.compile(r"^\d+(\.\d+)?\s*(us|ms|s|sec|m|min|h|hr|d)?(\s+\d+(\.\d+)?\s*(us|ms|s|sec|m|min|h|hr|d)?)*$")


def unit_problems(path: Path) -> list[str]:
    """What a strict reading of the unit format finds wrong (where systemd-analyze is not there to say)."""
    parser = configparser.ConfigParser(strict=True, interpolation=None, delimiters=("=",), comment_prefixes=("#", ";"),
                                       empty_lines_in_values=False)  # fmt: skip
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except configparser.Error as exc:
        return [f"{path.name}: {exc}"]
    problems = []
    kind = path.suffix.lstrip(".").capitalize()
    if kind not in parser:
        problems.append(f"{path.name}: no [{kind}] section")
    for section in parser.sections():
        for key, value in parser[section].items():
            problems += [f"{path.name}: {p}" for p in _key_problems(section, key, value)]
    if kind == "Service" and not parser.has_option("Service", "ExecStart"):
        problems.append(f"{path.name}: no ExecStart")
    return problems


def _key_problems(section: str, key: str, value: str) -> list[str]:
    if section not in KEYS:
        return [f"unknown section [{section}]"]
    if key not in KEYS[section]:
        return [f"unknown key {key} in [{section}]"]
    if key in CHOICES and value not in CHOICES[key]:
        return [f"{key}={value}: not one of {sorted(CHOICES[key])}"]
    if key in BOOLEANS and value.lower() not in BOOLEAN:
        return [f"{key}={value}: not a boolean"]
    if key.endswith("Sec") and not DURATION.match(value):
        return [f"{key}={value}: not a time span"]
    if key.startswith("Exec"):
        program = shlex.split(value)[0].lstrip("-@:+!") if value.strip() else ""
        if not program.startswith("/"):
            return [f"{key}: {program!r} is not an absolute path"]
    if key == "UMask" and not re.fullmatch(r"0?[0-7]{3}", value):
        return [f"UMask={value}: not an octal mask"]
    return []


def installed(tmp_path: Path) -> Path:
    """The units as installed here: ExecStart pointing at this installation's outreach."""
    program = Path(sys.executable).with_name("outreach")
    assert program.is_file(), program
    folder = tmp_path / "units"
    folder.mkdir()
    for unit in UNITS:
        (folder / unit.name).write_text(unit.read_text(encoding="utf-8").replace(PROGRAM, str(program)))
    return folder


def test_the_shipped_units_are_the_ones_the_docs_describe() -> None:
    assert [u.name for u in UNITS] == ["outreach-backup.service", "outreach-backup.timer", "outreach-serve.service",
                                       "outreach-worker.service"]  # fmt: skip
    guide = (DOCS / "deploy.md").read_text(encoding="utf-8")
    for unit in UNITS:
        assert f"systemd/{unit.name}" in guide, unit.name
        assert PROGRAM in unit.read_text() or unit.suffix == ".timer"


def test_systemd_accepts_every_unit_without_a_warning(tmp_path: Path) -> None:
    folder = installed(tmp_path)
    for unit in sorted(folder.iterdir()):
        assert unit_problems(unit) == []
    analyze = shutil.which("systemd-analyze")
    if analyze is None:  # checked by the strict reader above instead (a container without systemd)
        return
    done = subprocess.run([analyze, "verify", *map(str, sorted(folder.iterdir()))], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert (done.returncode, done.stderr) == (0, ""), done.stderr


@pytest.mark.parametrize("unit, text", [
    ("typo.service", "[Service]\nExecStart=/bin/true\nRestartz=always\n"),
    ("choice.service", "[Service]\nExecStart=/bin/true\nRestart=sometimes\n"),
    ("relative.service", "[Service]\nExecStart=outreach worker\n"),
    ("nostart.service", "[Service]\nType=oneshot\n"),
    ("span.service", "[Service]\nExecStart=/bin/true\nTimeoutStopSec=soon\n"),
    ("section.service", "[Servce]\nExecStart=/bin/true\n"),
])  # fmt: skip
def test_the_strict_reader_finds_what_systemd_warns_about(tmp_path: Path, unit: str, text: str) -> None:
    path = tmp_path / unit
    path.write_text(text)
    assert unit_problems(path)
    analyze = shutil.which("systemd-analyze")
    if analyze is not None:  # and systemd agrees that each is wrong: an error, or a warning
        done = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode != 0 or done.stderr.strip(), (unit, done)


def test_the_units_run_commands_and_options_that_exist() -> None:
    """Each ExecStart of ours, with --help added: click parses every option first, so a renamed one fails."""
    for unit in UNITS:
        for line in unit.read_text().splitlines():
            if not line.startswith("ExecStart=") or PROGRAM not in line:
                continue
            words = shlex.split(line.removeprefix("ExecStart=").replace("exec ", ""))
            args = shlex.split(words[-1])[1:] if words[0] == "/bin/sh" else words[1:]
            args = [a for a in args if not a.startswith("/var/backups")]
            result = invoke(*args, "--help")
            assert result.exit_code == 0, (unit.name, args, result.output)
