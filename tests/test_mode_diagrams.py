"""The chapter "F.pad in depth" and "F.pad edge cases and errors": its diagrams, quiz and errors.

Every drawing is checked against what ``F.pad`` returns; the page's quiz and error table are
checked against torch and against the snippet the page shows.
"""

from __future__ import annotations

import importlib.util
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lmloss import explain_pad, pad_shape
from lmloss.diagrams import pad_pairs_svg, pad_svg
from test_diagrams import SVG, cells, contrast, index_of, texts

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ROOT / "snippets" / "output"
PAGES = ("pad-modes.md", "pad-edge-cases.md")
MODES = ("constant", "reflect", "replicate", "circular")


def _load_hook():
    spec = importlib.util.spec_from_file_location(
        "site_diagrams", ROOT / "docs" / "_hooks" / "site_diagrams.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DIAGRAMS = _load_hook().DIAGRAMS
CHAPTER = sorted(
    {
        name
        for page in PAGES
        for name in re.findall(
            r"\]\(diagrams/([\w-]+)\.svg\)", (ROOT / "docs" / "en" / page).read_text()
        )
    }
)


@st.composite
def drawable(draw):
    """(shape, pad, mode, value) that pad_svg can draw with values."""
    mode = draw(st.sampled_from(MODES))
    rank = draw(st.integers(1 if mode == "constant" else 2, 3))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
    most = rank if mode == "constant" else rank - 1
    pairs = draw(st.integers(1 if mode != "constant" else 0, most))
    pad = tuple(draw(st.lists(st.integers(-2, 3), min_size=2 * pairs, max_size=2 * pairs)))
    value = draw(st.sampled_from([None, -1, 0.5, -100])) if mode == "constant" else None
    return shape, pad, mode, value


def _draw_or_reject(shape, pad, mode, **kwargs) -> ET.Element:
    try:
        return ET.fromstring(pad_svg(shape, pad, mode, **kwargs))
    except ValueError as error:  # an invalid call or one too large or too cropped to draw
        assume(False)
        raise AssertionError from error  # pragma: no cover - assume() has already stopped us


@settings(derandomize=True, max_examples=120, deadline=None)
@given(drawable(), st.sampled_from(("en", "zh")))
def test_drawn_values_and_counts_are_torchs(case, lang) -> None:
    shape, pad, mode, value = case
    root = _draw_or_reject(shape, pad, mode, lang=lang, values=True, value=value)
    source = torch.arange(math.prod(shape)).reshape(shape)
    padded = F.pad(source, pad, mode=mode, value=value)
    mask = F.pad(torch.ones(shape), pad, value=0)
    found = cells(root)
    kinds = [cell.get("data-kind") for cell in found]
    assert kinds.count("input") == int(mask.sum())
    assert kinds.count("pad") == mask.numel() - int(mask.sum())
    assert len(found) == padded.numel()
    for cell in found:
        element = padded[index_of(cell)].item()
        assert float(cell.get("data-value")) == element
        assert [t.text for t in cell.iter(SVG + "text")] == [cell.get("data-value")]
        if mode != "constant" or cell.get("data-kind") == "input":
            assert int(cell.get("data-src")) == element  # arange: a value is its own index
        else:  # constant padding holds the fill value, copied from no element
            assert cell.get("data-src") is None


@pytest.mark.parametrize(
    ("values", "pad", "mode", "value"),
    [
        ([[40, 1842, 4950], [15607, 13, 2]], (0, 1), "constant", -100),
        ([[0.25, -1.5, 2.0]], (2, 1), "reflect", None),
        ([[True, False]], (1, 1), "constant", -100),
        (torch.tensor([[1, 2, 3]], dtype=torch.int8), (1, 1), "circular", None),
    ],
)
def test_given_values_are_drawn_as_torch_pads_them(values, pad, mode, value) -> None:
    tensor = torch.as_tensor(values)
    padded = F.pad(tensor, pad, mode=mode, value=value)
    root = ET.fromstring(pad_svg(tuple(tensor.shape), pad, mode, values=values, value=value))
    drawn = {index_of(cell): cell.get("data-value") for cell in cells(root)}
    expected = {
        index: str(padded[index].item()).replace(".0", "")
        if padded.is_floating_point()
        else str(padded[index].item())
        for index in drawn
    }
    assert drawn == expected
    if value is not None:
        assert f"value={value})" in " ".join(texts(root))


def test_values_of_the_wrong_shape_are_rejected() -> None:
    with pytest.raises(
        ValueError,
        match=r"values must have the shape being padded, \(1, 3\); "
        r"got \(3,\)",
    ):
        pad_svg((1, 3), (1, 1), values=[1, 2, 3])


def test_value_rejected_by_torch_is_torchs_error() -> None:
    with pytest.raises(RuntimeError, match='Padding mode "reflect" doesn\'t take in value'):
        pad_svg((1, 3), (1, 1), "reflect", values=True, value=-100)


def test_without_values_the_drawing_is_unchanged() -> None:
    plain = pad_svg((2, 3), (1, 1), "reflect")
    assert "data-value" not in plain and 'class="n"' not in plain
    assert pad_svg((2, 3), (1, 1), "reflect", values=None) == plain


def test_value_text_contrasts_with_its_cell() -> None:
    root = ET.fromstring(pad_svg((1, 3), (1, 1), values=True))
    sheet = dict(re.findall(r"([^{}]+)\{([^{}]*)\}", root.find(SVG + "style").text))
    on_input = re.search(r"fill:(#\w+)", sheet[".i .n"])[1]
    input_fill = re.search(r"fill:(#\w+)", sheet[".i"])[1]
    assert contrast(on_input, input_fill) >= 4.5
    # Padding values keep full opacity and no outline, whatever their cell inherits.
    assert "fill-opacity:1" in sheet[".n"] and "stroke:none" in sheet[".n"]


@settings(derandomize=True, max_examples=80, deadline=None)
@given(
    st.lists(st.integers(0, 5), min_size=1, max_size=3).map(tuple),
    st.data(),
    st.sampled_from(("en", "zh")),
)
def test_pairs_diagram_maps_each_pair_to_its_dim(shape, data, lang) -> None:
    pairs = data.draw(st.integers(0, len(shape)))
    pad = tuple(data.draw(st.lists(st.integers(-2, 3), min_size=2 * pairs, max_size=2 * pairs)))
    try:
        result = pad_shape(shape, pad)
    except ValueError:
        assume(False)
    root = ET.fromstring(pad_pairs_svg(shape, pad, lang=lang))
    torch_shape = tuple(F.pad(torch.empty(shape), pad).shape)
    drawn_pairs = [el for el in root.iter() if el.get("data-kind") == "pair"]
    assert [int(el.get("data-pair")) for el in drawn_pairs] == list(range(pairs))
    for el in drawn_pairs:
        k = int(el.get("data-pair"))
        assert int(el.get("data-dim")) == len(shape) - 1 - k
        assert el.get("data-entries") == f"{pad[2 * k]},{pad[2 * k + 1]}"
    dims = {int(el.get("data-dim")): el for el in root.iter() if el.get("data-kind") == "dim"}
    assert sorted(dims) == list(range(len(shape)))
    for pos, el in dims.items():
        assert int(el.get("data-size")) == shape[pos]
        assert int(el.get("data-result")) == result[pos] == torch_shape[pos]
    # The caption under the drawing is explain_pad's account, line by line.
    shown = texts(root)
    for line in explain_pad(shape, pad, lang=lang).splitlines():
        assert line in shown


def test_every_chapter_diagram_is_registered_small_and_deterministic() -> None:
    assert len(CHAPTER) >= 17
    for name in CHAPTER:
        for lang in ("en", "zh"):
            svg = DIAGRAMS[name](lang)
            assert svg == DIAGRAMS[name](lang)
            assert len(svg.encode()) < 30_000, (name, lang, len(svg.encode()))
            root = ET.fromstring(svg)
            title = root.find(SVG + "title").text
            assert bool(re.search(r"[\u4e00-\u9fff]", title)) == (lang == "zh"), (name, title)


def _printed_rows(section: str) -> dict[str, list[int]]:
    text = (OUTPUTS / section).read_text(encoding="utf-8")
    return {mode: eval(values) for mode, values in re.findall(r"^ *(\w+): (\[.*\])$", text, re.M)}


@pytest.mark.parametrize("mode", MODES)
def test_1d_mode_diagrams_show_what_the_page_prints(mode) -> None:
    printed = _printed_rows("pad_modes/modes_1d.txt")[mode]
    root = ET.fromstring(DIAGRAMS[f"pad-{mode}-1d"]("en"))
    drawn = sorted(cells(root), key=index_of)
    assert [int(cell.get("data-value")) for cell in drawn] == printed
    # The facts the chapter starts from.
    assert (
        printed
        == {
            "constant": [0, 0, 0, 1, 2, 3, 0, 0],
            "reflect": [2, 1, 0, 1, 2, 3, 2, 1],
            "replicate": [0, 0, 0, 1, 2, 3, 3, 3],
            "circular": [2, 3, 0, 1, 2, 3, 0, 1],
        }[mode]
    )


def test_crop_diagram_shows_the_printed_circular_crop() -> None:
    root = ET.fromstring(DIAGRAMS["pad-crop"]("en"))
    drawn = [int(cell.get("data-value")) for cell in sorted(cells(root), key=index_of)]
    assert drawn == _printed_rows("pad_edge_cases/crop.txt")["circular"] == [1, 2, 3, 1, 2]


# --- the quiz: the page's questions, run here, against the answers the page reveals ---------


def _quiz_questions(page: Path) -> list[str]:
    section = page.read_text(encoding="utf-8").split("{ #quiz }")[1].split("???")[0]
    return re.findall(r"^\d\. .*?`(F\.pad\(.*?\))`", section, re.M)


def _reflect(xs: list[int], left: int, right: int) -> list[int]:
    return xs[left:0:-1] + xs + xs[-2 : -2 - right : -1]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_quiz_answers_are_torchs_and_match_the_questions(lang) -> None:
    questions = _quiz_questions(ROOT / "docs" / lang / "pad-edge-cases.md")
    assert len(questions) == 5
    answers = (OUTPUTS / "pad_edge_cases" / "quiz.txt").read_text(encoding="utf-8").splitlines()
    scope = {"F": F, "torch": torch}
    # 1-4: each question's expression, run here, gives the recorded answer.
    first = eval(questions[0], scope)
    assert answers[0] == f"1. {tuple(first.shape)}"
    for number, question in enumerate(questions[1:4], start=2):
        assert answers[number - 1] == f"{number}. {eval(question, scope).flatten().tolist()}"
    # ...and the answers agree with the rules worked by hand.
    assert answers[:4] == [
        f"1. {(2, 3, 4 + 2 + 3, 5 + 0 + 1)}",
        f"2. {_reflect([0, 1, 2, 3, 4], 3, 1)}",
        "3. [2, 0, 1, 2]",  # crop 3, then wrap the last kept value, 2
        f"4. {[int(2.7), 1, 2, 3, int(2.7)]}",
    ]
    # 5: which modes accept it; reflect needs pad < 3, circular pad <= 3.
    for mode, line in zip(MODES, answers[4:], strict=True):
        accepted = mode != "reflect"
        assert line.startswith(f"5. {mode}: ")
        assert (line == f"5. {mode}: (1, 9)") == accepted
        try:
            eval(questions[4].replace("mode=...", f"mode={mode!r}"), scope)
            assert accepted
        except RuntimeError as error:
            assert not accepted and line == f"5. {mode}: RuntimeError: {error}"


# --- the error table: every numbered error is printed, and both pages explain each one -------


def test_every_numbered_error_is_printed_and_in_both_tables() -> None:
    snippet = (ROOT / "snippets" / "pad_edge_cases.py").read_text(encoding="utf-8")
    numbered = [int(n) for n in re.findall(r"^# (\d+)\. .*\nattempt\(", snippet, re.M)]
    assert numbered == list(range(1, len(numbered) + 1)) and len(numbered) >= 13
    printed = "".join(
        (OUTPUTS / "pad_edge_cases" / f"{name}.txt").read_text(encoding="utf-8")
        for name in ("errors_tuple", "errors_mode", "errors_value")
    )
    errors = re.findall(r"^(\w+Error): ", printed, re.M)
    assert len(errors) == len(numbered)
    for lang in ("en", "zh"):
        page = (ROOT / "docs" / lang / "pad-edge-cases.md").read_text(encoding="utf-8")
        table = page.split("{ #errors }")[1].split("\n## ")[0]
        rows = re.findall(r"^\| ([\d, 、]+) \|", table, re.M)
        covered = [int(n) for row in rows for n in re.findall(r"\d+", row)]
        assert covered == numbered, lang


# --- every diagram agrees with the page that shows it ----------------------------------------

HOOK = ROOT / "docs" / "_hooks" / "site_diagrams.py"
# Alt text may hold brackets of its own: "[0, 1, 2, 3]".
_IMAGE = re.compile(r"!\[(?P<alt>(?:[^\[\]]|\[[^\]]*\])*)\]\(diagrams/(?P<name>[\w-]+)\.svg\)")
_INCLUDE = re.compile(r'--8<-- "(?P<stem>\w+)\.py:(?P<section>[\w-]+)"')
SHOWN = [
    (page.parent.name, page.name, m["name"], m["alt"], m.start())
    for page in sorted((ROOT / "docs").glob("*/*.md"))
    for m in _IMAGE.finditer(page.read_text(encoding="utf-8"))
]
MODE_WORDS = {"constant": ("constant", "常数填充"), "reflect": ("reflect", "反射填充"),
              "replicate": ("replicate", "复制填充"), "circular": ("circular", "循环填充")}
TOKEN_WORDS = {"prompt": ("prompt", "提示"), "response": ("response", "回复"),
               "pad": ("padding", "填充")}


def test_every_registered_diagram_is_shown_in_both_languages() -> None:
    for lang in ("en", "zh"):
        assert {name for page_lang, _, name, _, _ in SHOWN if page_lang == lang} == set(DIAGRAMS)


@pytest.mark.parametrize(("lang", "page", "name", "alt", "at"), SHOWN,
                         ids=[f"{s[0]}/{s[1]}:{s[2]}" for s in SHOWN])
def test_a_diagram_draws_a_snippet_section_its_page_shows_before_it(lang, page, name, alt, at):
    """The data comes from the page's own code: a section the page includes above the image."""
    diagram = DIAGRAMS[name]
    text = (ROOT / "docs" / lang / page).read_text(encoding="utf-8")[:at]
    shown = {(m["stem"], m["section"]) for m in _INCLUDE.finditer(text)}
    assert (diagram.snippet, diagram.section) in shown, (
        f"{name} draws {diagram.snippet}.py:{diagram.section}, which {lang}/{page} does not "
        "show above the diagram"
    )


@pytest.mark.parametrize(("lang", "page", "name", "alt", "at"), SHOWN,
                         ids=[f"{s[0]}/{s[1]}:{s[2]}" for s in SHOWN])
def test_a_diagrams_caption_states_its_arguments(lang, page, name, alt, at) -> None:
    """Shapes and tuples, the mode, the fill value, the input row and the token counts the
    alt text names are those of the drawing."""
    root = ET.fromstring(DIAGRAMS[name](lang))
    shown = " ".join(texts(root))
    for tuple_ in re.findall(r"\((?:-?\d+, )+-?\d+\)", alt):
        assert tuple_ in shown, (name, tuple_)
    call = re.search(r'mode="(\w+)"(?:, value=(-?[\d.]+))?', shown)
    for mode, words in MODE_WORDS.items():
        if any(w in alt for w in words):
            assert call and call[1] == mode, (name, mode)
    value = re.search(r"value[ =](-?\d+)", alt)
    if value:
        assert call and call[2] == value[1], (name, value[1])
    row = re.search(r"\[((?:-?\d+, )+-?\d+)\]", alt)
    if row:  # the input row, [0, 1, 2, 3]: its length, and the drawn input cells in it
        numbers = row[1].split(", ")
        width = re.search(r"\(\d+, (\d+)\) →", shown)
        assert width and int(width[1]) == len(numbers), (name, row[0])
        inputs = [c.get("data-value") for c in sorted(
            (c for c in cells(root) if c.get("data-kind") == "input"), key=index_of)]
        starts = [i for i in range(len(numbers)) if numbers[i : i + len(inputs)] == inputs]
        assert starts, (name, row[0], inputs)
    for kind, words in TOKEN_WORDS.items():
        for count in re.findall(rf"(\d+) (?:{words[0]} tokens|个{words[1]}词元)", alt):
            drawn = [el for el in root.iter()
                     if el.get("data-kind") == kind and el.get("data-row") is None]
            assert len(drawn) == int(count), (name, kind)


def test_the_registry_types_no_tensor_or_tuple() -> None:
    """Shapes, pads and tensors come from the snippets; the hook writes only the seed's
    F.pad(labels, (0, 1), value=-100), checked against the snippet's result."""
    import ast

    tree = ast.parse(HOOK.read_text(encoding="utf-8"))
    literals = [
        ast.unparse(node) for node in ast.walk(tree)
        if isinstance(node, (ast.Tuple, ast.List))
        and len(node.elts) >= 2 and all(isinstance(e, ast.Constant) and isinstance(e.value, int)
                                        for e in node.elts)
    ]
    assert literals == ["(0, 1)"]
    assert "torch.tensor(" not in HOOK.read_text(encoding="utf-8")
