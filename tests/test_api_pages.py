"""Every public name of lmloss and lmloss.diagrams has an entry on both API pages."""

from __future__ import annotations

import doctest
import importlib
import re
import unicodedata

import pytest

from page_structure import LANGUAGES

PUBLIC_MODULES = ["lmloss", "lmloss.diagrams"]
_ENTRY = re.compile(r"^::: *([\w.]+)", re.M)


def public_names() -> list[str]:
    """Dotted names of everything the public modules export (``__all__``)."""
    names = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        assert hasattr(module, "__all__"), f"{module_name} has no __all__"
        names += [f"{module_name}.{name}" for name in module.__all__]
    return names


def missing_entries(api_page: str, names: list[str]) -> list[str]:
    """Names with no ``::: name`` entry (a module's entry shows its members too)."""
    entries = set(_ENTRY.findall(api_page))
    return [name for name in names if name not in entries]


def test_the_public_names_are_found():
    assert "lmloss.causal_lm_loss" in public_names()
    assert "lmloss.diagrams.pad_svg" in public_names()


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_every_public_name_has_an_api_entry(lang):
    page = (LANGUAGES[lang] / "api.md").read_text(encoding="utf-8")
    missing = missing_entries(page, public_names())
    assert not missing, f"docs/{lang}/api.md has no `::: name` entry for {missing}"


def test_the_check_rejects_a_page_without_an_entry():
    page = "::: lmloss.pad_shape\n\n::: lmloss.sft\n"
    assert missing_entries(page, ["lmloss.pad_shape", "lmloss.sft", "lmloss.explain_pad"]) == [
        "lmloss.explain_pad"
    ]


COLUMNS = 76  # the page's code column at 1280 px, as for the snippets


def columns(line: str) -> int:
    """Width in monospace columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line)


def long_example_lines(obj: object) -> list[str]:
    """The lines of ``obj``'s docstring examples, as the API page shows them, over COLUMNS."""
    shown = []
    for test in doctest.DocTestFinder(recurse=False).find(obj):
        for example in test.examples:
            lines = example.source.splitlines()
            shown += [(">>> " if i == 0 else "... ") + line for i, line in enumerate(lines)]
            shown += example.want.splitlines() + (example.exc_msg or "").splitlines()
    return [line for line in shown if columns(line) > COLUMNS]


def _public_objects() -> list[tuple[str, object]]:
    objects = []
    for dotted in public_names():
        module, _, name = dotted.rpartition(".")
        obj = getattr(importlib.import_module(module), name)
        members = [getattr(obj, n) for n in getattr(obj, "__all__", [])]
        objects += [(dotted, obj)] + [(f"{dotted}.{m.__name__}", m) for m in members]
    return objects


@pytest.mark.parametrize(
    "dotted, obj", _public_objects(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_docstring_examples_fit_the_code_column(dotted, obj):
    assert long_example_lines(obj) == []


def test_the_column_check_counts_chinese_as_two_columns():
    def example():
        """Example.

        >>> print("一" * 39)
        一一一一一一一一一一一一一一一一一一一一一一一一一一一一一一一一一一一一一一一
        """

    assert long_example_lines(example) == ["一" * 39]
