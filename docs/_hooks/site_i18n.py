"""Repairs what mkdocs-static-i18n breaks in mkdocstrings and in Material.

Each fix guards a silent failure that ``tests/test_site.py`` checks on the built site.
"""

from __future__ import annotations

import re

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.pages import Page

# Material fetches sitemap.xml beside every <link rel="alternate" hreflang> target; static-i18n
# points those links at pages, so each page load made two requests that fail with 404. The
# sitemap itself lists each page's language alternates.
_HREFLANG_LINK = re.compile(r'\s*<link rel="alternate" href="[^"]*" hreflang="[^"]*">')


@event_priority(100)  # before mkdocstrings reads the locale
def on_config(config: MkDocsConfig) -> MkDocsConfig:
    # mkdocstrings takes its locale from theme.language, which static-i18n switches only
    # after mkdocstrings has read it: the English API page came out with Chinese titles.
    config.plugins["mkdocstrings"].config.locale = config.plugins["i18n"].current_language
    return config


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    return _HREFLANG_LINK.sub("", output)
