"""Claims of the F.pad pages (pad-basics, pad-modes, pad-edge-cases) that no output shows.

Each test is named after the sentence it backs and runs the pinned torch.
"""

from __future__ import annotations

import inspect
import json
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
    """ "the rules of torch 2.13", "the message torch 2.13 prints"."""
    assert torch.__version__.startswith("2.13.")


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
    """Edge cases, items 6 and 7: wrapping 3 of the 1 kept element fails only on one row."""
    x = torch.arange(torch.Size(shape).numel()).reshape(shape)
    if overlap:
        with pytest.raises(RuntimeError, match="single memory location"):
            F.pad(x, (-3, 3), mode="circular")
    else:
        kept = x[..., -1:]
        assert torch.equal(F.pad(x, (-3, 3), mode="circular"), kept.expand(*shape))


def test_claim_circular_checks_the_dims_in_front_of_the_output_not_of_the_input():
    """Edge cases, item 7: the input's dims in front are all 1, the output's are not."""
    x = torch.arange(4).reshape(1, 1, 4)
    padded = F.pad(x, (-3, 3, 1, 0), mode="circular")  # dim -2 grows from 1 to 2: no error
    assert padded.shape == (1, 2, 4) == pad_shape((1, 1, 4), (-3, 3, 1, 0), "circular")
    assert torch.equal(padded, torch.full((1, 2, 4), 3))


def test_claim_circular_raises_nothing_when_cropping_keeps_no_element():
    """Edge cases, item 7: one value wrapped from nothing, and pad_shape lets it through too."""
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
