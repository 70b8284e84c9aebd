"""``lmloss.explain_pad`` against ``pad_shape`` and torch 2.13: sizes, errors and languages."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import lmloss.explain
from lmloss import explain_pad, pad_shape

MODES = ("constant", "reflect", "replicate", "circular")
PAIR = {
    "en": re.compile(
        r"^- pad\[(\d+):(\d+)\] = \((-?\d+), (-?\d+)\) → dim (-\d+) \(dim (\d+)"
        r"(, the last)?\): .*; size (\d+) → (\d+)$"
    ),
    "zh": re.compile(
        r"^- pad\[(\d+):(\d+)\] = \((-?\d+), (-?\d+)\) → dim (-\d+)（dim (\d+)"
        r"(，最后一维)?）：.*；长度 (\d+) → (\d+)$"
    ),
}
KEPT = {
    "en": re.compile(r"^- dim (-\d+) \(dim (\d+)\): not reached, keeps size (\d+)$"),
    "zh": re.compile(r"^- dim (-\d+)（dim (\d+)）：填充元组没有涉及，长度保持 (\d+)$"),
}
RESULT = {
    "en": re.compile(r"^Result: (\(.*\)) → (\(.*\))\.$"),
    "zh": re.compile(r"^结果：(\(.*\)) → (\(.*\))。$"),
}


def read(text: str, lang: str) -> tuple[dict[int, tuple[int, int]], tuple[int, ...]]:
    """Per positive dim: (size, new size) as the text states them; and the stated result."""
    head, *lines, last = text.splitlines()
    assert head.startswith("F.pad(x, ")
    sizes: dict[int, tuple[int, int]] = {}
    for pair, line in enumerate(lines):
        if match := PAIR[lang].match(line):
            a, b, left, right, neg, pos, is_last, size, new = match.groups()
            assert (int(a), int(b)) == (2 * pair, 2 * pair + 2)
            assert int(neg) == -1 - pair
            assert bool(is_last) == (pair == 0)
            sizes[int(pos)] = (int(size), int(new))
        else:
            match = KEPT[lang].match(line)
            assert match, line
            sizes[int(match[2])] = (int(match[3]), int(match[3]))
    result = RESULT[lang].match(last)
    assert result, last
    return sizes, tuple(int(n) for n in re.findall(r"-?\d+", result[2]))


@st.composite
def calls(draw):
    rank = draw(st.integers(0, 5))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=rank, max_size=rank)))
    pairs = draw(st.integers(0, rank))
    pad = tuple(draw(st.lists(st.integers(-4, 4), min_size=2 * pairs, max_size=2 * pairs)))
    return shape, pad, draw(st.sampled_from(MODES)), draw(st.sampled_from(("en", "zh")))


@settings(derandomize=True, max_examples=300, deadline=None)
@given(calls())
def test_explain_names_the_sizes_of_pad_shape_and_torch(call) -> None:
    shape, pad, mode, lang = call
    try:
        expected = pad_shape(shape, pad, mode)
    except (ValueError, TypeError) as error:
        with pytest.raises(type(error)) as raised:
            explain_pad(shape, pad, mode, lang)
        assert str(raised.value) == str(error)
        return
    sizes, result = read(explain_pad(shape, pad, mode, lang), lang)
    assert result == expected == tuple(F.pad(torch.empty(shape), pad, mode=mode).shape)
    assert sorted(sizes) == list(range(len(shape)))
    for pos, (size, new) in sizes.items():
        assert (size, new) == (shape[pos], expected[pos])


def test_seed_tuple_reads_last_dim_first() -> None:
    text = explain_pad((1, 2, 2), (1, 1, 0, 1, 1, 0))
    lines = text.splitlines()
    assert "3 pairs pad the last 3 dimensions, last dimension first" in lines[0]
    assert lines[1].startswith(
        "- pad[0:2] = (1, 1) → dim -1 (dim 2, the last): adds 1 at the start"
    )
    assert lines[2].startswith("- pad[2:4] = (0, 1) → dim -2 (dim 1): nothing at the start")
    assert lines[3].startswith("- pad[4:6] = (1, 0) → dim -3 (dim 0): adds 1 at the start")
    assert lines[-1] == "Result: (1, 2, 2) → (2, 3, 4)."


def test_negative_entries_are_called_crops_in_both_languages() -> None:
    assert "crops 2 at the start, adds 1 at the end; size 5 → 4" in explain_pad((5,), (-2, 1))
    assert "开头裁掉 2 个，末尾补 1 个；长度 5 → 4" in explain_pad((5,), (-2, 1), lang="zh")


def test_chinese_has_no_english_words_but_code() -> None:
    text = explain_pad((2, 3, 4), (1, -1, 0, 2), "replicate", lang="zh")
    body = "\n".join(text.splitlines()[1:])  # the first line starts with the F.pad call
    assert set(re.findall(r"[A-Za-z]+", body)) <= {"pad", "dim"}
    for word in ("维度", "开头", "末尾", "裁掉", "填充元组没有涉及", "结果"):
        assert word in text


@pytest.mark.parametrize("lang", ["fr", "EN", "", None])
def test_rejects_unknown_lang_before_validating(lang) -> None:
    with pytest.raises(ValueError, match=r"^lang must be one of 'en', 'zh'; got "):
        explain_pad((2, 3), (1,), lang=lang)  # an invalid pad too: lang is checked first


@pytest.mark.parametrize(
    ("shape", "pad", "mode", "error"),
    [
        ((2, 3), (1, 1, 1), "constant", ValueError),
        ((3,), (1, 1), "reflect", ValueError),
        ((1, 3), (3, 0), "reflect", ValueError),
        ((1, 3), (1.0, 1), "constant", TypeError),
        ((1, 3), (1, 1), "Reflect", ValueError),
    ],
)
def test_pad_shape_errors_propagate_unchanged(shape, pad, mode, error) -> None:
    with pytest.raises(error) as expected:
        pad_shape(shape, pad, mode)
    with pytest.raises(error) as got:
        explain_pad(shape, pad, mode)
    assert str(got.value) == str(expected.value)
    with pytest.raises((RuntimeError, ValueError, TypeError)):  # and torch rejects them as well
        F.pad(torch.zeros(shape), pad, mode=mode)


def test_explain_module_does_not_import_torch() -> None:
    # An empty stand-in for the package: its __init__ imports torch for other helpers.
    folder = str(Path(lmloss.explain.__file__).parent)
    code = (
        "import sys, types\n"
        "package = types.ModuleType('lmloss')\n"
        f"package.__path__ = [{folder!r}]\n"
        "sys.modules['lmloss'] = package\n"
        "import lmloss.explain\n"
        "print(lmloss.explain.explain_pad((2,), (1, 1)).splitlines()[-1], 'torch' in sys.modules)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "Result: (2,) → (4,). False"


def test_explain_docstring_says_what_the_module_imports_truthfully() -> None:
    # The file imports no torch (test above), but lmloss.padding, its import, loads the package.
    doc = " ".join(lmloss.explain.__doc__.split())
    assert "this module does not import torch." not in doc
    assert "does not import torch itself" in doc and "the lmloss package does" in doc


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize(
    ("shape", "pad", "note"),
    [
        ((2, 4), (3, -3), True),
        ((1, 4), (-4, 1), True),
        ((2, 4), (-1, 2), False),
        ((1, 4), (1, 1), False),
    ],
)
def test_explain_warns_when_circular_wraps_more_than_cropping_keeps(lang, shape, pad, note) -> None:
    # pad_shape returns a shape for these calls, as torch does, but torch copies between
    # overlapping parts of its output: a wrap of the kept values it is not.
    text = explain_pad(shape, pad, "circular", lang=lang)
    marker = {"en": "overlapping parts of its output", "zh": "相互重叠的部分"}[lang]
    assert (marker in text) is note
    x = torch.arange(torch.Size(shape).numel()).reshape(shape)
    kept = x[..., max(-pad[0], 0) : shape[-1] - max(-pad[1], 0)]
    wrapped = max(pad)
    assert (kept.shape[-1] < wrapped) is note
    torch.use_deterministic_algorithms(True)  # fills what torch never writes with int64's max
    try:
        out = F.pad(x, pad, mode="circular")
    finally:
        torch.use_deterministic_algorithms(False)
    if note:
        assert torch.iinfo(torch.int64).max in out.flatten().tolist()
