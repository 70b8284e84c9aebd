"""Gives Material's search dialog an accessible name, in the page's language.

Material renders ``<div class="md-search" role="dialog">`` without a name, so a screen reader
announces an unnamed dialog (axe-core's aria-dialog-name, checked by tests/test_browser.py).
"""

from __future__ import annotations

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.pages import Page

_SEARCH_DIALOG = '<div class="md-search" data-md-component="search" role="dialog">'
_LABEL = {"zh": "搜索", "en": "Search"}


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    label = _LABEL[config.theme["language"]]
    return output.replace(_SEARCH_DIALOG, _SEARCH_DIALOG.replace(">", f' aria-label="{label}">'), 1)
