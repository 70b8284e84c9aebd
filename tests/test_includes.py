"""Each code include that prints is followed by its own output, titled in the page's language."""

from __future__ import annotations

import pytest

from page_structure import (
    MARKDOWN_PAGES,
    OUTPUT_TITLE,
    all_fences,
    language,
    page_id,
    recorded_output,
)


def _read(path):
    return path.read_text(encoding="utf-8")


def include_problems(text: str, lang: str) -> list[str]:
    """What is wrong with how a page pairs its code includes with their outputs."""
    problems = []
    fences = all_fences(text)
    for index, fence in enumerate(fences):
        include = fence.include
        if include is None:
            continue
        file, section = include
        following = fences[index + 1] if index + 1 < len(fences) else None
        if file.endswith(".py") and section and recorded_output(file, section).is_file():
            wanted = f"output/{file[:-3]}/{section}.txt"
            if following is None or following.include != (wanted, None):
                problems.append(
                    f"line {fence.line}: {file}:{section} prints, but the next block is not "
                    f'its output (```text title="{OUTPUT_TITLE[lang]}" + --8<-- "{wanted}")'
                )
        if file.startswith("output/"):
            previous = fences[index - 1].include if index else None
            code = (f"{file.split('/')[1]}.py", file.split("/")[2].removesuffix(".txt"))
            if previous != code:
                problems.append(f"line {fence.line}: {file} does not follow its code {code}")
            if fence.title != OUTPUT_TITLE[lang]:
                problems.append(
                    f'line {fence.line}: output titled {fence.title!r}, not "{OUTPUT_TITLE[lang]}"'
                )
    return problems


@pytest.mark.parametrize("path", MARKDOWN_PAGES, ids=page_id)
def test_each_code_include_is_followed_by_its_own_output(path):
    problems = include_problems(_read(path), language(path))
    assert not problems, "\n".join(problems)


GOOD = """
```python
--8<-- "loss.py:next_token"
```

```text title="{title}"
--8<-- "output/loss/next_token.txt"
```
"""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_check_accepts_a_section_shown_with_its_output(lang):
    assert include_problems(GOOD.format(title=OUTPUT_TITLE[lang]), lang) == []


@pytest.mark.parametrize(
    ("page", "lang", "wanted"),
    [
        # an output left out
        (GOOD.split("```text")[0], "en", "next block is not its output"),
        # another section's output after the code
        (GOOD.replace("output/loss/next_token", "output/loss/by_hand"), "en", "does not follow"),
        # a Chinese page that titles its output in English
        (GOOD.format(title="Output"), "zh", 'not "输出"'),
        (GOOD.format(title="输出"), "en", 'not "Output"'),
    ],
    ids=["missing", "other-section", "zh-titled-output", "en-titled-输出"],
)
def test_the_check_rejects(page, lang, wanted):
    problems = include_problems(page.replace("{title}", OUTPUT_TITLE[lang]), lang)
    assert any(wanted in p for p in problems), problems
