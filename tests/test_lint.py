"""ruff (lint and format) and mypy pass on the package and the tests.

Settings live in pyproject.toml. The page snippets are left to their own tests (their width
limit is 76, and they are written to be read, not formatted by a tool).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHECKED = ["src", "tests"]


def _run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_ruff_finds_nothing():
    result = _run("ruff", "check", "--no-cache", *CHECKED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_is_formatted():
    result = _run("ruff", "format", "--no-cache", "--check", "--diff", *CHECKED)
    assert result.returncode == 0, "run `.venv/bin/ruff format src tests`:\n" + result.stdout


def test_the_package_type_checks():
    """mypy over src/ (pyproject.toml names it): lmloss ships py.typed, so users type-check it."""
    result = _run("mypy")  # cached in .mypy_cache between runs
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_checks_reject_bad_code(tmp_path):
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text("utf-8"))
    bad = tmp_path / "bad.py"
    bad.write_text("import os\ndef f(x: int) -> str:\n    return x\n", encoding="utf-8")
    assert "F401" in _run("ruff", "check", "--no-cache", str(bad), cwd=tmp_path).stdout
    assert _run("ruff", "format", "--no-cache", "--check", str(bad), cwd=tmp_path).returncode
    typed = _run("mypy", "--no-incremental", "--cache-dir", "/dev/null", str(bad), cwd=tmp_path)
    assert "Incompatible return value" in typed.stdout
