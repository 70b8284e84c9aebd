"""Draws every diagram of the site from ``lmloss`` at build time, in each language.

A page shows a diagram with one line, ``![alt text](diagrams/NAME.svg)`` (relative to the
language folder); adding a diagram means adding one entry to ``DIAGRAMS``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from lmloss.diagrams import pad_pairs_svg, pad_svg, sft_batch_svg, shift_svg
from lmloss.diagrams.memory import memory_stages_svg

# "I love beautiful flower . <eos>" in the toy vocabulary of pad-basics and loss.
SEED_TOKENS = ("I", "love", "beautiful", "flower", ".", "<eos>")
SEED_IDS = (40, 1842, 4950, 15607, 13, 2)
# sft: the page's two examples, (prompt, response) in its toy vocabulary; padding is <eos>.
SFT_VOCAB = {"<eos>": 2, "User:": 10, "What": 11, "is": 12, "2+2": 13, "?": 14,
             "Assistant:": 15, "It": 16, "4": 17, ".": 18}
SFT_EXAMPLES = (
    (("User:", "What", "is", "2+2", "?", "Assistant:"), ("It", "is", "4", ".", "<eos>")),
    (("User:", "2+2", "?", "Assistant:"), ("4", "<eos>")),
)
# pad-modes: one channel of 3 x 3 padded 1 left, 2 right, 2 on top, 1 at the bottom.
GRID, GRID_PAD = (1, 3, 3), (1, 2, 2, 1)

DIAGRAMS: dict[str, Callable[[str], str]] = {
    # The seed's picture: (1, 2, 2) padded on all three dimensions → (2, 3, 4).
    "pad-3d": lambda lang: pad_svg((1, 2, 2), (1, 1, 0, 1, 1, 0), lang=lang),
    # F.pad in depth (pad-modes.md): each pair of the tuple and its dimension, 2/4/6 entries;
    "pad-pairs-2": lambda lang: pad_pairs_svg((1, 2, 2), (1, 1), lang=lang),
    "pad-pairs-4": lambda lang: pad_pairs_svg((1, 2, 2), (1, 1, 0, 1), lang=lang),
    "pad-pairs-6": lambda lang: pad_pairs_svg((1, 2, 2), (1, 1, 0, 1, 1, 0), lang=lang),
    "pad-3d-2": lambda lang: pad_svg((1, 2, 2), (1, 1), lang=lang),
    "pad-3d-4": lambda lang: pad_svg((1, 2, 2), (1, 1, 0, 1), lang=lang),
    # the values each mode writes, in 1-D, 2-D and 3-D, as the page's snippets print them;
    "pad-constant-1d": lambda lang: pad_svg((1, 4), (2, 2), "constant", lang, values=True),
    "pad-constant-2d": lambda lang: pad_svg(GRID, GRID_PAD, "constant", lang, values=True),
    "pad-reflect-1d": lambda lang: pad_svg((1, 4), (2, 2), "reflect", lang, values=True),
    "pad-reflect-2d": lambda lang: pad_svg(GRID, GRID_PAD, "reflect", lang, values=True),
    "pad-replicate-1d": lambda lang: pad_svg((1, 4), (2, 2), "replicate", lang, values=True),
    "pad-replicate-2d": lambda lang: pad_svg(GRID, GRID_PAD, "replicate", lang, values=True),
    "pad-circular-1d": lambda lang: pad_svg((1, 4), (2, 2), "circular", lang, values=True),
    "pad-circular-2d": lambda lang: pad_svg(GRID, GRID_PAD, "circular", lang, values=True),
    "pad-values-3d": lambda lang: pad_svg(
        (1, 2, 2), (1, 1, 0, 1, 1, 0), lang=lang, values=True, value=-1),
    "pad-reflect-3d": lambda lang: pad_svg((2, 2, 3), (1, 2, 1, 0), "reflect", lang, values=True),
    # cropping, and the label padding the loss does.
    "pad-crop": lambda lang: pad_svg((1, 4), (-1, 2), "circular", lang, values=True),
    "pad-labels": lambda lang: pad_svg(
        (2, 3), (0, 1), lang=lang, values=[[40, 1842, 4950], [15607, 13, 2]], value=-100),
    # The seed's sentence: which logits are scored against which shifted label.
    "shift": lambda lang: shift_svg(SEED_TOKENS, SEED_IDS, lang=lang),
    # SFT (sft.md): the short example padded by lmloss.sft.collate; prompt, response, padding.
    "sft-labels": lambda lang: sft_batch_svg(SFT_EXAMPLES, SFT_VOCAB, "<eos>", row=1, lang=lang),
    # The memory page: the stages of the loss as its snippet measured them (measure.txt).
    "memory-stages": lambda lang: memory_stages_svg((Path(__file__).parents[2] / "snippets"
                                                     / "output/memory/measure.txt").read_text(),
                                                    lang=lang),
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


# On a phone a wide diagram is scaled down; tapping it opens the SVG alone, to zoom.
_DIAGRAM_IMG = re.compile(r'<img [^>]*src="(?P<src>[^"]*diagrams/[\w.-]+\.svg)"[^>]*>')


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    return _DIAGRAM_IMG.sub(lambda m: f'<a class="diagram" href="{m["src"]}">{m[0]}</a>', html)
