"""A diagram's alt text states what the diagram draws: each number and shape in it is one the
snippet section that draws the diagram shows (its code, the code before it, or its output).

The diagram itself is drawn from that section's variables (docs/_hooks/site_diagrams.py), so a
number in the alt text that the section does not have is not in the drawing either.
"""

from __future__ import annotations

import importlib.util
import re

import pytest

from page_structure import DOCS, MARKDOWN_PAGES, language, page_id, shown_code
from prose_numbers import stated
from snippet_sections import OUTPUTS, ROOT
from test_prose import is_shown

_IMAGE = re.compile(r"!\[([^\]]*)\]\(diagrams/([\w.-]+)\.svg\)")


def _diagrams() -> dict:
    spec = importlib.util.spec_from_file_location(
        "site_diagrams", ROOT / "docs" / "_hooks" / "site_diagrams.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DIAGRAMS


DIAGRAMS = _diagrams()


def drawn_from(name: str, lang: str) -> tuple[str, str]:
    """What the section drawing diagram ``name`` shows: its code, and its code with what it printed."""
    diagram = DIAGRAMS[name]
    code = shown_code(f"{diagram.snippet}.py", None, lang)  # the sections before it make its input
    output = OUTPUTS / diagram.snippet / f"{diagram.section}.txt"
    translated = output.with_suffix(f".{lang}.txt")
    printed = (translated if translated.is_file() else output).read_text(encoding="utf-8")
    own = shown_code(f"{diagram.snippet}.py", diagram.section, lang)
    return code, own + "\n" + printed if output.is_file() else own


def alt_text_errors(alt: str, name: str, lang: str) -> list[str]:
    code, shown = drawn_from(name, lang)
    return [
        f"{name}: {number}"
        for _, number in stated(alt)
        if not is_shown(number, shown + "\n" + code, code)
    ]


IMAGES = [
    pytest.param(path, alt, name, id=f"{page_id(path)}:{name}")
    for path in MARKDOWN_PAGES
    for alt, name in _IMAGE.findall(path.read_text(encoding="utf-8"))
]


@pytest.mark.parametrize(("path", "alt", "name"), IMAGES)
def test_alt_text_numbers_are_the_drawing_sections(path, alt, name):
    assert name in DIAGRAMS, f"{page_id(path)} shows diagrams/{name}.svg, which no code draws"
    assert not alt_text_errors(alt, name, language(path))


def test_the_check_rejects_a_number_the_drawing_does_not_have():
    assert alt_text_errors("(1, 2, 2) padded with (1, 1) to (1, 2, 4)", "pad-3d-2", "en") == []
    assert alt_text_errors("(1, 2, 2) padded with (1, 1) to (1, 2, 5)", "pad-3d-2", "en") == [
        "pad-3d-2: (1, 2, 5)"
    ]
    assert DOCS.is_dir()
