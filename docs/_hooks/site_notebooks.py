"""Makes mkdocs-jupyter's notebook pages work in the bilingual, self-contained site.

Each fix guards a silent failure that ``tests/test_site.py`` checks on the built site:
the notebook URL serving raw JSON, a language switcher that leaves the page, empty heading
ids for Chinese headings, and scripts that load MathJax or mermaid from a CDN.
"""

from __future__ import annotations

import functools
import hashlib
import posixpath
import re
import sys
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs_jupyter import convert
from mkdocs_jupyter.plugin import NotebookFile
from pymdownx.slugs import slugify

sys.path.insert(0, str(Path(__file__).parent))
from build_cache import cached, key  # noqa: E402


# nbconvert renders a notebook twice per build, as HTML for the page and as Markdown for its
# table of contents: about a second for the six notebooks. Keep both in the build cache, keyed
# by the notebook's bytes and the options (and by the installed nbconvert and mkdocs-jupyter, as
# every entry is). mkdocs-jupyter's own cache is off (mkdocs.yml): its two language builds
# evict each other's entries, and its key leaves out the versions.
def _cached(render: Callable[..., str]) -> Callable[..., str]:
    render = getattr(render, "__wrapped__", render)  # serve loads this hook again on each build

    @functools.wraps(render)
    def cached_render(nb_path: str, **options: Any) -> str:
        entry = key(render.__name__, [Path(nb_path)], repr(sorted(options.items())))
        return cached("notebooks", entry, lambda: render(nb_path, **options))

    return cached_render


convert.nb2html = _cached(convert.nb2html)
convert.nb2md = _cached(convert.nb2md)

# The slug function the Markdown pages use (mkdocs.yml, toc.slugify).
_slugify = slugify(case="lower")
_HEADING = re.compile(r'<h([1-6])(\s[^>]*)?\sid="[^"]*"([^>]*)>(.*?)</h\1>', re.S)
_ANCHOR_HREF = re.compile(r'(<a class="anchor-link" href=")#[^"]*(")')
# nbconvert's page template: a MathJax loader (empty URL here), its config, and a module
# that imports mermaid from cdnjs when a notebook has a mermaid diagram. None is needed.
_CDN_SCRIPTS = re.compile(
    r'<script src=""></script>'
    r'|<script type="text/x-mathjax-config">.*?</script>'
    r'|<script type="module">(?:(?!</script>).)*?mermaid.*?</script>',
    re.S,
)
# Links between pages, written as in Markdown (``../pad-basics.md``); mkdocs-jupyter leaves
# them as they are, so they led to a Markdown file that the site does not have.
_PAGE_LINK = re.compile(r'href="([^"#:]+\.(?:md|ipynb))(#[^"]*)?"')
# nbconvert inlines the same ~600 KB of JupyterLab CSS into every notebook page.
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S)
_NOTEBOOK_CSS = "assets/stylesheets/notebook-{digest}.css"


def _page_dest(notebook_dest: str) -> str:
    """``notebooks/x.ipynb`` (or mkdocs-jupyter's ``notebooks/x/index.html``) → page path."""
    if not notebook_dest.endswith(".ipynb"):
        return notebook_dest
    parent, name = posixpath.split(notebook_dest)
    return posixpath.join(parent, posixpath.splitext(name)[0], "index.html")


def _as_notebook_page(file: File, dest: str, config: MkDocsConfig) -> NotebookFile:
    page_file = NotebookFile(file, config.use_directory_urls, config.site_dir)
    page_file.dest_path = dest
    page_file.abs_dest_path = posixpath.join(config.site_dir, dest)
    page_file.url = posixpath.dirname(dest) + "/"
    return page_file


@event_priority(-200)  # after static-i18n has rebuilt the file list
def on_files(files: Files, config: MkDocsConfig) -> Files:
    # static-i18n recreates every file and so drops mkdocs-jupyter's page wrapper: the
    # notebook's URL would serve its JSON. Wrap the notebooks again and give them the
    # alternates the language switcher needs.
    i18n = config.plugins["i18n"]
    for file in [f for f in files if f.src_uri.endswith(".ipynb")]:
        alternates = {}
        for lang in i18n.build_languages:
            prefix = "" if lang == i18n.default_language else f"{lang}/"
            twin = File(
                f"{lang}/{file.norm_src_uri}", config.docs_dir, config.site_dir, config.use_directory_urls
            )
            alternates[lang] = _as_notebook_page(twin, prefix + _page_dest(file.norm_src_uri), config)
        file.alternates = alternates
        # Replace in place: the collection is static-i18n's, whose lookups resolve nav paths.
        files.remove(file)
        files.append(_as_notebook_page(file, _page_dest(file.dest_path), config))
    return files


def _unique(slug: str, seen: set[str]) -> str:
    candidate, n = slug, 0
    while candidate in seen:
        n += 1
        candidate = f"{slug}_{n}"
    seen.add(candidate)
    return candidate


def _flatten(links) -> list:
    return [link for item in links for link in (item, *_flatten(item.children))]


def _reslug_headings(html: str, page: Page) -> str:
    # mkdocs-jupyter slugifies headings ASCII-only: Chinese headings got id="" while the
    # table of contents pointed at "#_1". Re-slug both the way the Markdown pages do.
    links = _flatten(page.toc)
    headings = list(_HEADING.finditer(html))
    if len(headings) != len(links):
        raise ValueError(
            f"{page.file.src_uri}: {len(headings)} headings in the HTML, {len(links)} in the TOC"
        )
    seen: set[str] = set()
    for link in links:
        link.id = _unique(_slugify(unescape(link.title), "-"), seen)
    ids = iter(link.id for link in links)

    def reslug(match: re.Match) -> str:
        level, before, after, inner = match.groups()
        new_id = next(ids)
        inner = _ANCHOR_HREF.sub(rf"\g<1>#{new_id}\g<2>", inner)
        return f'<h{level}{before or ""} id="{new_id}"{after}>{inner}</h{level}>'

    return _HEADING.sub(reslug, html)


def _share_stylesheet(html: str, page: Page, config: MkDocsConfig) -> str:
    css = "\n".join(_STYLE.findall(html))
    path = _NOTEBOOK_CSS.format(digest=hashlib.sha256(css.encode()).hexdigest()[:8])
    target = Path(config.site_dir) / path
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(css, encoding="utf-8")
    href = "../" * page.url.count("/") + path
    return _STYLE.sub("", html).replace(
        '<div class="jupyter-wrapper">', f'<link rel="stylesheet" href="{href}">\n<div class="jupyter-wrapper">', 1
    )


def _link_pages(html: str, page: Page, files: Files) -> str:
    def relink(match: re.Match) -> str:
        path = posixpath.normpath(posixpath.join(posixpath.dirname(page.file.src_uri), match[1]))
        target = files.get_file_from_path(path)
        if target is None:
            raise ValueError(f"{page.file.src_uri}: link to a missing page {match[1]!r}")
        return f'href="{target.url_relative_to(page.file.url)}{match[2] or ""}"'

    return _PAGE_LINK.sub(relink, html)


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if not isinstance(page.file, NotebookFile):
        return html
    html = _link_pages(_CDN_SCRIPTS.sub("", html), page, files)
    html = _reslug_headings(html, page)
    return _share_stylesheet(html, page, config)
