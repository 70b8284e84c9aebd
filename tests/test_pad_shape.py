"""``lmloss.padding.pad_shape`` against torch 2.13 itself: shapes, rules and error messages."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from collections.abc import Sequence

import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given, settings
from hypothesis import strategies as st

import lmloss.padding
from lmloss.padding import pad_shape

MODES = ("constant", "reflect", "replicate", "circular")


def torch_padded_shape(
    shape: Sequence[int], pad: Sequence[int], mode: str
) -> tuple[int, ...] | None:
    """The shape ``F.pad`` returns for a tensor of ``shape``, or None if torch raises."""
    try:
        return tuple(F.pad(torch.empty(shape), pad, mode=mode).shape)
    except Exception:  # noqa: BLE001 - any torch error counts as "torch rejects this input"
        return None


def is_valid_shape(shape: tuple[int, ...] | None) -> bool:
    # torch 2.13's CPU reflect kernel returns a tensor with a negative size for a 4D input with
    # an empty batch (see test_torch_reflect_bug_negative_size_is_rejected); pad_shape raises.
    return shape is not None and min(shape, default=0) >= 0


@pytest.mark.parametrize(
    ("pad", "expected"),
    [((1, 1), (1, 2, 4)), ((1, 1, 0, 1), (1, 3, 4)), ((1, 1, 0, 1, 1, 0), (2, 3, 4))],
)
def test_seed_cases_pad_the_last_dims_first(
    pad: tuple[int, ...], expected: tuple[int, ...]
) -> None:
    assert pad_shape((1, 2, 2), pad) == expected
    assert torch_padded_shape((1, 2, 2), pad, "constant") == expected


def test_accepts_torch_size_list_and_int_like_entries_and_returns_plain_ints() -> None:
    result = pad_shape(torch.Size([1, 2, 2]), [torch.tensor(1), 1])
    assert result == (1, 2, 4)
    assert all(type(size) is int for size in result)


def test_bool_size_in_shape_counts_as_one_like_torch_empty() -> None:
    assert pad_shape((2, True), (1, 1)) == (2, 3)
    assert torch_padded_shape((2, True), (1, 1), "constant") == (2, 3)


@pytest.mark.parametrize(
    ("shape", "pad"),
    [((True, 2), (1, 1)), ((True,), (1, 1)), ((2, 2), (True, 1)), ((2, 2), [True, 0, 1, 1])],
)
def test_bool_in_the_first_position_is_rejected_as_torch_rejects_it(shape, pad) -> None:
    # torch's argument parser decides "tuple of ints" from element 0, so only there is a bool
    # an error (torch.empty for shape, F.pad for pad).
    assert torch_padded_shape(shape, pad, "constant") is None
    with pytest.raises(TypeError, match=r"bool .*first position"):
        pad_shape(shape, pad)


@pytest.mark.parametrize(
    ("shape", "pad", "expected"),
    [
        ((2, 2), (1, True), (2, 4)),
        ((2, 2), [1, 1, True, False], (3, 4)),
        ((2, True), (1, 1), (2, 3)),
    ],
)
def test_bool_after_the_first_position_counts_as_an_int_as_in_torch(shape, pad, expected) -> None:
    assert torch_padded_shape(shape, pad, "constant") == expected
    assert pad_shape(shape, pad) == expected


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@pytest.mark.parametrize(
    ("shape", "pad", "argument"),
    [
        ((4,), (2**63, 0), "pad"),
        ((4,), (0, INT64_MIN - 1), "pad"),
        ((2, 2**63), (1, 1), "shape"),
    ],
)
def test_an_entry_outside_int64_is_rejected_like_torch(shape, pad, argument) -> None:
    # torch's parser cannot unpack a Python int outside int64 (meta tensors: no memory used).
    with pytest.raises(TypeError, match="Overflow when unpacking long long"):
        F.pad(torch.empty(shape, device="meta"), pad)
    with pytest.raises(ValueError, match=rf"^{argument} must contain ints that fit int64"):
        pad_shape(shape, pad)


def test_a_padded_size_beyond_int64_is_rejected_as_torch_rejects_it() -> None:
    # torch adds the entries in int64, so the sum wraps around to a negative size and it raises.
    with pytest.raises(RuntimeError, match="negative output size"):
        F.pad(torch.empty(4, device="meta"), (2**62, 2**62))
    with pytest.raises(ValueError, match=r"^pad must not make a dimension larger than int64 holds"):
        pad_shape((4,), (2**62, 2**62))
    assert pad_shape((4,), (INT64_MAX - 4, 0)) == (INT64_MAX,)


def test_docstring_says_what_the_module_imports_truthfully() -> None:
    doc = " ".join(lmloss.padding.__doc__.split())
    assert "without importing torch" not in doc
    assert "does not import torch itself" in doc and "the lmloss package does" in doc
    completed = subprocess.run(
        [sys.executable, "-c", "import sys, lmloss.padding; print('torch' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout.strip() == "True"  # through lmloss/__init__


def test_docstring_states_torchs_bool_rule_not_a_blanket_one() -> None:
    doc = " ".join(pad_shape.__doc__.split())
    assert "Like ``torch.empty``, ``shape`` accepts ``bool`` sizes" not in doc
    assert "``pad`` rejects ``bool`` entries" not in doc
    assert "a ``bool`` in the first position of ``shape`` or ``pad`` is rejected" in doc


def test_constant_mode_pads_nothing_on_a_rank_0_shape() -> None:
    assert pad_shape((), ()) == ()
    assert torch_padded_shape((), (), "constant") == ()


def test_circular_overlap_is_only_rejected_when_outer_dims_are_all_1() -> None:
    # Same dimension and pad, but a batch of 2 makes torch's overlap check give up.
    assert pad_shape((2, 6), (-4, 4), "circular") == (2, 6)
    assert torch_padded_shape((2, 6), (-4, 4), "circular") == (2, 6)
    assert torch_padded_shape((1, 6), (-4, 4), "circular") is None
    with pytest.raises(ValueError, match="overlapping parts of its output"):
        pad_shape((1, 6), (-4, 4), "circular")


def test_torch_reflect_bug_negative_size_is_rejected() -> None:
    # torch 2.13 "succeeds" here with an impossible negative size; pad_shape refuses instead.
    assert torch_padded_shape((0, 3, 1, 5), (0, 0, -2, 0), "reflect") == (0, 3, -1, 5)
    with pytest.raises(ValueError, match=r"^pad must not make a dimension negative, "):
        pad_shape((0, 3, 1, 5), (0, 0, -2, 0), "reflect")


def test_padding_module_does_not_import_torch() -> None:
    # Load the file on its own: the package __init__ may import torch for other helpers.
    path = lmloss.padding.__file__
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('padding', {path!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print('torch' in sys.modules)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "False"


# One case per distinct error of pad_shape: our exception and full message, then torch's
# exception type and a fragment of its message, to prove the rule is torch's and not ours.
ERROR_CASES = [
    pytest.param(
        None, (1, 1), "constant",
        TypeError, "shape must be a sequence of ints such as a tuple or torch.Size, got NoneType: None",
        TypeError, "must be tuple of ints, not NoneType",
        id="shape-not-a-sequence",
    ),
    pytest.param(
        (2, 3.0), (1, 1), "constant",
        TypeError, "shape must contain ints, got float at index 1: (2, 3.0)",
        TypeError, "must be tuple of ints,but got float",
        id="shape-entry-not-int",
    ),
    pytest.param(
        (2, -1), (1, 1), "constant",
        ValueError, "shape must not contain negative sizes, got -1 at index 1: (2, -1)",
        RuntimeError, "Trying to create tensor with negative dimension -1",
        id="shape-negative-size",
    ),
    pytest.param(
        (2, 3), range(2), "constant",
        TypeError, "pad must be a tuple or list of ints, as F.pad requires, got range: range(0, 2)",
        TypeError, "must be tuple of ints, not range",
        id="pad-not-tuple-or-list",
    ),
    pytest.param(
        (2, 3), (True, False), "constant",
        TypeError, "pad must not have a bool in the first position (F.pad's parser rejects it there, and reads a later bool as an int), got (True, False)",
        TypeError, "found element of type bool at pos 0",
        id="pad-bool-first",
    ),
    pytest.param(
        (True, 3), (1, 1), "constant",
        TypeError, "shape must not have a bool in the first position (torch.empty's parser rejects it there, and reads a later bool as an int), got (True, 3)",
        TypeError, "found element of type bool at pos 0",
        id="shape-bool-first",
    ),
    pytest.param(
        (2, 3), [1, 1.5], "constant",
        TypeError, "pad must contain ints, got float at index 1: (1, 1.5)",
        TypeError, "must be tuple of ints,but got float",
        id="pad-entry-not-int",
    ),
    pytest.param(
        (2, 3), (1, 1), None,
        TypeError, "mode must be a str, got NoneType: None",
        TypeError, "argument 'mode' (position 3) must be str, not NoneType",
        id="mode-not-str",
    ),
    pytest.param(
        (2, 3), (1, 1), "Constant",
        ValueError, "mode must be one of 'constant', 'reflect', 'replicate', 'circular' (case-sensitive), got 'Constant'",
        NotImplementedError, "Unrecognised padding mode Constant",
        id="mode-unknown-case-sensitive",
    ),
    pytest.param(
        (1, 2, 2), (1, 1, 0), "constant",
        ValueError, "pad must have an even number of entries (a (left, right) pair per dimension), got 3: (1, 1, 0)",
        RuntimeError, "Padding length must be divisible by 2",
        id="pad-odd-length",
    ),
    pytest.param(
        (3,), (1, 1, 1, 1), "constant",
        ValueError, "pad must have at most 2 entries per dimension of shape (2 here), got 4 for shape (3,): (1, 1, 1, 1)",
        RuntimeError, "Padding length should be less than or equal to two times the input dimension",
        id="pad-longer-than-twice-rank",
    ),
    pytest.param(
        (3,), (-4, 2), "constant",
        ValueError, "pad must not crop more than the whole dimension, got (-4, 2) on dim -1 of size 3, which removes 4",
        RuntimeError, "narrow(): length must be non-negative.",
        id="constant-crop-beyond-dim-even-if-result-is-valid",
    ),
    pytest.param(
        (3,), (1, 1), "reflect",
        ValueError, "pad must have 2 entries for a 2D or 3D shape, 4 for 3D or 4D, or 6 for 4D or 5D in reflect mode, got 2 for the 1D shape (3,): (1, 1)",
        NotImplementedError, "Padding size 2 is not supported for 1D input tensor.",
        id="kernel-rank-reflect-1d",
    ),
    pytest.param(
        (2, 3), (), "circular",
        ValueError, "pad must have 2 entries for a 2D or 3D shape, 4 for 3D or 4D, or 6 for 4D or 5D in circular mode, got 0 for the 2D shape (2, 3): ()",
        NotImplementedError, "Padding size 0 is not supported for 2D input tensor.",
        id="kernel-rank-circular-empty-pad",
    ),
    pytest.param(
        (1, 1, 1, 2, 3, 3), (1, 1, 1, 1, 1, 1), "replicate",
        ValueError, "pad must have 2 entries for a 2D or 3D shape, 4 for 3D or 4D, or 6 for 4D or 5D in replicate mode, got 6 for the 6D shape (1, 1, 1, 2, 3, 3): (1, 1, 1, 1, 1, 1)",
        NotImplementedError, "Padding size 6 is not supported for 6D input tensor.",
        id="kernel-rank-replicate-6d",
    ),
    pytest.param(
        (2, 0), (0, 0), "replicate",
        ValueError, "shape must have non-empty dimensions in replicate mode, except dim 0 of a 3D (batched) shape, got (2, 0)",
        RuntimeError, "with possibly 0 batch size and other non-zero dimensions for input",
        id="replicate-empty-dim",
    ),
    pytest.param(
        (0, 3), (1, 1), "reflect",
        ValueError, "shape must have non-empty dimensions in reflect mode, except dim 0 of a 3D (batched) shape, got (0, 3)",
        RuntimeError, "with possibly 0 batch size and other non-zero dimensions for input",
        id="reflect-empty-channel-dim-without-batch",
    ),
    pytest.param(
        (1, 2, 3), (3, 1), "reflect",
        ValueError, "pad must be smaller than the padded dimension in reflect mode, got (3, 1) on dim -1 of size 3",
        RuntimeError, "Padding size should be less than the corresponding input dimension",
        id="reflect-pad-not-smaller-than-dim",
    ),
    pytest.param(
        (1, 3, 3), (-4, 0, 0, 0), "reflect",
        ValueError, "pad must not make a dimension negative, got (-4, 0) on dim -1 of size 3, which gives -1",
        RuntimeError, "numel: integer multiplication overflow",
        id="reflect-negative-result",
    ),
    pytest.param(
        (2, 3), (-2, -2), "circular",
        ValueError, "pad must not make a dimension negative, got (-2, -2) on dim -1 of size 3, which gives -1",
        RuntimeError, "Negative padding value is resulting in an empty dimension",
        id="circular-negative-result",
    ),
    pytest.param(
        (2, 3), (-3, 0), "reflect",
        ValueError, "pad must leave at least one padded dimension non-empty in reflect mode, got (-3, 0) for shape (2, 3), which gives (2, 0)",
        RuntimeError, "input (W: 3) is too small. Calculated output W: 0",
        id="reflect-all-padded-dims-empty",
    ),
    pytest.param(
        (1, 3, 3), (-3, 0, -3, 0), "replicate",
        ValueError, "pad must leave at least one padded dimension non-empty in replicate mode, got (-3, 0, -3, 0) for shape (1, 3, 3), which gives (1, 0, 0)",
        RuntimeError, "is too small. Calculated output H: 0 W: 0",
        id="replicate-all-padded-dims-empty",
    ),
    pytest.param(
        (2, 3), (4, 1), "circular",
        ValueError, "pad must be at most the padded dimension in circular mode (it wraps around at most once), got (4, 1) on dim -1 of size 3",
        RuntimeError, "Padding value causes wrapping around more than once.",
        id="circular-wraps-more-than-once",
    ),
    pytest.param(
        (1, 6), (1, -7), "circular",
        ValueError, "pad must not crop past the far end of a dimension in circular mode (torch only tolerates it when its wrap-around slicing keeps as many values as there are output slots, or 1), got (1, -7) on dim -1 of size 6: 5 kept input values for 0 output slots",
        RuntimeError, "The size of tensor a (0) must match the size of tensor b (5)",
        id="circular-crop-past-right-end",
    ),
    pytest.param(
        (1, 3), (-4, 3), "circular",
        ValueError, "pad must not crop past the far end of a dimension in circular mode (torch only tolerates it when its wrap-around slicing keeps as many values as there are output slots, or 1), got (-4, 3) on dim -1 of size 3: 0 kept input values for 1 output slots",
        RuntimeError, "output with shape [1, 1] doesn't match the broadcast shape [1, 0]",
        id="circular-crop-past-left-end",
    ),
    pytest.param(
        (1, 6), (-4, 4), "circular",
        ValueError, "pad must not wrap more values than cropping leaves in circular mode when every output dimension before the padded one has size 1 (torch would copy between overlapping parts of its output), got (-4, 4) on dim -1 of size 6: 2 values kept, 4 wrapped, output shape (1, 6)",
        RuntimeError, "some elements of the input tensor and the written-to tensor refer to a single memory location",
        id="circular-overlapping-copy",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("shape", "pad", "mode", "error", "message", "torch_error", "torch_message"), ERROR_CASES
)
def test_error_names_argument_rule_and_values_for_a_real_torch_rule(
    shape: object,
    pad: object,
    mode: object,
    error: type[Exception],
    message: str,
    torch_error: type[Exception],
    torch_message: str,
) -> None:
    with pytest.raises(torch_error, match=re.escape(torch_message)):
        F.pad(torch.empty(shape), pad, mode=mode)  # type: ignore[arg-type]
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        pad_shape(shape, pad, mode)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", MODES)
def test_every_pair_on_one_padded_dim_matches_torch(mode: str) -> None:
    # Exhaustive on small sizes, because circular's copy quirks hinge on exact pad/size relations.
    outer_shapes = [(1,), (2,), (0, 2)]
    mismatches = []
    for outer, size, left, right in itertools.product(
        outer_shapes, range(6), range(-6, 7), range(-6, 7)
    ):
        shape, pad = (*outer, size), (left, right)
        expected = torch_padded_shape(shape, pad, mode)
        try:
            actual = pad_shape(shape, pad, mode)
        except ValueError:
            actual = None
        if actual != expected:
            mismatches.append((shape, pad, expected, actual))
    assert mismatches == []


@st.composite
def pad_cases(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    # Uniform draws almost never reach the per-dimension rules of the non-constant modes, so
    # every draw also favours what they need: non-empty sizes, small entries and a pad of 2, 4
    # or 6 entries that fits the rank; each still covers the full ranges.
    rank = draw(st.integers(1, 5))
    size = st.one_of(st.integers(1, 5), st.integers(0, 5))
    shape = tuple(draw(st.lists(size, min_size=rank, max_size=rank)))
    lengths = st.integers(0, 2 * rank + 2)
    if rank > 1:  # rank 1 has no pad length that a non-constant mode accepts
        pairs = st.integers(max(1, rank - 2), min(3, rank - 1))
        lengths = st.one_of(pairs.map(lambda count: 2 * count), lengths)
    length = draw(lengths)
    entry = st.one_of(st.integers(-2, 2), st.integers(-6, 6))
    pad = tuple(draw(st.lists(entry, min_size=length, max_size=length)))
    mode = draw(st.sampled_from((*MODES, "Reflect")))
    return shape, pad, mode


@settings(derandomize=True, database=None, max_examples=1000, deadline=None)
@given(case=pad_cases())
@example(case=((), (), "constant"))
@example(case=((3,), (-3, 0), "constant"))
@example(case=((0,), (-1, 1), "constant"))
@example(case=((3,), (1, 1), "reflect"))
@example(case=((0, 2, 3), (1, 1), "reflect"))
@example(case=((1, 3, 3), (-3, 0, 0, 0), "reflect"))
@example(case=((1, 3), (-3, 2), "reflect"))
@example(case=((2, 3), (-5, 5), "replicate"))
@example(case=((2, 0), (0, 0), "circular"))
@example(case=((2, 3), (-4, 1), "circular"))
@example(case=((1, 3), (-4, 2), "circular"))
@example(case=((1, 2), (1, -3), "circular"))
@example(case=((1, 6, 0), (0, 0, -4, 4), "circular"))
@example(case=((2, 6), (-4, 4), "circular"))
@example(case=((1, 6), (-4, 4), "circular"))
@example(case=((1, 6), (1, -7), "circular"))
@example(case=((1, 2, 6), (0, 0, -1, 1), "circular"))
@example(case=((0, 3, 1, 5), (0, 0, -2, 0), "reflect"))
def test_pad_shape_matches_torch(case: tuple[tuple[int, ...], tuple[int, ...], str]) -> None:
    shape, pad, mode = case
    expected = torch_padded_shape(shape, pad, mode)
    if is_valid_shape(expected):
        assert pad_shape(shape, pad, mode) == expected
    else:
        with pytest.raises((ValueError, TypeError)):
            pad_shape(shape, pad, mode)
