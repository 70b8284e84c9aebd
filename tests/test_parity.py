"""docs/zh and docs/en hold the same pages, with the same anchors, code, snippets and diagrams."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
ZH, EN = DOCS / "zh", DOCS / "en"
PAGES = sorted(p.relative_to(ZH) for p in ZH.rglob("*.md"))
FENCE = re.compile(
    r"^(?P<indent> *)(?P<fence>```+)(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)\s*$",
    re.M | re.S,
)
HEADING = re.compile(r"^#{1,6} .*$", re.M)
ANCHOR = re.compile(r"\{ *#([\w-]+) *\}\s*$")
DIAGRAM = re.compile(r"\]\((diagrams/[\w.-]+\.svg)\)")


def _files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*") if p.suffix in {".md", ".ipynb"}}


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _without_fences(text: str) -> str:
    return FENCE.sub("", text)


def _code(text: str) -> list[tuple[str, str]]:
    """Each fence's language and body; comments and the (translated) title are left out."""
    blocks = []
    for match in FENCE.finditer(text):
        language = re.sub(r'\s*title="[^"]*"', "", match["info"]).strip()
        body = "\n".join(
            re.sub(r"\s*#.*$", "", line).rstrip() for line in match["body"].splitlines()
        )
        if language != "pycon":  # doctest lines are compared below, comments included
            blocks.append((language, body.strip()))
        else:
            blocks.append((language, match["body"].strip()))
    return blocks


def test_both_languages_have_the_same_pages():
    assert _files(ZH) == _files(EN)
    assert PAGES


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_headings_carry_the_same_explicit_anchors(page):
    zh, en = (HEADING.findall(_without_fences(_text(root / page))) for root in (ZH, EN))
    missing = [h for h in zh + en if not ANCHOR.search(h)]
    assert not missing, f"headings without an explicit {{ #anchor }}: {missing}"
    assert [ANCHOR.search(h)[1] for h in zh] == [ANCHOR.search(h)[1] for h in en]


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_pages_show_the_same_code_snippets_and_outputs(page):
    assert _code(_text(ZH / page)) == _code(_text(EN / page))


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_pages_show_the_same_diagrams(page):
    assert DIAGRAM.findall(_text(ZH / page)) == DIAGRAM.findall(_text(EN / page))


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_pages_show_the_same_api_entries(page):
    entries = [re.findall(r"^::: *([\w.]+)", _text(root / page), re.M) for root in (ZH, EN)]
    assert entries[0] == entries[1]


def _avoided_terms() -> dict[str, str]:
    """The glossary's "不用" column: a translation this site does not use → the one it does."""
    avoided = {}
    for row in re.findall(r"^\|(.+)\|\s*$", _text(ZH / "glossary.md"), re.M):
        cells = [c.strip() for c in row.split("|")]
        if len(cells) == 4 and cells[3] and cells[0] not in {"中文", "---"}:
            for term in re.split(r"[、,，]\s*", cells[3]):
                avoided[term] = cells[0]
    return avoided


def test_the_glossary_lists_avoided_translations():
    assert _avoided_terms().get("补齐") == "填充"


SNIPPETS_ZH = DOCS.parent / "snippets" / "zh"
# Pages and the Chinese comments and labels of their snippets (snippets/zh/*.toml).
CHINESE_TEXTS = [
    p for p in sorted(ZH.rglob("*.md")) + sorted(ZH.rglob("*.ipynb")) if p.name != "glossary.md"
] + sorted(SNIPPETS_ZH.glob("*.toml"))

# Avoided terms a file still uses while another change rewrites it, each with the rewrite due.
# An entry the file no longer needs fails too, so that it is removed with the rewrite.
NOT_YET_REWRITTEN: dict[str, set[str]] = {}


def _name(path: Path) -> str:
    return str(path.relative_to(ZH)) if path.is_relative_to(ZH) else path.name


@pytest.mark.parametrize("path", CHINESE_TEXTS, ids=_name)
def test_chinese_pages_use_the_glossary_terms(path):
    text = _text(path)
    used = {term: preferred for term, preferred in _avoided_terms().items() if term in text}
    allowed = NOT_YET_REWRITTEN.get(_name(path), set())
    assert set(used) >= allowed, (
        f"{_name(path)}: remove {allowed - set(used)} from NOT_YET_REWRITTEN"
    )
    used = {term: preferred for term, preferred in used.items() if term not in allowed}
    assert not used, f"{_name(path)} uses {used} (avoided → glossary term)"


def test_the_glossary_uses_its_own_terms_outside_the_avoid_column():
    """Its notes too, not only the pages: a quoted “…” mention of what not to write is no use."""
    text = re.sub(r"“[^”]*”", "", _text(ZH / "glossary.md"))
    # a table row without its last cell, the avoid column
    kept_text = "\n".join(
        row.rstrip().rstrip("|").rsplit("|", 1)[0] if row.startswith("|") else row
        for row in text.splitlines()
    )
    used = {term: preferred for term, preferred in _avoided_terms().items() if term in kept_text}
    assert not used, f"glossary.md uses {used} (avoided → glossary term)"


def test_the_glossary_check_reads_the_snippets_chinese():
    assert SNIPPETS_ZH / "sft.toml" in CHINESE_TEXTS
    assert "上转" in _avoided_terms() and "小批次" in _avoided_terms()


def _glossary_terms(root: Path) -> list[tuple[str, str]]:
    rows = re.findall(r"^\|([^|]+)\|([^|]+)\|", _text(root / "glossary.md"), re.M)
    return [(zh.strip(), en.strip()) for zh, en in rows[2:]]  # after the header and its rule


def test_both_glossaries_list_the_same_terms():
    assert _glossary_terms(ZH) == _glossary_terms(EN)
    assert ("填充", "padding") in _glossary_terms(ZH)
