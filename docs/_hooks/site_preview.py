"""Lets `make serve` rebuild only the page that was edited (``mkdocs serve --dirty``), strictly.

A dirty build reads and renders only the pages whose source is newer than their output, so a
one-page edit no longer rebuilds every page, notebook and diagram of both languages. Two things
make it work with this site:

- MkDocs logs a warning at the start of every dirty build, which ``strict: true`` would turn
  into a failed build; that one warning is dropped (the writer asked for a dirty build), and
  every other warning still fails it.
- The edited page's cross-references to the API pages (autorefs) need the targets that
  mkdocstrings registers while it renders the API pages, which a dirty build skips; the
  targets registered by earlier builds of this server are carried over, for identifiers the
  current build did not register itself.

Neither applies outside a dirty serve: `make build` and the tests never build dirty. A dirty
preview's search index holds only the pages it rebuilt (MkDocs warns that a dirty build is
for previews only); restart `make serve` to search the whole site.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import jinja2
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import Files

sys.path.insert(0, str(Path(__file__).parent))
import preview_state  # noqa: E402

_DIRTY_WARNING = "A 'dirty' build is being performed"


def _not_the_dirty_warning(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith(_DIRTY_WARNING)


def on_startup(command: str, dirty: bool) -> None:
    preview_state.dirty = command == "serve" and dirty
    if preview_state.dirty:
        logging.getLogger("mkdocs.commands.build").addFilter(_not_the_dirty_warning)


@event_priority(-40)  # before mkdocs-autorefs (-50) resolves the cross-references
def on_env(env: jinja2.Environment, config: MkDocsConfig, files: Files) -> jinja2.Environment:
    if preview_state.dirty:
        lang = config.plugins["i18n"].current_language
        autorefs = config.plugins["autorefs"]
        for carried, current in (
            (preview_state.primary_urls, autorefs._primary_url_map),
            (preview_state.secondary_urls, autorefs._secondary_url_map),
        ):
            for identifier, urls in carried.get(lang, {}).items():
                current.setdefault(identifier, urls)
            carried[lang] = {identifier: list(urls) for identifier, urls in current.items()}
    return env
