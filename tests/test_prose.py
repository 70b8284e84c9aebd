"""A number stated in prose is one that the section it stands in shows: prose cannot drift.

The rule: a number in a sentence (an integer, a decimal, a size such as ``16.81 GB``, a shape
such as ``(2, 3, 4)``) must appear in a block of the *same section*, the text under the same
heading: the output that section prints, or the code it shows (an input the reader can see,
``V = 16000``). Not anywhere on the page: a number that matches another section's output is
still wrong here. A decimal matches when the shown number rounds to it (``0.07`` for
``0.0703``); a shape matches the same integers in brackets (``torch.Size([2, 3, 4])``).
A section titled Summary / 小结 restates the page, so it is checked against the whole page.

Some numbers are not outputs. They are recognised by the words around them, and nothing else
escapes (``NOT_OUTPUTS`` lists the patterns, each with its reason): years, pull-request numbers,
library versions, dimensions (``dim -1``), step numbers, model names (Llama 3), ``-100``, and
0 and 1, which are too common in sentences about positions and probabilities to pin down.
Image alt text, math, headings and inline code other than a bare number or shape are not prose.

Notebook Markdown cells are held to the same rule against the notebook's own cells.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from page_structure import (
    DOCS,
    MARKDOWN_PAGES,
    NOTEBOOKS,
    Section,
    language,
    notebook_cells,
    page_id,
    parse,
    shown_code,
    shown_output,
)

# Numbers that are not outputs, found by the words around them. Keep this list short.
NOT_OUTPUTS = {
    "a year": r"\b(?:19|20)\d\d\b",
    "a pull request or issue": r"#\d+",
    "a version": (
        r"\b\d+\.\d+\.\d+\b"
        r"|(?:transformers|torch|PyTorch|TRL|trl|Python|Material|MkDocs|NumPy|version|v)"
        r"\s*\d+(?:\.\d+)+(?:\s*(?:,|and|or|to|和|或|到|至|、)\s*\d+(?:\.\d+)+)*"
        r"|(?:[Ss]ince|[Uu]ntil|[Bb]efore|[Aa]fter|[Ff]rom|自|从|到|至|于)\s*\d+\.\d+"
        r"|\d+\.\d+\s*(?:起|版|之前|之后|以前|以后|开始)"
        r"|(?:removed|added|deprecated|introduced|changed|fixed|released) in \d+\.\d+"
        r"|\d+\.\d+\s*(?:中|里)?(?:移除|删除|加入|引入|弃用)"
    ),
    "the lengths a pad tuple can have": (
        r"\b2, 4,? (?:and|or) 6\b|2、4(?:、| ?和 ?| ?或 ?)6\b|2 个、4 个(?:、|和|或) ?6 个"
    ),
    "a list item's number": r"^\s*\d+\.\s",
    "a dimension": r"(?:\bdim(?:ension)?s?|\baxis|维度?|第)\s*=?\s*-?\d+(?:\s*维)?",
    "a step of the page": r"\b[Ss]tep\s+\d+|第\s*\d+\s*步",
    "a model or format name": (
        r"(?:Llama|Qwen|Gemma|FlashAttention|GPT|Phi|DeepSeek|Mistral|BERT|T5)[\s-]*\d+(?:\.\d+)?"
        r"(?:\s*(?:/|,|、|和|或|\band\b|\bor\b)\s*\d+(?:\.\d+)?)*"
    ),
    "the ignore index": r"-100\b",
}
_NOT_OUTPUT = re.compile("|".join(f"(?:{p})" for p in NOT_OUTPUTS.values()), re.M)
# Pages that show no recorded output: the glossary and style guide show notation
# (`(1, 2, 2)`), and the explorers compute in the browser (tests/test_explorers.py checks them).
NOT_CHECKED = {"glossary.md", "explore/labels.md", "explore/pad.md"}
_ALWAYS_FINE = {0.0, 1.0}

_MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.S)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_LINK_TARGET = re.compile(r"\]\([^)]*\)|\]\[[^\]]*\]|<[^>]+>|\{[^}]*\}")
_SHAPE = re.compile(r"[(\[]\s*-?\d+(?:\s*,\s*-?\d+)+\s*,?\s*[)\]]")
_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.])(?<![A-Za-z0-9_.]-)-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![A-Za-z0-9_]|\.\d|-[A-Za-z]|×)"
)
_SHOWN_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:e[-+]?\d+)?"
)
_SUMMARY = {"summary", "小结", "总结"}


@dataclass(frozen=True)
class Violation:
    line: int
    number: str
    section: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.number} is not shown in section {self.section!r}"


def prose_text(line: str) -> str:
    """The words of a prose line, without markup, link targets or code (bare numbers kept)."""
    if line.lstrip().startswith(("![", ":::", "<!--", "--8<--")):
        return ""
    line = _LINK_TARGET.sub("]", line)
    return _INLINE_CODE.sub(lambda m: m[1] if _is_bare_number(m[1]) else " ", line)


def _is_bare_number(code: str) -> bool:
    return bool(re.fullmatch(r"\s*(?:-?[\d.,]+|" + _SHAPE.pattern + r")\s*", code))


def _value(token: str) -> float:
    return float(token.replace(",", "").rstrip("."))


def stated_numbers(text: str) -> list[str]:
    """Shapes and numbers stated in prose text, escapes left out."""
    text = _NOT_OUTPUT.sub(" ", text)
    shapes = _SHAPE.findall(text)
    return shapes + _NUMBER.findall(_SHAPE.sub(" ", text))


def _shown_shapes(shown: str) -> set[tuple[int, ...]]:
    """Each shape or tuple shown, and each pair of a padding tuple (``(1, 1)`` of ``(1, 1, 0, 1)``)."""
    shapes = {_ints(s) for s in _SHAPE.findall(shown)}
    pairs = {s[i : i + 2] for s in shapes if len(s) % 2 == 0 for i in range(0, len(s), 2)}
    return shapes | pairs


def _ints(shape: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"-?\d+", shape))


def is_shown(number: str, shown: str, shapes_seen: str = "") -> bool:
    """Whether ``shown`` (outputs and code) has ``number``: the same value, or one rounding to it.

    A shape may also be one that code earlier on the page made (``shapes_seen``): the input
    tensor of a section is often built in the one before.
    """
    shown = re.sub(r"(?<=\d)_(?=\d)", "", shown)  # 16_000 in code is 16000
    if _SHAPE.fullmatch(number):
        return _ints(number) in _shown_shapes(shown) | _shown_shapes(shapes_seen)
    value = abs(_value(number))
    if value in _ALWAYS_FINE:
        return True
    # Stated to its last digit: 262 for 262.2, 0.07 for 0.0703; 16.81 is not 16.8.
    tolerance = 0.5 * 10 ** -len(number.partition(".")[2])
    return any(
        abs(abs(_value(token)) - value) <= tolerance + 1e-12
        for token in _SHOWN_NUMBER.findall(shown)
    )


def _prose_lines(section: Section) -> list[tuple[int, str]]:
    """Each prose line as words, escapes blanked across line breaks (``transformers\\n5.24``)."""
    kept: list[tuple[int, str]] = []
    in_math = False
    for line_number, line in section.prose:
        if line.count("$$") % 2:  # a display formula opens or closes here
            in_math = not in_math
        elif not in_math:
            kept.append((line_number, prose_text(_MATH.sub(" ", line))))
    if not kept:
        return []
    joined = _NOT_OUTPUT.sub(lambda m: re.sub(r"[^\n]", " ", m[0]), "\n".join(t for _, t in kept))
    return [(n, text) for (n, _), text in zip(kept, joined.split("\n"), strict=True)]


def violations(sections: list[Section], shown_in: dict[int, str], code_in: dict[int, str]):
    """Prose numbers that their section does not show.

    ``shown_in`` maps a section's line to everything its blocks show, ``code_in`` to its code.
    """
    whole_page = "\n".join(shown_in.values())
    found: list[Violation] = []
    code_so_far = ""
    for section in sections:
        summary = (section.anchor or "") in _SUMMARY or section.heading.strip() in _SUMMARY
        shown = whole_page if summary else shown_in[section.line]
        code_so_far += code_in[section.line]
        for line_number, text in _prose_lines(section):
            for number in stated_numbers(text):
                if not is_shown(number, shown, code_so_far):
                    found.append(Violation(line_number, number, section.heading or "(top)"))
    return found


def _fence_text(fence, lang: str) -> str:
    include = fence.include
    if include is None:
        return fence.body
    file, section = include
    # A .py include shows a snippet's code; any other file (an output, the loss page's history
    # table from tests/history/verify_history.py) is shown as it is.
    return shown_code(file, section, lang) if file.endswith(".py") else shown_output(file, lang)


def page_violations(path: Path) -> list[Violation]:
    lang = language(path)
    sections = parse(path.read_text(encoding="utf-8"))
    shown = {s.line: "\n".join(_fence_text(f, lang) for f in s.fences) for s in sections}
    code = {
        s.line: "\n".join(_fence_text(f, lang) for f in s.fences if f.language == "python")
        for s in sections
    }
    return violations(sections, shown, code)


def notebook_as_markdown(path: Path) -> str:
    """The notebook as one Markdown page: each code cell a fence, its output the next."""
    parts = []
    for cell in notebook_cells(path):
        if cell.kind == "markdown":
            parts.append(cell.source)
        elif cell.kind == "code":
            parts.append(f"```python\n{cell.source}\n```")
            if cell.output:
                parts.append(f"```text\n{cell.output}\n```")
    return "\n\n".join(parts) + "\n"


def notebook_violations(path: Path) -> list[Violation]:
    sections = parse(notebook_as_markdown(path))
    shown = {s.line: "\n".join(f.body for f in s.fences) for s in sections}
    code = {s.line: "\n".join(f.body for f in s.fences if f.language == "python") for s in sections}
    return violations(sections, shown, code)


CHECKED_PAGES = [
    p for p in MARKDOWN_PAGES if "/".join(p.relative_to(DOCS).parts[1:]) not in NOT_CHECKED
]


@pytest.mark.parametrize("path", CHECKED_PAGES, ids=page_id)
def test_numbers_in_the_prose_are_shown_by_their_section(path):
    found = page_violations(path)
    assert not found, f"{page_id(path)}:\n" + "\n".join(map(str, found))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=page_id)
def test_numbers_in_notebook_text_are_shown_by_their_section(path):
    found = notebook_violations(path)
    assert not found, f"{page_id(path)} (line = line of its Markdown):\n" + "\n".join(
        map(str, found)
    )


SECTIONED = """# Page {{ #page }}

Intro: nothing stated.

## One {{ #one }}

```python
x = F.pad(torch.zeros(1, 2, 2), (1, 1, 0, 1))
print(x.sum(), 16.8125)
```

```text title="Output"
tensor(0.) 16.8125
```

{prose}

## Two {{ #two }}

```text title="Output"
9.748666 (8, 7)
```
"""


def _violations_of(prose: str) -> list[str]:
    sections = parse(SECTIONED.format(prose=prose))
    shown = {s.line: "\n".join(f.body for f in s.fences) for s in sections}
    code = {s.line: "\n".join(f.body for f in s.fences if f.language == "python") for s in sections}
    return [v.number for v in violations(sections, shown, code)]


@pytest.mark.parametrize(
    "prose",
    [
        "The `(1, 2, 2)` input sums to 0; the figure is 16.81, or 16.8125 in full.",
        "Since transformers 4.49 (PR #35646, in 2025), dim -1 is padded; see step 3.",
        "`F.pad(x, (1, 1, 0, 1))` pads dim -1 by `(1, 1)`; Llama 3 and -100 are not outputs.",
        "The $$ formula $x_2 = 3$ $$ and $N = 7$ are math.",
        "Run with transformers\n5.24 (a version across a line break), Qwen 2.5 and 3, Llama 3.1.",
    ],
)
def test_the_check_accepts_numbers_the_section_shows(prose):
    assert _violations_of(prose) == []


@pytest.mark.parametrize(
    ("prose", "wrong"),
    [
        ("The figure is 16.82.", ["16.82"]),  # a typo
        ("The figure is 16.80.", ["16.80"]),  # rounded the wrong way
        ("The loss is 9.748666.", ["9.748666"]),  # another section's output
        ("The shape is `(8, 7)`.", ["(8, 7)"]),  # another section's shape
        ("A `(1, 2, 3)` input, in 16,000 rows.", ["(1, 2, 3)", "16,000"]),
    ],
)
def test_the_check_rejects_numbers_the_section_does_not_show(prose, wrong):
    assert _violations_of(prose) == wrong
