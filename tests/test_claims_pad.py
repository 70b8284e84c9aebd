"""Claims of the F.pad pages (pad-basics, pad-modes, pad-edge-cases) that no output shows.

Each test is named after the sentence it backs and runs the pinned torch.
"""

from __future__ import annotations

import ast
import inspect
import json
import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lmloss import pad_shape

DOCS = Path(__file__).resolve().parents[1] / "docs"
LANGS = ("en", "zh")


def test_claim_the_pages_describe_torch_2_13():
    """ "the rules of torch 2.13", "the message torch 2.13 prints"; the explorer reproduces
    torch 2.13's CPU results in JavaScript (tests/test_explorers.py compares them): it runs no
    torch (review round 2, M5)."""
    assert torch.__version__.startswith("2.13.")
    assert_page_says(
        "pad-basics.md",
        "summary",
        en="draws what torch 2.13 returns on the CPU",
        zh="会画出 torch 2.13 在 CPU 上返回的结果",
    )


def test_claim_minus_100_is_skipped_as_a_label_but_is_an_ordinary_score_in_logits():
    """pad-basics #middle-dim (review round 2, M2): the example used to fill logits with
    IGNORE_INDEX, as if the loss skipped those positions; ignore_index reads only the targets."""
    assert_page_says(
        "pad-basics.md",
        "middle-dim",
        en="the loss skips `-100` only where it is a label, and in logits it would be one more "
        "score",
        zh="只有作为标签时 `-100` 才会被损失跳过，放在 logits 里它只是又一个分数",
    )
    torch.manual_seed(0)
    logits, labels = torch.randn(4, 5), torch.tensor([1, 2, 3, 4])
    padded = F.pad(logits, (0, 0, 0, 1), value=-100)  # one more row of logits, all -100
    with_row = F.cross_entropy(padded, F.pad(labels, (0, 1), value=0), reduction="none")
    assert with_row[-1].item() == pytest.approx(math.log(5))  # a uniform score, counted
    skipped = F.cross_entropy(padded, F.pad(labels, (0, 1), value=-100), reduction="none")
    assert skipped[-1].item() == 0 and torch.equal(skipped[:-1], with_row[:-1])


@pytest.mark.parametrize("lang", LANGS)
def test_claim_the_quoted_signature_is_torchs(lang):
    """The signature in the text block of pad-basics is the one torch documents and has."""
    page = (DOCS / lang / "pad-basics.md").read_text(encoding="utf-8")
    quoted = re.search(r"```text\n(torch\.nn\.functional\.pad\(.*)\n```", page)[1]
    documented = F.pad.__doc__.strip().splitlines()[0]
    assert quoted == f"torch.nn.functional.{documented}"
    parameters = inspect.signature(F.pad).parameters
    assert list(parameters) == ["input", "pad", "mode", "value"]
    assert (parameters["mode"].default, parameters["value"].default) == ("constant", None)


def test_claim_constant_padding_fills_0_when_value_is_not_given():
    x = torch.full((1, 2), 7.0)
    assert F.pad(x, (1, 1)).tolist() == [[0.0, 7.0, 7.0, 0.0]]
    assert torch.equal(F.pad(x, (1, 1)), F.pad(x, (1, 1), value=None))


def test_claim_nn_wraps_F_pad_in_fifteen_modules():
    """ "ConstantPad1d/2d/3d, ZeroPad…, ReflectionPad…, ReplicationPad… and CircularPad…"."""
    for family in ("Constant", "Zero", "Reflection", "Replication", "Circular"):
        for d in (1, 2, 3):
            module = getattr(nn, f"{family}Pad{d}d")
            assert issubclass(module, nn.Module)


@pytest.mark.parametrize("lang", LANGS)
def test_claim_the_notebook_needs_only_torch_and_keeps_its_answer(lang):
    """The downloaded notebook runs with torch alone, and its exercise does not print the
    shape the reader is asked to work out."""
    notebook = json.loads((DOCS / lang / "notebooks" / "pad-basics.ipynb").read_text("utf-8"))
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert not any("lmloss" in "".join(c["source"]) for c in code)
    exercise = "".join(code[-1]["source"])
    scope: dict[str, object] = {"torch": torch, "F": F}
    exec(exercise, scope)
    answer = str(tuple(scope["result"].shape))
    printed = "".join("".join(o.get("text", "")) for c in code for o in c.get("outputs", []))
    assert answer not in printed
    assert "".join(code[-1]["outputs"][0]["text"]) == "False\n"


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
def test_claim_reflect_and_replicate_refuse_an_empty_padded_dimension(mode):
    """Edge cases, item 3, and error 11: both modes, though the page prints replicate's."""
    row = torch.arange(4).reshape(1, 4)
    with pytest.raises(RuntimeError):
        F.pad(row, (-4, 0), mode=mode)
    with pytest.raises(RuntimeError):
        F.pad(torch.zeros(1, 0), (1, 1), mode=mode)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 2.0**64])
def test_claim_a_value_an_integer_dtype_cannot_hold_is_an_error(value):
    """Error 13: "`value` does not fit the dtype (nan, inf, out of range)"; the page prints nan."""
    with pytest.raises(RuntimeError, match="cannot be converted to type int64_t"):
        F.pad(torch.zeros(2, 3, dtype=torch.int64), (1, 1), value=value)


@pytest.mark.parametrize(
    ("shape", "overlap"), [((1, 4), True), ((1, 1, 4), True), ((2, 4), False), ((1, 2, 4), False)]
)
def test_claim_circular_checks_the_overlap_only_when_the_dims_in_front_are_all_1(shape, overlap):
    """Edge cases, items 6 and 7: wrapping 3 of the 1 kept element fails only on one row; on
    more rows torch raises nothing (the values are another claim's, see the test below)."""
    x = torch.arange(torch.Size(shape).numel()).reshape(shape)
    for pad in [(-3, 3), (3, -3)]:
        if overlap:
            with pytest.raises(RuntimeError, match="single memory location"):
                F.pad(x, pad, mode="circular")
            with pytest.raises(ValueError, match="wrap"):
                pad_shape(shape, pad, "circular")
        else:
            assert (
                F.pad(x, pad, mode="circular").shape == shape == pad_shape(shape, pad, "circular")
            )


def test_claim_circular_checks_the_dims_in_front_of_the_output_not_of_the_input():
    """Edge cases, item 7: the input's dims in front are all 1, the output's are not."""
    x = torch.arange(4).reshape(1, 1, 4)
    padded = F.pad(x, (-3, 3, 1, 0), mode="circular")  # dim -2 grows from 1 to 2: no error
    assert padded.shape == (1, 2, 4) == pad_shape((1, 1, 4), (-3, 3, 1, 0), "circular")


def test_claim_circular_raises_nothing_when_cropping_keeps_no_element():
    """Edge cases, item 8: one value wrapped from nothing, and pad_shape lets it through too."""
    x = torch.arange(4).reshape(1, 4)
    assert (
        F.pad(x, (-4, 1), mode="circular").shape == (1, 1) == pad_shape((1, 4), (-4, 1), "circular")
    )


@pytest.mark.parametrize("value", [-100, 0.5, -0.1, 1e-30, float("nan"), float("inf")])
def test_claim_any_non_zero_value_becomes_true_on_bool(value):
    """ "On `bool`, any non-zero value becomes `True`"; the page prints -100."""
    padded = F.pad(torch.tensor([False]), (1, 0), value=value)
    assert padded.tolist() == [True, False]
    assert F.pad(torch.tensor([True]), (1, 0), value=0.0).tolist() == [False, True]


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
def test_claim_an_empty_batch_is_fine_but_another_empty_dimension_is_error_11(mode):
    """Edge cases, error table row 11."""
    assert F.pad(torch.zeros(0, 2, 3), (1, 1), mode=mode).shape == (0, 2, 5)
    for shape in [(2, 0, 3), (2, 3, 0)]:
        with pytest.raises(RuntimeError, match="possibly 0 batch size"):
            F.pad(torch.zeros(shape), (1, 1), mode=mode)


def test_claim_nan_and_inf_are_values_on_a_float_dtype_error_13_is_integer_only():
    """Edge cases, error table row 13."""
    x = torch.zeros(1, dtype=torch.float16)
    assert F.pad(x, (1, 1), value=float("inf")).isinf().sum() == 2
    assert F.pad(x, (1, 1), value=float("nan")).isnan().sum() == 2


# --- claims checked against the sentence that makes them, in both languages ------------------


def _section(lang: str, page: str, anchor: str) -> str:
    """The text of the section ``{ #anchor }`` of docs/<lang>/<page>.md, up to the next heading."""
    text = (DOCS / lang / f"{page}.md").read_text(encoding="utf-8")
    body = text.split(f"{{ #{anchor} }}", 1)[1]
    return re.split(r"\n#{1,3} ", body, maxsplit=1)[0]


def _said(lang: str, page: str, anchor: str) -> str:
    """The section's lines joined as the site renders them: a space in English, none in Chinese."""
    return re.sub(r"\s*\n\s*", " " if lang == "en" else "", _section(lang, page, anchor))


CIRCULAR_ON_TWO_ROWS = {
    "en": "raises nothing, but the values are unusable",
    "zh": "不报错，但结果不可用",
}


@pytest.mark.parametrize("lang", LANGS)
def test_claim_circular_on_two_rows_is_not_a_wrap_but_an_overlapping_copy(lang):
    """Edge cases, item 7: no error, but no wrap either: torch copies its own output onto an
    overlapping part of itself, so what it reads may not be written yet. With deterministic
    algorithms on, torch fills the memory it allocates with the largest int64, so the cells it
    never wrote are visible; a wrap of the kept values never holds that number."""
    said = _said(lang, "pad-edge-cases", "crop-edges")
    assert CIRCULAR_ON_TWO_ROWS[lang] in said
    assert "more than once" not in said and "不止一圈" not in said
    x = torch.arange(40).reshape(1, 40).repeat(2, 1)
    kept = list(range(35, 40))
    wrap = [kept[i % len(kept)] for i in range(35)]  # (-35, 30): keep 35..39, wrap 30 of them
    torch.use_deterministic_algorithms(True)
    try:
        assert torch.utils.deterministic.fill_uninitialized_memory
        assert torch.empty(3, dtype=torch.int64).tolist() == [torch.iinfo(torch.int64).max] * 3
        out = F.pad(x, (-35, 30), mode="circular")  # raises nothing
        two_rows = F.pad(torch.arange(4).reshape(1, 4).repeat(2, 1), (3, -3), mode="circular")
    finally:
        torch.use_deterministic_algorithms(False)
    assert tuple(out.shape) == (2, 35) == pad_shape((2, 40), (-35, 30), "circular")
    assert out[0].tolist() != wrap
    assert torch.iinfo(torch.int64).max in out[0].tolist()
    assert two_rows.tolist() != [[0, 0, 0, 0]] * 2  # a wrap of the kept [0]
    assert torch.iinfo(torch.int64).max in two_rows.flatten().tolist()


REPLICATE_REFLECT_EMPTY = {
    "en": "refuse to leave **every** padded dimension empty",
    "zh": "不允许**所有**被填充的维度都变成 0",
}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("mode", ["reflect", "replicate"])
def test_claim_reflect_and_replicate_refuse_to_empty_every_padded_dimension_not_each(lang, mode):
    """Edge cases, item 3: one padded dimension may become 0 while another stays non-empty."""
    said = _said(lang, "pad-edge-cases", "crop-edges")
    assert REPLICATE_REFLECT_EMPTY[lang] in said
    square = torch.arange(16.0).reshape(1, 4, 4)
    assert F.pad(square, (-4, 0, 0, 0), mode=mode).shape == (1, 4, 0)
    assert F.pad(square, (0, 0, -4, 0), mode=mode).shape == (1, 0, 4)
    with pytest.raises(RuntimeError, match="too small"):
        F.pad(square, (-4, 0, -4, 0), mode=mode)


CROP_ERRORS = {
    "en": "print three of them",
    "zh": "打印了其中三种",
}


@pytest.mark.parametrize("lang", LANGS)
def test_claim_cropping_has_more_errors_than_the_three_printed(lang):
    """Error table: the page does not count cropping's errors; torch has more than three."""
    said = _said(lang, "pad-edge-cases", "errors")
    assert CROP_ERRORS[lang] in said
    assert "adds three more" not in said and "三种错误" not in said
    row, square = torch.arange(4).reshape(1, 4), torch.zeros(1, 4, 4)
    calls = [
        lambda: F.pad(row, (-5, 5)),
        lambda: F.pad(row, (-4, 0), mode="replicate"),
        lambda: F.pad(row, (-3, 3), mode="circular"),
        lambda: F.pad(row, (-5, 0), mode="circular"),
        lambda: F.pad(row, (4, -5), mode="circular"),
        lambda: F.pad(square, (-5, 0, 0, 0), mode="replicate"),
        lambda: F.pad(square, (-3, -3, 0, 0), mode="reflect"),
    ]
    messages = set()
    for call in calls:
        with pytest.raises(RuntimeError) as error:
            call()
        messages.add(str(error.value))
    assert len(messages) == len(calls) > 3


CONSTANT_CROP = {
    "en": 'In `"constant"` mode, crop at most',
    "zh": '`"constant"` 模式下，裁剪量不能超过',
}


@pytest.mark.parametrize("lang", LANGS)
def test_claim_cropping_more_than_the_dimension_is_a_constant_rule(lang):
    """Edge cases, item 2: replicate crops 5 of 4 and pads 5 without complaint."""
    said = _said(lang, "pad-edge-cases", "crop-edges")
    assert CONSTANT_CROP[lang] in said
    row = torch.arange(4).reshape(1, 4)
    with pytest.raises(RuntimeError, match="narrow"):
        F.pad(row, (-5, 5))
    assert F.pad(row, (-5, 5), mode="replicate").tolist() == [[3, 3, 3, 3]]
    assert F.pad(row, (4, -5), mode="replicate").tolist() == [[0, 0, 0]]


SECOND_FLOAT_MESSAGE = "failed to unpack the object at pos 2"


@pytest.mark.parametrize("lang", LANGS)
def test_claim_a_float_after_the_first_entry_gives_the_second_message(lang):
    """Error table row 3 quotes both messages torch has for a float entry."""
    said = _said(lang, "pad-edge-cases", "errors")
    assert SECOND_FLOAT_MESSAGE in said
    with pytest.raises(TypeError, match=SECOND_FLOAT_MESSAGE):
        F.pad(torch.zeros(2, 3), (1, 1.0))
    with pytest.raises(TypeError, match="found element of type float at pos 0"):
        F.pad(torch.zeros(2, 3), (1.0, 1))


CIRCULAR_EMPTY = {"en": "or pads an empty dimension", "zh": "或者填充的是空维度"}


@pytest.mark.parametrize("lang", LANGS)
def test_claim_circular_on_an_empty_dimension_is_error_10(lang):
    """Error table row 10 names the empty dimension too; an empty batch is fine."""
    said = _said(lang, "pad-edge-cases", "errors")
    assert CIRCULAR_EMPTY[lang] in said
    with pytest.raises(RuntimeError, match="wrapping around more than once"):
        F.pad(torch.zeros(1, 0), (1, 1), mode="circular")
    assert F.pad(torch.zeros(0, 3), (1, 1), mode="circular").shape == (0, 5)


CONSTANT_ANY_LENGTH = {"en": "not just 2, 4 or 6 entries", "zh": "不限于 2、4、6 个数"}


@pytest.mark.parametrize("lang", LANGS)
def test_claim_constant_takes_8_10_or_more_entries(lang):
    """Which ranks each mode accepts: constant is not limited to 6 entries."""
    said = _said(lang, "pad-modes", "mode-ranks")
    assert CONSTANT_ANY_LENGTH[lang] in said
    assert F.pad(torch.zeros(1, 1, 1, 1, 1), (1,) * 8).shape == (1, 3, 3, 3, 3)
    assert F.pad(torch.zeros(1, 1, 1, 1, 1), (1,) * 10).shape == (3, 3, 3, 3, 3)
    with pytest.raises(NotImplementedError):
        F.pad(torch.zeros(1, 1, 1, 1, 1), (1,) * 8, mode="replicate")


ARROWS_CROSS = {
    "en": "A second pair reaches dim -2, and the arrows cross",
    "zh": "第二个数对作用于 `dim -2`，箭头交叉",
}


@pytest.mark.parametrize("lang", LANGS)
def test_claim_the_arrows_cross_from_the_second_pair(lang):
    """pad-modes, 2, 4 and 6 entries drawn: the pairs diagram's arrows cross from 4 entries."""
    from lmloss.diagrams import pad_pairs_svg

    said = _said(lang, "pad-modes", "pairs-drawn")
    assert ARROWS_CROSS[lang] in said
    assert "third pair reaches dim -3, and the arrows cross" not in said
    assert "第三对数作用于 `dim -3`，箭头交叉" not in said
    assert _arrows_cross(pad_pairs_svg((1, 2, 2), (1, 1, 0, 1)))
    assert not _arrows_cross(pad_pairs_svg((1, 2, 2), (1, 1)))


def _arrows_cross(svg: str) -> bool:
    """Whether two arrow shafts of a diagram intersect."""
    shafts = [
        tuple(map(float, m))
        for m in re.findall(r'class="ax" d="M([\d.]+) ([\d.]+) L([\d.]+) ([\d.]+)', svg)
    ]

    def side(ax, ay, bx, by, px, py):
        return (bx - ax) * (py - ay) - (by - ay) * (px - ax)

    return any(
        side(*a[:2], *a[2:], *b[:2]) * side(*a[:2], *a[2:], *b[2:]) < 0
        and side(*b[:2], *b[2:], *a[:2]) * side(*b[:2], *b[2:], *a[2:]) < 0
        for i, a in enumerate(shafts)
        for b in shafts[i + 1 :]
    )


MIDDLE_DIM = {
    "en": "`(0, 0, 1, 1)` pads only dim -2",
    "zh": "`(0, 0, 1, 1)` 只填充 `dim -2`",
}


@pytest.mark.parametrize("lang", LANGS)
def test_claim_the_sequence_of_logits_is_dim_minus_2_and_0_0_pads_nothing(lang):
    """pad-modes, why backwards: logits (B, T, V) have the sequence at dim -2, where a leading
    (0, 0) pair skips dim -1; the old rationale said the sequence is always dim -1."""
    said = _said(lang, "pad-modes", "rule")
    assert MIDDLE_DIM[lang] in said
    assert "sequence is dim -1 whether" not in said and "序列长度都是 `dim -1`" not in said
    logits = torch.zeros(2, 3, 5)  # (B, T, V)
    assert F.pad(logits, (0, 0, 1, 1)).shape == (2, 5, 5)
    labels = torch.zeros(2, 3, dtype=torch.long)
    below = F.pad(labels, (0, 0, 0, 1), value=-100)
    assert below.shape == (3, 3) and below[-1].tolist() == [-100] * 3


@pytest.mark.parametrize("lang", LANGS)
def test_claim_the_crop_diagram_shows_the_cropped_0_and_counts_4_input_elements(lang):
    """Edge cases, the crop diagram: its alt text says 0 is cropped; the legend used to count
    the 3 kept elements as the (1, 4) input's."""
    from lmloss.diagrams import pad_svg

    svg = pad_svg((1, 4), (-1, 2), "circular", lang=lang, values=True)
    assert re.findall(r'data-cropped="(\d+)" data-value="([^"]+)"', svg) == [("0", "0")]
    legend = {"en": "input (1, 4): 4 elements, 3 kept", "zh": "输入 (1, 4)：4 个元素，留下 3 个"}
    assert legend[lang] in svg


# --- review round 2026-12-04 (pad-edge-cases): each test fails on the page's old sentence ----

from page_claims import assert_page_says, section_prose  # noqa: E402

INT64 = torch.iinfo(torch.int64)


def test_claim_value_is_a_double_so_int64_max_becomes_int64_min_without_an_error():
    """Value section: not "an error when it does not fit"; the cast goes through a double."""
    assert_page_says(
        "pad-edge-cases.md",
        "value",
        en="`value` is a Python float: torch converts it to a C `double`, checks that double "
        "against the dtype's range, and only then casts it",
        zh="`value` 是一个 Python 浮点数：torch 先把它转换为 C 的 `double`，用这个 `double` "
        "检查是否超出数据类型的范围，然后才转换类型",
    )
    assert_page_says(
        "pad-edge-cases.md",
        "value",
        en="becomes the **smallest** `int64`, with no error",
        zh="变成**最小**的 `int64`，而且不报错",
    )
    ints = torch.tensor([1, 2, 3])
    assert F.pad(ints, (1, 1), value=INT64.max)[0].item() == INT64.min  # x86 CPU, as here
    assert F.pad(ints, (1, 1), value=2**63)[0].item() == INT64.min  # beyond int64: no error
    assert F.pad(ints, (1, 1), value=2**53 + 1)[0].item() == 2**53
    assert float(INT64.max) == 2.0**63
    with pytest.raises(RuntimeError, match="cannot be converted to type int64_t"):
        F.pad(ints, (1, 1), value=2**64)


@pytest.mark.parametrize(
    ("dtype", "value"),
    [(torch.uint8, 255.5), (torch.uint8, -0.5), (torch.int8, 127.9), (torch.int32, 2**31 - 0.5)],
)
def test_claim_the_range_is_checked_before_the_fraction_is_dropped(dtype, value):
    assert_page_says(
        "pad-edge-cases.md",
        "value",
        en="The range is checked before the fraction is dropped",
        zh="范围检查在丢掉小数部分之前进行",
    )
    assert int(value) in range(torch.iinfo(dtype).min, torch.iinfo(dtype).max + 1)
    with pytest.raises(RuntimeError, match="cannot be converted"):
        F.pad(torch.zeros(1, dtype=dtype), (1, 1), value=value)


def test_claim_fractions_are_truncated_on_integer_dtypes_only():
    """Summary: on float dtypes the value is rounded to the nearest representable one."""
    assert_page_says(
        "pad-edge-cases.md",
        "summary",
        en="on integer dtypes fractions are truncated silently",
        zh="在整数类型上小数部分被静默截断",
    )
    assert F.pad(torch.zeros(1), (1, 0), value=0.7)[0].item() == pytest.approx(0.7)
    assert F.pad(torch.zeros(1, dtype=torch.int64), (1, 0), value=0.7)[0].item() == 0


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
def test_claim_an_empty_batch_is_fine_only_when_the_input_has_a_batch_dimension(mode):
    """Error table row 11: on a 2-D (B, T) tensor dim 0 is the channel, so B = 0 fails."""
    assert_page_says(
        "pad-edge-cases.md",
        "errors",
        en="on a 2-D `(B, T)` tensor torch reads dim 0 as the channel, so `B = 0` fails",
        zh="对二维的 `(B, T)` 张量，torch 把 dim 0 当作通道维，`B = 0` 会报错",
    )
    with pytest.raises(RuntimeError, match="possibly 0 batch size"):
        F.pad(torch.zeros(0, 4), (1, 1), mode=mode)
    assert F.pad(torch.zeros(0, 2, 4), (1, 1), mode=mode).shape == (0, 2, 6)


def test_claim_the_second_float_message_counts_pos_from_1():
    assert_page_says(
        "pad-edge-cases.md",
        "errors",
        en="(this `pos` counts from 1)",
        zh="（这里的 `pos` 从 1 数起）",
    )
    for pad, pos in [((1, 1.0), 2), ((1, 1, 1, 1.0), 4), ((1, 1.0, 1, 1), 2)]:
        with pytest.raises(TypeError, match=f"at pos {pos} with error"):
            F.pad(torch.zeros(2, 3, 3), pad)


def test_claim_explain_pad_notes_the_circular_calls_of_cases_7_and_8():
    assert_page_says(
        "pad-edge-cases.md",
        "errors",
        en="`explain_pad` adds a note that the values are unusable",
        zh="`explain_pad` 会加一条说明，指出这些值不可用",
    )
    from lmloss import explain_pad

    for shape, pad in [((2, 4), (3, -3)), ((1, 4), (-4, 1))]:
        assert pad_shape(shape, pad, "circular") == tuple(
            F.pad(torch.zeros(shape), pad, mode="circular").shape
        )
        assert "Note:" in explain_pad(shape, pad, "circular")


def test_claim_a_gradient_counts_the_cells_copied_from_it_not_those_holding_its_value():
    assert_page_says(
        "pad-edge-cases.md",
        "autograd",
        en="how many output cells were copied from it (itself included)",
        zh="它被复制到输出中的次数（包括它自己）",
    )
    w = torch.tensor([[5.0, 5.0, 5.0]], requires_grad=True)  # every cell holds the same value
    F.pad(w, (2, 1), mode="replicate").sum().backward()
    assert w.grad[0].tolist() == [3.0, 1.0, 2.0]


def test_claim_reflect_backward_on_cuda_has_no_deterministic_implementation():
    """Autograd section; no GPU here, so torch's own list in use_deterministic_algorithms."""
    assert_page_says(
        "pad-edge-cases.md",
        "autograd",
        en='with `torch.use_deterministic_algorithms(True)`, the backward of `"reflect"` on a '
        "CUDA tensor raises a `RuntimeError`",
        zh='开启 `torch.use_deterministic_algorithms(True)` 后，对 CUDA 张量做 `"reflect"` '
        "填充的反向传播会抛出 `RuntimeError`",
    )
    doc = torch.use_deterministic_algorithms.__doc__
    deterministic, raising = " ".join(doc.split()).split(
        "operations will throw a :class:`RuntimeError` when ``mode=True``", 1
    )
    for d in (1, 2, 3):
        line = f"ReflectionPad{d}d` when attempting to differentiate a CUDA tensor"
        assert line in raising and line not in deterministic
        line = f"ReplicationPad{d}d` when attempting to differentiate a CUDA tensor"
        assert line in deterministic and line not in raising
    # review round 2, M5: many training scripts turn the error into a warning
    assert (
        "warn_only (:class:`bool`, optional): If True, operations that do not have a "
        "deterministic implementation will throw a warning instead of an error"
    ) in " ".join(doc.split())
    assert_page_says(
        "pad-edge-cases.md",
        "autograd",
        en="raises a `RuntimeError` (only a warning with `warn_only=True`)",
        zh="会抛出 `RuntimeError`（设了 `warn_only=True` 时只发出警告）",
    )
    assert_page_says(
        "pad-edge-cases.md",
        "autograd",
        en="(the two lists in the documentation of `torch.use_deterministic_algorithms`)",
        zh="（见 `torch.use_deterministic_algorithms` 文档中的两份列表）",
    )


def test_claim_int64_and_uint64_maxima_round_up_to_2_63_and_2_64_and_pass():
    """#value (review round 2, M4): the snippet pads with each maximum itself, not a value
    beyond it; as doubles they are 2**63 and 2**64, one past the range, and no error follows."""
    for dtype, power in ((torch.int64, 63), (torch.uint64, 64)):
        top = torch.iinfo(dtype).max
        assert float(top) == 2.0**power and top == 2**power - 1
        assert F.pad(torch.zeros(2, dtype=dtype), (1, 1), value=top).shape == (4,)
    assert_page_says(
        "pad-edge-cases.md",
        "value",
        en="their largest values round up to 2**63 and 2**64, which pass, both shown below",
        zh="最大值分别向上舍入为 2**63 和 2**64，能通过检查，下面两种都有演示",
    )


def test_claim_the_circular_modules_check_the_rank_themselves():
    assert_page_says(
        "pad-edge-cases.md",
        "modules",
        en="the `CircularPad` modules check the rank themselves and raise a `ValueError` of "
        "their own",
        zh="`CircularPad` 模块自己检查维数，抛出的是它们自己的 `ValueError`",
    )
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.CircularPad1d(1)(torch.zeros(4))
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported"):
        F.pad(torch.zeros(4), (1, 1), mode="circular")
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported"):
        nn.ReflectionPad1d(1)(torch.zeros(4))  # the others leave the check to F.pad


def test_claim_padding_t_by_one_takes_different_tuples_for_logits_and_labels():
    """pad-modes, rule: (0, 0, 0, 1) on (B, T) labels pads the batch, not the sequence."""
    assert_page_says(
        "pad-modes.md",
        "rule",
        en="logits `(B, T, V)` need `(0, 0, 0, 1)`, labels `(B, T)` just `(0, 1)`",
        zh="logits `(B, T, V)` 要用 `(0, 0, 0, 1)`，标签（labels）`(B, T)` 只要 `(0, 1)`",
    )
    for lang in LANGS:
        said = _said(lang, "pad-modes", "rule")
        assert "below a `(B, T)` batch" not in said and "一批标签下方加一行" not in said
    logits, labels = torch.zeros(2, 3, 5), torch.zeros(2, 3, dtype=torch.long)
    assert F.pad(logits, (0, 0, 0, 1)).shape == (2, 4, 5)
    assert F.pad(labels, (0, 1), value=-100).shape == (2, 4)
    assert F.pad(labels, (0, 0, 0, 1), value=-100).shape == (3, 3)  # one more sequence


def _tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=16, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=16,
    )  # fmt: skip
    return LlamaForCausalLM(config).eval()


def test_claim_shifted_labels_go_in_contiguous_as_shift_labels_next_to_labels():
    """pad-basics, the double-shift note: the loss skips its shift when given shift_labels, the
    model computes a loss only when labels is given, and the shifted view of several rows must
    be made contiguous first (review round 1, M1: the page's own recipe raised on a batch)."""
    assert_page_says(
        "pad-basics.md",
        "shift-labels",
        en="call `.contiguous()` on them and pass them as `shift_labels=`, with `labels=` as "
        "well (without `labels` the model computes no loss)",
        zh="就先用 `.contiguous()` 把它们转成内存连续的张量，再作为 `shift_labels=` 和 `labels=` "
        "一起传入",
    )
    assert_page_says(
        "pad-basics.md",
        "shift-labels",
        en="the shifted labels of a batch of several rows are a view that transformers cannot "
        "flatten, and it raises a `RuntimeError`",
        zh="多行批次移位后的标签是一个 transformers 无法展平的视图，会抛出 `RuntimeError`",
    )
    model = _tiny_llama()
    ids = torch.tensor([[3, 5, 7, 9], [2, 4, 6, 8]])
    shifted = F.pad(ids, (0, 1), value=-100)[..., 1:]
    assert not shifted.is_contiguous()
    with torch.no_grad():
        reference = model(ids, labels=ids).loss
        ignored = torch.full_like(ids, -100)  # labels' values no longer matter
        with pytest.raises(RuntimeError, match="view size is not compatible"):
            model(ids, labels=ignored, shift_labels=shifted)
        got = model(ids, labels=ignored, shift_labels=shifted.contiguous()).loss
        assert torch.equal(got, reference)
        assert model(ids, shift_labels=shifted.contiguous()).loss is None


def _tiny(config_class, model_class, **sizes):
    torch.manual_seed(0)
    return model_class(config_class(vocab_size=16, **sizes)).eval()


def test_claim_the_llama_qwen_mistral_and_gpt2_losses_shift_and_bart_for_causal_lm_does_not():
    """pad-basics, the double-shift note (review round 1, M2): "let the loss do the shift"
    holds for models whose loss is ForCausalLMLoss; BartForCausalLM never shifts."""
    from transformers import (
        BartConfig,
        BartForCausalLM,
        GPT2Config,
        GPT2LMHeadModel,
        MistralConfig,
        MistralForCausalLM,
        Qwen2Config,
        Qwen2ForCausalLM,
    )  # fmt: skip
    from transformers.loss.loss_utils import ForCausalLMLoss

    assert_page_says(
        "pad-basics.md",
        "shift-labels",
        en="For a model whose loss is transformers' `ForCausalLMLoss` (Llama, Qwen, Mistral, GPT-2 "
        "and others)",
        zh="如果模型的损失函数是 transformers 的 `ForCausalLMLoss`（Llama、Qwen、Mistral、GPT-2 等）",
    )
    assert_page_says(
        "pad-basics.md",
        "shift-labels",
        en="`BartForCausalLM` scores the logits of each position against the label at that same "
        "position",
        zh="`BartForCausalLM` 把每个位置的 logits 与同一位置的标签比较",
    )
    decoder = dict(hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                   num_attention_heads=2, num_key_value_heads=2)  # fmt: skip
    shifting = [
        _tiny_llama(),
        _tiny(Qwen2Config, Qwen2ForCausalLM, **decoder),
        _tiny(MistralConfig, MistralForCausalLM, **decoder),
        _tiny(GPT2Config, GPT2LMHeadModel, n_embd=8, n_layer=1, n_head=2, n_positions=16),
    ]
    bart = _tiny(
        BartConfig, BartForCausalLM, d_model=8, decoder_layers=1, encoder_layers=1,
        decoder_attention_heads=2, encoder_attention_heads=2, decoder_ffn_dim=8,
        encoder_ffn_dim=8, max_position_embeddings=16,
    )  # fmt: skip
    ids = torch.tensor([[3, 5, 7, 9, 11]])
    with torch.no_grad():
        for model in shifting:
            assert model.loss_function is ForCausalLMLoss
            out = model(ids, labels=ids)
            torch.testing.assert_close(out.loss, ForCausalLMLoss(out.logits, ids, 16))
        out = bart(ids, labels=ids)
        same_position = F.cross_entropy(out.logits.view(-1, 16), ids.view(-1))
        assert torch.equal(out.loss, same_position)
        assert not torch.allclose(out.loss, ForCausalLMLoss(out.logits, ids, 16))


def test_claim_a_padding_tuple_has_one_pair_per_dimension_at_most_and_negative_entries_crop():
    """pad-basics, signature and rule (review round 1, M4): not only "an even number of entries",
    and a padded dimension does not always grow."""
    assert_page_says(
        "pad-basics.md",
        "signature",
        en="one `(left, right)` pair per padded dimension, so an even number of entries, and no "
        "more pairs than `input` has dimensions; a negative entry crops instead of padding",
        zh="每个被填充的维度对应一个数对 `(左, 右)`，所以元素个数是偶数，数对的个数也不能超过 `input` "
        "的维数；负数表示裁剪而不是填充",
    )
    assert_page_says(
        "pad-basics.md",
        "pad-tuple",
        en="Each padded dimension becomes `size + left + right` long (a negative entry crops)",
        zh="每个被填充的维度，长度都变为 `原长度 + 左 + 右`（负数表示裁剪）",
    )
    assert_page_says(
        "pad-basics.md",
        "summary",
        en="Each padded dimension becomes `size + left + right` long; a negative entry crops.",
        zh="每个被填充的维度长度变为 `原长度 + 左 + 右`，负数表示裁剪。",
    )
    x = torch.arange(10.0).reshape(1, 2, 5)
    cropped = F.pad(x, (-1, -2))
    assert cropped.shape == (1, 2, 2) and cropped.tolist() == [[[1.0, 2.0], [6.0, 7.0]]]
    assert F.pad(torch.zeros(2, 3), (1,) * 4).shape == (4, 5)
    with pytest.raises(RuntimeError, match="Padding length"):
        F.pad(torch.zeros(2, 3), (1,) * 6)  # three pairs, two dimensions
    with pytest.raises(RuntimeError, match="Padding length"):
        F.pad(torch.zeros(2, 3), (1,) * 3)


def test_claim_value_is_a_float_so_a_large_integer_fill_is_rounded_and_int64_max_wraps():
    """pad-basics, signature (review round 1, M10; round 2, M1: not only "rounded": the largest
    int64 rounds up to 2**63, passes the range check and becomes the smallest, on x86)."""
    assert_page_says(
        "pad-basics.md",
        "signature",
        en="It is a Python `float`, so on an integer tensor a fill too large for a `double` to "
        "hold exactly is rounded, and on the x86 machine that recorded these outputs the largest "
        "`int64` even becomes the smallest, without an error",
        zh="它是 Python 的 `float`，所以给整数张量填充时，`double` 无法精确表示的大整数会被舍入；"
        "在生成本页输出的 x86 机器上，`int64` 的最大值甚至会变成最小值，而且不报错",
    )
    int64 = torch.iinfo(torch.int64)
    wrapped = F.pad(torch.zeros(1, dtype=torch.int64), (1, 0), value=int64.max)  # no error
    assert wrapped[0].item() == int64.min  # x86 CPU, as the recorded outputs
    assert inspect.signature(F.pad).parameters["value"].annotation in ("float | None", float | None)
    ints = torch.zeros(1, dtype=torch.int64)
    assert F.pad(ints, (1, 0), value=2**53)[0].item() == 2**53  # a double holds it
    assert F.pad(ints, (1, 0), value=2**53 + 1)[0].item() == 2**53  # it does not: rounded
    assert F.pad(ints, (1, 0), value=-100)[0].item() == -100


# --- review round 3 (pad pages): each test fails on the page's old sentence ----------------


def test_claim_the_range_check_in_double_misses_the_top_of_int64_and_uint64_and_bool_has_none():
    """Value section: not "one outside is an error, with one exception on int64"."""
    assert_page_says(
        "pad-edge-cases.md",
        "value",
        en="one outside is an error, except where the dtype's largest value is not a `double`",
        zh="超出范围的数报错，只有两种例外",
    )
    assert_page_says(
        "pad-edge-cases.md",
        "value",
        en="`bool` has no range check: any non-zero value, nan included, becomes `True`",
        zh="二是 `bool` 不检查范围：任何非零值（包括 nan）都变成 `True`",
    )
    assert_page_says(
        "pad-edge-cases.md",
        "summary",
        en="except near the largest `int64` and `uint64`, which pass unnoticed, and on `bool`",
        zh="但 `int64` 和 `uint64` 上限附近的值不报错，`bool` 则根本不检查",
    )
    uint64 = torch.zeros(2, dtype=torch.uint64)
    assert float(torch.iinfo(torch.uint64).max) == 2.0**64
    assert F.pad(uint64, (1, 1), value=2**64).tolist() == [0, 0, 0, 0]  # out of range, no error
    with pytest.raises(RuntimeError, match="uint64_t without overflow"):
        F.pad(uint64, (1, 1), value=-1)
    for dtype in (torch.int8, torch.uint8, torch.int16, torch.int32, torch.uint32):
        assert float(torch.iinfo(dtype).max) == torch.iinfo(dtype).max  # exact: checked right
    flags = torch.tensor([True, False])
    for value in (-100, float("nan"), float("inf"), 1e300):
        assert F.pad(flags, (1, 1), value=value).tolist() == [True, True, False, True]


def test_claim_a_double_holds_every_whole_number_up_to_2_53_and_only_some_above():
    """Value section and its code comment: not "exact only up to 2**53", not "one smaller" always."""
    assert_page_says(
        "pad-edge-cases.md",
        "value",
        en="A `double` holds every whole number up to `2**53`; above that only some, and the "
        "others are rounded to one it holds: `2**53 + 1` arrives one smaller, `2**53 + 3` one "
        "larger",
        zh="`double` 能精确表示 `2**53` 以内的所有整数；超过之后只能表示其中一部分，"
        "其余的舍入到相邻的可表示值：`2**53 + 1` 传进来时少了 1，`2**53 + 3` 则多了 1",
    )
    code = (Path(__file__).resolve().parents[1] / "snippets" / "pad_edge_cases.py").read_text()
    toml = (Path(__file__).resolve().parents[1] / "snippets/zh/pad_edge_cases.toml").read_text()
    assert "every whole number up to 2**53 is exact, above it only some" in code
    assert "2**53 以内的整数都是精确的，超过后只有一部分是" in toml
    ints = torch.tensor([1, 2, 3])
    for k, arrives in [(1, 0), (2, 2), (3, 4), (2**60 - 2**53, 2**60 - 2**53)]:
        assert F.pad(ints, (1, 1), value=2**53 + k)[0].item() == 2**53 + arrives
    assert all(float(n) == n for n in range(2**53 - 1000, 2**53 + 1))


def test_claim_value_is_range_checked_only_when_something_is_padded():
    assert_page_says(
        "pad-edge-cases.md",
        "value",
        en="The check runs only when something is padded: a call that only crops never reads "
        "`value`",
        zh="只有真正填充时才做这项检查：只裁剪的调用根本不读 `value`",
    )
    ints = torch.tensor([1, 2, 3])
    assert F.pad(ints, (-1, 0), value=float("nan")).tolist() == [2, 3]
    assert F.pad(ints.to(torch.uint8), (-1, 0), value=-100).tolist() == [2, 3]
    assert F.pad(ints, (0, 0), value=float("nan")).tolist() == [1, 2, 3]
    with pytest.raises(RuntimeError, match="cannot be converted"):
        F.pad(ints, (-1, 1), value=float("nan"))


def test_claim_the_deterministic_fill_depends_on_fill_uninitialized_memory():
    """Crop edge case 7: the fill is on only while this flag is True, its default."""
    assert_page_says(
        "pad-edge-cases.md",
        "crop-edges",
        en="as long as `torch.utils.deterministic.fill_uninitialized_memory` keeps its default, "
        "`True`",
        zh="只要 `torch.utils.deterministic.fill_uninitialized_memory` 保持默认的 `True`",
    )
    import torch.utils.deterministic as deterministic

    assert deterministic.fill_uninitialized_memory is True
    doc = " ".join(torch.use_deterministic_algorithms.__doc__.split())
    assert "fill_uninitialized_memory" in doc and "is turned on" in doc


REPLICATE_ON_CUDA = (
    'On CUDA with `torch.use_deterministic_algorithms(True)`, `"replicate"` runs a Python '
    "implementation instead, which ignores `value`, accepts longer tuples and raises other errors"
)
REPLICATE_ON_CUDA_ZH = (
    '在 CUDA 上开启 `torch.use_deterministic_algorithms(True)` 后，`"replicate"` 改走一个 '
    "Python 实现：它忽略 `value`，接受更长的填充元组，报错信息也不同"
)


def test_claim_deterministic_replicate_on_cuda_runs_a_python_decomposition():
    """Error table intro, GPU paragraph, mode-ranks: the rules stated hold on CPU only for replicate.

    No GPU here: the dispatch condition is read in F.pad's source, and the function it calls is
    run on CPU.
    """
    assert_page_says("pad-edge-cases.md", "errors", en=REPLICATE_ON_CUDA, zh=REPLICATE_ON_CUDA_ZH)
    assert_page_says(
        "pad-edge-cases.md",
        "autograd",
        en="and its forward changes too",
        zh="前向计算也随之改变",
    )
    assert_page_says(
        "pad-edge-cases.md",
        "value",
        en='(on CPU, and on CUDA unless deterministic algorithms are on for `"replicate"`;',
        zh='（在 CPU 上如此；在 CUDA 上开启确定性算法时，`"replicate"` 例外，',
    )
    assert_page_says(
        "pad-modes.md",
        "mode-ranks",
        en='(on CPU; on CUDA with deterministic algorithms on, `"replicate"` takes longer '
        "tuples, see [the error table](pad-edge-cases.md#errors))",
        zh='（这是 CPU 上的情形；在 CUDA 上开启确定性算法时，`"replicate"` 接受更长的元组，'
        "见[常见错误表](pad-edge-cases.md#errors)）",
    )
    source = " ".join(inspect.getsource(F.pad).split())
    assert (
        "if torch.are_deterministic_algorithms_enabled() and ( input.is_cuda or input.is_xpu ): "
        'if mode == "replicate":' in source
    )
    assert '"torch._decomp.decompositions" )._replication_pad(input, pad)' in source
    from torch._decomp.decompositions import _replication_pad

    assert "value" not in inspect.signature(_replication_pad).parameters
    longer = torch.zeros(2, 2, 2, 2, 2)
    assert _replication_pad(longer, (1,) * 8).shape == (2, 4, 4, 4, 4)
    with pytest.raises(NotImplementedError, match="Padding size 8"):
        F.pad(longer, (1,) * 8, mode="replicate")
    with pytest.raises(RuntimeError, match="reflection_pad1d requires 2D or 3D input"):
        _replication_pad(torch.zeros(3), (1, 1))


def test_claim_the_labels_a_user_passes_are_the_input_ids_and_the_loss_shifts_them():
    """Glossary row 标签 / labels: not "the target token id at each position"."""
    rows = {
        "en": "the token ids the loss learns: the same as `input_ids`, with `-100` where a "
        "position does not count; the loss shifts them",
        "zh": "损失要学习的词元 id：与 `input_ids` 相同，不计入损失的位置取 `-100`；由损失函数移位",
    }
    for lang, row in rows.items():
        assert row in (DOCS / lang / "glossary.md").read_text(encoding="utf-8")
    from transformers.loss.loss_utils import ForCausalLMLoss

    torch.manual_seed(0)
    ids = torch.tensor([[3, 1, 4, 1, 5]])
    logits = torch.randn(1, 5, 7)
    by_hand = F.cross_entropy(logits[0, :-1], ids[0, 1:])
    assert torch.allclose(ForCausalLMLoss(logits, ids, vocab_size=7), by_hand)


# --- review round 4 (pad pages): each test fails on the page's old sentence ----------------


def test_claim_inf_and_nan_pass_on_float_dtypes_and_the_bound_is_checked_before_rounding():
    """Value section: not only "one outside is an error"; floats have their own two surprises."""
    assert_page_says(
        "pad-edge-cases.md",
        "value",
        en="On floating dtypes `inf` and `nan` are values of the dtype and pass; a finite number "
        "is compared with the largest finite value before it is rounded: `65519` fails on "
        "`float16`, although a cast would round it to `65504`.",
        zh="在浮点类型上，`inf` 和 `nan` 本身就是该类型的值，能通过检查；有限的数则在舍入之前与最大的"
        "有限值比较：`float16` 上的 `65519` 会报错，尽管转换类型时它会舍入为 `65504`。",
    )
    halves = torch.zeros(1, dtype=torch.float16)
    for value in (float("inf"), float("-inf"), float("nan")):
        padded = F.pad(halves, (1, 0), value=value)[0].item()
        assert padded == value or (padded != padded and value != value)  # nan equals nothing
    assert torch.finfo(torch.float16).max == 65504
    assert torch.tensor(65519.0).to(torch.float16).item() == 65504
    with pytest.raises(RuntimeError, match="c10::Half without overflow"):
        F.pad(halves, (1, 0), value=65519)


def test_claim_uint64_becomes_0_on_this_cpu_and_the_snippet_passes_its_max():
    """Value section: the uint64 result is the x86 CPU's, as the int64 one; C++ leaves it undefined.
    The snippet's comment says "uint64's max", so the call passes the max, not 2**64."""
    assert_page_says(
        "pad-edge-cases.md",
        "value",
        en="which passes and, on the x86 machine that recorded these outputs, becomes `0`",
        zh="能通过检查，在生成本页输出的 x86 机器上变成 `0`",
    )
    assert_page_says(
        "pad-edge-cases.md",
        "value",
        en="C++ leaves the conversion of an out-of-range `double` undefined",
        zh="C++ 没有规定超出范围的 `double` 转换成什么",
    )
    snippet = (DOCS.parent / "snippets" / "pad_edge_cases.py").read_text(encoding="utf-8")
    call = snippet.split("# uint64's max rounds up to 2**64", 1)[1].splitlines()[1]
    assert "value=torch.iinfo(torch.uint64).max)" in call
    uint64 = torch.tensor([1, 2, 3], dtype=torch.uint64)
    assert F.pad(uint64, (1, 1), value=torch.iinfo(torch.uint64).max).tolist() == [0, 1, 2, 3, 0]


def test_claim_the_token_that_ends_an_assistant_turn_must_stay_in_the_labels_to_learn_to_stop():
    """Glossary row EOS: not "in SFT it must be trained". The loss pushes up the end token's
    logit at the position before it only where the label keeps it; a -100 there teaches nothing."""
    assert_page_says(
        "glossary.md",
        "terms",
        en="the token that ends an assistant turn must stay in the labels, so that the model "
        "learns to stop",
        zh="结束助手回复的那个词元必须留在标签里，模型才能学会停止",
    )
    from transformers.loss.loss_utils import ForCausalLMLoss

    end, vocab = 6, 7
    torch.manual_seed(0)
    for last_label, pushed in ((end, True), (-100, False)):
        logits = torch.randn(1, 4, vocab, requires_grad=True)
        labels = torch.tensor([[3, 1, 4, last_label]])
        ForCausalLMLoss(logits, labels, vocab_size=vocab).backward()
        grad = logits.grad[0, 2, end].item()  # position 2 predicts the label at position 3
        assert (grad < 0) if pushed else (grad == 0)  # a negative gradient raises the logit


# --- pad-basics: the rule after the examples, the middle dimension, the exercises ------------


def test_claim_torchs_documentation_names_the_entries_left_right_top_bottom_front_back():
    """pad-basics #pad-tuple: the three tuples are written with the names F.pad's docstring uses."""
    names = ["padding_left", "padding_right", "padding_top", "padding_bottom"]
    names += ["padding_front", "padding_back"]
    for k in (1, 2, 3):
        tuple_k = f"`({', '.join(names[: 2 * k])})`"
        assert_page_says("pad-basics.md", "pad-tuple", en=tuple_k, zh=tuple_k)
    documented = re.findall(r"padding\\_(\w+)", F.pad.__doc__)
    assert documented == [n.removeprefix("padding_") for n in names[:2] + names[:4] + names]


def test_claim_counting_from_the_end_the_tuple_ignores_the_dimensions_in_front():
    """pad-basics #pad-tuple: (0, 1) pads the last dimension of (T), (B, T) and (B, C, T) alike."""
    assert_page_says(
        "pad-basics.md",
        "pad-tuple",
        en="`(0, 1)` pads the last dimension of a `(T)`, a `(B, T)` and a `(B, C, T)` tensor alike",
        zh="同一个 `(0, 1)`，对形状为 `(T)`、`(B, T)`、`(B, C, T)` 的张量都只填充最后一维",
    )
    for shape in [(5,), (2, 5), (2, 3, 5)]:
        assert F.pad(torch.zeros(shape), (0, 1)).shape == (*shape[:-1], shape[-1] + 1)


PAD_BASICS_EXERCISES = DOCS.parent / "snippets" / "output" / "pad_basics" / "exercises.txt"


def test_exercise_answers_of_pad_basics_are_the_tuples_the_questions_ask_for():
    """The recorded answers, recomputed another way: each written tuple pads exactly the
    dimension the question names, by pad_shape, and the one-pair tuple would not."""
    answers = PAD_BASICS_EXERCISES.read_text(encoding="utf-8").splitlines()
    assert (
        answers[0] == f"1. torch.Size([{', '.join(map(str, pad_shape((1, 2, 2), (0, 0, 1, 0))))}])"
    )
    # 2: two more positions of T in (B, T, H) = (2, 3, 8); (0, 2) alone pads H.
    assert pad_shape((2, 3, 8), (0, 0, 0, 2)) == (2, 5, 8) != pad_shape((2, 3, 8), (0, 2))
    assert answers[1] == "2. (0, 0, 0, 2) torch.Size([2, 5, 8])"
    # 3: one more sequence below (B, T) = (2, 3), all -100; (0, 1) alone adds a column.
    assert pad_shape((2, 3), (0, 0, 0, 1)) == (3, 3) and pad_shape((2, 3), (0, 1)) == (2, 4)
    assert answers[2] == "3. (0, 0, 0, 1)"
    assert answers[-1].split() == ["[-100,", "-100,", "-100]])"]
    for lang in LANGS:
        page = (DOCS / lang / "pad-basics.md").read_text(encoding="utf-8")
        questions = page.split("{ #exercises }")[1].split("???")[0]
        assert re.findall(r"^(\d)\. ", questions, re.M) == ["1", "2", "3"]
        for fact in ("(0, 0, 1, 0)", "(B, T, H)", "torch.zeros(2, 3, 8)", "(B, T)"):
            assert fact in questions, (lang, fact)
        assert "[[1, 2, 3], [4, 5, 6]]" in questions, lang


# --- review round 1 (pad-modes, explorer): CPU int64 examples, CUDA's replicate kernels -------


def test_claim_every_mode_pads_int64_on_cpu_as_the_examples_and_the_explorer_do():
    x = torch.arange(6).view(1, 2, 3)
    for mode in ("constant", "reflect", "replicate", "circular"):
        assert F.pad(x, (1, 1), mode=mode).dtype == torch.int64, mode
    assert_page_says(
        "pad-modes.md",
        "mode-ranks",
        en="Every example here pads `int64` tensors (`torch.arange`) on CPU, where every mode "
        "accepts them",
        zh="本页的例子都在 CPU 上填充 `int64` 张量（`torch.arange`），CPU 上每种模式都接受这种类型",
    )
    assert_page_says(
        "explore/pad.md",
        "pad-explorer",
        en="returns in torch 2.13 on CPU",
        zh="torch 2.13 在 CPU 上",
    )


def pad_opinfo_dtypes() -> dict[str, dict[str, tuple[torch.dtype, ...]]]:
    """The dtypes torch's own test suite declares for each ``F.pad`` mode, per keyword.

    Read from the OpInfo entries of the installed torch (common_methods_invocations.py);
    importing that module needs the ``expecttest`` package, so its source is parsed instead
    and only the dtype helpers (``common_dtype``) run.
    """
    from torch.testing._internal import common_dtype

    source = Path(common_dtype.__file__).with_name("common_methods_invocations.py")
    found: dict[str, dict[str, tuple[torch.dtype, ...]]] = {}
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "OpInfo"):
            continue
        if not (node.args and ast.literal_eval(node.args[0]) == "nn.functional.pad"):
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        variant = ast.literal_eval(keywords["variant_test_name"])
        found[variant] = {
            name: eval(  # a dtype-helper call such as all_types_and_complex_and(torch.half)
                compile(ast.Expression(value), str(source), "eval"),
                {"torch": torch, **vars(common_dtype)},
            )
            for name, value in keywords.items()
            if name.startswith("dtypes")
        }
    return found


def test_claim_on_cuda_every_mode_takes_integer_tensors_only_the_backward_needs_floats():
    """mode-ranks (review round 2, W1): the page said CUDA's "replicate" needs a floating-point
    tensor. torch 2.13's OpInfo for F.pad declares the integer dtypes for every mode and no
    CUDA-specific list (PR pytorch/pytorch#107755 added the integer kernels in torch 2.1); the
    deterministic CUDA path (a decomposition) takes them too; integers cannot require a gradient."""
    declared = pad_opinfo_dtypes()
    for mode in ("constant", "reflect", "replicate", "circular"):
        assert "dtypesIfCUDA" not in declared[mode], mode
        assert {torch.int8, torch.int32, torch.int64} <= set(declared[mode]["dtypes"]), mode
    x = torch.arange(6).view(1, 2, 3)
    replicated = torch._decomp.decompositions._replication_pad(x, (1, 1))
    assert replicated.dtype == torch.int64
    assert torch.equal(replicated, F.pad(x, (1, 1), mode="replicate"))
    with pytest.raises(
        RuntimeError, match="only Tensors of floating point dtype can require gradients"
    ):
        x.requires_grad_()
    assert_page_says(
        "pad-modes.md",
        "mode-ranks",
        en="On CUDA every mode takes integer tensors too: torch 2.13's own test suite declares the "
        "integer dtypes for each mode of `F.pad`, with no separate list for CUDA. Only the backward "
        "needs floating point, as any gradient does",
        zh="在 CUDA 上，每种模式同样接受整数张量：torch 2.13 自带的测试为 `F.pad` 的每种模式都"
        "列出了整数类型，也没有为 CUDA 另列一份。只有反向传播需要浮点类型，任何梯度都是如此",
    )
    for lang in LANGS:  # the false sentence it replaced must not come back
        said = section_prose("pad-modes.md", lang, "mode-ranks")
        assert "floating-pointtensor" not in said and "要用浮点张量" not in said, lang
