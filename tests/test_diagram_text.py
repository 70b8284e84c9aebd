"""A diagram's alt text states what the diagram draws, checked against the SVG the build draws.

- Each number and shape in it is drawn in the SVG (its text or its ``data-`` attributes) or
  shown by the snippet section that draws it (that section's code and output, not the whole
  snippet): docs/_hooks/site_diagrams.py's ``DIAGRAMS`` names the section.
- Each direction it states is the drawing's: the values it says are padded on the left or the
  right (``2, 1 on the left``, ``右边 3、3``, ``wrapped to the right``, ``zeros on both
  sides``) are the padding cells on that side, in that order; the values it says are cropped
  are the cropped cells; the position it says is ignored is the one drawn ignored.
- Labels said to be drawn before and after the shift are: a row of labels and a row of the
  same labels moved one position left, ending in -100.
- Each count of lost or wrong targets per layout (``contiguous shards lose 1 target``) is
  the number of cells of that kind the drawing has for that layout.

A sentence with a direction word (left/right, 左/右, first/last, 最后) that no rule reads
fails, so a new kind of statement needs its rule here before it can go unchecked.
"""

from __future__ import annotations

import importlib.util
import re
import xml.etree.ElementTree as ET
from functools import cache

import pytest

from page_structure import MARKDOWN_PAGES, language, page_id, shown_code
from prose_numbers import stated
from snippet_sections import OUTPUTS, ROOT
from test_prose import is_shown

# Alt text may hold a list in brackets: ![padding of [0, 1, 2, 3] with (2, 2)](diagrams/...)
_IMAGE = re.compile(r"!\[((?:[^\[\]]|\[[^\]]*\])*)\]\(diagrams/([\w.-]+)\.svg\)")


def _diagrams() -> dict:
    spec = importlib.util.spec_from_file_location(
        "site_diagrams", ROOT / "docs" / "_hooks" / "site_diagrams.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DIAGRAMS


DIAGRAMS = _diagrams()


@cache
def drawn(name: str, lang: str) -> ET.Element:
    """The SVG the build draws for diagram ``name`` in ``lang``."""
    return ET.fromstring(DIAGRAMS[name](lang))


def drawing_section(name: str, lang: str) -> str:
    """The code of the section drawing diagram ``name``, and what it printed."""
    diagram = DIAGRAMS[name]
    own = shown_code(f"{diagram.snippet}.py", diagram.section, lang)
    output = OUTPUTS / diagram.snippet / f"{diagram.section}.txt"
    translated = output.with_suffix(f".{lang}.txt")
    printed = (translated if translated.is_file() else output).read_text(encoding="utf-8")
    return own + "\n" + printed if output.is_file() else own


def _svg_text(root: ET.Element) -> str:
    """Everything the SVG says: its text, and the values of its ``data-`` attributes."""
    attributes = [v for el in root.iter() for k, v in el.attrib.items() if k.startswith("data-")]
    return "\n".join(["".join(root.itertext()), *attributes])


def _input_values(root: ET.Element) -> list[int]:
    """The input's values in its flat order, cropped ones included."""
    cells = [
        (int(el.get("data-src", el.get("data-cropped", -1))), el.get("data-value"))
        for el in root.iter()
        if el.get("data-kind") == "input" or el.get("data-cropped")
    ]
    return [int(float(v)) for _, v in sorted(cells) if v is not None]  # fmt: skip


def number_errors(alt: str, name: str, lang: str, root: ET.Element) -> list[str]:
    """Numbers and shapes the drawing does not have; a list in brackets is its input's values."""
    shown = drawing_section(name, lang) + "\n" + _svg_text(root)
    return [
        f"{name}: {n} is not drawn"
        for _, n in stated(alt)
        if not (_ints(n) == _input_values(root) if n.startswith("[") else is_shown(n, shown))
    ]


def _ints(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"-?\d+", text)]


# --- directions ----------------------------------------------------------------------------

_VALUES = r"-?\d+(?:\s*(?:,|、|和|\band\b)\s*-?\d+)*"
_SIDE = {"left": "left", "right": "right", "左": "left", "右": "right"}
# (pattern, what it states): each names its values and its side.
_SIDE_RULES = [
    rf"(?P<values>{_VALUES}) (?:(?:is|are) \w+ )?(?:on|to) the (?P<side>left|right)",
    rf"(?P<side>[左右])[边侧]\s*(?P<values>{_VALUES})",
    rf"(?P<values>{_VALUES})\s*\w{{0,2}}?到(?P<side>[左右])[边侧]",
    r"(?P<values>zeros|-?\d+) on (?P<side>both) sides",
    r"(?P<side>两)边补\s*(?P<values>-?\d+)",
]
_CROPPED = [rf"(?P<values>{_VALUES}) (?:is|are) cropped", rf"(?P<values>{_VALUES})\s*被裁掉"]
_IGNORED_LAST = [r"the last position is ignored", r"最后一个位置被忽略"]
_BEFORE_AND_AFTER_SHIFT = [r"labels before and after the shift", r"移位前后的标签"]
_DIRECTION_WORD = re.compile(
    r"\b(?:left|right|first|last|before|after)\b|[左右][边侧]|最后|之前|之后"
)


def _values(text: str) -> list[int]:
    return [0] if text == "zeros" else [int(n) for n in re.findall(r"-?\d+", text)]


def _padding_by_side(root: ET.Element) -> dict[str, list[int]]:
    """The values of the padding cells of the last dimension left and right of the input."""
    last = lambda el: int(el.get("data-index").split(",")[-1])  # noqa: E731
    cells = [el for el in root.iter() if el.get("data-kind") in ("input", "pad")]
    inputs = [last(el) for el in cells if el.get("data-kind") == "input"]
    pads = sorted(
        (last(el), int(el.get("data-value"))) for el in cells if el.get("data-kind") == "pad"
    )
    return {
        "left": [v for i, v in pads if i < min(inputs)],
        "right": [v for i, v in pads if i > max(inputs)],
    }


def direction_errors(alt: str, name: str, root: ET.Element) -> list[str]:
    """What the alt text says about sides, cropping and the ignored position that the drawing
    does not draw; and each direction word no rule reads."""
    errors, read = [], []
    for rule in _SIDE_RULES:
        for match in re.finditer(rule, alt):
            read.append(match.span())
            side, values = _SIDE.get(match["side"], "both"), _values(match["values"])
            drawn_sides = _padding_by_side(root)
            for one in ("left", "right") if side == "both" else (side,):
                expected = drawn_sides[one] if side != "both" else sorted(set(drawn_sides[one]))
                if expected != (values if side != "both" else sorted(set(values))):
                    errors.append(f"{name}: {match[0]!r}, but the {one} side draws {expected}")
    for rule in _CROPPED:
        for match in re.finditer(rule, alt):
            read.append(match.span())
            cropped = [int(el.get("data-value")) for el in root.iter() if el.get("data-cropped")]
            if _values(match["values"]) != cropped:
                errors.append(f"{name}: {match[0]!r}, but the drawing crops {cropped}")
    for rule in _IGNORED_LAST:
        for match in re.finditer(rule, alt):
            read.append(match.span())
            positions = [int(el.get("data-index")) for el in root.iter() if el.get("data-index")]
            ignored = [int(el.get("data-index")) for el in root.iter()
                       if el.get("data-kind") == "ignored"]  # fmt: skip
            if ignored != [max(positions)]:
                errors.append(f"{name}: {match[0]!r}, but the drawing ignores {ignored}")
    for rule in _BEFORE_AND_AFTER_SHIFT:
        for match in re.finditer(rule, alt):
            read.append(match.span())
            rows = {row: [int(el.get("data-id")) for el in root.iter() if el.get("data-row") == row]
                    for row in ("labels", "shifted")}  # fmt: skip
            if not rows["labels"] or rows["shifted"] != [*rows["labels"][1:], -100]:
                errors.append(f"{name}: {match[0]!r}, but it draws no shifted copy of the labels")
    for word in _DIRECTION_WORD.finditer(alt):
        if not any(start <= word.start() < end for start, end in read):
            errors.append(f"{name}: no rule reads {word[0]!r} in {alt!r}")
    return errors


# --- counts of targets per layout (the context-parallel shards) -----------------------------

_LAYOUTS = {"contiguous": "contiguous", "连续": "contiguous", "load-balanced": "balanced",
            "负载均衡": "balanced"}  # fmt: skip
_COUNTS = {"lost": r"(?:lose|丢失)\s*(\d+)", "wrong": r"(?:get\s*(\d+)\s*wrong|配错\s*(\d+))"}


def count_errors(alt: str, name: str, root: ET.Element) -> list[str]:
    """Each count of lost or wrong targets the alt text gives a layout, against the drawing."""
    layouts = list(re.finditer("|".join(map(re.escape, _LAYOUTS)), alt))
    errors = []
    ends = [m.start() for m in layouts[1:]] + [len(alt)]
    for layout, end in zip(layouts, ends, strict=False):  # no layout named: no count
        clause = alt[layout.end() : end]
        for kind, rule in _COUNTS.items():
            for match in re.finditer(rule, clause):
                said = int(next(g for g in match.groups() if g))
                cells = [el for el in root.iter() if el.get("data-kind") == kind]
                count = sum(el.get("data-layout") == _LAYOUTS[layout[0]] for el in cells)
                if said != count:
                    errors.append(f"{name}: {layout[0]} {match[0]!r}, but it draws {count}")
    return errors


def alt_text_errors(alt: str, name: str, lang: str) -> list[str]:
    root = drawn(name, lang)
    return (
        number_errors(alt, name, lang, root)
        + direction_errors(alt, name, root)
        + count_errors(alt, name, root)
    )


IMAGES = [
    pytest.param(path, alt, name, id=f"{page_id(path)}:{name}")
    for path in MARKDOWN_PAGES
    for alt, name in _IMAGE.findall(path.read_text(encoding="utf-8"))
]


@pytest.mark.parametrize(("path", "alt", "name"), IMAGES)
def test_alt_text_states_what_the_diagram_draws(path, alt, name):
    assert name in DIAGRAMS, f"{page_id(path)} shows diagrams/{name}.svg, which no code draws"
    assert not alt_text_errors(alt, name, language(path))


@pytest.mark.parametrize(
    ("alt", "name", "lang", "wrong"),
    [
        ("(1, 2, 2) padded with (1, 1) to (1, 2, 4)", "pad-3d-2", "en", []),
        ("(1, 2, 2) padded with (1, 1) to (1, 2, 5)", "pad-3d-2", "en", ["(1, 2, 5) is not"]),
        ("padding of [0, 1, 2, 3]", "pad-crop", "en", []),
        ("padding of [0, 1, 2, 4]", "pad-crop", "en", ["[0, 1, 2, 4] is not"]),
        ("reflect: 2, 1 on the left and 2, 1 on the right", "pad-reflect-1d", "en", []),
        ("reflect: 1, 2 on the left and 2, 1 on the right", "pad-reflect-1d", "en", ["left"]),
        ("复制填充：左边 0、0，右边 3、3", "pad-replicate-1d", "zh", []),
        ("复制填充：左边 3、3，右边 0、0", "pad-replicate-1d", "zh", ["left", "right"]),
        ("0 被裁掉，1 和 2 循环到右边", "pad-crop", "zh", []),
        ("0 被裁掉，1 和 2 循环到左边", "pad-crop", "zh", ["left"]),
        ("3 is cropped, 1 and 2 are wrapped to the right", "pad-crop", "en", ["crops [0]"]),
        ("constant: zeros on both sides", "pad-constant-1d", "en", []),
        ("constant: 1 on both sides", "pad-constant-1d", "en", ["left", "right"]),
        ("the first position is ignored", "shift", "en", ["no rule reads 'first'"]),
        ("提示、回复和填充词元，以及它们移位前后的标签", "sft-labels", "zh", []),
        ("the labels after the shift", "sft-labels", "en", ["no rule reads 'after'"]),
        ("contiguous shards lose 1; load-balanced lose 1 and get 1 wrong", "parallel-shards",
         "en", []),
        ("contiguous shards lose 2; load-balanced lose 1 and get 1 wrong", "parallel-shards",
         "en", ["but it draws 1"]),
        ("连续切分丢失 1 个目标，负载均衡切分丢失 1 个目标、配错 2 个目标", "parallel-shards",
         "zh", ["but it draws 1"]),
    ],
)  # fmt: skip
def test_the_check_rejects_what_the_drawing_does_not_draw(alt, name, lang, wrong):
    errors = alt_text_errors(alt, name, lang)
    assert len(errors) == len(wrong) and all(w in e for w, e in zip(wrong, errors, strict=True))
