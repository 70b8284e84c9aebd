"""A page cut into what the checks need: its fences, its sections and the output each shows.

A page's Markdown is read as MkDocs reads it: fences inside admonitions and content tabs count,
and a section is the text under one heading, up to the next heading of any level.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from snippet_source import OUTPUTS, ROOT, SNIPPETS, read_sections

DOCS = ROOT / "docs"
ZH, EN = DOCS / "zh", DOCS / "en"
LANGUAGES = {"zh": ZH, "en": EN}
MARKDOWN_PAGES = sorted(ZH.rglob("*.md")) + sorted(EN.rglob("*.md"))
NOTEBOOKS = sorted(ZH.rglob("*.ipynb")) + sorted(EN.rglob("*.ipynb"))
OUTPUT_TITLE = {"zh": "输出", "en": "Output"}

_FENCE_OPEN = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>.*)$")
_HEADING = re.compile(r"^(?P<level>#{1,6}) +(?P<title>.*?)(?: *\{ *#(?P<anchor>[\w-]+) *\})? *$")
INCLUDE = re.compile(r'^\s*--8<--\s+"(?P<file>[^":]+)(?::(?P<section>[\w-]+))?"\s*$')
_TITLE = re.compile(r'title="([^"]*)"')


def page_id(path: Path) -> str:
    return str(path.relative_to(DOCS))


def language(path: Path) -> str:
    return path.relative_to(DOCS).parts[0]


@dataclass(frozen=True)
class Fence:
    line: int  # 1-based line of the opening fence
    end: int  # 1-based line of the closing fence
    language: str
    title: str | None
    body: str

    @property
    def include(self) -> tuple[str, str | None] | None:
        """``(file, section)`` when the fence holds a single ``--8<--`` include, else None."""
        lines = [line for line in self.body.splitlines() if line.strip()]
        match = INCLUDE.match(lines[0]) if len(lines) == 1 else None
        return (match["file"], match["section"]) if match else None


@dataclass
class Section:
    """The lines under one heading (the page's top, before any heading, is a section too)."""

    heading: str
    anchor: str | None
    line: int  # 1-based line of the heading (1 for the page's top)
    prose: list[tuple[int, str]] = field(default_factory=list)  # (line, text) outside fences
    fences: list[Fence] = field(default_factory=list)


def parse(text: str) -> list[Section]:
    """The sections of a Markdown page, each with its prose lines and its fences."""
    lines = text.splitlines()
    sections = [Section("", None, 1)]
    index = 0
    while index < len(lines):
        line = lines[index]
        opening = _FENCE_OPEN.match(line)
        if opening:
            indent, marker = opening["indent"], opening["fence"]
            close = re.compile(rf"^{indent}{re.escape(marker[0])}{{{len(marker)},}}\s*$")
            end = index + 1
            while end < len(lines) and not close.match(lines[end]):
                end += 1
            body = "\n".join(body_line[len(indent) :] for body_line in lines[index + 1 : end])
            info = opening["info"].strip()
            title = _TITLE.search(info)
            sections[-1].fences.append(
                Fence(
                    index + 1,
                    end + 1,
                    info.split(" ")[0] if info else "",
                    title[1] if title else None,
                    body,
                )
            )
            index = end + 1
            continue
        heading = _HEADING.match(line)
        if heading:
            sections.append(Section(heading["title"], heading["anchor"], index + 1))
        else:
            sections[-1].prose.append((index + 1, line))
        index += 1
    return sections


def all_fences(text: str) -> list[Fence]:
    return [fence for section in parse(text) for fence in section.fences]


def shown_output(include: str, lang: str) -> str:
    """What an output include (``output/<stem>/<section>.txt``) shows on a ``lang`` page."""
    path = SNIPPETS / include
    translated = path.with_suffix(f".{lang}.txt")
    return (translated if translated.is_file() else path).read_text(encoding="utf-8")


def shown_code(file: str, section: str | None, lang: str) -> str:
    """The code a ``--8<-- "<stem>.py:<section>"`` include shows on a ``lang`` page."""
    sections = read_sections(SNIPPETS / file, lang)
    return "".join(s.code for s in sections if section is None or s.name == section)


def recorded_output(file: str, section: str) -> Path:
    """Where the output of a snippet section is recorded (it exists when the section prints)."""
    return OUTPUTS / Path(file).stem / f"{section}.txt"


@dataclass(frozen=True)
class Cell:
    kind: str  # "markdown" or "code"
    source: str
    output: str  # what a code cell printed (text outputs only)


def notebook_cells(path: Path) -> list[Cell]:
    cells = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        printed = []
        for output in cell.get("outputs", []):
            if "text" in output:
                printed.append("".join(output["text"]))
            for value in output.get("data", {}).values():
                if isinstance(value, list) and all(isinstance(v, str) for v in value):
                    printed.append("".join(value))
            if "evalue" in output:
                printed.append(output["evalue"])
        cells.append(Cell(cell["cell_type"], "".join(cell["source"]), "".join(printed)))
    return cells
