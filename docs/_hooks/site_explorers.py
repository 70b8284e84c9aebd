"""MkDocs hook: the scripts and styles of the interactive explorers (docs/*/explore/).

Each language gets ``explore/pad.js``, ``explore/labels.js`` and ``explore/explore.css``, built
from the sources in ``docs/_explore/``. Each script starts with the words of the page's language,
taken from the Python modules that print and draw the same things (``lmloss.explain``,
``lmloss.diagrams``), so the explorer and the rest of the site cannot drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

from lmloss import explain
from lmloss.diagrams import pad, sft

SOURCES = Path(__file__).resolve().parents[1] / "_explore"
# Each generated file: the texts it starts with (per language) and its sources, in order.
BUNDLES = {
    "pad.js": (lambda lang: {"explain": explain._TEXT[lang], "pad": pad._TEXT[lang]},
               ("pad-rules.js", "pad-view.js", "pad-ui.js")),
    "labels.js": (lambda lang: {"sft": sft._TEXT[lang]}, ("labels-rules.js", "labels-ui.js")),
    "explore.css": (None, ("explore.css",)),
}


def bundle(name: str, lang: str) -> str:
    """The content of the generated file ``name`` for ``lang``."""
    texts, sources = BUNDLES[name]
    parts = [(SOURCES / source).read_text(encoding="utf-8") for source in sources]
    if texts is not None:
        words = json.dumps(texts(lang), ensure_ascii=False, separators=(",", ":"))
        parts.insert(0, f"var LMLOSS_TEXT = {words};\n")
    return "".join(parts)


@event_priority(-200)  # after static-i18n has chosen the build language
def on_files(files: Files, config: MkDocsConfig) -> Files:
    i18n = config.plugins["i18n"]
    lang = i18n.current_language
    prefix = "" if lang == i18n.default_language else f"{lang}/"
    for name in BUNDLES:
        generated = File.generated(config, f"{lang}/explore/{name}", content=bundle(name, lang))
        generated.dest_path = f"{prefix}explore/{name}"
        generated.url = generated.dest_path
        files.append(generated)
    return files
