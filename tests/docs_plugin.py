"""pytest plugin for the site: runs page fences as MkDocs renders them, resets global state.

Loaded with ``-p docs_plugin`` (pyproject.toml) so that it applies to ``docs/`` as well as
to ``tests/``.
"""

from __future__ import annotations

import functools
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from snippet_sections import ROOT, expand_include, reset_global_state

# Admonitions (!!! / ??? / ???+) and content tabs (===) indent their body by four spaces;
# CommonMark would read such a body as an indented code block and miss its fences.
_CONTAINER = re.compile(r"^( *)(!!!|\?\?\?\+?|===) ")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def unindent_containers(text: str) -> str:
    """Moves container bodies to the left margin, keeping every line where it was."""
    out: list[str] = []
    body_indents: list[int] = []
    for line in text.splitlines():
        if line.strip():
            while body_indents and _indent(line) < body_indents[-1]:
                body_indents.pop()
        shift = body_indents[-1] if body_indents else 0
        marker = _CONTAINER.match(line)
        if marker:
            body_indents.append(len(marker[1]) + 4)
            out.append("")  # keep the line count, so reported line numbers stay right
        else:
            out.append(line[shift:] if line.strip() else "")
    return "\n".join(out) + "\n"


class DocsMarkdown(MarkdownIt):
    """CommonMark that sees fences inside containers and runs snippet includes."""

    def parse(self, src, env=None):
        tokens = super().parse(unindent_containers(src), env)
        for token in tokens:
            if token.type != "fence":
                continue
            lines = token.content.splitlines()
            expanded = [expand_include(line) for line in lines]
            if any(code is not None for code in expanded):
                if None in expanded:
                    raise ValueError(f"a fence mixes a snippet include with code: {lines}")
                token.content = "".join(expanded)
        return tokens


@pytest.hookimpl(tryfirst=True)  # replaces the plugin's plain CommonMark parser
def pytest_markdown_docs_markdown_it():
    return DocsMarkdown("commonmark")


def pytest_markdown_docs_globals():
    # Fences print their results for the reader; the recorded outputs are checked in
    # test_snippets.py, so keep them out of the test log.
    return {"print": functools.partial(print, file=io.StringIO())}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-outputs",
        action="store_true",
        help="rewrite the recorded outputs of snippets and notebooks from a fresh run",
    )


@pytest.fixture(autouse=True)
def _fresh_global_state():
    reset_global_state()
    yield
    reset_global_state()


@dataclass(frozen=True)
class BuiltSite:
    root: Path
    log: str
    repo_url: str


REPO_URL = "https://github.com/lmloss/lmloss"


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> BuiltSite:
    """The whole site, built once per test session as `make build` builds it.

    A repository URL is set, as in the Pages workflow, so that edit links are built too.
    """
    root = tmp_path_factory.mktemp("site")
    env = {
        **os.environ,
        "LMLOSS_REPO_URL": REPO_URL,
        "LMLOSS_EDIT_URI": "edit/main/docs/",
        "NO_MKDOCS_2_WARNING": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(root)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    return BuiltSite(root, log, REPO_URL)
