"""Every public name of lmloss and lmloss.diagrams has an entry on both API pages."""

from __future__ import annotations

import importlib
import re

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
