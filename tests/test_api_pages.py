"""Every public name of every public module of lmloss has an entry on both API pages."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import re
import unicodedata

import pytest

import lmloss
from page_structure import LANGUAGES

_ENTRY = re.compile(r"^::: *([\w.]+)", re.M)


def public_modules() -> list[str]:
    """The modules a reader imports: every module of lmloss that declares ``__all__`` and has
    no part of its name starting with ``_``."""
    found = ["lmloss"] + [m.name for m in pkgutil.walk_packages(lmloss.__path__, "lmloss.")]
    public = [name for name in found if not any(p.startswith("_") for p in name.split("."))]
    return [name for name in public if hasattr(importlib.import_module(name), "__all__")]


def public_names() -> list[str]:
    """Dotted names of everything the public modules export (``__all__``)."""
    names = []
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        names += [f"{module_name}.{name}" for name in module.__all__]
    return names


def _resolve(dotted: str) -> object:
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError:
        module, _, name = dotted.rpartition(".")
        return getattr(importlib.import_module(module), name)


def documented(api_page: str) -> list[object]:
    """What the page's ``::: name`` entries show: each object, and a module's ``__all__``."""
    shown = []
    for entry in _ENTRY.findall(api_page):
        obj = _resolve(entry)
        shown += [obj] + [getattr(obj, name) for name in getattr(obj, "__all__", [])]
    return shown


def missing_entries(api_page: str, names: list[str]) -> list[str]:
    """Names whose object no entry shows, under this name or another public one
    (``lmloss.loss.causal_lm_loss`` is shown by ``::: lmloss.causal_lm_loss``)."""
    shown = documented(api_page)
    return [name for name in names if not any(_resolve(name) is obj for obj in shown)]


def test_the_public_names_are_found():
    assert {"lmloss", "lmloss.diagrams", "lmloss.sft", "lmloss.parallel", "lmloss.ranks"} <= set(
        public_modules()
    )
    assert "lmloss.causal_lm_loss" in public_names()
    assert "lmloss.diagrams.pad_svg" in public_names()
    assert "lmloss.ranks.run_on_ranks" in public_names()


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


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_the_check_rejects_an_api_page_without_a_module_entry(lang):
    page = (LANGUAGES[lang] / "api.md").read_text(encoding="utf-8")
    names = public_names()

    def newly_missing(entry: str) -> set[str]:
        without = page.replace(f"::: {entry}\n", "")
        assert without != page, f"docs/{lang}/api.md has no `::: {entry}` to delete"
        return set(missing_entries(without, names)) - set(missing_entries(page, names))

    assert newly_missing("lmloss.ranks") == {"lmloss.ranks.run_on_ranks"}
    assert newly_missing("lmloss.sft") == {
        "lmloss.sft",
        "lmloss.sft.collate",
        "lmloss.sft.labels_from_mask",
        "lmloss.sft.pack",
    }


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


# --- Returns sections render as one value ------------------------------------------------------


def _python_handler_options() -> dict:
    from test_nav import _config

    plugins = _config()["plugins"]
    mkdocstrings = next(
        p["mkdocstrings"] for p in plugins if isinstance(p, dict) and "mkdocstrings" in p
    )
    return mkdocstrings["handlers"]["python"]["options"]


def split_returns(options: dict) -> list[str]:
    """Public callables whose ``Returns`` section mkdocstrings, configured by ``options``, shows
    as several items: a description continued on a second line becomes an item of its own."""
    import griffe

    package = griffe.load(
        "lmloss",
        search_paths=["src"],
        docstring_parser=options["docstring_style"],
        docstring_options=options.get("docstring_options", {}),
    )
    split = []
    for dotted, _ in _public_objects():
        docstring = package[dotted.removeprefix("lmloss.")].docstring
        sections = docstring.parsed if docstring else []
        if any(s.kind.value == "returns" and len(s.value) > 1 for s in sections):
            split.append(dotted)
    return split


def test_each_returns_section_is_one_value():
    assert split_returns(_python_handler_options()) == []


def test_the_returns_check_finds_explain_pads_split_description():
    """Without ``returns_multiple_items: false`` the second line of explain_pad's Returns was a
    second ``str`` item."""
    options = {**_python_handler_options(), "docstring_options": {}}
    assert "lmloss.explain_pad" in split_returns(options)


# --- every public function is introduced in the page's language --------------------------------

_INTRO = {"en": "`{name}`:", "zh": "`{name}`："}


def functions_without_a_paragraph(api_page: str, lang: str) -> list[str]:
    """Public functions (not classes or modules) that no paragraph or list item of the page
    introduces (``\\`name\\`:`` at its start) in the text just before the entry showing them:
    the docstrings are English on both pages, so this paragraph says what the function does
    and when to use it."""
    parts = _ENTRY.split(api_page)  # prose, entry, prose, entry, ...
    introduced: dict[int, str] = {}
    for prose, entry in zip(parts[::2], parts[1::2], strict=False):
        for obj in documented(f"::: {entry}\n"):
            introduced.setdefault(id(obj), prose)
    missing = []
    for dotted in public_names():
        obj = _resolve(dotted)
        if not inspect.isfunction(obj):
            continue
        intro = _INTRO[lang].format(name=dotted.rpartition(".")[2])
        prose = introduced.get(id(obj), "")
        if not re.search(rf"^(?:- )?{re.escape(intro)}", prose, re.M):
            missing.append(dotted)
    return missing


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_every_public_function_has_its_paragraph_before_its_entry(lang):
    page = (LANGUAGES[lang] / "api.md").read_text(encoding="utf-8")
    assert functions_without_a_paragraph(page, lang) == []


def test_the_paragraph_check_finds_a_function_with_none():
    page = "`pad_shape`: computes a shape.\n\n::: lmloss.pad_shape\n\n::: lmloss.chat\n"
    missing = functions_without_a_paragraph(page, "en")
    assert "lmloss.pad_shape" not in missing
    assert {"lmloss.chat.assistant_mask", "lmloss.chat.template_behaviours"} <= set(missing)
    late = "::: lmloss.pad_shape\n\n`pad_shape`: computes a shape, but after its entry.\n"
    assert "lmloss.pad_shape" in functions_without_a_paragraph(late, "en")
