"""The explorers (docs/*/explore/) in headless Chromium, against torch 2.13 and lmloss.sft.

The pad explorer is driven through hundreds of random cases in one page session: each case is
set through ``window.padExplorer.set`` and what the page shows is read back and compared with
torch run here. The label explorer is compared with ``lmloss.sft`` and TRL's ``pad``.
"""

from __future__ import annotations

import ast
import gzip
import itertools
import json
import math
import random
import warnings
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
import torch
import torch.nn.functional as F
from trl.trainer.utils import pad as trl_pad

from lmloss import explain_pad
from lmloss.diagrams import pad_svg
from lmloss.sft import collate, labels_from_mask, pack
from snippet_sections import SNIPPETS
from test_browser import browser, server  # noqa: F401 - fixtures shared with the browser tests

# The SFT chapter's toy vocabulary, read from its snippet: the label explorer must give its
# words the same ids
SFT_VOCAB = next(
    ast.literal_eval(node.value)
    for node in ast.parse((SNIPPETS / "sft.py").read_text(encoding="utf-8")).body
    if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "VOCAB"
)

MODES = ("constant", "reflect", "replicate", "circular")
LANGS = {"zh": "/explore/", "en": "/en/explore/"}
BUDGET = 30 * 1024  # gzip bytes of one explorer's script and styles


@pytest.fixture
def tab(browser, server):  # noqa: F811 - the fixture of test_browser
    context = browser.new_context()
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    page.on("console", lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"))
    page.on(
        "request",
        lambda r: (
            r.url.startswith(("http:", "https:"))
            and not r.url.startswith(server)
            and page.problems.append(f"third-party request: {r.url}")
        ),
    )
    yield page
    context.close()


# --- pad explorer ------------------------------------------------------------------------------


def _pad_case(rng: random.Random) -> tuple[list[int], list[int], str, float | None]:
    """A random F.pad call: half shaped as torch accepts them, half anything at all."""
    if rng.random() < 0.65:
        mode = rng.choice(MODES)
        pairs = rng.randint(1, 3)
        rank = rng.choice([pairs + 1, pairs + 2]) if mode != "constant" else rng.randint(pairs, 5)
        shape = [
            rng.randint(2, 4) if rng.random() < 0.9 else rng.randint(0, 5) for _ in range(rank)
        ]
        pad = [
            rng.choice([0, 0, 1, 1, 2, -1]) if rng.random() < 0.85 else rng.randint(-5, 5)
            for _ in range(2 * pairs)
        ]
    else:
        mode = rng.choice(MODES) if rng.random() < 0.98 else "Reflect"
        rank = rng.randint(1, 5)
        shape = [rng.choice([0, 1, 2, 2, 3, 4, 5]) for _ in range(rank)]
        length = rng.randint(0, 12)  # every length, odd ones and too long ones included
        pad = [rng.randint(-5, 5) for _ in range(length)]
    if mode == "constant":
        value = rng.choice([None, 0.0, 1.0, -1.0, -100.0, 0.5, -1.7, 1e20, float("nan")])
    else:
        value = rng.choice([None, None, 0.0, 1.0])
    return shape, pad, mode, value


def _value_text(value: float | None) -> str:
    return "" if value is None else repr(value)


def _torch_pad(shape, pad, mode, value) -> dict:
    """What the page must show: torch's shape and values, or its error."""
    try:
        x = torch.arange(math.prod(shape)).reshape(shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = F.pad(x, pad, mode=mode, value=value)
    except Exception as error:  # noqa: BLE001 - every torch error is shown as it is
        return {"error": f"{type(error).__name__}: {error}"}
    return {"shape": tuple(y.shape), "values": [str(v) for v in y.flatten().tolist()]}


READ_PAD = """cases => cases.map(([shape, pad, mode, value]) => {
  window.padExplorer.set({shape, pad, mode, value});
  const q = id => document.querySelector(`[data-testid=${id}]`);
  const cells = [...document.querySelectorAll('[data-testid=diagram] [data-kind]')];
  return {
    shape: q('out-shape').textContent || null,
    error: q('error').hidden ? null : q('error').textContent,
    account: q('account').hidden ? null : q('account').textContent,
    note: q('note').hidden ? null : q('note').textContent,
    cells: cells.map(c => [c.getAttribute('data-index'), c.getAttribute('data-kind'),
                           c.getAttribute('data-value')]),
  };
})"""


def _show(shape, pad, mode, value) -> list:
    return [",".join(map(str, shape)), ",".join(map(str, pad)), mode, _value_text(value)]


def _kind(index: tuple[int, ...], shape, pad) -> str:
    """Input where every coordinate lands inside the (cropped) input, as in lmloss.diagrams."""
    rank = len(shape)
    for pair in range(len(pad) // 2):
        d, left = rank - 1 - pair, pad[2 * pair]
        if not max(left, 0) <= index[d] < min(left + shape[d], shape[d] + left + pad[2 * pair + 1]):
            return "pad"
    return "input"


def test_pad_explorer_shows_what_torch_does_on_500_random_cases(tab, server):
    rng = random.Random(13)
    cases = [_pad_case(rng) for _ in range(520)]
    cases += [
        ((1, 2, 2), (1, 1), "constant", None),
        ((1, 2, 2), (1, 1, 0, 1), "constant", None),
        ((1, 2, 2), (1, 1, 0, 1, 1, 0), "constant", 0.0),
        ((0, 2, 5, 4), (-5, -2, -1, 3), "reflect", None),
    ]
    tab.goto(server + "/en/explore/pad/")
    shown = tab.evaluate(READ_PAD, [_show(*case) for case in cases])
    counts = {"error": 0, "shape": 0, "drawn": 0, "kinds": set(), "modes": set()}
    for case, page in zip(cases, shown):
        shape, pad, mode, value = case
        expected = _torch_pad(*case)
        if "error" in expected:
            counts["error"] += 1
            assert (page["error"], page["shape"]) == (expected["error"], None), case
            continue
        counts["shape"] += 1
        assert (page["shape"], page["error"]) == (repr(expected["shape"]), None), case
        if min(expected["shape"], default=0) < 0:  # torch 2.13's reflect bug: nothing to explain
            assert page["account"] is None and page["cells"] == [], case
            continue
        assert page["account"] == explain_pad(shape, pad, mode, "en"), case
        if page["cells"]:
            counts["drawn"] += 1
            counts["modes"].add(mode)
            indexes = [tuple(int(i) for i in c[0].split(",")) for c in page["cells"]]
            by_index = dict(zip(indexes, page["cells"]))
            assert len(by_index) == len(expected["values"]), case
            for flat, index in enumerate(sorted(by_index)):
                assert by_index[index][2] == expected["values"][flat], (case, index)
                assert by_index[index][1] == _kind(index, shape, pad), (case, index)
                counts["kinds"].add(by_index[index][1])
        else:
            assert page["note"], case
    # The Chinese page: the same rules, the account in Chinese.
    tab.goto(server + "/explore/pad/")
    chinese = tab.evaluate(READ_PAD, [_show(*case) for case in cases[:200]])
    explained = 0
    for case, page, english in zip(cases, chinese, shown):
        assert (page["shape"], page["error"], page["cells"]) == (
            english["shape"],
            english["error"],
            english["cells"],
        )
        if english["account"] is not None:
            explained += 1
            assert page["account"] == explain_pad(*case[:3], "zh"), case
    assert explained >= 50, explained
    assert counts["error"] >= 150 and counts["shape"] >= 150 and counts["drawn"] >= 100, counts
    assert counts["modes"] == set(MODES) and counts["kinds"] == {"input", "pad"}, counts
    assert tab.problems == []


NEGATIVE_SHAPES = ["-1,2", "2,-1", "-1,-2", "0,-1", "-1,-1", "-3"]


def test_no_x_has_a_negative_size_so_the_explorer_refuses_one_as_its_own_input_error(tab, server):
    """torch fails while building x = torch.arange(n).reshape(shape), before F.pad: the page
    must not show an F.pad error under "torch raises", but its own message under its own label."""
    for text in NEGATIVE_SHAPES:
        shape = [int(n) for n in text.split(",")]
        with pytest.raises(RuntimeError):
            torch.arange(math.prod(shape)).reshape(shape)
    labels = {
        "en": ("The explorer cannot read this input (not a torch error)", "shape sizes must be 0"),
        "zh": ("交互演示无法解析这项输入（不是 torch 的报错）", "形状的各维长度不能为负"),
    }
    for lang, (label, message) in labels.items():
        tab.goto(f"{server}{LANGS[lang]}pad/")
        for text in NEGATIVE_SHAPES:
            shown = tab.evaluate(
                """shape => { window.padExplorer.set({shape, pad: "1,1", mode: "constant",
                value: "0"}); const q = id => document.querySelector(`[data-testid=${id}]`);
                return [q('error-label').textContent, q('error').textContent,
                        q('out-shape').textContent, q('call').hidden]; }""",
                text,
            )
            assert shown[0] == label and shown[1].startswith(message), (lang, text, shown)
            assert text in shown[1] and shown[2] == "" and shown[3], (lang, text, shown)
    assert tab.problems == []


READ_SVG = """([shape, pad, mode, value]) => {
  window.padExplorer.set({shape, pad, mode, value});
  const svg = document.querySelector('[data-testid=diagram] svg');
  return {size: [svg.getAttribute('width'), svg.getAttribute('height')],
          texts: [...svg.querySelectorAll('text')].map(t => t.textContent),
          cells: [...svg.querySelectorAll('[data-kind]')].map(c => ['data-kind', 'data-dim', 'data-index', 'data-value']
            .map(name => c.getAttribute(name)))};
}"""


@pytest.mark.parametrize("lang", LANGS)
def test_pad_diagram_is_the_sites_diagram_drawn_in_the_browser(tab, server, lang):
    tab.goto(f"{server}{LANGS[lang]}pad/")
    cases = [
        ((1, 2, 2), (1, 1, 0, 1, 1, 0), "constant", None),
        ((2, 3), (0, 1), "constant", -100),
        ((5,), (2, -1), "constant", 7),
        ((2, 2, 3), (1, 1), "reflect", None),
        ((1, 3, 3), (1, 2, 2, 1), "replicate", None),
        ((1, 3, 3), (1, 2, 2, 1), "circular", None),
        ((2, 3, 3), (2, 0, 0, 1), "reflect", None),
    ]
    for shape, pad, mode, value in cases:
        page = tab.evaluate(
            READ_SVG,
            [
                ",".join(map(str, shape)),
                ",".join(map(str, pad)),
                mode,
                "" if value is None else str(value),
            ],
        )
        root = ET.fromstring(pad_svg(shape, pad, mode, lang, values=True, value=value))
        texts = [el.text for el in root.iter("{http://www.w3.org/2000/svg}text")]
        cells = sorted(
            [
                [el.get(name) for name in ("data-kind", "data-dim", "data-index", "data-value")]
                for el in root.iter()
                if el.get("data-kind")
            ],
            key=str,
        )
        assert page["size"] == [root.get("width"), root.get("height")], (shape, pad, mode)
        assert sorted(page["texts"]) == sorted(texts), (shape, pad, mode)
        assert sorted(page["cells"], key=str) == cells, (shape, pad, mode)
    assert tab.problems == []


def test_pad_explorer_reads_its_state_from_the_url_and_speaks_the_pages_language(tab, server):
    query = urlencode({"shape": "1,2,2", "pad": "1,1,0,1,1,0", "mode": "constant", "value": "0"})
    for lang, prefix in LANGS.items():
        tab.goto(f"{server}{prefix}pad/?{query}")
        assert tab.locator("[data-testid=out-shape]").text_content() == "(2, 3, 4)"
        assert tab.locator("[data-testid=account]").text_content() == explain_pad(
            (1, 2, 2), (1, 1, 0, 1, 1, 0), "constant", lang
        )
        kinds = tab.locator("[data-testid=diagram] [data-kind]").evaluate_all(
            "cells => cells.map(c => c.getAttribute('data-kind'))"
        )
        assert (kinds.count("input"), kinds.count("pad")) == (4, 20)
    # Typing updates the result and the URL.
    tab.locator("#lx-pad-pad").fill("1, 1")
    assert tab.locator("[data-testid=out-shape]").text_content() == "(1, 2, 4)"
    assert "pad=1%2C+1" in tab.url or "pad=1%2C%201" in tab.url, tab.url
    tab.goto(f"{server}/en/explore/pad/")  # no state: the seed's case
    assert tab.locator("[data-testid=out-shape]").text_content() == "(2, 3, 4)"
    assert tab.problems == []


def test_pad_explorer_is_usable_with_the_keyboard_alone(tab, server):
    tab.goto(server + "/en/explore/pad/")
    tab.locator("#lx-pad-shape").focus()
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.id") == "lx-pad-pad"
    tab.keyboard.press("Control+A")
    tab.keyboard.type("1,1,0,1")
    tab.keyboard.press("Tab")
    tab.keyboard.press("ArrowDown")  # the mode: reflect
    assert tab.evaluate("document.activeElement.id") == "lx-pad-mode"
    assert tab.locator("[data-testid=out-shape]").text_content() == "(1, 3, 4)"
    labelled = tab.locator("#lx-pad input, #lx-pad select").evaluate_all(
        "els => els.map(e => !!(e.labels && e.labels.length && e.labels[0].textContent.trim()))"
    )
    assert labelled and all(labelled)


# --- label explorer ----------------------------------------------------------------------------

WORDS = ["What", "is", "2+2", "?", "It", "4", ".", "Thanks", "!", "Hi", "sure", "ok"]


def _chat(rng: random.Random) -> str:
    examples = []
    for _ in range(rng.randint(1, 3)):
        turns = []
        for turn in range(rng.randint(1, 4)):
            role = "User:" if turn % 2 == 0 else "Assistant:"
            if rng.random() < 0.15:
                role = "Assistant:" if role == "User:" else "User:"
            turns.append(" ".join([role] + rng.choices(WORDS, k=rng.randint(1, 4))))
        examples.append("\n".join(turns))
    return "\n\n".join(examples)


def _turns(block: str) -> list[tuple[str, list[str]]]:
    """The turns of one example, each ``(role, words)``; an assistant turn ends with <eos>."""
    turns = []
    for line in block.split("\n"):
        header, *words = line.split()
        role = "assistant" if header == "Assistant:" else "user"
        turns.append((role, [header, *words, *(["<eos>"] if role == "assistant" else [])]))
    return turns


def _trained_turns(turns: list[tuple[str, list[str]]], train: str) -> set[int]:
    """The indices of the turns whose response is trained: no user turn ever, and under
    "completion" only the last assistant turn, wherever it stands in the chat."""
    assistant = [k for k, (role, _) in enumerate(turns) if role == "assistant"]
    return set(assistant[-1:] if train == "completion" else assistant)


def _expected_rows(chat: str, options: dict) -> tuple[list[dict], str]:
    """The batch from lmloss.sft (and TRL's pad for left padding or a fixed length), and the
    vocabulary as the page lists it. The loss mask is built turn by turn (a trained assistant
    turn gives 0 for its header and 1 for the rest), not from token positions as the page does."""
    known = {"<pad>": 0, **SFT_VOCAB}
    vocab = {"<pad>": 0, "<eos>": SFT_VOCAB["<eos>"]}
    new_ids = itertools.count(max(known.values()) + 1)
    examples = []
    for block in chat.split("\n\n"):
        turns = _turns(block)
        trained = _trained_turns(turns, options["train"])
        tokens, loss_mask = [], []
        for k, (_, words) in enumerate(turns):
            for word in words:
                if word not in vocab:
                    vocab[word] = known[word] if word in known else next(new_ids)
            tokens += words
            if options["train"] == "all":
                loss_mask += [1] * len(words)
            else:
                loss_mask += [0] + [int(k in trained)] * (len(words) - 1)
        ids = [vocab[t] for t in tokens]
        examples.append({"input_ids": ids, "labels": labels_from_mask(ids, loss_mask)})
    pad_id = vocab["<eos>" if options["eos"] == "1" else "<pad>"]
    if options["pack"] == "1":
        batch = pack(examples)
    elif options["side"] == "right" and options["length"] == "":
        batch = collate(examples, pad_token_id=pad_id)
    else:
        multiple = int(options["length"]) if options["length"] else None
        side = options["side"]
        batch = {
            "input_ids": trl_pad(
                [torch.tensor(e["input_ids"]) for e in examples], pad_id, side, multiple
            ),
            "labels": trl_pad([e["labels"] for e in examples], -100, side, multiple),
        }
    labels = batch["labels"]
    lost = torch.zeros_like(labels, dtype=torch.bool)
    if options["byid"] == "1" and options["pack"] == "0":
        lost = (batch["input_ids"] == pad_id) & (labels != -100)  # a real EOS, trained
        labels = labels.masked_fill(batch["input_ids"] == pad_id, -100)
    rows = [
        {"ids": ids.tolist(), "labels": row.tolist(), "lost": gone.nonzero().flatten().tolist()}
        for ids, row, gone in zip(batch["input_ids"], labels, lost)
    ]
    listed = sorted(vocab.items(), key=lambda item: item[1])
    return rows, ", ".join(f"{token} {i}" for token, i in listed)


READ_LABELS = """cases => cases.map(state => {
  window.labelExplorer.set(state);
  const rows = [...document.querySelectorAll('#lx-labels table')].map(t => ({
    ids: [...t.querySelectorAll('[data-row=tokens]')].map(c => +c.getAttribute('data-id')),
    labels: [...t.querySelectorAll('[data-row=labels]')].map(c => +c.getAttribute('data-label')),
    shifted: [...t.querySelectorAll('[data-row=shifted]')].map(c => +c.getAttribute('data-label')),
    kinds: [...t.querySelectorAll('[data-row=tokens]')].map(c => c.getAttribute('data-kind')),
    labelKinds: [...t.querySelectorAll('[data-row=labels]')].map(c => c.getAttribute('data-kind')),
  }));
  const items = document.querySelector('[data-testid=num-items]');
  const vocab = document.querySelector('[data-testid=vocab] code').textContent;
  return {rows, vocab, items: items ? +items.textContent : null};
})"""


def test_label_explorer_matches_lmloss_sft_on_random_conversations(tab, server):
    rng = random.Random(13)
    cases = []
    for _ in range(120):
        longest_guess = rng.choice(["", "", "", "40"])
        cases.append(
            {
                "chat": _chat(rng),
                "train": rng.choice(["all", "completion", "assistant"]),
                "side": rng.choice(["right", "left"]),
                "length": longest_guess,
                "eos": rng.choice("01"),
                "byid": rng.choice("01"),
                "pack": rng.choice("001"),
            }
        )
    tab.goto(server + "/explore/labels/")
    shown = tab.evaluate(READ_LABELS, cases)
    seen = set()
    user_after_last_response = 0
    for case, page in zip(cases, shown):
        expected, vocab = _expected_rows(case["chat"], case)
        for block in case["chat"].split("\n\n"):
            roles = [role for role, _ in _turns(block)]
            user_after_last_response += (
                case["train"] == "completion" and "assistant" in roles and roles[-1] == "user"
            )
        got = [
            {
                "ids": r["ids"],
                "labels": r["labels"],
                "lost": [i for i, kind in enumerate(r["kinds"]) if kind == "lost"],
            }
            for r in page["rows"]
        ]
        assert got == expected, case
        assert page["vocab"] == vocab, case
        total = 0
        for row in page["rows"]:
            assert row["shifted"] == row["labels"][1:] + [-100], case
            assert row["labelKinds"] == ["ignored" if y == -100 else "label" for y in row["labels"]]
            seen.update(row["kinds"])
            total += sum(y != -100 for y in row["shifted"])
        assert page["items"] == total, case
    assert seen == {"prompt", "response", "pad", "lost"}
    assert user_after_last_response >= 5  # a user turn after the last response is not trained
    assert tab.problems == []


def test_label_explorer_shows_the_eos_trap_from_its_url(tab, server):
    query = "?train=completion&side=right&length=&eos=1&byid=1&pack=0"
    tab.goto(server + "/en/explore/labels/" + query)
    assert tab.locator("[data-testid=eos-lost]").count() == 1
    by_id = int(tab.locator("[data-testid=num-items]").text_content())
    tab.locator("#lx-byid").press("Space")  # keyboard: untick the trap
    assert tab.locator("[data-testid=eos-lost]").count() == 0
    assert int(tab.locator("[data-testid=num-items]").text_content()) == by_id + 2
    assert "byid=0" in tab.url
    # A literal <pad> in a response, masked by id while the padding token is <pad>: a target
    # is lost, but no EOS, so the page does not say the model never learns to stop.
    chat = "User: hi\nAssistant: ok <pad> ."
    tab.goto(server + "/en/explore/labels/?" + urlencode({"chat": chat, "eos": "0", "byid": "1"}))
    kinds = [c.get_attribute("data-kind") for c in tab.locator("[data-row=tokens]").all()]
    assert kinds == ["prompt", "prompt", "prompt", "response", "lost", "response", "response"]
    assert tab.locator("[data-testid=eos-lost]").count() == 0
    assert tab.problems == []


# --- both ---------------------------------------------------------------------------------------

INJECTIONS = [
    '<img src=x onerror="window.__hit=1">',
    '"><script>window.__hit=1</script>',
    "javascript:window.__hit=1",
    "<svg onload=window.__hit=1>",
]


@pytest.mark.parametrize(
    "page_name, fields",
    [("pad", ["shape", "pad", "mode", "value"]), ("labels", ["chat", "train", "side", "length"])],
)
def test_input_from_the_url_is_data_never_markup(tab, server, page_name, fields):
    for injection in INJECTIONS:
        query = urlencode({name: injection for name in fields})
        tab.goto(f"{server}/en/explore/{page_name}/?{query}")
        assert tab.evaluate("window.__hit") is None
        assert (
            tab.locator("#lx-pad img, #lx-pad script, #lx-labels img, #lx-labels script").count()
            == 0
        )
    assert tab.problems == []


@pytest.mark.parametrize("page_name", ["pad", "labels"])
@pytest.mark.parametrize("lang", LANGS)
def test_explorers_fit_a_phone_in_dark_mode_and_request_nothing_elsewhere(
    browser, server, page_name, lang
):  # noqa: F811
    context = browser.new_context(viewport={"width": 375, "height": 740}, color_scheme="dark")
    page = context.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{server}{LANGS[lang]}{page_name}/")
    page.wait_for_load_state("networkidle")
    assert (
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        <= 0
    )
    assert [url for url in requests if not url.startswith(server)] == []
    # Readable: the form's text is light on the dark page.
    colour = page.locator(f"#lx-{page_name} label").first.evaluate("e => getComputedStyle(e).color")
    assert sum(int(c) for c in colour[colour.index("(") + 1 : -1].split(",")[:3]) > 384, colour
    if page_name == "labels":
        # Each checkbox keeps its size however its label wraps, and each table's caption starts
        # on screen, not centred over a table wider than the phone.
        boxes = page.locator(".lx-check input").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().width)"
        )
        assert len(boxes) == 3 and len(set(boxes)) == 1, boxes
        captions = page.locator(".lx-table caption").evaluate_all(
            "els => els.map(e => { const r = document.createRange(); r.selectNodeContents(e); "
            "const b = r.getBoundingClientRect(); return [b.left, b.right]; })"
        )
        assert captions and all(left >= 0 and right <= 375 for left, right in captions), captions
    context.close()


@pytest.mark.parametrize("name", ["pad.js", "labels.js"])
@pytest.mark.parametrize("lang", LANGS)
def test_each_explorer_weighs_at_most_30_kb_compressed(built_site, lang, name):
    folder = built_site.root / LANGS[lang].strip("/")
    size = sum(len(gzip.compress((folder / f).read_bytes(), 9)) for f in (name, "explore.css"))
    assert size <= BUDGET, f"{name} and explore.css: {size} bytes gzipped"


def test_explorer_scripts_are_loaded_only_by_the_explorer_pages(built_site):
    pages = [
        p
        for p in built_site.root.rglob("index.html")
        if "explore.css" in p.read_text(encoding="utf-8")
    ]
    assert sorted(p.parent.relative_to(built_site.root).as_posix() for p in pages) == [
        "en/explore/labels",
        "en/explore/pad",
        "explore/labels",
        "explore/pad",
    ]


def test_the_explain_words_are_those_of_lmloss_explain(built_site):
    # The scripts carry lmloss.explain's templates, written at build time.
    for lang, prefix in LANGS.items():
        script = (built_site.root / prefix.strip("/") / "pad.js").read_text(encoding="utf-8")
        words = json.loads(script[len("var LMLOSS_TEXT = ") : script.index(";\n")])
        assert words["explain"]["result"].format(shape=(1,), result=(2,)) in explain_pad(
            (1,), (0, 1), lang=lang
        )
