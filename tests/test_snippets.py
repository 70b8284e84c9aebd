"""Every snippet runs, and the output each page shows is the output it really prints."""

from __future__ import annotations

import pytest
from snippet_sections import OUTPUTS, SNIPPETS, output_path, read_sections, run_sections

SNIPPET_FILES = sorted(SNIPPETS.glob("*.py"))


def test_there_are_snippets():
    assert SNIPPET_FILES, f"no snippet files in {SNIPPETS}"


@pytest.mark.parametrize("snippet", SNIPPET_FILES, ids=lambda p: p.name)
def test_recorded_output_matches_a_fresh_run(snippet, request):
    outputs = run_sections(snippet)
    update = request.config.getoption("--update-outputs")
    stale = []
    for section, text in outputs.items():
        recorded = output_path(snippet, section)
        if update:
            recorded.parent.mkdir(parents=True, exist_ok=True)
            if text:
                recorded.write_text(text, encoding="utf-8")
            else:
                recorded.unlink(missing_ok=True)
        elif text:
            assert recorded.is_file(), f"{recorded} missing: run `make update-outputs`"
            assert recorded.read_text(encoding="utf-8") == text, (
                f"{snippet.name}:{section} now prints something else than {recorded}; "
                "run `make update-outputs` and review the diff"
            )
    folder = OUTPUTS / snippet.stem
    if folder.is_dir():
        stale = [p.name for p in folder.iterdir() if p.stem not in outputs or not outputs[p.stem]]
    assert not stale, f"recorded outputs of sections that print nothing or no longer exist: {stale}"


@pytest.mark.parametrize("snippet", SNIPPET_FILES, ids=lambda p: p.name)
def test_section_names_are_unique(snippet):
    names = [s.name for s in read_sections(snippet)]
    assert len(names) == len(set(names)), names
