"""Tests for ``lmloss.diagrams.pad_svg``: checked against real ``F.pad`` results."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import torch
import torch.nn.functional as F

from lmloss import explain_pad
from lmloss.diagrams import pad_svg
from lmloss.padding import pad_shape

SVG = "{http://www.w3.org/2000/svg}"
SEED = ((1, 2, 2), (1, 1, 0, 1, 1, 0))

# (shape, pad, mode) across ranks 1-3, every mode, cropping and untouched dims.
CASES = [
    ((5,), (2, 1), "constant"),
    ((4,), (-1, 2), "constant"),
    ((3, 4), (1, 0, 2, 1), "constant"),
    ((3, 2), (0, 0, 1, 1), "constant"),
    ((2, 3), (2, 1), "reflect"),
    ((2, 4), (3, 2), "circular"),
    ((3, 2), (1, 3), "replicate"),
    ((2, 3), (-1, 2), "replicate"),
    ((1, 2, 2), (1, 1, 0, 1, 1, 0), "constant"),
    ((2, 2, 2), (0, 0, 0, 0, 1, 2), "constant"),
    ((2, 3, 3), (1, 2, 0, 1), "reflect"),
    ((2, 2, 3), (1, 1, 1, 0), "replicate"),
    ((2, 3, 2), (2, 1, 1, 1), "circular"),
    ((1, 3, 4), (-1, 2, 1, -1), "circular"),
]
COPYING = [case for case in CASES if case[2] != "constant"]
LANGS = ("en", "zh")


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def cells(root: ET.Element) -> list[ET.Element]:
    return [el for el in root.iter() if "data-kind" in el.attrib]


def index_of(cell: ET.Element) -> tuple[int, ...]:
    return tuple(int(i) for i in cell.get("data-index").split(","))


def texts(root: ET.Element) -> list[str]:
    """Visible labels plus title and description; a label wrapped into ``<tspan>`` rows is one
    text, its rows joined."""
    wanted = {SVG + "text", SVG + "title", SVG + "desc"}
    found = [
        (el.text or "").strip() + "".join(row.text or "" for row in el.iter(SVG + "tspan"))
        for el in root.iter()
        if el.tag in wanted
    ]
    return [text for text in found if text]


def test_root_is_accessible_scalable_svg() -> None:
    svg = pad_svg(*SEED)
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" ')
    root = parse(svg)
    assert root.tag == SVG + "svg"
    x, y, width, height = map(float, root.get("viewBox").split())
    assert (x, y) == (0, 0)
    assert (float(root.get("width")), float(root.get("height"))) == (width, height)
    assert root.get("role") == "img"
    ids = {el.get("id"): el.tag for el in root.iter() if el.get("id")}
    title_id, desc_id = root.get("aria-labelledby").split()
    assert ids[title_id] == SVG + "title"
    assert ids[desc_id] == SVG + "desc"
    assert len(svg.encode()) < 30_000


def test_seed_has_4_input_and_20_pad_elements() -> None:
    root = parse(pad_svg(*SEED))
    kinds = [cell.get("data-kind") for cell in cells(root)]
    assert (kinds.count("input"), kinds.count("pad")) == (4, 20)
    assert len(kinds) == 24
    # The input sits in the back slice (index 1 of dim 0), rows 0-1, columns 1-2.
    inputs = {index_of(cell) for cell in cells(root) if cell.get("data-kind") == "input"}
    assert inputs == {(1, 0, 1), (1, 0, 2), (1, 1, 1), (1, 1, 2)}
    # Front slice from dim 0, bottom row of the back slice from dim 1, its side columns from dim 2.
    dims = [cell.get("data-dim") for cell in cells(root) if cell.get("data-kind") == "pad"]
    assert {d: dims.count(d) for d in "012"} == {"0": 12, "1": 4, "2": 4}


def test_seed_labels() -> None:
    en, zh = (" ".join(texts(parse(pad_svg(*SEED, lang=lang)))) for lang in LANGS)
    assert "(1, 2, 2) → (2, 3, 4)" in en
    assert "dim 0 = dim -3: +1 left, +0 right, 1 → 2" in en
    assert "dim 1 = dim -2: +0 left, +1 right, 2 → 3" in en
    assert "dim 2 = dim -1 (last): +1 left, +1 right, 2 → 4" in en
    assert "形状 (1, 2, 2) → (2, 3, 4)" in zh
    assert "dim 2 = dim -1（最后一维）：左 +1，右 +1，2 → 4" in zh


def test_a_dim_the_tuple_does_not_reach_is_labelled_as_explain_pad_says() -> None:
    """The labels' (2, 3) padded with (0, 1): dim 0 is not padded by a (0, 0) pair."""
    en, zh = (" ".join(texts(parse(pad_svg((2, 3), (0, 1), lang=lang)))) for lang in LANGS)
    assert "dim 0 = dim -2: not reached, keeps size 2" in en
    assert "dim 0 = dim -2：填充元组没有涉及，长度保持 2" in zh
    assert "+0 left, +0 right" not in en
    assert "not reached, keeps size 2" in explain_pad((2, 3), (0, 1), lang="en")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("shape", "pad", "mode"), CASES)
def test_each_axis_is_named_both_ways(shape, pad, mode, lang) -> None:
    """The pages say dim -1, dim -2, dim -3; the arrows name dim 2 = dim -1 and so on."""
    labels = [t.text for t in parse(pad_svg(shape, pad, mode, lang=lang)).iter(SVG + "text")]
    word = "dim"  # in Chinese too: "维度 2" would read as the 2nd dimension, counted from 1
    rank = len(shape)
    for d in range(rank):
        assert f"{word} {d} = dim {d - rank}" in labels


@pytest.mark.parametrize(("shape", "pad", "mode"), CASES)
def test_input_and_pad_cells_match_torch(shape, pad, mode) -> None:
    mask = F.pad(torch.ones(shape), pad, mode="constant", value=0)
    root = parse(pad_svg(shape, pad, mode))
    found = cells(root)
    kinds = [cell.get("data-kind") for cell in found]
    assert kinds.count("input") == int(mask.sum())
    assert kinds.count("pad") == mask.numel() - int(mask.sum())
    assert sorted(index_of(cell) for cell in found) == sorted(
        tuple(i) for i in torch.ones(mask.shape).nonzero().tolist()
    )
    for cell in found:
        assert cell.get("data-kind") == ("input" if mask[index_of(cell)] else "pad")


@pytest.mark.parametrize(("shape", "pad", "mode"), CASES)
def test_pad_cells_name_the_outermost_padded_dim(shape, pad, mode) -> None:
    # Along each dim alone, torch tells where the input lands.
    pairs = [tuple(pad[i : i + 2]) for i in range(0, len(pad), 2)][::-1]
    pairs = [(0, 0)] * (len(shape) - len(pairs)) + pairs
    lands = [F.pad(torch.ones(n), pair).bool() for n, pair in zip(shape, pairs)]
    for cell in cells(parse(pad_svg(shape, pad, mode))):
        outside = [d for d, i in enumerate(index_of(cell)) if not lands[d][i]]
        if cell.get("data-kind") == "input":
            assert outside == [] and "data-dim" not in cell.attrib
        else:
            assert cell.get("data-dim") == str(outside[0])
            assert f"neg{len(shape) - outside[0]}" in cell.get("class").split()


@pytest.mark.parametrize(("shape", "pad", "mode"), COPYING)
def test_data_src_is_what_torch_copies(shape, pad, mode) -> None:
    copied = F.pad(torch.arange(math.prod(shape)).reshape(shape), pad, mode=mode)
    for cell in cells(parse(pad_svg(shape, pad, mode))):
        assert int(cell.get("data-src")) == int(copied[index_of(cell)])


@pytest.mark.parametrize(("shape", "pad", "mode"), [c for c in CASES if c[2] == "constant"])
def test_constant_mode_src_only_on_input(shape, pad, mode) -> None:
    placed = F.pad(torch.arange(math.prod(shape)).reshape(shape), pad, value=-1)
    for cell in cells(parse(pad_svg(shape, pad, mode))):
        if cell.get("data-kind") == "pad":
            assert "data-src" not in cell.attrib
        else:
            assert int(cell.get("data-src")) == int(placed[index_of(cell)])


def test_nothing_else_carries_data_kind() -> None:
    root = parse(pad_svg(*SEED))
    for cell in cells(root):
        assert not any("data-kind" in el.attrib for el in list(cell.iter())[1:])
    assert all(cell.tag in (SVG + "g", SVG + "rect") for cell in cells(root))


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("shape", "pad", "mode"), [(*SEED, "constant"), CASES[10]])
def test_same_arguments_same_bytes_across_processes(shape, pad, mode, lang) -> None:
    here = pad_svg(shape, pad, mode, lang)
    assert pad_svg(shape, pad, mode, lang) == here
    script = (
        "import sys; from lmloss.diagrams import pad_svg; "
        f"sys.stdout.buffer.write(pad_svg({shape!r}, {pad!r}, {mode!r}, {lang!r}).encode())"
    )
    for seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, check=True
        ).stdout
        assert out == here.encode()


def test_ids_are_unique_per_diagram() -> None:
    def ids(svg: str) -> set[str]:
        return {el.get("id") for el in parse(svg).iter() if el.get("id")}

    seed = ids(pad_svg(*SEED))
    assert len(seed) == 2
    assert seed.isdisjoint(ids(pad_svg((1, 2, 2), (1, 1, 0, 1))))
    assert seed.isdisjoint(ids(pad_svg((2, 2), (1, 1))))
    assert seed.isdisjoint(ids(pad_svg(*SEED, lang="zh")))


@pytest.mark.parametrize(("shape", "pad", "mode"), CASES)
def test_zh_is_chinese_without_english_labels(shape, pad, mode) -> None:
    en, zh = (parse(pad_svg(shape, pad, mode, lang=lang)) for lang in LANGS)
    assert zh.get("{http://www.w3.org/XML/1998/namespace}lang") == "zh"
    han = re.compile(r"[\u4e00-\u9fff]")
    assert han.search(zh.find(SVG + "title").text)
    assert han.search(zh.find(SVG + "desc").text)
    zh_text = " ".join(texts(zh))
    for label in ("维度", "输入", "填充", "形状", "左", "右"):
        assert label in zh_text
    # The F.pad call is code and stays as it is in both languages; so does `dim -1`, the
    # pages' name of a dimension in both languages.
    code = set(re.findall(r"[A-Za-z]+", f'F.pad(x, pad, mode="{mode}") dim'))
    english = set(re.findall(r"[A-Za-z]+", " ".join(texts(en)))) - code
    assert {"left", "right", "input", "padding", "shape"} <= english
    assert english.isdisjoint(re.findall(r"[A-Za-z]+", zh_text))


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("shape", "pad", "mode"), CASES[::3])
def test_self_contained(shape, pad, mode, lang) -> None:
    svg = pad_svg(shape, pad, mode, lang=lang)
    lowered = svg.lower()
    for needle in ("href", "url(", "@import", "@font-face", "<image", "<use", "<foreignobject"):
        assert needle not in lowered
    root = parse(svg)
    for el in root.iter():
        for value in [*el.attrib.values(), el.text or ""]:
            assert "http" not in value.lower()


def _rules(root: ET.Element) -> list[tuple[str, dict[str, str]]]:
    sheet = root.find(SVG + "style").text
    rules = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", sheet):
        decls = dict(d.split(":", 1) for d in body.split(";") if d)
        rules.append((selector.strip(), decls))
    return rules


def _luminance(colour: str) -> float:
    assert re.fullmatch(r"#[0-9a-f]{6}", colour), colour

    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _fill(rules, tag: str, classes: set[str]) -> str:
    """The fill CSS gives an element: matching single-class rules beat the tag rule."""
    by_tag = [d["fill"] for s, d in rules if s == tag and "fill" in d]
    by_class = [
        d["fill"]
        for s, d in rules
        if s.lstrip(".") in classes and s.startswith(".") and "fill" in d
    ]
    return (by_tag + by_class)[-1]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("shape", "pad", "mode"), CASES[::4])
def test_text_contrast_is_wcag_aa(shape, pad, mode, lang) -> None:
    root = parse(pad_svg(shape, pad, mode, lang=lang))
    rules = _rules(root)
    card = root.find(SVG + "rect")
    assert card.get("class") == "bg"
    background = _fill(rules, "rect", {"bg"})
    labels = [el for el in root.iter(SVG + "text")]
    assert labels
    for label in labels:
        assert "fill" not in label.attrib and "style" not in label.attrib
        colour = _fill(rules, "text", set(label.get("class", "").split()))
        assert contrast(colour, background) >= 4.5, (label.text, colour)
    # The dashed edges carry the padding on their own: WCAG's 3:1 for graphics.
    for selector, decls in rules:
        if "stroke" in decls and decls["stroke"].startswith("#") and selector != ".bg":
            assert contrast(decls["stroke"], background) >= 3, selector


def _colour_of_dim(root: ET.Element, rank: int, kind: str, part: str) -> dict[int, str]:
    """The stroke CSS gives each dim's ``kind`` elements (or their child of class ``part``), by
    the dim counted from the end (-1, -2, ...)."""
    rules = _rules(root)
    found: dict[int, set[str]] = {}
    for el in root.iter():
        if el.get("data-kind") != kind:
            continue
        target = el if part == "" else next(c for c in el.iter() if c.get("class") == part)
        classes = set(el.get("class", "").split()) | set(target.get("class", "").split())
        strokes = [
            d["stroke"]
            for s, d in rules
            if "stroke" in d and all(c.lstrip(".") in classes for c in s.split())
        ]
        found.setdefault(int(el.get("data-dim")) - rank, set()).add(strokes[-1])
    assert all(len(colours) == 1 for colours in found.values()), found
    return {dim: colours.pop() for dim, colours in found.items()}


def test_one_colour_per_dim_counted_from_the_end_whatever_the_rank() -> None:
    """Padding added by dim -1 has one colour in a row, a grid and a 3-D tensor, and the pair
    that pads dim -1 in the pairs diagram has it too: colour = dim -k across the pages."""
    from lmloss.diagrams import pad_pairs_svg

    seen: dict[int, set[str]] = {}
    for shape, pad in [((3,), (1, 1)), ((2, 3), (1, 1, 1, 1)), SEED]:
        drawn = [
            (parse(pad_svg(shape, pad)), "pad", ""),
            (parse(pad_pairs_svg(shape, pad)), "pair", "e"),
        ]
        for root, kind, part in drawn:
            for dim, colour in _colour_of_dim(root, len(shape), kind, part).items():
                seen.setdefault(dim, set()).add(colour)
    assert sorted(seen) == [-3, -2, -1]
    assert all(len(colours) == 1 for colours in seen.values()), seen
    assert len({min(colours) for colours in seen.values()}) == 3


@pytest.mark.parametrize("lang", LANGS)
def test_3d_slices_are_labelled_in_order_above_each_slice(lang: str) -> None:
    root = parse(pad_svg((3, 2, 3), (1, 1, 0, 1), lang=lang))
    word = {"en": "slice {k}", "zh": "第 {k} 层"}[lang]
    labels = {el.text: el for el in root.iter(SVG + "text") if el.text}
    wanted = [word.format(k=k) for k in range(3)]
    assert all(label in labels for label in wanted), sorted(labels)
    xs = [float(labels[label].get("x")) for label in wanted]
    assert xs == sorted(xs) and len(set(xs)) == 3
    # Each label stands above the top of its own slice's cells, left of none of them.
    for k, label in enumerate(wanted):
        corners = [
            [float(n) for n in re.findall(r"-?[\d.]+", el.find(SVG + "path").get("d"))]
            for el in cells(root)
            if index_of(el)[0] == k
        ]
        assert float(labels[label].get("y")) < min(min(c[1::2]) for c in corners)
        assert float(labels[label].get("x")) == min(min(c[0::2]) for c in corners)


@pytest.mark.parametrize("lang", LANGS)
def test_font_stack_has_cjk_and_ends_in_sans_serif(lang: str) -> None:
    rules = dict(_rules(parse(pad_svg(*SEED, lang=lang))))
    families = rules["svg"]["font-family"]
    assert families.endswith(",sans-serif")
    for family in ('"Noto Sans CJK SC"', '"PingFang SC"', '"Microsoft YaHei"'):
        assert family in families


def test_rejects_unknown_lang() -> None:
    with pytest.raises(ValueError, match=r"lang must be one of 'en', 'zh'; got 'fr'"):
        pad_svg(*SEED, lang="fr")


@pytest.mark.parametrize("shape", [(), (1, 1, 2, 2)])
def test_rejects_rank_outside_1_to_3(shape) -> None:
    message = rf"shape must have 1, 2 or 3 dimensions to be drawn; got {len(shape)}: "
    with pytest.raises(ValueError, match=message):
        pad_svg(shape, ())


@pytest.mark.parametrize(
    ("shape", "pad", "message"),
    [
        ((16, 16), (1, 1), r"output shape \(16, 18\) has 288 elements"),
        ((40,), (0, 0), r"input shape \(40,\) has 40 elements and a longest dimension of 40"),
        # Cropping a huge input down to 2 elements must fail before allocating it.
        ((10**12,), (2 - 10**12, 0), r"input shape \(1000000000000,\) has 1000000000000"),
    ],
)
def test_rejects_too_many_elements(shape, pad, message) -> None:
    with pytest.raises(ValueError, match=r"too many elements to draw legibly: the " + message):
        pad_svg(shape, pad)
    with pytest.raises(ValueError, match=r"at most 256 elements and 32 per dimension"):
        pad_svg(shape, pad)


def test_rejects_empty_output() -> None:
    with pytest.raises(ValueError, match=r"nothing to draw: the output shape \(0, 3\) has no"):
        pad_svg((0, 3), (0, 0))


@pytest.mark.parametrize(
    ("shape", "pad", "mode", "message"),
    [
        ((2, 3), (2, -3), "replicate", r"crops away every input element of dim 1: pad \(2, -3\)"),
        ((2, 3), (2, -2), "circular", r"wraps more values than cropping leaves in dim 1: .* 1$"),
    ],
)
def test_rejects_copying_from_nothing(shape, pad, mode, message) -> None:
    pad_shape(shape, pad, mode)  # torch accepts these...
    with pytest.raises(ValueError, match=message):  # ...but would copy uninitialised memory.
        pad_svg(shape, pad, mode)


@pytest.mark.parametrize(
    ("shape", "pad", "mode", "error"),
    [
        ((2, 3), (1,), "constant", ValueError),
        ((2, 3), (1, 1), "wrap", ValueError),
        ((2, 3), (3, 1), "reflect", ValueError),
        ((3,), (1, 1), "reflect", ValueError),
        ((2, 3), (1.5, 1), "constant", TypeError),
        (5, (1, 1), "constant", TypeError),
    ],
)
def test_pad_and_mode_errors_come_from_pad_shape(shape, pad, mode, error) -> None:
    with pytest.raises(error) as expected:
        pad_shape(shape, pad, mode)
    with pytest.raises(error) as got:
        pad_svg(shape, pad, mode)
    assert str(got.value) == str(expected.value)


# --- geometry: where each cell is drawn, not only what its data-* attributes say ------------


def _points(el: ET.Element) -> list[tuple[float, float]]:
    """The corners an element covers: a rect's, or every point of its paths."""
    points = []
    for part in el.iter():
        if part.tag == SVG + "rect":
            x, y = float(part.get("x")), float(part.get("y"))
            w, h = float(part.get("width")), float(part.get("height"))
            points += [(x, y), (x + w, y + h)]
        elif part.tag == SVG + "path":
            numbers = [float(n) for n in re.findall(r"-?[\d.]+", part.get("d"))]
            points += list(zip(numbers[::2], numbers[1::2]))
    return points


def front(cell: ET.Element) -> tuple[float, float, float, float]:
    """The cell's front face (its first rect or path): x0, y0, x1, y1."""
    first = next(el for el in cell.iter() if el.tag in (SVG + "rect", SVG + "path"))
    xs, ys = zip(*_points(first))
    return min(xs), min(ys), max(xs), max(ys)


def box(cell: ET.Element) -> tuple[float, float, float, float]:
    xs, ys = zip(*_points(cell))
    return min(xs), min(ys), max(xs), max(ys)


def _overlap(a, b) -> bool:
    return a[0] < b[2] - 0.01 and b[0] < a[2] - 0.01 and a[1] < b[3] - 0.01 and b[1] < a[3] - 0.01


def _by_index(root: ET.Element) -> dict[tuple[int, ...], ET.Element]:
    found = {}
    for cell in cells(root):
        index = index_of(cell)
        found[(0,) * (3 - len(index)) + index] = cell
    return found


@pytest.mark.parametrize("values", [False, True])
@pytest.mark.parametrize(("shape", "pad", "mode"), CASES)
def test_cells_are_drawn_in_index_order(shape, pad, mode, values) -> None:
    """Columns left to right along dim -1, rows top to bottom along dim -2, and the slices
    of dim -3 each to the right of and above the one before: so a left pad lies left of the
    input, a top pad above it, and input cells keep their order inside the padded span."""
    grid = _by_index(parse(pad_svg(shape, pad, mode, values=values or None)))
    for (d, r, c), cell in grid.items():
        x0, y0, x1, _ = front(cell)
        if (d, r, c + 1) in grid:
            assert x1 <= front(grid[(d, r, c + 1)])[0], (d, r, c)
        if (d, r + 1, c) in grid:
            assert front(grid[(d, r + 1, c)])[1] >= y0 + 20, (d, r, c)
            assert front(grid[(d, r + 1, c)])[0] == x0
        if (d + 1, r, c) in grid:
            nx0, ny0, _, _ = front(grid[(d + 1, r, c)])
            assert nx0 > x0 and ny0 < y0, (d, r, c)


@pytest.mark.parametrize(("shape", "pad", "mode"), CASES)
def test_left_pad_is_left_of_the_input_and_top_pad_above_it(shape, pad, mode) -> None:
    """Cells the left entry of dim -1 adds lie left of every input cell of their row, those
    the top entry of dim -2 adds above the input of their column, and the input cells of a
    row appear left to right in the input's own order."""
    grid = _by_index(parse(pad_svg(shape, pad, mode)))
    left = max(pad[0], 0)
    top = max(pad[2], 0) if len(pad) > 2 and len(shape) > 1 else 0
    inputs = {i: c for i, c in grid.items() if c.get("data-kind") == "input"}
    assert inputs
    for (d, r, c), cell in inputs.items():
        x, y = front(cell)[:2]
        for k in range(left):
            assert front(grid[(d, r, k)])[2] <= x
            assert grid[(d, r, k)].get("data-kind") == "pad"
        for k in range(top):
            assert front(grid[(d, k, c)])[3] <= y
            assert grid[(d, k, c)].get("data-kind") == "pad"
    for d, r in {(d, r) for d, r, _ in inputs}:
        row = sorted(
            (c for (dd, rr, _), c in inputs.items() if (dd, rr) == (d, r)),
            key=lambda c: front(c)[0],
        )
        sources = [int(c.get("data-src")) for c in row]
        assert sources == sorted(sources) and sources == list(
            range(sources[0], sources[0] + len(sources))
        )


@pytest.mark.parametrize("values", [None, True])
@pytest.mark.parametrize(("shape", "pad", "mode"), [c for c in CASES if len(c[0]) == 3])
def test_no_cell_hides_an_input_cell(shape, pad, mode, values) -> None:
    """The input is visible at a glance: no cube drawn later covers an input cube's front."""
    drawn = cells(parse(pad_svg(shape, pad, mode, values=values)))
    for i, cell in enumerate(drawn):
        if cell.get("data-kind") == "input":
            for later in drawn[i + 1 :]:
                assert not _overlap(front(cell), box(later)), (index_of(cell), index_of(later))
