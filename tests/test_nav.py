"""Every page is in the nav, and every nav title has its English translation.

MkDocs only logs INFO for a page left out of ``nav`` (the strict build passes), and the i18n
plugin shows an untranslated title in Chinese on the English site without a word: a new page
must fail here instead. Each nav title is its page's H1, in both languages.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from page_structure import DOCS, ROOT, ZH


class _ConfigLoader(yaml.SafeLoader):
    """Reads mkdocs.yml without running its tags (``!ENV``, ``!!python/...``)."""


_ConfigLoader.add_multi_constructor("!", lambda loader, suffix, node: None)
_ConfigLoader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def load_config(text: str) -> dict:
    return yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 (a SafeLoader)


def nav_entries(nav: list) -> list[tuple[str, str]]:
    """``(title, page)`` of every page in a nav tree, sections included."""
    entries = []
    for item in nav:
        if isinstance(item, str):
            entries.append(("", item))
            continue
        for title, value in item.items():
            if isinstance(value, list):
                entries.append((title, ""))
                entries.extend(nav_entries(value))
            else:
                entries.append((title, value))
    return entries


def english_titles(config: dict) -> dict[str, str]:
    i18n = next(p["i18n"] for p in config["plugins"] if isinstance(p, dict) and "i18n" in p)
    english = next(lang for lang in i18n["languages"] if lang["locale"] == "en")
    return english.get("nav_translations", {})


def pages_left_out(config: dict, pages: list[str]) -> list[str]:
    listed = {page for _, page in nav_entries(config["nav"])}
    return [page for page in pages if page not in listed]


def untranslated_titles(config: dict) -> list[str]:
    translations = english_titles(config)
    return [title for title, _ in nav_entries(config["nav"]) if title and title not in translations]


def _config() -> dict:
    return load_config((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))


def _pages() -> list[str]:
    return sorted(
        p.relative_to(ZH).as_posix() for p in ZH.rglob("*") if p.suffix in {".md", ".ipynb"}
    )


def test_every_page_is_in_the_nav():
    left_out = pages_left_out(_config(), _pages())
    assert not left_out, f"add these pages to nav in mkdocs.yml: {left_out}"


def test_the_nav_names_only_pages_that_exist():
    for _, page in nav_entries(_config()["nav"]):
        assert not page or (DOCS / "zh" / page).is_file(), page


def test_every_nav_title_has_an_english_translation():
    missing = untranslated_titles(_config())
    assert not missing, f"add these titles to nav_translations (English) in mkdocs.yml: {missing}"


def test_every_translation_is_used():
    used = {title for title, _ in nav_entries(_config()["nav"])}
    assert set(english_titles(_config())) <= used


NEW_PAGE = "new-page.md"


def test_the_check_rejects_a_page_left_out_of_the_nav():
    assert pages_left_out(_config(), [*_pages(), NEW_PAGE]) == [NEW_PAGE]


def test_the_check_rejects_a_title_with_no_translation():
    config = _config()
    config["nav"].append({"新页面": NEW_PAGE})
    assert untranslated_titles(config) == ["新页面"]


# The home page's nav title is the site's "Home"; its H1 names the site.
_NOT_ITS_H1 = {"index.md"}


def page_h1(path: Path) -> str:
    """The text of a page's H1 (a notebook's, in its first Markdown cell), anchor left out."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = next("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = path.read_text(encoding="utf-8")
    heading = re.search(r"^# +(.*?)(?: *\{ *#[\w-]+ *\})? *$", text, re.M)
    return heading[1] if heading else ""


def titles_not_h1(config: dict) -> list[str]:
    """Each nav title (zh) and its English translation that is not its page's H1."""
    english = english_titles(config)
    wrong = []
    for title, page in nav_entries(config["nav"]):
        if not page or page in _NOT_ITS_H1:
            continue
        for lang, expected in (("zh", title), ("en", english.get(title, ""))):
            h1 = page_h1(DOCS / lang / page)
            if h1 != expected:
                wrong.append(f"{lang}/{page}: nav {expected!r}, H1 {h1!r}")
    return wrong


def test_every_nav_title_is_its_pages_h1_in_both_languages():
    wrong = titles_not_h1(_config())
    assert not wrong, "\n".join(wrong)


def test_the_check_rejects_a_nav_title_that_is_not_the_h1():
    config = _config()
    english = english_titles(config)
    english["损失逐行解析"] = "The loss, word by word"
    assert titles_not_h1(config) == [
        "en/loss.md: nav 'The loss, word by word', H1 'The loss, line by line'"
    ]


# --- the home page links every page of the nav ------------------------------------------------

_LINK = re.compile(r"\]\(([^)\s]+)\)")


def linked_pages(markdown: str) -> set[str]:
    """The pages a Markdown text links to, relative to docs/<lang>/ (anchor and query left out)."""
    targets = {re.split(r"[#?]", target)[0] for target in _LINK.findall(markdown)}
    return {target for target in targets if target and "://" not in target}


def pages_the_home_page_misses(config: dict, home: str) -> list[str]:
    linked = linked_pages(home)
    pages = [page for _, page in nav_entries(config["nav"]) if page and page != "index.md"]
    return [page for page in pages if page not in linked]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_home_page_links_every_page_of_the_nav(lang):
    home = (DOCS / lang / "index.md").read_text(encoding="utf-8")
    missing = pages_the_home_page_misses(_config(), home)
    assert not missing, f"docs/{lang}/index.md links none of {missing}"


def test_the_home_check_rejects_a_home_page_without_a_link():
    home = (DOCS / "en" / "index.md").read_text(encoding="utf-8")
    without = home.replace("](parallel.md)", "]")
    assert pages_the_home_page_misses(_config(), without) == ["parallel.md"]
    assert linked_pages("[a](explore/pad.md?shape=1,2&pad=1,1) [b](loss.md#x)") == {
        "explore/pad.md",
        "loss.md",
    }
