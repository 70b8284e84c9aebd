"""A number stated in prose is one that the section it stands in shows: prose cannot drift.

The rule: a number in a sentence (an integer, a decimal, a size such as ``16.81 GB``, a shape
such as ``(2, 3, 4)``) must appear in a block of the *same section*, the text under the same
heading: the output that section prints, or the code it shows (an input the reader can see,
``V = 16000``). Not anywhere on the page: a number that matches another section's output is
still wrong here. A decimal matches when the shown number rounds to it (``0.07`` for
``0.0703``); a shape matches the same integers in brackets (``torch.Size([2, 3, 4])``).
A section titled Summary / 小结 restates the page, so it is checked against the whole page.

A number is also bound to what it counts: when the output prints it, the clause it stands in
must name the label it is printed with, if that clause names any printed label. In
``计入损失的有 6 个位置`` with the output ``计入: 5，位置数: 6``, 计入 names ``计入: 5``: the 6
is another quantity's (``prose_numbers.names``; the unit right after a number, 位置, says what
is counted, not which count). Numbers in words (``five``) and Chinese numerals that count
(``三个``, ``两行``, ``十二``) are held to this binding, and to the other language's section
(tests/test_sections_agree.py); inline code stating numbers (`5`, `world_size=4`) is prose, and
an equation in it (`5 + 0 + 1 = 6`) must hold.

Some numbers are not outputs. They are recognised by the words around them, and nothing else
escapes (``NOT_OUTPUTS`` lists the patterns, each with its reason): years, pull-request numbers,
library versions, dimensions (``dim -1``), step numbers, model names (Llama 3), ``-100``, and
0 and 1, which are too common in sentences about positions and probabilities to pin down.
Math, headings and inline code other than numbers are not prose; image alt text is checked
against its diagram (tests/test_diagram_text.py).

Notebook Markdown cells are held to the same rule against the notebook's own cells.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from page_structure import (
    DOCS,
    MARKDOWN_PAGES,
    NOTEBOOKS,
    OUTPUT_TITLE,
    ROOT,
    Section,
    language,
    notebook_cells,
    page_id,
    parse,
    shown_code,
    shown_output,
)
from prose_numbers import (
    NOT_OUTPUT,
    NOT_OUTPUTS,
    SHAPE,
    Printed,
    clause_around,
    is_word,
    names,
    printed_values,
    stated,
    stated_numbers,
    stated_versions,
    value,
)

__all__ = ["NOT_OUTPUTS", "stated_numbers"]  # the escapes the README names, kept here

# Pages that show no recorded output: the glossary and style guide show notation
# (`(1, 2, 2)`), and the explorers compute in the browser (tests/test_explorers.py checks them).
NOT_CHECKED = {"glossary.md", "explore/labels.md", "explore/pad.md"}
_ALWAYS_FINE = {0.0, 1.0}

_MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.S)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_LINK_TARGET = re.compile(r"\]\([^)]*\)|\]\[[^\]]*\]|<[^>]+>|\{[^}]*\}")
_SHAPE = SHAPE
_SHOWN_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:e[-+]?\d+)?"
)
_SUMMARY = {"summary", "小结", "总结"}


@dataclass(frozen=True)
class Violation:
    line: int
    number: str
    section: str
    why: str = ""

    def __str__(self) -> str:
        why = self.why or "is not shown in section"
        return f"line {self.line}: {self.number} {why} {self.section!r}"


# Inline code that states numbers: a bare number or shape, ``name=4``, arithmetic (`5 + 0 + 1 = 6`).
_LITERAL_CODE = re.compile(
    r"\s*(?:[A-Za-z_]\w*\s*=\s*)?[-\d.,()\[\]\s+*/×=]*\d[-\d.,()\[\]\s+*/×=]*"
)


def prose_text(line: str) -> str:
    """The words of a prose line, without markup, link targets or code.

    Inline code that only states numbers (`5`, `(2, 3)`, `world_size=4`, `5 + 0 + 1 = 6`) is
    kept, any other code is left out. An image's alt text describes its diagram and is checked
    against it (tests/test_diagram_text.py).
    """
    if line.lstrip().startswith(("![", ":::", "<!--", "--8<--")):
        return ""
    line = _LINK_TARGET.sub("]", line)
    return _INLINE_CODE.sub(lambda m: m[1] if _LITERAL_CODE.fullmatch(m[1]) else " ", line)


def false_equations(line: str) -> list[str]:
    """Inline code equations of a prose line that do not hold (`4 + 2 + 3 = 8`)."""
    found = []
    for code in _INLINE_CODE.findall(line):
        sides = code.split("=")
        if len(sides) < 2 or not _LITERAL_CODE.fullmatch(code) or re.search(r"[A-Za-z]", code):
            continue
        values = {_arithmetic(side) for side in sides}
        if len(values) > 1:
            found.append(code)
    return found


def _arithmetic(expression: str) -> float:
    tree = ast.parse(expression.replace("×", "*").replace(",", "").strip(), mode="eval")
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.operator, ast.unaryop)
    if not all(isinstance(node, allowed) for node in ast.walk(tree)):
        raise ValueError(f"not arithmetic: {expression!r}")
    return round(float(eval(compile(tree, "<prose>", "eval"))), 9)  # noqa: S307 (numbers only)


def _shown_shapes(shown: str) -> set[tuple[int, ...]]:
    """Each shape or tuple shown, and each pair of a padding tuple (``(1, 1)`` of ``(1, 1, 0, 1)``)."""
    shapes = {_ints(s) for s in _SHAPE.findall(shown)}
    pairs = {s[i : i + 2] for s in shapes if len(s) % 2 == 0 for i in range(0, len(s), 2)}
    return shapes | pairs


def _ints(shape: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"-?\d+", shape))


def _rounds_to(number: str, shown: float) -> bool:
    """Whether ``number`` is ``shown`` stated to its last digit: 262 for 262.2, 0.07 for 0.0703;
    16.81 is not 16.8."""
    tolerance = 0.5 * 10 ** -len(number.partition(".")[2])
    return abs(abs(shown) - abs(value(number))) <= tolerance + 1e-12


def is_shown(number: str, shown: str, shapes_seen: str = "") -> bool:
    """Whether ``shown`` (outputs and code) has ``number``: the same value, or one rounding to it.

    A shape may also be one that code earlier on the page made (``shapes_seen``): the input
    tensor of a section is often built in the one before.
    """
    shown = re.sub(r"(?<=\d)_(?=\d)", "", shown)  # 16_000 in code is 16000
    if _SHAPE.fullmatch(number):
        return _ints(number) in _shown_shapes(shown) | _shown_shapes(shapes_seen)
    if abs(value(number)) in _ALWAYS_FINE:
        return True
    return any(_rounds_to(number, value(token)) for token in _SHOWN_NUMBER.findall(shown))


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
    joined = NOT_OUTPUT.sub(lambda m: re.sub(r"[^\n]", " ", m[0]), "\n".join(t for _, t in kept))
    return [(n, text) for (n, _), text in zip(kept, joined.split("\n"), strict=True)]


def _unbound(number: str, text: str, offset: int, printed: list[Printed]) -> str:
    """Why ``number`` is not what the output prints for the quantity its clause names ('' if it is).

    A number the output prints must be printed with a label its clause names, when the clause
    names some label: ``计入损失的有 6 个位置`` names ``计入: 5``, so the 6 of ``位置数: 6``
    does not do. A number the output does not print is an input (code shows it) and free here.
    """
    if _SHAPE.fullmatch(number) or abs(value(number)) in _ALWAYS_FINE or _in_a_list(text, offset):
        return ""
    integer = "." not in number
    kind = [p for p in printed if p.value.is_integer() == integer]
    as_printed = [p for p in kind if _rounds_to(number, p.value)]
    if not as_printed:
        return ""
    before, after = clause_around(text, offset, number)
    if any(names(p.label, before, after) for p in as_printed):
        return ""
    named = [p for p in kind if names(p.label, before, after)]
    if not named:
        return ""
    listed = "; ".join(f"{p.label!r} = {p.value:g}" for p in named)
    return f"is printed for another quantity than its sentence names ({listed}) in"


def _in_a_list(text: str, offset: int) -> bool:
    """Whether the number at ``offset`` is an element of a list of values (`3, 2, 1`)."""
    return bool(re.match(r"[-\d.]+\s*,\s*-?\d", text[offset:])) or bool(
        re.search(r"\d\s*,\s*-?$", text[:offset])
    )


def violations(
    sections: list[Section],
    shown_in: dict[int, str],
    code_in: dict[int, str],
    output_in: dict[int, str] | None = None,
):
    """Prose numbers that their section does not show, or shows for another quantity.

    ``shown_in`` maps a section's line to everything its blocks show, ``code_in`` to its code,
    ``output_in`` to its outputs (whose labels bind numbers to quantities).
    """
    output_in = output_in or {}
    whole_page = "\n".join(shown_in.values())
    whole_output = "\n".join(output_in.values())
    found: list[Violation] = []
    code_so_far = ""
    for section in sections:
        heading = section.heading or "(top)"
        summary = (section.anchor or "") in _SUMMARY or section.heading.strip() in _SUMMARY
        shown = whole_page if summary else shown_in[section.line]
        printed = printed_values(whole_output if summary else output_in.get(section.line, ""))
        code_so_far += code_in[section.line]
        lines = _prose_lines(section)
        text = "\n".join(t for _, t in lines)
        line_at = [n for n, t in lines for _ in range(len(t) + 1)]
        for offset, number in stated(text):
            if not is_word(number) and not is_shown(number, shown, code_so_far):
                found.append(Violation(line_at[offset], number, heading))
            elif why := _unbound(number, text, offset, printed):
                found.append(Violation(line_at[offset], number, heading, why))
        for line_number, line in section.prose:
            for equation in false_equations(line):
                found.append(Violation(line_number, f"`{equation}`", heading, "does not hold in"))
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
    return text_violations(path.read_text(encoding="utf-8"), language(path))


def text_violations(text: str, lang: str) -> list[Violation]:
    """The violations of a page's Markdown ``text`` shown in language ``lang``."""
    sections = parse(text)
    shown = {s.line: "\n".join(_fence_text(f, lang) for f in s.fences) for s in sections}
    code = {
        s.line: "\n".join(_fence_text(f, lang) for f in s.fences if f.language == "python")
        for s in sections
    }
    outputs = {
        s.line: "\n".join(_fence_text(f, lang) for f in s.fences if _is_output(f)) for s in sections
    }
    return violations(sections, shown, code, outputs)


def _is_output(fence) -> bool:
    include = fence.include
    return fence.language == "text" and not (include and include[0].endswith(".py"))


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
    outputs = {s.line: "\n".join(f.body for f in s.fences if _is_output(f)) for s in sections}
    return violations(sections, shown, code, outputs)


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


# --- versions ---------------------------------------------------------------------------------

# Versions a page may state besides the pinned ones and the history table's releases, each
# with its reason. Keep this list short.
OTHER_VERSIONS: dict[tuple[str | None, str], str] = {
    ("transformers", "4.54.0"): "parallel#trainer: the first release where "
    "average_tokens_across_devices defaults to True (4.53.3: False), read from the wheels by "
    "test_claims_parallel.py",
}


def _release(version: str) -> list[str]:
    """A release and its major.minor: ``2.13.0+cpu`` is stated as 2.13.0 or 2.13."""
    version = version.partition("+")[0]
    return [version, ".".join(version.split(".")[:2])]


def known_versions() -> dict[str | None, set[str]]:
    """The versions a page may state, by library: those pinned (``.ci/requirements.lock``, and
    ``requires-python`` in pyproject.toml), those a recorded measurement ran with (its
    ``Software:`` line), and, for transformers and for a version that names no library, the
    releases of the loss page's history table (read from the released wheels)."""
    known: dict[str | None, set[str]] = {}
    lock = (ROOT / ".ci" / "requirements.lock").read_text(encoding="utf-8")
    for name, version in re.findall(r"^([\w.-]+)==(\S+)", lock, re.M):
        known.setdefault(name.lower(), set()).update(_release(version))
    python = re.search(
        r'requires-python\s*=\s*">=\s*([\d.]+)"', (ROOT / "pyproject.toml").read_text()
    )
    known["python"] = {python[1]}
    for record in (ROOT / "snippets" / "recorded").glob("*.txt"):
        software = re.search(r"^Software:(.*(?:\n .*)*)", record.read_text(encoding="utf-8"), re.M)
        for name, version in re.findall(
            r"(\w+) (\d+\.\d+(?:\.\d+)?)", software[1] if software else ""
        ):
            known.setdefault(name.lower(), set()).update(_release(version))
    history = (ROOT / "snippets" / "history" / "transformers_loss.txt").read_text(encoding="utf-8")
    releases = set(re.findall(r"^(\d+\.\d+\.\d+)\s", history, re.M))
    known["transformers"] = known.get("transformers", set()) | releases
    known[None] = releases | set().union(
        *(known[name] for name in ("torch", "transformers", "trl"))
    )
    return known


def version_errors(text: str, known: dict[str | None, set[str]]) -> list[str]:
    """``library version`` of each version stated in ``text`` that is neither pinned, nor
    recorded, nor a release of the history table, nor in ``OTHER_VERSIONS``."""
    return [
        f"{library or 'a release'} {version}"
        for library, version in stated_versions(text)
        if version not in known.get(library, set()) and (library, version) not in OTHER_VERSIONS
    ]


def _section_text(section: Section) -> str:
    """A section's heading and prose, math and link targets left out; inline code kept."""
    lines = [section.heading, *(line for _, line in section.prose)]
    return _LINK_TARGET.sub("]", _MATH.sub(" ", "\n".join(lines))).replace("`", "")


VERSION_PAGES = MARKDOWN_PAGES + NOTEBOOKS


@pytest.mark.parametrize("path", VERSION_PAGES, ids=page_id)
def test_versions_in_the_prose_are_pinned_or_in_the_history_table(path):
    text = (
        notebook_as_markdown(path) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8")
    )
    known = known_versions()
    found = [
        f"{section.heading or '(top)'}: {error}"
        for section in parse(text)
        for error in version_errors(_section_text(section), known)
    ]
    assert not found, f"{page_id(path)} states versions that nothing backs: {found}"


def test_the_version_check_rejects_a_version_nothing_backs():
    known = known_versions()
    said = "TRL 1.16 与 transformers 5.24；从 5.10.1 起，4.46.2 到 5.9.0，torch 2.13、Python 3.11"
    assert version_errors(said, known) == []
    changed = "TRL 1.15 与 transformers 5.23；从 5.10.0 起，4.46.3 到 5.9.0，torch 2.12"
    assert version_errors(changed, known) == [
        "trl 1.15", "transformers 5.23", "a release 5.10.0", "a release 4.46.3", "torch 2.12"
    ]  # fmt: skip


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


COUNTED = """## Formula {{ #formula }}

```python
logits = torch.randn(1, 6, 16000)
```

```text title="{title}"
{output}
```

{prose}
"""


@pytest.mark.parametrize(
    ("lang", "output", "prose", "wrong"),
    [
        ("zh", "计入: 5，位置数: 6", "计入损失的有 5 个位置。", []),
        ("zh", "计入: 5，位置数: 6", "计入损失的有 6 个位置。", ["6"]),  # the example
        ("zh", "计入: 5，位置数: 6", "计入损失的有六个位置，共 6 个位置。", ["六"]),
        ("zh", "计入: 5，位置数: 6", "一共 6 个位置，其中计入损失的有五个。", []),
        ("en", "counted: 5, positions: 6", "Five positions count; there are 6 positions.", []),
        ("en", "counted: 5, positions: 6", "Six positions count.", ["Six"]),
        ("en", "counted: 5, positions: 6", "`6` positions count.", ["6"]),  # inline code
        ("en", "counted: 5, positions: 6", "So `5 + 0 = 6` positions.", ["`5 + 0 = 6`"]),
        ("en", "counted: 5, positions: 6", "So `5 + 1 = 6`; `6, 5` are its values.", []),
        ("en", "counted: 5, positions: 6", "We take `V = 16000` and 16001 rows.", ["16001"]),
    ],
)
def test_the_check_binds_a_number_to_the_quantity_its_sentence_names(lang, output, prose, wrong):
    page = COUNTED.format(title=OUTPUT_TITLE[lang], output=output, prose=prose)
    assert [v.number for v in text_violations(page, lang)] == wrong


def test_numbers_are_read_in_words_and_chinese_numerals():
    assert stated_numbers("Five positions, twelve rows, one copy") == ["Five", "twelve"]
    assert stated_numbers("三个词元、两行、十二个位置，第二行，一样，统一，三维") == [
        "三",
        "两",
        "十二",
    ]
    # ordinals: a position is a number; second and third, and step numbers, are words
    assert stated_numbers("第 6 个标签、第六个、6th、the sixth label、第二次、第 3 步、第五步") == [
        "6",
        "六",
        "6",
        "sixth",
    ]
    assert [value(t) for t in ("三", "两", "十二", "二十", "Five", "16,000")] == [
        3,
        2,
        12,
        20,
        5,
        16000,
    ]
