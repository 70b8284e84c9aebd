"""Chinese typography: no stray space on the built pages, and the copywriting linter on the source.

A line break inside a Chinese paragraph renders as a space; docs/_hooks/site_cjk.py joins such
lines at build time. The checks here read the built site, so they hold whatever the Markdown,
notebook or template did. The linter (autocorrect, the `autocorrect-py` package) checks the
source against the style guide: spaces between Chinese and Latin letters or digits, full-width
punctuation in Chinese sentences.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import autocorrect_py as autocorrect
import pytest

from site_cjk import PUNCT, join_cjk_lines

ROOT = Path(__file__).resolve().parents[1]
DOCS_ZH = ROOT / "docs" / "zh"
AUTOCORRECT_CONFIG = (ROOT / "tests" / "autocorrectrc.yml").read_text(encoding="utf-8")
ZH_SOURCES = sorted([*DOCS_ZH.rglob("*.md"), *DOCS_ZH.rglob("*.ipynb")])
HAN = "\u3400-\u4dbf\u4e00-\u9fff"
CJK = f"{HAN}\u3000-\u303f\uff00-\uffef"
# Whitespace between two Chinese characters; U+200B, which the search index puts between the
# words it segments, is not whitespace and may stand beside it.
STRAY_SPACE = re.compile(f"[{CJK}]\u200b?\\s+\u200b?[{CJK}]")
# Full-width punctuation never takes a space beside it, whatever the other side is.
SPACE_BY_PUNCT = re.compile(f"[{PUNCT}]\u200b?\\s+\\S|\\S\\s+\u200b?[{PUNCT}]")
# The index keeps code as HTML: a block's line breaks are the code's own, and the spaces around
# inline code are the usual Chinese-Latin spacing; code is read as one Latin letter.
_CODE = re.compile(r"<pre>.*?</pre>|<code>.*?</code>", re.S)


@pytest.mark.parametrize(
    "html, expected",
    [
        ("<p>原有的元素，\n  其余是</p>", "<p>原有的元素，其余是</p>"),
        ("<li>是<strong>填充</strong>\n的值</li>", "<li>是<strong>填充</strong>的值</li>"),
        ("<td>形状\n（1, 2）</td>", "<td>形状（1, 2）</td>"),
        ("<p>这叫\n“填充”</p>", "<p>这叫“填充”</p>"),
        # Full-width punctuation takes no space, whatever is on the other side.
        ("<p>取出。\n<code>x[1:]</code>\n（下文）</p>", "<p>取出。<code>x[1:]</code>（下文）</p>"),
        (
            "<p>见<a href='#a'>上文</a>、\n<a href='#b'>下文</a></p>",
            "<p>见<a href='#a'>上文</a>、<a href='#b'>下文</a></p>",
        ),
        # A space between Chinese and Latin text or code stays, as the style guide wants.
        ("<p>用\n<code>F.pad</code>\n补齐</p>", "<p>用\n<code>F.pad</code>\n补齐</p>"),
        ("<p>the\nlabels, “said”\n“so”</p>", "<p>the\nlabels, “said”\n“so”</p>"),
        ("<p>中文 中文</p>", "<p>中文 中文</p>"),  # on one line: the linter's business
        (
            "<pre><code># 中\n# 文\n中\n文</code></pre>",
            "<pre><code># 中\n# 文\n中\n文</code></pre>",
        ),
    ],
)
def test_line_breaks_are_joined_only_between_chinese_characters(html, expected):
    assert join_cjk_lines(html) == expected


class _BlockTexts(HTMLParser):
    """The text of each block (paragraph, list item, cell, heading…) as a reader sees it.

    Code is replaced by a mark, so a space beside inline code is not taken for a stray one.
    """

    BLOCKS = {
        "p",
        "li",
        "td",
        "th",
        "dt",
        "dd",
        "div",
        "blockquote",
        "summary",
        "details",
        "figcaption",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "table",
        "tr",
        "article",
        "section",
        "nav",
        "header",
        "footer",
        "label",
        "button",
        "br",
    }
    SKIPPED = {"pre", "code", "script", "style", "svg", "math", "textarea"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._current = ""
        self._skipping: list[str] = []
        self.feed(text)
        self._flush()

    def _flush(self):
        if self._current.strip():
            self.texts.append(self._current)
        self._current = ""

    def handle_starttag(self, tag, attrs):
        if self._skipping:
            self._skipping += [tag] if tag == self._skipping[0] else []
        elif tag in self.SKIPPED:
            self._skipping = [tag]
            self._current += "\u2400"  # inline code: a visible, non-Chinese mark
        elif tag in self.BLOCKS:
            self._flush()

    def handle_endtag(self, tag):
        if self._skipping:
            if tag == self._skipping[0]:
                self._skipping.pop()
        elif tag in self.BLOCKS:
            self._flush()

    def handle_data(self, data):
        if not self._skipping:
            self._current += data


def _chinese_built_pages(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("index.html")
        if not {"en", "assets", "search"} & set(p.relative_to(root).parts)
    )


def _stray_spaces(text: str) -> list[str]:
    found = [*STRAY_SPACE.finditer(text), *SPACE_BY_PUNCT.finditer(text)]
    return [text[max(0, m.start() - 12) : m.end() + 12] for m in found]


def test_chinese_pages_show_no_space_between_chinese_characters(built_site):
    pages = _chinese_built_pages(built_site.root)
    assert len(pages) == len(ZH_SOURCES)
    found = {
        page.parent.relative_to(built_site.root).as_posix(): strays
        for page in pages
        if (
            strays := [
                s
                for text in _BlockTexts(page.read_text(encoding="utf-8")).texts
                for s in _stray_spaces(text)
            ]
        )
    }
    assert not found, _report(found)


def _report(found: dict[str, list[str]]) -> str:
    return "stray spaces:\n" + "\n".join(
        f"{where}: {stray!r}" for where, strays in found.items() for stray in strays
    )


def test_search_index_has_no_space_between_chinese_characters(built_site):
    index = json.loads(
        (built_site.root / "search" / "search_index.json").read_text(encoding="utf-8")
    )
    chinese = [doc for doc in index["docs"] if not doc["location"].startswith("en/")]
    assert any(re.search(f"[{HAN}]", doc["text"]) for doc in chinese)
    found = {
        doc["location"]: strays
        for doc in chinese
        if (strays := _stray_spaces(doc["title"]) + _stray_spaces(_CODE.sub("x", doc["text"])))
    }
    assert not found, _report(found)


def _chinese_markdown() -> list[tuple[str, str]]:
    """Each Chinese Markdown source: the pages, and each Markdown cell of the notebooks."""
    sources = []
    for path in ZH_SOURCES:
        name = path.relative_to(ROOT).as_posix()
        if path.suffix == ".md":
            sources.append((name, path.read_text(encoding="utf-8")))
        else:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            sources += [
                (f"{name} cell {i}", "".join(c["source"]))
                for i, c in enumerate(cells)
                if c["cell_type"] == "markdown"
            ]
    return sources


# autocorrect leaves inline code alone, spacing included: a Han character touching a code span
# ("形状为`(1, 2)`的") is found here. Fenced code is blanked first, line numbers kept.
_FENCE = re.compile(r"^( *)(`{3,}|~{3,}).*?^\1\2[ \t]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(?<!`)(`+)[^`].*?(?<!`)\1(?!`)")
_HAN_CHAR = re.compile(f"[{HAN}]")


def _lint(text: str) -> list[str]:
    autocorrect.load_config(AUTOCORRECT_CONFIG)
    found = [
        f"line {r.line}: {r.old.strip()!r} -> {r.new.strip()!r}"
        for r in autocorrect.lint_for(text, "page.md").lines
    ]
    prose = _FENCE.sub(lambda fence: re.sub("[^\n]", "", fence[0]), text)
    for number, line in enumerate(prose.splitlines(), start=1):
        found += [
            f"line {number}: no space between code and Chinese: {line[max(0, m.start() - 1) : m.end() + 1]!r}"
            for m in _CODE_SPAN.finditer(line)
            if _HAN_CHAR.fullmatch(line[m.start() - 1 : m.start()] or "x")
            or _HAN_CHAR.fullmatch(line[m.end() : m.end() + 1] or "x")
        ]
    return found


@pytest.mark.parametrize(
    "name, text", _chinese_markdown(), ids=lambda value: value if "\n" not in value else ""
)
def test_chinese_source_passes_the_copywriting_linter(name, text):
    found = _lint(text)
    assert not found, f"{name}:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "bad",
    [
        "用F.pad补齐",  # no space between Chinese and Latin
        "形状为`(1, 2)`的张量",  # nor beside inline code
        "补齐后,再取切片.",  # half-width punctuation in a Chinese sentence
        "补齐 ，再取切片",  # a space before full-width punctuation
    ],
)
def test_the_linter_catches_what_the_style_guide_rules_out(bad):
    assert _lint(bad)


@pytest.mark.parametrize(
    "good",
    [
        "宽度可以变成 0：4 个元素全部裁掉",
        "```python\nx = F.pad(a,(1,1))  # 补齐a的两边\n```\n",
        "形状 `(1, 2, 2)` 和 `F.pad(a,(1,1))`。",
    ],
)
def test_the_linter_leaves_code_and_numbers_alone(good):
    assert _lint(good) == []


# What the code prints on a Chinese page: its labels follow the page's punctuation. A table
# whose labels differ in width pads before the full-width colon, never after it.
ZH_OUTPUTS = sorted(
    [*ROOT.glob("snippets/output/*/*.zh.txt"), *ROOT.glob("snippets/history/*.zh.txt")]
)
# A library's message stays as the library prints it, from its exception name to the line's end.
_LIBRARY_MESSAGE = re.compile(r"\b[\w.]*(?:Error|Exception|Warning)\b.*")
_OUTPUT_RULES = {
    "a space after a full-width colon": re.compile("：[ \t]"),
    "a space before full-width punctuation other than a colon": re.compile("[ \t][，；。、]"),
    # ASCII punctuation that ends a Chinese label: "计入: 8", "词表大小 128, 层数 2"; the
    # commas of a tuple or list after it ("形状 (1, 2)", "：constant, reflect") are code.
    "ASCII punctuation after Chinese": re.compile(
        f"[{HAN}][^:,;()\\[\\]'\"：，；。\n]*[,;:](?:\\s|$)"
    ),
}
# Outputs another change rewrites, with the lines it must fix; an entry no longer needed fails.
OUTPUTS_NOT_YET_REWRITTEN: dict[str, list[int]] = {}


def _punctuation_errors(text: str) -> list[tuple[int, str]]:
    return [
        (number, why)
        for number, line in enumerate(text.splitlines(), start=1)
        for why, rule in _OUTPUT_RULES.items()
        if rule.search(_LIBRARY_MESSAGE.sub("", line))
    ]


@pytest.mark.parametrize("path", ZH_OUTPUTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_chinese_outputs_follow_the_pages_punctuation(path):
    name = path.relative_to(ROOT).as_posix()
    found = _punctuation_errors(path.read_text(encoding="utf-8"))
    expected = OUTPUTS_NOT_YET_REWRITTEN.get(name, [])
    assert [number for number, _ in found] == expected, f"{name}: {found}"


@pytest.mark.parametrize(
    "bad",
    ["计入: 8", "计入：8 ，位置数：6", "计入： 8", "词表大小 128, 层数 2", "手算的平均值   : 10.6"],
)
def test_the_output_check_catches_english_punctuation_in_chinese_labels(bad):
    assert _punctuation_errors(bad)


@pytest.mark.parametrize(
    "good",
    [
        "手算的平均值   ：10.6097",
        "F.pad(x, (1, 1)) 作用于形状 (1, 2, 2)：1 个数对",
        "2 维输入：constant, reflect",
        "torch 报错：RuntimeError: narrow(): length must be non-negative.",
        "labels != -100         : 9",
    ],
)
def test_the_output_check_leaves_code_and_library_messages_alone(good):
    assert _punctuation_errors(good) == []
