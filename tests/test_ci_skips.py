"""Under CI=true (`.ci/run` sets it) a skipped test fails the run: a missing server or tool is never left out.

Run as `pytest` itself runs it, in a child process with this suite's conftest as a plugin.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent
SKIPPING = """\
import pytest


def test_needs_a_server():
    pytest.skip('no knotd here')


def test_fine():
    pass
"""


def run(tmp_path: Path, ci: bool, *options: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"PYTHONPATH": str(TESTS)}
    if ci:
        env["CI"] = "true"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "conftest",
                           "--rootdir", str(tmp_path), *options, str(tmp_path / "test_skipping.py")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False)  # fmt: skip


def test_a_skip_fails_under_ci(tmp_path: Path) -> None:
    result = run(tmp_path, ci=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "skipped under CI=true, where every test must run: Skipped: no knotd here" in result.stdout
    assert "1 failed, 1 passed" in result.stdout


def test_a_skip_fails_under_ci_in_parallel_workers_too(tmp_path: Path) -> None:
    """`make test` runs the suite with pytest-xdist (-n): the hook runs in each worker, and the controller
    reports what the worker made of the skip."""
    result = run(tmp_path, True, "-n", "2")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "skipped under CI=true, where every test must run: Skipped: no knotd here" in result.stdout
    assert "1 failed, 1 passed" in result.stdout


def test_elsewhere_a_skip_is_a_skip_with_its_reason(tmp_path: Path) -> None:
    result = run(tmp_path, ci=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SKIPPED [1] test_skipping.py:5: no knotd here" in result.stdout
    assert "1 passed, 1 skipped" in result.stdout


def test_ci_run_sets_ci_and_needs_no_postgresql_variable() -> None:
    script = (TESTS.parent / ".ci" / "run").read_text()
    assert "export CI=true" in script
    assert "OUTREACH_TEST_POSTGRES_URL=" not in script and "pg_ctlcluster" not in script  # the suite starts its own
