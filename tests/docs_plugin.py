"""pytest plugin for the site: runs page fences as MkDocs renders them, resets global state.

Loaded with ``-p docs_plugin`` (pyproject.toml) so that it applies to ``docs/`` as well as
to ``tests/``.
"""

from __future__ import annotations

import fcntl
import functools
import io
import os
import re
import shutil
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
    parser.addoption(
        "--page",
        metavar="NAME",
        help="only the tests of one page (docs/en/NAME.md, its notebook and snippet), and the "
        "tests that name no page (`make page PAGE=NAME`)",
    )


def _page_names(text: str) -> set[str]:
    """The page, notebook and snippet names in a test id ("pad_basics.py" → "pad-basics")."""
    return {word.replace("_", "-") for word in re.findall(r"[\w-]+", text)}


# Under `pytest -n` (make test) the tests of one file run on one worker, so its module
# fixtures (a snippet's namespace, a loaded hook) are set up once, except in the files that
# drive a browser: their hundreds of page visits mostly wait on the page, so each test function
# goes to whichever worker is free (each worker starts its own browser, in a second).
_SPLIT_BY_FUNCTION = {"test_browser.py", "test_explorers.py"}


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file, _, test = nodeid.partition("::")
            if Path(file).name in _SPLIT_BY_FUNCTION:
                return f"{file}::{test.split('[')[0]}"
            return file

    return ByFile(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _select_page(config, items)


def _select_page(config: pytest.Config, items: list[pytest.Item]) -> None:
    page = config.getoption("--page")
    if page is None:
        return
    docs = ROOT / "docs" / "en"
    pages = {p.stem for p in [*docs.rglob("*.md"), *docs.rglob("*.ipynb")]}
    pages |= {p.stem.replace("_", "-") for p in (ROOT / "snippets").glob("*.py")}
    if page not in pages:
        raise pytest.UsageError(f"--page {page}: no such page; pages: {sorted(pages)}")
    other_pages = pages - {page}
    kept, dropped = [], []
    for item in items:
        # A test whose id names other pages only (a parameter, or the page file it runs).
        named = _page_names(item.nodeid.split("::", 1)[-1]) | _page_names(item.path.stem)
        (dropped if named & other_pages and page not in named else kept).append(item)
    config.hook.pytest_deselected(items=dropped)
    items[:] = kept


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
def built_site(tmp_path_factory, worker_id) -> BuiltSite:
    """The whole site, built once per test run as `make build` builds it.

    A repository URL is set, as in the Pages workflow, so that edit links are built too.
    Under pytest-xdist the first worker to ask builds it and the others wait for that build
    and share it (the lock file is in the run's temporary folder, which the workers share).
    """
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent  # pytest-xdist gives each worker a folder inside the run's
    root, log_file = shared / "built-site", shared / "built-site.log"
    with open(shared / "built-site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not log_file.exists():
            log_file.write_text(_build(root), encoding="utf-8")
    log = log_file.read_text(encoding="utf-8")
    assert root.is_dir(), log
    return BuiltSite(root, log, REPO_URL)


def _build(root: Path) -> str:
    """Builds the site into ``root``; returns the log, which says how it ended."""
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
    if result.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)  # every test that uses the site fails with the log
    return log
