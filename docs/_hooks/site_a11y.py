"""Readability and accessibility repairs to the HTML that Material and mkdocs-jupyter write.

Each is checked in tests/test_browser.py (axe-core and measurements at 375 and 1280 px):
- Material renders ``<div class="md-search" role="dialog">`` without a name, so a screen
  reader announces an unnamed dialog (aria-dialog-name);
- a box that scrolls sideways on a phone (a code block, a notebook code cell, a formula, a
  table) must be reachable by keyboard, or it could not be scrolled without a pointer
  (scrollable-region-focusable). A table is made focusable itself: Material wraps it in the
  box that scrolls at run time, and a table announces itself, so it needs no label. Material gives a scrolling code block ``tabindex`` at run time,
  but takes it away on screens without hover (phones), so here the block's ``<pre>``, which
  readable.html makes the box that scrolls, is made focusable and named at build time;
- printed output keeps each line whole, so a tensor's rows stay aligned (on a phone the block
  scrolls sideways), except a line too long for the desktop column (an error message), which is
  marked to wrap, as it would otherwise make the block scroll on every screen.
"""

from __future__ import annotations

import html
import re
import unicodedata

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

_SEARCH_DIALOG = '<div class="md-search" data-md-component="search" role="dialog">'
_LABEL = {"zh": "搜索", "en": "Search"}
_NOTEBOOK_CODE = '<div class="highlight-ipynb'
_CODE_LABEL = {"zh": "代码", "en": "Code"}
_FORMULA = '<div class="math-block">'
_FORMULA_LABEL = {"zh": "公式", "en": "Formula"}
_TABLE = "<table>"

# A code block as pymdownx.highlight writes it, with its title if it has one.
_BLOCK = re.compile(
    r'(?P<open><div class="language-(?P<lang>[\w-]+) highlight">'
    r'(?:<span class="filename">(?P<title>[^<]*)</span>)?)'
    r"<pre>(?P<head>.*?)<code>(?P<code>.*?)</code></pre>",
    re.S,
)
# Printed text: output and quoted messages (text), doctest sessions (pycon). Code is kept
# within 76 columns (tests/test_snippets.py, tests/test_api_pages.py) and never wraps.
_PRINTED = {"text", "pycon"}
WRAP_COLUMNS = 76
"""A printed line wider than this wraps: it would not fit the column at 1280 px."""
_TAG = re.compile(r"<[^>]*>")


def columns(line_html: str) -> int:
    """Width of a line of highlighted HTML in monospace columns (a CJK character takes two).

    >>> columns('<span class="go">(1, 2, 4)</span>'), columns("a &lt; b"), columns("损失 1")
    (9, 5, 6)
    """
    text = html.unescape(_TAG.sub("", line_html))
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _wrap_long_lines(code: str) -> str:
    lines = code.split("\n")
    for i, line in enumerate(lines):
        # A line inside a token that spans lines (an open <span>) is left whole.
        balanced = line.count("<span") == line.count("</span>")
        if balanced and columns(line) > WRAP_COLUMNS:
            lines[i] = f'<span class="wrap-line">{line}</span>'
    return "\n".join(lines)


def _repair_block(match: re.Match[str], lang: str) -> str:
    code = match["code"]
    if match["lang"] in _PRINTED:
        code = _wrap_long_lines(code)
    label = match["title"] or html.escape(_CODE_LABEL[lang])
    return (
        f'{match["open"]}<pre tabindex="0" role="region" aria-label="{label}">'
        f"{match['head']}<code>{code}</code></pre>"
    )


def on_page_content(html_: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    lang = config.theme["language"]
    html_ = _BLOCK.sub(lambda m: _repair_block(m, lang), html_)
    html_ = html_.replace(
        _FORMULA,
        f'<div class="math-block" tabindex="0" role="region" aria-label="{_FORMULA_LABEL[lang]}">',
    )
    html_ = html_.replace(_TABLE, '<table tabindex="0">')
    return html_.replace(_NOTEBOOK_CODE, '<div tabindex="0" class="highlight-ipynb')


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    label = _LABEL[config.theme["language"]]
    return output.replace(_SEARCH_DIALOG, _SEARCH_DIALOG.replace(">", f' aria-label="{label}">'), 1)
