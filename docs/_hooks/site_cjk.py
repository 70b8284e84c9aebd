"""Joins Chinese lines that the Markdown source breaks, so the page shows no stray space.

A line break inside a paragraph renders as a space. Between two English words that is right;
between two Chinese characters ("原有的元素，\\n其余是…") it shows as a gap in the middle of a
sentence. This works on the rendered HTML, after Markdown and notebook Markdown alike, so it
covers paragraphs, lists, tables, admonitions, headings and notebook cells, and the search
index, which is built from the same HTML.

Only whitespace that holds a line break is removed, and only where both neighbours are Chinese
(a Han character or full-width punctuation), or where one of them is full-width punctuation,
which never takes a space beside it ("。\\n`[..., 1:]`", "`F.pad`\\n（下文"): "用\\n`F.pad`"
and "the\\nlabel" keep their space. Code is never touched.
"""

from __future__ import annotations

import re

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

# Han characters, CJK symbols and punctuation (、。「」), full-width forms (，：；（）！？).
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"
# Curly quotes, ellipsis and dash belong to Chinese only next to a Chinese character.
SHARED = "\u2018\u2019\u201c\u201d\u2026\u2014"
_CODE = re.compile(r"<(pre|code|script|style|textarea)\b.*?</\1>", re.S | re.I)
# Whitespace with a line break, maybe around inline tags ("重点</strong>\n之后"), between two
# Chinese characters; the first alternative needs a Han character on the left, the second on
# the right, so English text between curly quotes is left alone.
_BREAK = re.compile(
    rf"(?:(?<=[{CJK}])|(?<=[{SHARED}])(?=(?:\s|<[^<>]*>)*\n(?:\s|<[^<>]*>)*[{CJK}]))"
    rf"((?:\s|<[^<>]*>)*\n(?:\s|<[^<>]*>)*)(?=[{CJK}{SHARED}])"
)
# Full-width punctuation (，。：；、（）「」…) on either side of a line break, whatever is on the
# other side: code, a link, a Latin word. The text may end or start at a code element.
PUNCT = "\u3001-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
_PUNCT_BREAK = re.compile(
    rf"(?<=[{PUNCT}])((?:\s|<[^<>]*>)*\n(?:\s|<[^<>]*>)*)"
    rf"|((?:\s|<[^<>]*>)*\n(?:\s|<[^<>]*>)*)(?=[{PUNCT}])"
)
_TAG = re.compile(r"<[^<>]*>")


def _join(text: str) -> str:
    text = _BREAK.sub(lambda match: "".join(_TAG.findall(match[1])), text)
    return _PUNCT_BREAK.sub(lambda match: "".join(_TAG.findall(match[0])), text)


def join_cjk_lines(html: str) -> str:
    """Removes each line break (and the spaces around it) between two Chinese characters.

    Args:
        html: Rendered HTML; the contents of ``pre``, ``code``, ``script``, ``style`` and
            ``textarea`` elements are kept as they are.

    Returns:
        The same HTML without those line breaks.
    """
    parts, start = [], 0
    for code in _CODE.finditer(html):
        parts += [_join(html[start : code.start()]), code[0]]
        start = code.end()
    return "".join(parts) + _join(html[start:])


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    return join_cjk_lines(html)
