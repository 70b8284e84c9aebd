"""Binds a claim test to the sentence it backs: the test fails when a page stops saying it.

A claim test checks a library's behaviour; ``assert_page_says`` checks that the pages still
state that behaviour, in each language, in the section named. Whitespace is ignored, so a
sentence may be wrapped anywhere.
"""

from __future__ import annotations

from page_structure import LANGUAGES, parse


def section_prose(page: str, lang: str, anchor: str) -> str:
    """The prose of section ``#anchor`` of ``docs/<lang>/<page>``, every whitespace removed."""
    text = (LANGUAGES[lang] / page).read_text(encoding="utf-8")
    found = [s for s in parse(text) if s.anchor == anchor]
    assert found, f"docs/{lang}/{page} has no section #{anchor}"
    return "".join("".join(line.split()) for _, line in found[0].prose)


def assert_page_says(page: str, anchor: str, **phrases: str) -> None:
    """Each language's page (``en=...``, ``zh=...``) says its phrase in section ``#anchor``."""
    assert set(phrases) == set(LANGUAGES), f"give the phrase in {sorted(LANGUAGES)}"
    for lang, phrase in phrases.items():
        said = section_prose(page, lang, anchor)
        assert "".join(phrase.split()) in said, (
            f"docs/{lang}/{page}#{anchor} no longer says {phrase!r}"
        )
