"""Shows snippet code in the page's language: Chinese comments and printed labels on zh pages.

A page includes code the same way in both languages (``--8<-- "loss.py:next_token"``); on a
page in another language than English this hook puts in the translated section first (see
``snippet_source.py``), and points a text include (an output, the loss page's history table)
at ``<name>.<lang>.txt`` where one is recorded: where the translated code prints something else,
or where tests/history/verify_history.py writes the table with Chinese labels. English pages
are left to pymdownx.snippets.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

sys.path.insert(0, str(Path(__file__).parent))
from snippet_source import SNIPPETS, read_sections  # noqa: E402

_INCLUDE = re.compile(r'^(?P<indent> *)--8<-- "(?P<file>[^":]+)(?::(?P<section>[\w-]+))?"\s*$', re.M)


def _include(match: re.Match[str], lang: str, read: dict[str, dict[str, str]]) -> str:
    file, section, indent = match["file"], match["section"], match["indent"]
    if file.endswith(".py"):
        if file not in read:  # translated once per page, not once per include
            read[file] = {s.name: s.code for s in read_sections(SNIPPETS / file, lang)}
        sections = read[file]
        if section not in sections:
            raise ValueError(f"{file} has no section {section!r}; it has {sorted(sections)}")
        return "".join(indent + line if line.strip() else line
                       for line in sections[section].splitlines(keepends=True)).rstrip("\n")
    if file.endswith(".txt"):
        translated = Path(file[: -len(".txt")] + f".{lang}.txt")
        if (SNIPPETS / translated).is_file():
            return f'{indent}--8<-- "{translated.as_posix()}"'
    return match[0]


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    lang = config.plugins["i18n"].current_language
    if lang == "en":
        return markdown
    read: dict[str, dict[str, str]] = {}
    return _INCLUDE.sub(lambda m: _include(m, lang, read), markdown)
