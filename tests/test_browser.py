"""The built site in headless Chromium, used the way a reader uses it.

Needs Debian's chromium (`apt-get install chromium`); Playwright never downloads a browser
here. Without it these tests are skipped, with the reason shown, unless CI=true: then they fail.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import axe_playwright_python
import pytest

from snippet_sections import SNIPPETS, read_sections

CHROMIUM = shutil.which("chromium")
# Without these, Chromium's background connections fail by the dozen on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS_ZH = Path(__file__).resolve().parents[1] / "docs" / "zh"


def _chinese_urls() -> list[str]:
    """The URL of every page, from the Chinese source tree (the English one is the same)."""
    urls = []
    for source in sorted([*DOCS_ZH.rglob("*.md"), *DOCS_ZH.rglob("*.ipynb")]):
        stem = source.relative_to(DOCS_ZH).with_suffix("").as_posix()
        urls.append("/" if stem == "index" else f"/{stem}/")
    return urls


PAGES = _chinese_urls()
ALL_PAGES = PAGES + ["/en" + url for url in PAGES]


def _twin(url: str) -> str:
    return url.removeprefix("/en") if url.startswith("/en/") else "/en" + url


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(built_site):
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=built_site.root)
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context()
    tab = context.new_page()
    tab.problems = []
    tab.on("console", lambda m: m.type == "error" and tab.problems.append(f"console: {m.text}"))
    tab.on("pageerror", lambda e: tab.problems.append(f"page error: {e}"))
    tab.on("requestfailed", lambda r: tab.problems.append(f"failed: {r.url}"))
    tab.on("response", lambda r: r.status >= 400 and tab.problems.append(f"{r.status}: {r.url}"))
    tab.on(
        "request",
        lambda r: (
            r.url.startswith(("http:", "https:"))
            and not r.url.startswith(server)
            and tab.problems.append(f"third-party request: {r.url}")
        ),
    )
    yield tab
    context.close()


@pytest.mark.parametrize("url", ALL_PAGES)
def test_page_loads_cleanly_and_locally(page, server, url):
    page.goto(server + url)
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").count() >= 1
    assert page.problems == []


@pytest.mark.parametrize("url", ALL_PAGES)
def test_language_switcher_lands_on_the_same_page_and_back(page, server, url):
    page.goto(server + url)
    for expected in (_twin(url), url):
        target_lang = "en" if expected.startswith("/en/") else "zh"
        page.locator(".md-select").first.hover()
        page.locator(f'.md-select__link[hreflang="{target_lang}"]').first.click()
        # the path only: an explorer keeps its inputs in the query, and the switch keeps them
        page.wait_for_url(lambda url, expected=expected: urlsplit(url).path == expected)
    assert page.problems == []


def _search(page, query: str) -> list[str]:
    field = page.locator("input.md-search__input")
    field.click()
    field.fill(query)
    page.keyboard.press("End")
    results = page.locator(".md-search-result__item > a")
    results.first.wait_for(timeout=10_000)
    return [href.split("?")[0] for href in results.evaluate_all("els => els.map(e => e.href)")]


@pytest.mark.parametrize(
    "url, query, expected",
    [
        ("/pad-basics/", "填充", "/pad-basics/"),
        ("/", "标签", "/pad-basics/"),
        ("/pad-basics/", "损失", "/loss/"),
        ("/en/pad-basics/", "paddings", "/en/pad-basics/"),
        ("/en/", "labels", "/en/pad-basics/"),
    ],
)
def test_search_finds_the_page_in_the_readers_language_only(page, server, url, query, expected):
    page.goto(server + url)
    page.wait_for_load_state("networkidle")
    found = _search(page, query)
    assert server + expected in found, found
    english = [u for u in found if u.startswith(server + "/en/")]
    assert english == (found if url.startswith("/en/") else []), found


ARTIFACTS = Path(__file__).resolve().parents[1] / ".artifacts" / "screenshots"
# axe-core as the pinned PyPI package axe-playwright-python ships it (axe.min.js), injected
# into the page: nothing is fetched at run time.
AXE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    # Not a WCAG rule in axe's tags, but a dialog without a name is announced as nothing.
    "rules": {"aria-dialog-name": {"enabled": True}},
    "resultTypes": ["violations"],
}


def test_diagrams_render_in_both_schemes_and_screenshots_are_kept(wide_view):
    url, scheme, view = wide_view
    assert view["scheme_attribute"] == ("slate" if scheme == "dark" else "default")
    sizes = view["diagram_sizes"]
    assert all(min(size[1:]) > 0 for size in sizes), sizes
    assert Path(view["screenshot"]) == ARTIFACTS / _screenshot_name(url, scheme)
    assert Path(view["screenshot"]).is_file()


def test_axe_finds_no_serious_or_critical_violation(wide_view):
    found = [
        f"{v['id']} ({v['impact']}): {v['help']}; {len(v['nodes'])} elements, e.g. {v['nodes'][0]['target']}: "
        + (
            v["nodes"][0]["any"] + v["nodes"][0]["all"] + v["nodes"][0]["none"] or [{"message": ""}]
        )[0]["message"]
        for v in wide_view[2]["axe_violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not found, "\n".join(found)


# Every box that shows code: Material's code blocks and mkdocs-jupyter's notebook cells.
CODE_BOXES = "article pre, article pre > code, article .highlight-ipynb"
WIDEST_LINES = """selector => [...document.querySelectorAll(selector)]
  .filter(box => box.scrollWidth > box.clientWidth)
  .map(box => {
    const longest = box.textContent.split("\\n").reduce((a, b) => (b.length > a.length ? b : a), "");
    return `${box.scrollWidth - box.clientWidth}px too wide (${longest.length} chars): ${longest}`;
  })"""


def test_no_code_block_scrolls_sideways_at_1280px(wide_view):
    too_wide = wide_view[2]["too_wide"]
    assert not too_wide, "\n".join(too_wide)


def test_printed_rows_are_whole_and_diagrams_fit_the_column_at_1280px(wide_view):
    """Nothing scrolls sideways on a desktop: each diagram shrinks to the column, and the pairs
    diagrams are narrow enough to keep their text at 10 px or more there."""
    view = wide_view[2]
    assert view["broken_lines"] == []
    assert [name for name, _, scrolls in view["diagram_text"] if scrolls] == []
    small = [
        (name, round(px, 1))
        for name, px, _ in view["diagram_text"]
        if name.startswith("pad-pairs-") and px < 10
    ]
    assert small == [], f"pairs diagram text below 10 px at 1280 px: {small}"


# Each line box of the code's text against the copy button floating over the block's corner.
COVERED_LINES = """() => {
  const covered = [];
  for (const button of document.querySelectorAll("article .md-code__nav, article .zeroclipboard-container")) {
    const b = button.getBoundingClientRect();
    const code = button.parentElement.querySelector("code") || button.parentElement.querySelector("pre");
    if (code.scrollWidth > code.clientWidth) continue;  // too wide: the width test says so
    const text = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    for (let node = text.nextNode(); node; node = text.nextNode()) {
      if (!node.data.trim()) continue;
      range.selectNodeContents(node);
      const rects = [...range.getClientRects()];
      if (rects.some(r => r.left < b.right && r.right > b.left && r.top < b.bottom && r.bottom > b.top)) {
        covered.push(code.innerText.split("\\n").find(line => line.includes(node.data.trim().split("\\n")[0])));
        break;
      }
    }
  }
  return covered;
}"""


def test_copy_buttons_cover_no_code(wide_view):
    view = wide_view[2]
    assert view["copy_buttons"] == view["code_blocks"]
    covered = view["covered"]
    assert not covered, "the copy button covers the first line of:\n" + "\n".join(covered)


WIDE_VIEWS = [(url, scheme) for url in ALL_PAGES for scheme in ("light", "dark")]


def _read_wide_view(tab, url: str, scheme: str) -> dict:
    """All that the 1280 px checks read off one loaded page, and its screenshot."""
    view = {
        "scheme_attribute": tab.evaluate("document.body.getAttribute('data-md-color-scheme')"),
        "diagram_sizes": tab.locator("article img[src$='.svg']").evaluate_all(
            "imgs => imgs.map(i => [i.getAttribute('src'), i.naturalWidth, i.naturalHeight, i.clientWidth, i.clientHeight])"
        ),
        "too_wide": tab.evaluate(WIDEST_LINES, CODE_BOXES),
        "copy_buttons": tab.locator(
            "article .md-code__nav, article .zeroclipboard-container"
        ).count(),
        "code_blocks": tab.locator("article pre > code, article .highlight-ipynb").count(),
        "covered": tab.evaluate(COVERED_LINES),
        "diagram_text": tab.evaluate(DIAGRAM_TEXT),
        "broken_lines": tab.evaluate(BROKEN_LINES),
    }
    tab.evaluate(AXE)
    view["axe_violations"] = tab.evaluate("options => axe.run(document, options)", AXE_OPTIONS)[
        "violations"
    ]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    view["screenshot"] = str(ARTIFACTS / _screenshot_name(url, scheme))
    tab.screenshot(path=view["screenshot"], full_page=True)
    return view


def _screenshot_name(url: str, scheme: str) -> str:
    language = "en-" if url.startswith("/en/") else "zh-"
    return (
        language
        + (url.removeprefix("/en").strip("/").replace("/", "-") or "home")
        + f"-{scheme}.png"
    )


class WideViews:
    """Each page at 1280 px in each colour scheme, loaded once per test run for all the checks
    that only read it, whichever pytest-xdist worker runs them (the scheduler sends each test
    function to one worker, so the checks of one page run on different workers).

    Results are JSON files beside the shared built site, one per view, each written by the
    worker that holds the view's lock file. A worker that finds the view it wants taken loads
    a later one nobody has taken, and waits only when there is none left.
    """

    def __init__(self, folder: Path, browser, server: str):
        self.folder, self.browser, self.server = folder, browser, server
        folder.mkdir(exist_ok=True)

    def get(self, url: str, scheme: str) -> dict:
        wanted = WIDE_VIEWS.index((url, scheme))
        result = self._result(wanted)
        while not result.exists():
            if not any(self._load_if_free(i) for i in range(wanted, len(WIDE_VIEWS))):
                with open(self._result(wanted).with_suffix(".lock"), "w") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX)  # until its loader is done
        view = json.loads(result.read_text(encoding="utf-8"))
        if "load_error" in view:
            pytest.fail(f"{url} in the {scheme} scheme did not load: {view['load_error']}")
        return view

    def _result(self, index: int) -> Path:
        return self.folder / f"{index}.json"

    def _load_if_free(self, index: int) -> bool:
        """Loads a view unless another worker holds it or it is done; says whether it did."""
        result = self._result(index)
        with open(result.with_suffix(".lock"), "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            if result.exists():
                return False
            url, scheme = WIDE_VIEWS[index]
            context = self.browser.new_context(
                color_scheme=scheme, viewport={"width": 1280, "height": 900}
            )
            try:
                tab = context.new_page()
                tab.goto(self.server + url)  # returns after the load event: every image has loaded
                view = _read_wide_view(tab, url, scheme)
            except Exception as error:  # every check of this view fails with it, naming the view
                view = {"load_error": repr(error)}
            finally:
                context.close()
            partial = result.with_suffix(".partial")
            partial.write_text(json.dumps(view), encoding="utf-8")
            partial.replace(result)  # whole or not there: other workers read without the lock
            return True


@pytest.fixture(scope="module")
def wide_views(built_site, browser, server) -> WideViews:
    return WideViews(built_site.root.with_name("wide-views"), browser, server)


@pytest.fixture(params=WIDE_VIEWS, ids=lambda view: f"{view[0]}-{view[1]}")
def wide_view(request, wide_views):
    """What the checks read off a page at 1280 px in one colour scheme, and which view it is."""
    url, scheme = request.param
    return url, scheme, wide_views.get(url, scheme)


def test_copy_button_copies_the_code_block(browser, server):
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    tab = context.new_page()
    tab.goto(server + "/en/pad-basics/")
    block = tab.locator("article div.highlight").filter(has_text="pad2 = F.pad").first
    expected = block.locator("code").inner_text().rstrip()
    block.hover()
    block.locator('button[data-md-type="copy"]').click()
    copied = tab.evaluate("navigator.clipboard.readText()")
    assert copied.rstrip() == expected
    section = {s.name: s for s in read_sections(SNIPPETS / "pad_basics.py")}["pad2"]
    assert copied.rstrip() == section.code.rstrip()
    context.close()


# The heading is on screen, below the sticky header (the page end may stop it lower down).
IN_VIEW = """id => {
  const top = document.getElementById(id).getBoundingClientRect().top;
  return top >= 40 && top < window.innerHeight - 40;
}"""


@pytest.mark.parametrize("url", ["/pad-basics/", "/en/pad-basics/", "/notebooks/pad-basics/"])
def test_toc_links_and_permalinks_scroll_to_their_heading(page, server, url):
    page.goto(server + url)
    links = page.locator(".md-sidebar--secondary a.md-nav__link")
    hrefs = links.evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert hrefs
    for href in [hrefs[-1], hrefs[0]]:
        page.locator(f'.md-sidebar--secondary a.md-nav__link[href="{href}"]').first.click()
        heading_id = unquote(href[1:])
        page.wait_for_function(IN_VIEW, arg=heading_id)
        assert unquote(page.url.split("#")[1]) == heading_id
    permalink = page.locator("article a.headerlink, article a.anchor-link").last
    target = unquote(permalink.get_attribute("href")[1:])
    page.evaluate("window.scrollTo(0, 0)")
    permalink.evaluate("a => a.click()")
    page.wait_for_function(IN_VIEW, arg=target)


# Each diagram's smallest text as drawn: its smallest font size (read from the SVG) times the
# scale the page shows it at, and whether its box scrolls sideways.
DIAGRAM_TEXT = """async () => Promise.all(
  [...document.querySelectorAll("article img[src$='.svg']")].map(async img => {
    const svg = await (await fetch(img.src)).text();
    const smallest = Math.min(...[...svg.matchAll(/font-size:\\s*([\\d.]+)px/g)].map(m => +m[1]));
    const box = img.closest("a.diagram");
    const width = +svg.match(/<svg [^>]*width="([\\d.]+)"/)[1];  // naturalWidth is rounded
    return [img.getAttribute("src").split("/").pop(), smallest * img.getBoundingClientRect().width / width,
            box.scrollWidth > box.clientWidth];
  }))"""

# Every line of printed output and doctest sessions that is not marked to wrap (site_a11y.py
# marks the ones too long for a desktop) is one line box: a tensor's row is never broken.
BROKEN_LINES = """() => {
  const broken = [];
  for (const code of document.querySelectorAll("article :is(.language-text, .language-pycon) pre > code")) {
    const text = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    for (let node = text.nextNode(); node; node = text.nextNode()) {
      if (node.parentElement.closest(".wrap-line")) continue;
      let start = 0;
      for (const line of node.data.split("\\n")) {
        const range = document.createRange();
        range.setStart(node, start);
        range.setEnd(node, start + line.length);
        start += line.length + 1;
        const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (tops.size > 1) broken.push(line);
      }
    }
  }
  return broken;
}"""

# At 375 px each language in one scheme, so that both schemes are seen at one load per page.
PHONE_VIEWS = [(url, "light" if url.startswith("/en") else "dark") for url in ALL_PAGES]


@pytest.mark.parametrize(("url", "scheme"), PHONE_VIEWS, ids=lambda v: v)
def test_a_phone_shows_whole_rows_readable_diagrams_and_no_page_scroll(
    browser, server, url, scheme
):
    """A touch phone: no hover, so Material gives no scrolling code block a tabindex at run
    time, and the keyboard reaches each one only through what the build wrote."""
    context = browser.new_context(
        viewport={"width": 375, "height": 740},
        color_scheme=scheme,
        has_touch=True,
        is_mobile=True,
    )
    tab = context.new_page()
    tab.goto(server + url)
    overflow = tab.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{url} scrolls sideways by {overflow}px at 375px"
    # Code too wide for a phone scrolls in its own box, which the keyboard can reach to scroll.
    unreachable = tab.evaluate(
        """selector => [...document.querySelectorAll(selector)]
      .filter(box => box.scrollWidth > box.clientWidth && ["auto", "scroll"].includes(getComputedStyle(box).overflowX))
      .filter(box => box.tabIndex < 0).map(box => box.innerText.slice(0, 60))""",
        CODE_BOXES,
    )
    assert unreachable == []
    assert (
        tab.evaluate("parseFloat(getComputedStyle(document.querySelector('article p')).fontSize)")
        >= 16
    )
    assert tab.evaluate(BROKEN_LINES) == []
    small = [(name, round(px, 1)) for name, px, _ in tab.evaluate(DIAGRAM_TEXT) if px < 10]
    assert small == [], f"diagram text below 10 px at 375 px: {small}"
    tab.evaluate(AXE)
    violations = tab.evaluate("options => axe.run(document, options)", AXE_OPTIONS)["violations"]
    serious = [
        f"{v['id']}: {len(v['nodes'])} elements, e.g. {v['nodes'][0]['target']}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], "\n".join(serious)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=ARTIFACTS / ("phone-" + _screenshot_name(url, scheme)), full_page=True)
    context.close()
