"""Turns the TeX that ``pymdownx.arithmatex`` (generic mode) leaves in a page into MathML.

Browsers render MathML natively, so formulas need no script and no third-party host:
``$...$`` becomes inline ``<math>``, ``$$...$$`` a ``<math display="block">``, at build time.
"""

from __future__ import annotations

import html
import re

from latex2mathml.converter import convert
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

# arithmatex's generic output: <span class="arithmatex">\(…\)</span>, <div …>\[…\]</div>.
_MATH = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">\\(?P<open>[(\[])(?P<tex>.*?)\\[)\]]</(?P=tag)>', re.S
)


def _to_mathml(match: re.Match[str]) -> str:
    tex = " ".join(html.unescape(match["tex"]).split())
    display = "block" if match["open"] == "[" else "inline"
    mathml = convert(tex, display=display)
    # The TeX stays in alttext, for assistive technology.
    mathml = mathml.replace("<math ", f'<math alttext="{html.escape(tex)}" ', 1)
    # A wide formula scrolls in its own box instead of widening the page on a phone.
    return f'<div class="math-block">{mathml}</div>' if display == "block" else mathml


def on_page_content(html_text: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    return _MATH.sub(_to_mathml, html_text)
