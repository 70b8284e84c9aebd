"""MkDocs hook: the scripts and styles of the interactive explorers (docs/*/explore/).

Each language gets ``explore/pad.js``, ``explore/labels.js`` and ``explore/explore.css``, built
from the sources in ``docs/_explore/``. Each script starts with the words of the page's language,
taken from the Python modules that print and draw the same things (``lmloss.explain``,
``lmloss.diagrams``), so the explorer and the rest of the site cannot drift apart.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

sys.path.insert(0, str(Path(__file__).parent))
from build_cache import cached, key  # noqa: E402

SOURCES = Path(__file__).resolve().parents[1] / "_explore"


# lmloss is imported when a script is built, not here: a build that finds the scripts in the
# cache (build_cache.py) never imports it, nor torch.
def _pad_texts(lang: str) -> dict[str, Any]:
    from lmloss import explain
    from lmloss.diagrams import pad

    return {"explain": explain._TEXT[lang], "pad": pad._TEXT[lang]}


def _label_texts(lang: str) -> dict[str, Any]:
    from lmloss.diagrams import sft

    return {"sft": sft._TEXT[lang]}


# Each generated file: the texts it starts with (per language) and its sources, in order.
BUNDLES: dict[str, tuple[Callable[[str], dict[str, Any]] | None, tuple[str, ...]]] = {
    "pad.js": (_pad_texts, ("pad-rules.js", "pad-view.js", "pad-ui.js")),
    "labels.js": (_label_texts, ("labels-rules.js", "labels-ui.js")),
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
    for name, (_, sources) in BUNDLES.items():
        inputs = [SOURCES / source for source in sources]
        content = cached("explorers", key(f"{name}.{lang}", inputs),
                         lambda name=name: bundle(name, lang))
        generated = File.generated(config, f"{lang}/explore/{name}", content=content)
        generated.dest_path = f"{prefix}explore/{name}"
        generated.url = generated.dest_path
        files.append(generated)
    return files
