"""Reads and runs the named sections of a snippet file, as pymdownx.snippets cuts them."""

from __future__ import annotations

import contextlib
import io
import random
import re
from pathlib import Path

import torch

from snippet_source import OUTPUTS, ROOT, SNIPPETS, Section, output_path, read_sections

__all__ = ["OUTPUTS", "ROOT", "SNIPPETS", "Section", "output_path", "read_sections"]

_INCLUDE = re.compile(r'^\s*--8<--\s+"([^":]+)(?::([\w-]+))?"\s*$')


def reset_global_state() -> None:
    """Undo what one example may leak into the next: print options and random seeds."""
    torch.set_printoptions(profile="default")
    torch.manual_seed(0)
    random.seed(0)


def run_sections(path: Path, lang: str = "en") -> dict[str, str]:
    """Runs the sections, as the ``lang`` pages show them, in order in one namespace.

    Returns each section's stdout.
    """
    reset_global_state()
    namespace: dict[str, object] = {"__name__": "__snippet__"}
    outputs: dict[str, str] = {}
    for section in read_sections(path, lang):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            exec(section.compiled(path), namespace)
        outputs[section.name] = buffer.getvalue()
    return outputs


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
