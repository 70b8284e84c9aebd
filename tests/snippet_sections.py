"""Reads and runs the named sections of a snippet file, as pymdownx.snippets cuts them."""

from __future__ import annotations

import contextlib
import io
import random
import re
from dataclasses import dataclass
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SNIPPETS = ROOT / "snippets"
OUTPUTS = SNIPPETS / "output"
_MARKER = re.compile(r"^\s*# --8<-- \[(start|end):([\w-]+)\]\s*$")
_INCLUDE = re.compile(r'^\s*--8<--\s+"([^":]+)(?::([\w-]+))?"\s*$')


@dataclass(frozen=True)
class Section:
    name: str
    code: str
    first_line: int  # 1-based line of the section's first code line

    def compiled(self, path: Path):
        # Leading newlines keep tracebacks pointing at the snippet file's own lines.
        return compile("\n" * (self.first_line - 1) + self.code, str(path), "exec")


def read_sections(path: Path) -> list[Section]:
    """The sections of ``path`` in file order; every code line must lie in one."""
    sections: list[Section] = []
    current: tuple[str, int, list[str]] | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        marker = _MARKER.match(line)
        if marker and marker[1] == "start":
            if current:
                raise ValueError(f"{path}:{number}: section {marker[2]!r} starts inside {current[0]!r}")
            current = (marker[2], number + 1, [])
        elif marker:
            if not current or current[0] != marker[2]:
                raise ValueError(f"{path}:{number}: end of {marker[2]!r} without its start")
            sections.append(Section(current[0], "\n".join(current[2]) + "\n", current[1]))
            current = None
        elif current:
            current[2].append(line)
        elif line.strip() and not line.lstrip().startswith("#"):
            raise ValueError(f"{path}:{number}: code outside any section: {line!r}")
    if current:
        raise ValueError(f"{path}: section {current[0]!r} is never closed")
    return sections


def reset_global_state() -> None:
    """Undo what one example may leak into the next: print options and random seeds."""
    torch.set_printoptions(profile="default")
    torch.manual_seed(0)
    random.seed(0)


def run_sections(path: Path) -> dict[str, str]:
    """Runs the sections in order in one namespace; returns each section's stdout."""
    reset_global_state()
    namespace: dict[str, object] = {"__name__": "__snippet__"}
    outputs: dict[str, str] = {}
    for section in read_sections(path):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            exec(section.compiled(path), namespace)
        outputs[section.name] = buffer.getvalue()
    return outputs


def output_path(snippet: Path, section: str) -> Path:
    return OUTPUTS / snippet.stem / f"{section}.txt"


def expand_include(line: str) -> str | None:
    """The code a page's ``--8<-- "file.py:section"`` fence runs, or None if not an include.

    A section runs after the sections before it, as a reader running the page would.
    """
    include = _INCLUDE.match(line)
    if not include or not include[1].endswith(".py"):
        return None
    path = SNIPPETS / include[1]
    sections = read_sections(path)
    names = [s.name for s in sections]
    if include[2] is not None and include[2] not in names:
        raise ValueError(f"{path} has no section {include[2]!r}; it has {names}")
    last = names.index(include[2]) if include[2] else len(names) - 1
    return "".join(s.code for s in sections[: last + 1])
