"""A cache on disk for what the build computes from the sources: diagrams, explorer scripts,
rendered notebooks. Shared by `mkdocs build`, `mkdocs serve` and the tests.

An entry is found by the SHA-256 of everything that computes it, never by a name or a time:
the input files it reads (their bytes), the code that turns them into the entry (every hook in
``docs/_hooks/`` and every module of the ``lmloss`` the hooks import, whichever of them an
entry uses) and the environment (the Python version and the name and version of every
installed package, as their metadata folders name them). Change any of them
and the key changes, so a stale entry is never read; an old entry is simply no longer asked for.
A clean clone has no cache and computes everything. The folder is git-ignored (``.cache/``);
``make clean`` removes it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "build"
HOOKS = Path(__file__).resolve().parent


def _package() -> Path:
    # The lmloss that the hooks import, wherever it is installed (found, not imported).
    spec = importlib.util.find_spec("lmloss")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("the site's hooks need lmloss installed (make serve sets it up)")
    return Path(spec.origin).parent


def _environment() -> list[str]:
    # Installed packages as their metadata folders name them: "torch-2.13.0.dist-info".
    folders = {p for p in sys.path if p and os.path.isdir(p)}
    installed = sorted(
        entry.name
        for folder in folders
        for entry in os.scandir(folder)
        if entry.name.endswith((".dist-info", ".egg-info"))
    )
    return [sys.version, *installed]


def code_files() -> list[Path]:
    """The code every entry depends on: the hooks and the ``lmloss`` package."""
    return sorted(HOOKS.glob("*.py")) + sorted(_package().rglob("*.py"))


def key(name: str, inputs: Iterable[Path], *extra: str) -> str:
    """The key of the entry ``name`` computed from the files ``inputs`` (and ``extra`` text)."""
    digest = hashlib.sha256()
    for part in (name, *extra, *_environment()):
        digest.update(part.encode() + b"\0")
    for path in [*inputs, *code_files()]:
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"(missing)")
        digest.update(b"\0")
    return digest.hexdigest()


def cached(kind: str, entry_key: str, compute: Callable[[], str]) -> str:
    """The text stored under ``entry_key``, computed and stored first if there is none."""
    path = CACHE / kind / entry_key
    if path.is_file():
        return path.read_text(encoding="utf-8")
    text = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside and renamed: a reader (another test worker) never sees half an entry.
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp"
    ) as part:
        part.write(text)
    os.replace(part.name, path)
    return text
