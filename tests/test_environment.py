"""The test run uses exactly the pinned environment, and `make` does not reinstall it."""

from __future__ import annotations

import re
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / ".ci" / "requirements.lock"


def _pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if match:
            pins[match[1]] = match[2]
    return pins


def test_the_lock_pins_the_required_versions():
    pins = _pins()
    assert pins["torch"].startswith("2.13.0")
    assert pins["mkdocs"].startswith("1.6.") and pins["mkdocs-material"].startswith("9.8.")
    assert all(
        name in pins
        for name in [
            "mkdocs-static-i18n",
            "mkdocstrings-python",
            "mkdocs-jupyter",
            "pytest-markdown-docs",
            "jieba",
            "transformers",
        ]
    )


def test_every_installed_package_is_the_pinned_version():
    wrong = {}
    for name, pinned in _pins().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = None
        if installed != pinned:
            wrong[name] = (pinned, installed)
    assert not wrong, f"pinned vs installed: {wrong}; run make test, which installs the lock"


def test_make_does_not_reinstall_a_current_environment():
    plan = subprocess.run(
        ["make", "--dry-run", "test"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "pip" not in plan.stdout, plan.stdout
    assert "pytest" in plan.stdout


def test_a_local_torch_build_in_the_lock_is_installed_from_pytorchs_own_index():
    """PyPI hosts no ``torch==X+cpu``: with only PyPI, ``make`` on a fresh machine failed to
    resolve the lock (review of the index page, W1). The Makefile installs that one pin from
    PyTorch's CPU index before the rest of the lock."""
    lock = (ROOT / ".ci" / "requirements.lock").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    pin = re.search(r"^torch==(\S+)$", lock, re.M)[1]
    assert pin.endswith("+cpu")
    assert "TORCH_INDEX := https://download.pytorch.org/whl/cpu\n" in makefile
    recipe = makefile[makefile.index("$(READY): $(LOCK)") :]
    torch_step = recipe.index("--extra-index-url $(TORCH_INDEX) \"$$(grep '^torch==' $(LOCK))\"")
    assert torch_step < recipe.index("--requirement $(LOCK)")
