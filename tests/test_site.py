"""The built site, checked for the silent failures seen with this stack (toolchain notes).

`mkdocs build --strict` catches broken links and config errors; everything below passed
that check at some point while being wrong in the browser.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

CJK = re.compile(r"[\u4e00-\u9fff]")
SITE_HOST = "http://127.0.0.1:8000/"  # mkdocs.yml's site_url when LMLOSS_SITE_URL is unset


class Page(HTMLParser):
    """The parts of a built page the checks need."""

    def __init__(self, path: Path):
        super().__init__(convert_charrefs=True)
        self.path = path
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.headings: list[tuple[str, str]] = []  # (id, text)
        self.inline_scripts: list[str] = []
        self._heading: list | None = None
        self._in_script = False
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        self.elements.append((tag, attributes))
        if re.fullmatch(r"h[1-6]", tag):
            self._heading = [attributes.get("id"), ""]
        self._in_script = tag == "script" and "src" not in attributes

    def handle_endtag(self, tag):
        if re.fullmatch(r"h[1-6]", tag) and self._heading is not None:
            self.headings.append((self._heading[0], self._heading[1].replace("¶", "").strip()))
            self._heading = None
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._heading is not None:
            self._heading[1] += data
        if self._in_script:
            self.inline_scripts.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            a
            for t, a in self.elements
            if t == tag
            and all(value in a.get(name.rstrip("_"), "").split() for name, value in attrs.items())
        ]


def pages(site) -> list[Path]:
    return sorted(p for p in site.root.rglob("index.html") if "assets" not in p.parts)


def url_of(site, path: Path) -> str:
    folder = path.parent.relative_to(site.root).as_posix()
    return "/" if folder == "." else f"/{folder}/"


def page(site, url: str) -> Page:
    return Page(site.root / url.strip("/") / "index.html")


def resolve(site, base_url: str, href: str) -> Path:
    target = unquote(urlsplit(urljoin(base_url, href)).path)
    path = site.root / target.lstrip("/")
    return path / "index.html" if target.endswith("/") else path


def test_strict_build_prints_no_warning(built_site):
    assert not re.search(r"^(WARNING|ERROR)", built_site.log, re.M), built_site.log


def test_both_languages_build_the_same_pages(built_site):
    urls = {url_of(built_site, p) for p in pages(built_site)}
    english = {u.removeprefix("/en") for u in urls if u.startswith("/en/")}
    chinese = {u for u in urls if not u.startswith("/en/")}
    assert english == chinese
    assert {"/", "/pad-basics/", "/notebooks/pad-basics/", "/api/", "/glossary/"} <= chinese


@pytest.mark.parametrize("url", ["/", "/en/"])
def test_site_name_is_in_the_page_language(built_site, url):
    html = (built_site.root / url.strip("/") / "index.html").read_text(encoding="utf-8")
    name = "语言模型损失详解" if url == "/" else "Language-model loss, explained"
    assert re.search(rf"<title>[^<]*{name}</title>", html)


@pytest.mark.parametrize("url", ["/notebooks/pad-basics/", "/en/notebooks/pad-basics/"])
def test_notebook_pages_are_rendered_html_with_a_download(built_site, url):
    path = built_site.root / url.strip("/") / "index.html"
    text = path.read_text(encoding="utf-8")
    assert text.lstrip().lower().startswith("<!doctype html>"), "the notebook URL serves raw JSON"
    notebook = page(built_site, url)
    assert notebook.find("div", class_="jupyter-wrapper"), "no rendered notebook on the page"
    downloads = [a["href"] for a in notebook.find("a") if "download" in a]
    assert len(downloads) == 1
    stored = resolve(built_site, url, downloads[0])
    assert json.loads(stored.read_text(encoding="utf-8"))["cells"], stored


@pytest.mark.parametrize(
    "url, expected, foreign",
    [("/api/", "参数：", "Parameters:"), ("/en/api/", "Parameters:", "参数：")],
)
def test_api_section_titles_are_in_the_page_language(built_site, url, expected, foreign):
    html = (built_site.root / url.strip("/") / "index.html").read_text(encoding="utf-8")
    assert expected in html and foreign not in html


def test_every_heading_has_an_id_and_every_toc_link_a_target(built_site):
    for path in pages(built_site):
        parsed = Page(path)
        ids = [heading_id for heading_id, _ in parsed.headings]
        assert all(ids), f"{path}: headings without id: {parsed.headings}"
        toc = [
            a["href"][1:]
            for a in parsed.find("a", class_="md-nav__link")
            if a["href"].startswith("#")
        ]
        missing = [unquote(t) for t in toc if unquote(t) not in ids]
        assert not missing, f"{path}: TOC links to missing ids {missing}"


def test_chinese_notebook_headings_get_chinese_ids(built_site):
    headings = page(built_site, "/notebooks/pad-basics/").headings
    chinese = [(i, text) for i, text in headings if CJK.search(text)]
    assert chinese and all(CJK.search(i) for i, _ in chinese), chinese


def test_explicit_heading_anchors_are_the_same_in_both_languages(built_site):
    for path in pages(built_site):
        url = url_of(built_site, path)
        if url.startswith("/en/") or "notebooks" in url:
            continue
        zh = [i for i, _ in Page(path).headings]
        en = [i for i, _ in page(built_site, "/en" + url).headings]
        assert zh == en, url


def test_language_switcher_keeps_the_page(built_site):
    for path in pages(built_site):
        url = url_of(built_site, path)
        links = {a["hreflang"]: a["href"] for a in Page(path).find("a", class_="md-select__link")}
        twin = url.removeprefix("/en") if url.startswith("/en/") else "/en" + url
        zh, en = (twin, url) if url.startswith("/en/") else (url, twin)
        expected = {"zh": zh, "en": en}
        assert set(links) == {"zh", "en"}, (url, links)
        for lang, href in links.items():
            assert (
                resolve(built_site, url, href)
                == built_site.root / expected[lang].strip("/") / "index.html"
            ), (url, lang, href)


@pytest.mark.parametrize("url, title", [("/pad-basics/", "注意"), ("/en/pad-basics/", "Note")])
def test_admonition_titles_are_translated(built_site, url, title):
    html = (built_site.root / url.strip("/") / "index.html").read_text(encoding="utf-8")
    assert f'<p class="admonition-title">{title}</p>' in html


def test_edit_links_point_at_the_page_source_in_its_language(built_site):
    for url, source in [
        ("/pad-basics/", "docs/zh/pad-basics.md"),
        ("/en/pad-basics/", "docs/en/pad-basics.md"),
    ]:
        edits = [a["href"] for a in page(built_site, url).find("a", rel="edit")]
        assert edits == [f"{built_site.repo_url}/edit/main/{source}"], edits


def test_every_diagram_on_a_page_exists_and_is_svg_in_the_page_language(built_site):
    seen = 0
    for path in pages(built_site):
        url = url_of(built_site, path)
        for img in Page(path).find("img"):
            if not img["src"].endswith(".svg"):
                continue
            svg = ET.parse(resolve(built_site, url, img["src"])).getroot()
            assert svg.tag == "{http://www.w3.org/2000/svg}svg"
            title = svg.find("{http://www.w3.org/2000/svg}title").text
            assert bool(CJK.search(title)) == (not url.startswith("/en/")), (url, title)
            assert img["alt"], f"{url}: a diagram without alt text"
            seen += 1
    assert seen >= 2


def test_the_seed_diagram_shows_4_input_and_20_padded_elements(built_site):
    svg = ET.parse(built_site.root / "diagrams" / "pad-3d.svg").getroot()
    kinds = [e.get("data-kind") for e in svg.iter() if e.get("data-kind")]
    assert (kinds.count("input"), kinds.count("pad")) == (4, 20)


_LOADED = {
    "script": "src",
    "img": "src",
    "iframe": "src",
    "source": "src",
    "audio": "src",
    "video": "src",
    "embed": "src",
    "object": "data",
}
_LOADED_LINKS = {"stylesheet", "icon", "preload", "modulepreload", "manifest", "prefetch"}
_URL = re.compile(r"""https?://[^\s"'<>)]+""")


def _third_party(url: str) -> bool:
    return bool(re.match(r"(https?:)?//", url)) and not url.startswith(SITE_HOST)


def test_pages_load_nothing_from_a_third_party_host(built_site):
    for path in pages(built_site):
        parsed = Page(path)
        for tag, attr in _LOADED.items():
            for element in parsed.find(tag):
                assert not _third_party(element.get(attr, "")), (path, tag, element)
        for link in parsed.find("link"):
            if _LOADED_LINKS & set(link.get("rel", "").split()):
                assert not _third_party(link["href"]), (path, link)
        for script in parsed.inline_scripts:
            assert not [u for u in _URL.findall(script) if _third_party(u)], (path, script[:200])
        # Material loads mermaid from unpkg when a page has a mermaid diagram, and star counts
        # from api.github.com when the header's repository widget is there.
        assert not parsed.find("pre", class_="mermaid") and not parsed.find(
            "div", class_="mermaid"
        ), path
        assert not [a for _, a in parsed.elements if a.get("data-md-component") == "source"], path


def test_stylesheets_import_nothing_from_a_third_party_host(built_site):
    for css in built_site.root.rglob("*.css"):
        text = css.read_text(encoding="utf-8")
        urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", text) + re.findall(
            r"@import\s+['\"]([^'\"]+)", text
        )
        assert not [u for u in urls if _third_party(u)], css


def test_pages_use_system_fonts_only(built_site):
    html = (built_site.root / "index.html").read_text(encoding="utf-8")
    assert "fonts.googleapis.com" not in html and "fonts.gstatic.com" not in html


@pytest.mark.parametrize("url, api", [("/pad-basics/", "/api/"), ("/en/pad-basics/", "/en/api/")])
def test_api_cross_references_stay_in_the_page_language(built_site, url, api):
    links = [a["href"] for a in page(built_site, url).find("a", class_="autorefs")]
    targets = {resolve(built_site, url, href.split("#")[0]) for href in links}
    assert links and targets == {built_site.root / api.strip("/") / "index.html"}, links


def test_instant_navigation_stays_off():
    # navigation.instant makes static-i18n's switcher point at the first page loaded.
    from mkdocs.config import load_config

    config = load_config(str(Path(__file__).resolve().parents[1] / "mkdocs.yml"))
    assert "navigation.instant" not in config.theme["features"]


def _ids(path: Path, cache: dict[Path, set[str]]) -> set[str]:
    if path not in cache:
        parsed = Page(path)
        cache[path] = {a[key] for _, a in parsed.elements for key in ("id", "name") if a.get(key)}
    return cache[path]


def test_every_internal_link_and_anchor_resolves(built_site):
    broken, cache, checked = [], {}, 0
    for path in pages(built_site):
        url = url_of(built_site, path)
        parsed = Page(path)
        for element in parsed.find("a") + parsed.find("link"):
            href = element.get("href", "")
            if (
                not href
                or _third_party(href)
                or href.startswith(("mailto:", "http://", "https://"))
            ):
                continue
            target = resolve(built_site, url, href)
            fragment = unquote(urlsplit(href).fragment)
            checked += 1
            if (
                not target.exists()
                or fragment
                and target.suffix == ".html"
                and fragment not in _ids(target, cache)
            ):
                broken.append((url, href))
    assert checked > 200 and not broken, broken


PAGE_BUDGET, DIAGRAM_BUDGET = 200_000, 30_000  # bytes (issue 6)


def test_each_page_and_diagram_stays_within_its_weight_budget(built_site):
    over = []
    for path in pages(built_site):
        url = url_of(built_site, path)
        diagrams = {
            resolve(built_site, url, img["src"])
            for img in Page(path).find("img")
            if img["src"].endswith(".svg")
        }
        weight = path.stat().st_size + sum(d.stat().st_size for d in diagrams)
        if weight > PAGE_BUDGET:
            over.append((url, weight))
        over += [(str(d), d.stat().st_size) for d in diagrams if d.stat().st_size > DIAGRAM_BUDGET]
    assert not over, over


@pytest.mark.parametrize("url", ["/loss/", "/en/loss/"])
def test_the_loss_formula_is_mathml_built_in_with_no_script(built_site, url):
    html = (built_site.root / url.strip("/") / "index.html").read_text(encoding="utf-8")
    parsed = page(built_site, url)
    blocks = [a for a in parsed.find("math") if a.get("display") == "block"]
    assert len(blocks) == 1 and "\\sum" in blocks[0]["alttext"], blocks
    assert "<mfrac>" in html and "arithmatex" not in html  # converted, no TeX left behind
    scripts = [a.get("src", "") for a in parsed.find("script")]
    assert not [s for s in scripts if re.search(r"mathjax|katex|polyfill", s, re.I)], scripts
    assert not re.search(r"mathjax|katex", "".join(parsed.inline_scripts), re.I)


def test_the_shift_diagram_scores_5_labels_and_ignores_the_last(built_site):
    for root in (built_site.root, built_site.root / "en"):
        svg = ET.parse(root / "diagrams" / "shift.svg").getroot()
        kinds = [e.get("data-kind") for e in svg.iter() if e.get("data-kind")]
        assert [kinds.count(k) for k in ("input", "logits", "label", "ignored")] == [6, 6, 5, 1]


def test_every_diagram_opens_on_its_own_when_tapped(built_site):
    for path in pages(built_site):
        html = path.read_text(encoding="utf-8")
        images = re.findall(r'<img [^>]*src="([^"]+\.svg)"', html)
        linked = re.findall(r'<a class="diagram" href="([^"]+\.svg)"><img [^>]*src="\1"', html)
        assert linked == images, path


SPHINX_ROLE = re.compile(r":(?:func|class|mod|meth|attr|data|exc|obj):(?:<code>|`)")


def test_no_sphinx_role_text_reaches_a_page(built_site):
    """mkdocstrings renders [`name`][identifier] as a link; a :func:`name` role as its text."""
    shown = [
        url_of(built_site, path)
        for path in pages(built_site)
        if SPHINX_ROLE.search(path.read_text(encoding="utf-8"))
    ]
    assert not shown, f"Sphinx role text on {shown}"
