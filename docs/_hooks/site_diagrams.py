"""Draws every diagram of the site from ``lmloss`` at build time, in each language.

A page shows a diagram with one line, ``![alt text](diagrams/NAME.svg)`` (relative to the
language folder); adding a diagram means adding one entry to ``DIAGRAMS``. Each entry names the
snippet section of its page whose variables it draws (``snippets/<stem>.py``, run up to and
including that section), so a diagram shows the tensors the page's code builds and prints,
never a second, hand-typed copy of them.

A drawn diagram is kept in the build cache (``build_cache.py``), keyed by the bytes of its
snippet (or recorded output), of the hooks and of ``lmloss``: a build runs a snippet again only
when one of them changed. The tests draw each diagram themselves (``DIAGRAMS[name](lang)``).
"""

from __future__ import annotations

import contextlib
import io
import math
import random
import re
import sys
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

sys.path.insert(0, str(Path(__file__).parent))
from build_cache import cached, key  # noqa: E402
from snippet_source import SNIPPETS, read_sections  # noqa: E402

# torch and lmloss.diagrams are imported where a diagram is drawn, not here: a build that finds
# every diagram in the cache (build_cache.py) never imports them (about a second).

Variables = Mapping[str, Any]


@cache
def _run(stem: str, section: str, alone: bool, mtime: float) -> dict[str, Any]:
    path = SNIPPETS / f"{stem}.py"
    sections = read_sections(path)
    names = [s.name for s in sections]
    if section not in names:
        raise ValueError(f"{path.name} has no section {section!r}; it has {names}")
    import torch

    torch.manual_seed(0)  # as tests/snippet_sections.py runs the snippets
    random.seed(0)
    namespace: dict[str, Any] = {"__name__": "__snippet__"}
    with contextlib.redirect_stdout(io.StringIO()):
        last = names.index(section)
        for code in sections[last : last + 1] if alone else sections[: last + 1]:
            exec(code.compiled(path), namespace)
    return namespace


def snippet_variables(stem: str, section: str, *, alone: bool = False) -> Variables:
    """The variables of ``snippets/<stem>.py`` after running it up to ``section`` (cached).

    ``alone`` runs that section only, for one that needs nothing before it and follows
    sections too slow to run at every build (the parallel page launches processes).
    """
    path = SNIPPETS / f"{stem}.py"
    return _run(stem, section, alone, path.stat().st_mtime)


class Diagram:
    """A diagram drawn from the variables of one snippet section: ``draw(variables, lang)``.

    ``recorded=True`` draws from what the section printed instead (its recorded output), for a
    section too slow to run at every build.

    (A plain class: MkDocs and the tests load this hook without registering it as a module,
    which ``dataclass`` needs.)
    """

    def __init__(
        self, snippet: str, section: str, draw: Callable[[Any, str], str], *,
        alone: bool = False, recorded: bool = False,
    ):
        self.snippet, self.section, self.draw = snippet, section, draw
        self.alone, self.recorded = alone, recorded

    def inputs(self) -> list[Path]:
        """The files its drawing reads (besides the code, which build_cache keys on)."""
        if self.recorded:
            return [SNIPPETS / "output" / self.snippet / f"{self.section}.txt"]
        return [SNIPPETS / f"{self.snippet}.py"]

    def __call__(self, lang: str) -> str:
        if self.recorded:  # draw(what the section printed, as recorded and tested, lang)
            output = SNIPPETS / "output" / self.snippet / f"{self.section}.txt"
            return self.draw(output.read_text(encoding="utf-8"), lang)
        variables = snippet_variables(self.snippet, self.section, alone=self.alone)
        return self.draw(variables, lang)


def _pad(tensor: str, pad: str, mode: str = "constant", *, values: bool = False,
         value: str | None = None, pick: int | None = None, result: str | None = None,
         ) -> Callable[[Variables, str], str]:
    """``pad_svg`` of the tensor named ``tensor`` padded by the tuple named ``pad``.

    ``pick`` takes one entry of a list of tuples; ``value`` names the fill value's variable;
    ``result`` names the padded tensor the page prints, which the drawing must equal.
    """

    def draw(v: Variables, lang: str) -> str:
        import torch
        import torch.nn.functional as F

        from lmloss.diagrams import pad_svg

        x, p = v[tensor], v[pad] if pick is None else v[pad][pick]
        fill = None if value is None else v[value]
        if result is not None and not torch.equal(F.pad(x, p, mode, fill), v[result]):
            raise ValueError(f"the diagram of F.pad({tensor}, {p}) is not {result}")
        return pad_svg(tuple(x.shape), p, mode, lang, values=x if values else None,
                       value=fill)

    return draw


def _pairs(pick: int) -> Callable[[Variables, str], str]:
    def draw(v: Variables, lang: str) -> str:
        from lmloss.diagrams import pad_pairs_svg

        return pad_pairs_svg(tuple(v["a"].shape), v["PADS"][pick], lang=lang)

    return draw


def _sft_labels(v: Variables, lang: str) -> str:
    from lmloss.diagrams import sft_batch_svg

    # The short example is a prompt up to "Assistant:", then the response; the batch is
    # padded with the EOS token, the last token of every response.
    short = v["short"]
    split = short.index("Assistant:") + 1
    examples = [(v["prompt"], v["response"]), (short[:split], short[split:])]
    return sft_batch_svg(examples, v["VOCAB"], v["response"][-1], row=1, lang=lang)


def _labels(v: Variables, lang: str) -> str:
    import torch
    import torch.nn.functional as F

    from lmloss.diagrams import pad_svg

    labels, pad, value = v["labels"], (0, 1), -100
    if not torch.equal(F.pad(labels, pad, value=value), v["padded"]):
        raise ValueError("the label diagram's F.pad(labels, (0, 1), value=-100) is not padded")
    return pad_svg(tuple(labels.shape), pad, lang=lang, values=labels, value=value)



def _shift(v: Variables, lang: str) -> str:
    from lmloss.diagrams import shift_svg

    return shift_svg(v["tokens"], v["input_ids"][0], lang=lang)


def _shards(v: Variables, lang: str) -> str:
    from lmloss.diagrams.parallel import shard_targets_svg

    return shard_targets_svg(v["ids"], v["world_size"], lang=lang)


def _memory_stages(output: str, lang: str) -> str:
    from lmloss.diagrams import memory_stages_svg

    return memory_stages_svg(output, lang=lang)


MODES = ("constant", "reflect", "replicate", "circular")

DIAGRAMS: dict[str, Diagram] = {
    # pad-basics: the seed's picture, (1, 2, 2) padded on all three dimensions → (2, 3, 4).
    "pad-3d": Diagram("pad_basics", "pad6",
                      _pad("a", "pad", values=True, value="IGNORE_INDEX", result="pad6")),
    # pad-basics: the 2- and 4-entry steps, each under its own output.
    **{f"pad-basics-{step.removeprefix('pad')}": Diagram("pad_basics", step, _pad(
        "a", "pad", values=True, value="IGNORE_INDEX", result=step)) for step in ("pad2", "pad4")},
    # pad-modes: each pair of the tuple and its dimension, for 2, 4 and 6 entries.
    **{f"pad-pairs-{2 * (i + 1)}": Diagram("pad_modes", "rule", _pairs(i)) for i in range(3)},
    **{f"pad-3d-{2 * (i + 1)}": Diagram("pad_modes", "rule", _pad("a", "PADS", pick=i))
       for i in range(3)},
    # the values each mode writes, in 1-D, 2-D and 3-D, as the page's snippets print them;
    **{f"pad-{mode}-1d": Diagram("pad_modes", "modes_1d", _pad("row", "pad", mode, values=True))
       for mode in MODES},
    **{f"pad-{mode}-2d": Diagram("pad_modes", "modes_2d", _pad("grid", "pad", mode, values=True))
       for mode in MODES},
    "pad-reflect-3d": Diagram("pad_modes", "modes_3d",
                              _pad("cube", "pad", "reflect", values=True)),
    # pad-edge-cases: cropping, a fill value told apart from the input, the label padding.
    "pad-crop": Diagram("pad_edge_cases", "crop", _pad("row", "crop", "circular", values=True)),
    "pad-values-3d": Diagram("pad_edge_cases", "value_3d",
                             _pad("cube", "pad", values=True, value="fill")),
    # The page keeps the seed's line, F.pad(labels, (0, 1), value=-100), as it is written:
    # the diagram draws the same call and must equal the snippet's result.
    "pad-labels": Diagram("pad_edge_cases", "shift", _labels),
    # loss: the seed's sentence, which logits are scored against which shifted label.
    "shift": Diagram("loss", "next_token", _shift),
    # sft: the short example padded by lmloss.sft.collate; prompt, response, padding.
    "sft-labels": Diagram("sft", "collate", _sft_labels),
    # parallel: which targets each rank keeps when it shifts its own shard.
    "parallel-shards": Diagram("parallel", "cp_shards", _shards, alone=True),
    # memory: the stages of the loss as the page's snippet measured them. Measuring at every
    # build would be slow; the recorded output is checked against a fresh run by the tests.
    "memory-stages": Diagram("memory", "measure", _memory_stages, recorded=True),
}


@event_priority(-200)  # after static-i18n has chosen the build language
def on_files(files: Files, config: MkDocsConfig) -> Files:
    i18n = config.plugins["i18n"]
    lang = i18n.current_language
    prefix = "" if lang == i18n.default_language else f"{lang}/"
    for name, diagram in DIAGRAMS.items():
        content = cached("diagrams", key(f"{name}.{lang}.svg", diagram.inputs()),
                         lambda diagram=diagram: diagram(lang))
        svg = File.generated(config, f"{lang}/diagrams/{name}.svg", content=content)
        svg.dest_path = f"{prefix}diagrams/{name}.svg"
        svg.url = svg.dest_path
        files.append(svg)
    return files


MIN_TEXT_PX = 10
"""The smallest a diagram's text may be drawn on a phone or tablet: a wide diagram is scaled
down to the column only so far, and scrolls sideways in its box beyond that. (On a wider
screen readable.html lets it shrink to the column rather than hide its right edge.)"""
_FONT_SIZE = re.compile(r"font-size:\s*([\d.]+)px")
_SVG_WIDTH = re.compile(r'<svg [^>]*width="([\d.]+)"')
_DIAGRAM_IMG = re.compile(r'<img [^>]*src="(?P<src>[^"]*diagrams/(?P<name>[\w.-]+)\.svg)"[^>]*>')


def min_width(svg: str) -> int:
    """The narrowest width, in CSS pixels, at which the diagram's smallest text is MIN_TEXT_PX.

    >>> min_width('<svg width="650" height="9"><style>svg{font-size:13px}.n{font-size:12px}')
    542
    """
    smallest = min(float(size) for size in _FONT_SIZE.findall(svg))
    return math.ceil(float(_SVG_WIDTH.search(svg)[1]) * min(1.0, MIN_TEXT_PX / smallest))


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Each diagram links to its SVG (tapping it opens the SVG alone, to zoom) and gets its
    minimum width as ``--min-width``, which readable.html applies on narrow screens (the link
    scrolls sideways, and the keyboard reaches a link)."""
    lang = config.plugins["i18n"].current_language

    def link(m: re.Match[str]) -> str:
        svg = files.get_file_from_path(f"{lang}/diagrams/{m['name']}.svg").content_string
        img = m[0].replace("<img ", f'<img style="--min-width: {min_width(svg)}px" ', 1)
        return f'<a class="diagram" href="{m["src"]}">{img}</a>'

    return _DIAGRAM_IMG.sub(link, html)
