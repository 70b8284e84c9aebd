"""Repairs what mkdocs-static-i18n breaks in mkdocstrings.

The fix guards a silent failure that ``tests/test_site.py`` checks on the built site.
"""

from __future__ import annotations

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority


@event_priority(100)  # before mkdocstrings reads the locale
def on_config(config: MkDocsConfig) -> MkDocsConfig:
    # mkdocstrings takes its locale from theme.language, which static-i18n switches only
    # after mkdocstrings has read it: the English API page came out with Chinese titles.
    config.plugins["mkdocstrings"].config.locale = config.plugins["i18n"].current_language
    return config
