"""Every snippet runs, and the output each page shows is the output it really prints.

Chinese pages show each snippet with Chinese comments and printed labels (snippets/zh/*.toml);
the code is the same, and where the Chinese version prints something else, that is recorded too.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import unicodedata
from pathlib import Path

import pytest

from snippet_sections import OUTPUTS, SNIPPETS, output_path, read_sections, run_sections
from snippet_source import (
    Translation,
    code_tokens,
    comments,
    needs_translation,
    translate,
    translation,
    translation_path,
)

SNIPPET_FILES = sorted(SNIPPETS.glob("*.py"))
MAX_COLUMNS = 76


@functools.cache
def printed(snippet: Path, lang: str = "en") -> dict[str, str]:
    """What each section prints in ``lang``: run once per test session, for both tests below."""
    return run_sections(snippet, lang)


def test_there_are_snippets():
    assert SNIPPET_FILES, f"no snippet files in {SNIPPETS}"


def _check_or_record(snippet, outputs: dict[str, str], lang: str, update: bool) -> None:
    english = None if lang == "en" else printed(snippet)
    for section, text in outputs.items():
        recorded = output_path(snippet, section, lang)
        # A translation is recorded only where it prints something else than the English.
        wanted = text if english is None or text != english[section] else ""
        if update:
            recorded.parent.mkdir(parents=True, exist_ok=True)
            if wanted:
                recorded.write_text(wanted, encoding="utf-8")
            else:
                recorded.unlink(missing_ok=True)
        elif wanted:
            assert recorded.is_file(), f"{recorded} missing: run `make update-outputs`"
            assert recorded.read_text(encoding="utf-8") == wanted, (
                f"{snippet.name}:{section} ({lang}) now prints something else than {recorded}; "
                "run `make update-outputs` and review the diff"
            )
        else:
            assert not recorded.exists(), f"{recorded} is stale: run `make update-outputs`"


@pytest.mark.parametrize("snippet", SNIPPET_FILES, ids=lambda p: p.name)
def test_recorded_output_matches_a_fresh_run(snippet, request):
    update = request.config.getoption("--update-outputs")
    outputs = printed(snippet)
    _check_or_record(snippet, outputs, "en", update)
    folder = OUTPUTS / snippet.stem
    if folder.is_dir():
        stale = [p.name for p in folder.iterdir() if p.name.split(".")[0] not in outputs]
        assert not stale, f"recorded outputs of sections that no longer exist: {stale}"


@pytest.mark.parametrize("snippet", SNIPPET_FILES, ids=lambda p: p.name)
def test_chinese_version_prints_what_is_recorded(snippet, request):
    """Only snippets whose printed strings are translated can print something else."""
    update = request.config.getoption("--update-outputs")
    if translation(snippet.stem, "zh").strings:
        _check_or_record(snippet, printed(snippet, "zh"), "zh", update)
    else:
        assert not list((OUTPUTS / snippet.stem).glob("*.zh.txt")), "stale Chinese outputs"


@pytest.mark.parametrize("snippet", SNIPPET_FILES, ids=lambda p: p.name)
def test_section_names_are_unique(snippet):
    names = [s.name for s in read_sections(snippet)]
    assert len(names) == len(set(names)), names


@pytest.mark.parametrize("snippet", SNIPPET_FILES, ids=lambda p: p.name)
def test_both_languages_run_the_same_code(snippet):
    """Equal token for token, once comments and string literals are set aside."""
    for en, zh in zip(read_sections(snippet), read_sections(snippet, "zh"), strict=True):
        assert code_tokens(en.code) == code_tokens(zh.code), f"{snippet.name}:{en.name}"


@pytest.mark.parametrize("snippet", SNIPPET_FILES, ids=lambda p: p.name)
def test_every_comment_shown_has_its_chinese(snippet):
    table = translation(snippet.stem, "zh")
    shown = {c.string[1:].strip() for s in read_sections(snippet) for c in comments(s.code)}
    missing = sorted(c for c in shown if needs_translation(c) and c not in table.comments)
    assert not missing, f"add these to {translation_path(snippet.stem, 'zh')} [comments]: {missing}"
    unused = sorted(set(table.comments) - shown)
    assert not unused, (
        f"entries of {translation_path(snippet.stem, 'zh')} no comment uses: {unused}"
    )
    code = "".join(s.code for s in read_sections(snippet))
    unused_strings = sorted(
        english
        for english, chinese in table.strings.items()
        if translate(code, Translation({}, {english: chinese})) == code
    )
    assert not unused_strings, (
        f"[strings] entries that replace nothing inside a string literal: {unused_strings}"
    )


def test_strings_entries_replace_text_in_string_literals_only():
    """Not in names, and not in the code inside an f-string's braces."""
    table = Translation({}, {"of": "共", '"en"': '"zh"'})
    code = 'x = F.log_softmax(y)\nprint("of", f"{offset} of {n:>{of}}", pad(lang="en"))\n'
    assert translate(code, table) == (
        'x = F.log_softmax(y)\nprint("共", f"{offset} 共 {n:>{of}}", pad(lang="zh"))\n'
    )


def test_no_translation_without_its_snippet():
    tables = {p.stem for p in (SNIPPETS / "zh").glob("*.toml")}
    assert tables <= {p.stem for p in SNIPPET_FILES}


def columns(line: str) -> int:
    """How many columns a code line takes: CJK characters are two Latin columns wide."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


@pytest.mark.parametrize("snippet", SNIPPET_FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_code_lines_fit_the_column(snippet, lang):
    """77 Latin columns fit a code block at 1280 px (tests/test_browser.py measures it)."""
    wide = [
        f"{section.name}: {line}"
        for section in read_sections(snippet, lang)
        for line in section.code.splitlines()
        if columns(line) > MAX_COLUMNS
    ]
    assert not wide, f"lines over {MAX_COLUMNS} columns:\n" + "\n".join(wide)


# Entries whose Chinese is deliberately not Chinese text, each with its reason.
NOT_CHINESE = {
    "F.pad(labels, (0, 1), value=-100)[..., 1:]": "a comment that is code, the same in both",
    "ignore_index=-100": "a comment that is code, the same in both",
    '"en"': 'the Chinese page calls explain_pad with lang="zh"',
}
_CHINESE = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]")  # CJK, full-width punctuation


def not_chinese(table: dict[str, str]) -> list[str]:
    """Entries of a [comments] or [strings] table whose Chinese side has no Chinese in it."""
    return [
        f"{english!r} = {chinese!r}"
        for english, chinese in table.items()
        if not _CHINESE.search(chinese) and english not in NOT_CHINESE
    ]


@pytest.mark.parametrize("snippet", SNIPPET_FILES, ids=lambda p: p.name)
def test_every_translation_is_chinese(snippet):
    table = translation(snippet.stem, "zh")
    found = not_chinese(table.comments) + not_chinese(table.strings)
    assert not found, (
        f"{translation_path(snippet.stem, 'zh')}: translate, or list in NOT_CHINESE: {found}"
    )


def test_the_translation_check_rejects_english_mapped_to_english():
    assert not_chinese({"the vocabulary size": "the vocabulary size"}) == [
        "'the vocabulary size' = 'the vocabulary size'"
    ]
    assert not_chinese({"mean: ": "平均值: ", "}: {modes}": "}：{modes}"}) == []


def _verify_history():
    path = SNIPPETS.parent / "tests" / "history" / "verify_history.py"
    spec = importlib.util.spec_from_file_location("verify_history", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_chinese_history_table_has_the_english_tables_rows():
    """The zh page's table is the recorded one with Chinese labels (make verify-history writes
    both; this keeps them in step offline)."""
    history = _verify_history()
    english = history.TABLE.read_text(encoding="utf-8")
    rows = history.recorded_cells(english)
    assert history.render(rows, "en") == english
    chinese = history.TABLES["zh"].read_text(encoding="utf-8")
    assert history.render(rows, "zh") == chinese
    assert "yes" not in chinese and "no " not in chinese and "是" in chinese
