"""The parser that finds the page fences pytest runs, including the ones MkDocs nests."""

from __future__ import annotations

from docs_plugin import DocsMarkdown, unindent_containers

PAGE = """\
Intro.

!!! note "In an admonition"
    Text.

    ```python
    x = 1
    ```

=== "Tab one"

    ```python
    y = 2
    ```

    ??? tip
        ```python
        z = 3
        ```

```python
--8<-- "pad_basics.py:setup"
```
"""


def _fences(text: str) -> list[tuple[int, str]]:
    return [
        (t.map[0], t.content) for t in DocsMarkdown("commonmark").parse(text) if t.type == "fence"
    ]


def test_fences_inside_admonitions_and_tabs_are_found_on_their_own_lines():
    fences = _fences(PAGE)
    assert [(line, code) for line, code in fences[:3]] == [
        (5, "x = 1\n"),
        (11, "y = 2\n"),
        (16, "z = 3\n"),
    ]


def test_a_snippet_include_runs_its_section_after_the_ones_before_it():
    code = _fences(PAGE)[3][1]
    assert "a = torch.zeros(1, 2, 2)" in code and code.startswith("import torch")


def test_unindenting_keeps_the_line_count():
    assert unindent_containers(PAGE).count("\n") == PAGE.count("\n")
