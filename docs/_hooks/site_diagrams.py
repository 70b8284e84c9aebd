"""Draws every diagram of the site from ``lmloss`` at build time, in each language.

A page shows a diagram with one line, ``![alt text](diagrams/NAME.svg)`` (relative to the
language folder); adding a diagram means adding one entry to ``DIAGRAMS``.
"""

from __future__ import annotations

from collections.abc import Callable

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

from lmloss.diagrams import pad_svg

DIAGRAMS: dict[str, Callable[[str], str]] = {
    # The seed's picture: (1, 2, 2) padded on all three dimensions → (2, 3, 4).
    "pad-3d": lambda lang: pad_svg((1, 2, 2), (1, 1, 0, 1, 1, 0), lang=lang),
}


@event_priority(-200)  # after static-i18n has chosen the build language
def on_files(files: Files, config: MkDocsConfig) -> Files:
    i18n = config.plugins["i18n"]
    lang = i18n.current_language
    prefix = "" if lang == i18n.default_language else f"{lang}/"
    for name, draw in DIAGRAMS.items():
        svg = File.generated(config, f"{lang}/diagrams/{name}.svg", content=draw(lang))
        svg.dest_path = f"{prefix}diagrams/{name}.svg"
        svg.url = svg.dest_path
        files.append(svg)
    return files
