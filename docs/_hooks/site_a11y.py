"""Accessibility repairs to the HTML that Material and mkdocs-jupyter write.

Each is checked by axe-core in tests/test_browser.py:
- Material renders ``<div class="md-search" role="dialog">`` without a name, so a screen
  reader announces an unnamed dialog (aria-dialog-name);
- a notebook code cell that scrolls sideways (on a phone) cannot be reached by keyboard, so
  it could not be scrolled without a mouse (scrollable-region-focusable). Material makes its
  own code blocks focusable the same way.
"""

from __future__ import annotations

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

_SEARCH_DIALOG = '<div class="md-search" data-md-component="search" role="dialog">'
_LABEL = {"zh": "搜索", "en": "Search"}
_NOTEBOOK_CODE = '<div class="highlight-ipynb'


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    return html.replace(_NOTEBOOK_CODE, '<div tabindex="0" class="highlight-ipynb')


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    label = _LABEL[config.theme["language"]]
    return output.replace(_SEARCH_DIALOG, _SEARCH_DIALOG.replace(">", f' aria-label="{label}">'), 1)
