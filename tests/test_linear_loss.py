"""``lmloss.linear_causal_lm_loss`` against transformers' ``ForCausalLMLoss`` on explicit logits."""

from __future__ import annotations

import inspect
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from transformers.loss.loss_utils import ForCausalLMLoss

from lmloss import count_loss_tokens, linear_causal_lm_loss, linear_loss, shift_labels
from lmloss.linear_loss import MIN_CHUNK_ROWS
from test_loss import METADATA, _Recorder

IGNORE = -100
FAST = settings(derandomize=True, max_examples=40, deadline=None)
# One bf16 rounding step is 2**-8 relative; the two paths round in different places.
BF16_RTOL = 2**-7


@st.composite
def heads(draw):
    """Hidden states, lm_head and labels over sizes, masks, dtypes, bias and the two label forms."""
    batch, length = draw(st.integers(1, 3)), draw(st.integers(1, 80))
    hidden_size, vocab = draw(st.integers(1, 24)), draw(st.integers(1, 300))
    dtype = draw(st.sampled_from([torch.float32, torch.bfloat16]))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    hidden = torch.randn(batch, length, hidden_size, generator=generator).to(dtype)
    weight = (torch.randn(vocab, hidden_size, generator=generator) / hidden_size**0.5).to(
        dtype
    )  # logits of a few units, as in a trained model
    bias = torch.randn(vocab, generator=generator).to(dtype) if draw(st.booleans()) else None
    labels = torch.randint(0, vocab, (batch, length), generator=generator)
    mask = draw(st.sampled_from(["none", "some", "all"]))
    if mask == "some":
        labels[torch.rand(batch, length, generator=generator) < 0.4] = IGNORE
    elif mask == "all":
        labels.fill_(IGNORE)
    counted = count_loss_tokens(labels)
    num_items = draw(st.sampled_from([None, counted + 3, torch.tensor(max(counted, 1))]))
    shifted = draw(st.booleans())
    min_rows = draw(st.sampled_from([1, 7, MIN_CHUNK_ROWS]))  # several chunks, or one
    accum_dtype = draw(st.sampled_from([None, torch.float32]))
    return hidden, weight, bias, labels, num_items, shifted, min_rows, accum_dtype


def _loss_and_grads(loss_of, hidden, weight, bias):
    leaves = [t.detach().requires_grad_() for t in (hidden, weight, bias) if t is not None]
    loss = loss_of(*leaves, *([None] if bias is None else []))
    return loss, torch.autograd.grad(loss, leaves)


def _close(ours, theirs, rtol):
    """Relative error of the whole tensor, so that tiny entries do not dominate.

    The absolute 1e-6 covers gradients that are 0 in exact arithmetic (a vocabulary of one).
    """
    error = (ours.float() - theirs.float()).norm()
    return bool(error <= rtol * theirs.float().norm() + 1e-6)


@FAST
@given(heads())
def test_value_and_gradients_equal_transformers_on_the_full_logits(case):
    hidden, weight, bias, labels, num_items, shifted, min_rows, accum_dtype = case
    kwargs = {"shift_labels": shift_labels(labels)} if shifted else {}
    given_labels = None if shifted else labels

    def ours(h, w, b):
        return linear_causal_lm_loss(
            h,
            w,
            given_labels,
            bias=b,
            num_items_in_batch=num_items,
            accum_dtype=accum_dtype,
            **kwargs,
        )

    def theirs(h, w, b):
        logits = F.linear(h, w, b)  # what the lm_head, an nn.Linear, computes
        return ForCausalLMLoss(
            logits, given_labels, vocab_size=w.shape[0], num_items_in_batch=num_items, **kwargs
        )

    with mock.patch.object(linear_loss, "MIN_CHUNK_ROWS", min_rows):
        value, grads = _loss_and_grads(ours, hidden, weight, bias)
    expected, expected_grads = _loss_and_grads(theirs, hidden, weight, bias)
    assert value.dtype == torch.float32
    assert [g.dtype for g in grads] == [g.dtype for g in expected_grads]
    if not torch.isfinite(expected):  # nothing counted: transformers' mean is 0 / 0
        assert count_loss_tokens(labels) == 0 and num_items is None and value.item() == 0.0
        assert all(not g.any() for g in grads)
        return
    if hidden.dtype == torch.float32:
        torch.testing.assert_close(value, expected, rtol=1e-5, atol=1e-6)
        for grad, grad_expected in zip(grads, expected_grads):
            assert _close(grad, grad_expected, 1e-4)
    else:
        torch.testing.assert_close(value, expected, rtol=BF16_RTOL, atol=1e-6)
        for grad, grad_expected in zip(grads, expected_grads):
            assert _close(grad, grad_expected, BF16_RTOL)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_several_chunks_equal_one_pass_over_the_logits(dtype):
    tokens = 3 * MIN_CHUNK_ROWS + 5
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(1, tokens, 8, generator=generator).to(dtype)
    weight = torch.randn(50, 8, generator=generator).to(dtype)
    labels = torch.randint(0, 50, (1, tokens), generator=generator)
    name = "_half_chunk" if dtype == torch.bfloat16 else "_token_chunk"
    chunk, chunks = getattr(linear_loss, name), []
    with mock.patch.object(linear_loss, name, lambda *a: chunks.append(1) or chunk(*a)):
        value, grads = _loss_and_grads(
            lambda h, w, b: linear_causal_lm_loss(h, w, labels), hidden, weight, None
        )
    assert len(chunks) == 4  # 256 tokens each (MIN_CHUNK_ROWS), the last 5
    expected, expected_grads = _loss_and_grads(
        lambda h, w, b: ForCausalLMLoss(F.linear(h, w), labels, vocab_size=50), hidden, weight, None
    )
    rtol = 1e-5 if dtype == torch.float32 else BF16_RTOL
    torch.testing.assert_close(value, expected, rtol=rtol, atol=1e-6)
    assert all(_close(g, e, 10 * rtol) for g, e in zip(grads, expected_grads))


def test_backward_runs_once_with_a_clear_error_the_second_time():
    hidden = torch.randn(1, 4, 3, requires_grad=True)
    loss = linear_causal_lm_loss(hidden, torch.randn(5, 3), torch.tensor([[1, 2, 3, 4]]))
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="call backward on its result only once"):
        loss.backward()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_the_gradients_are_scaled_by_the_incoming_gradient(dtype):
    hidden = torch.randn(1, 6, 4, dtype=dtype, requires_grad=True)
    weight = torch.randn(9, 4, dtype=dtype, requires_grad=True)
    labels = torch.randint(0, 9, (1, 6))
    (3 * linear_causal_lm_loss(hidden, weight, labels)).backward()
    expected = [g.clone() for g in (hidden.grad, weight.grad)]
    hidden.grad = weight.grad = None
    linear_causal_lm_loss(hidden, weight, labels).backward()
    for grad, tripled in zip((hidden.grad, weight.grad), expected):
        assert grad.dtype == dtype
        torch.testing.assert_close(3 * grad, tripled)


BAD = [
    (
        lambda: linear_causal_lm_loss(
            torch.randn(2, 5, 4), torch.randn(7, 4), torch.zeros(2, 6, dtype=torch.long)
        ),
        ValueError,
        r"labels must have the shape of hidden without its last \(hidden size\) "
        r"dimension, \(2, 5\) for hidden of shape \(2, 5, 4\), got \(2, 6\)",
    ),
    (
        lambda: linear_causal_lm_loss(
            torch.randn(2, 5, 4), torch.randn(7, 3), torch.zeros(2, 5, dtype=torch.long)
        ),
        ValueError,
        r"weight must have shape \(V, H\) with V > 0 and H = hidden.shape\[-1\] = 4, "
        r"got \(7, 3\)",
    ),
    (
        lambda: linear_causal_lm_loss(
            torch.randn(5), torch.randn(7, 5), torch.zeros(1, dtype=torch.long)
        ),
        ValueError,
        r"hidden must have shape \(..., T, H\), at least 2 dimensions, got \(5,\)",
    ),
    (
        lambda: linear_causal_lm_loss(torch.randn(2, 5, 4), torch.randn(7, 4), torch.zeros(2, 5)),
        TypeError,
        r"labels must have an integer dtype .*got torch.float32",
    ),
    (
        lambda: linear_causal_lm_loss(
            torch.randn(1, 3, 4), torch.randn(7, 4), torch.tensor([[0, 1, 7]])
        ),
        ValueError,
        r"labels must be in \[0, 7\) \(the vocabulary size, weight.shape\[0\]\) or "
        r"ignore_index=-100, got 7 at position \(0, 2\)",
    ),
    (
        lambda: linear_causal_lm_loss(
            torch.randn(1, 3, 4), torch.randn(7, 4), None, shift_labels=torch.tensor([[0, -5, 1]])
        ),
        ValueError,
        r"shift_labels must be in \[0, 7\) .* got -5 at position \(0, 1\)",
    ),
    (
        lambda: linear_causal_lm_loss(
            torch.randn(1, 3, 4), torch.randn(7, 4).bfloat16(), torch.zeros(1, 3, dtype=torch.long)
        ),
        TypeError,
        r"weight must have the dtype of hidden, torch.float32, got torch.bfloat16",
    ),
    (
        lambda: linear_causal_lm_loss(
            torch.randn(1, 3, 4),
            torch.randn(7, 4),
            torch.zeros(1, 3, dtype=torch.long),
            bias=torch.zeros(6),
        ),
        ValueError,
        r"bias must have shape \(V,\) = \(7,\), got \(6,\)",
    ),
    (
        lambda: linear_causal_lm_loss(
            torch.zeros(1, 3, 4, dtype=torch.long),
            torch.randn(7, 4),
            torch.zeros(1, 3, dtype=torch.long),
        ),
        TypeError,
        r"hidden must have a floating-point dtype, got torch.int64",
    ),
    (
        lambda: linear_causal_lm_loss(
            torch.randn(1, 3, 4),
            torch.randn(7, 4),
            torch.zeros(1, 3, dtype=torch.long),
            num_items_in_batch=2.0,
        ),
        TypeError,
        r"num_items_in_batch must be an int or a tensor of one element, got float",
    ),
    (
        lambda: linear_causal_lm_loss(torch.randn(1, 3, 4), torch.randn(7, 4), None),
        TypeError,
        r"labels must be a tensor when shift_labels is not given, got None",
    ),
    (
        lambda: linear_causal_lm_loss(
            torch.randn(1, 3, 4),
            torch.randn(7, 4),
            torch.zeros(1, 3, dtype=torch.long),
            accum_dtype="float32",
        ),
        TypeError,
        r"accum_dtype must be a torch.dtype or None, got str",
    ),
    (
        lambda: linear_causal_lm_loss(
            torch.randn(1, 3, 4),
            torch.randn(7, 4),
            torch.zeros(1, 3, dtype=torch.long),
            accum_dtype=torch.bfloat16,
        ),
        ValueError,
        r"accum_dtype must be None or torch.float32, got torch.bfloat16",
    ),
]


@pytest.mark.parametrize("call, error, message", BAD, ids=[m[:40] for _, _, m in BAD])
def test_bad_input_is_named_with_what_was_expected_and_got(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("name", ["hidden", "weight"])
def test_a_bad_label_is_reported_reading_only_the_shape_of_hidden_and_weight(name):
    tensors = {"hidden": torch.randn(1, 3, 4), "weight": torch.randn(7, 4)}
    with _Recorder(tensors[name]) as recorder, pytest.raises(ValueError, match="got 99"):
        linear_causal_lm_loss(tensors["hidden"], tensors["weight"], torch.tensor([[1, 2, 99]]))
    assert recorder.calls and set(recorder.calls) <= METADATA, recorder.calls


def _weight_grad_error(loss_of, hidden, weight, reference):
    weight = weight.detach().requires_grad_()
    loss_of(hidden, weight).backward()
    return float((weight.grad.double() - reference).norm() / reference.norm())


def _bf16_weight_gradient_error_ratio(chunks: int, accum_dtype, num_items=None) -> float:
    """The weight gradient's error against float64 over ``chunks`` chunks of tokens, as a
    multiple of the standard path's (the full logits, then ForCausalLMLoss)."""
    tokens, hidden_size, vocab = 4096, 16, 512
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(1, tokens, hidden_size, generator=generator).bfloat16()
    weight = (torch.randn(vocab, hidden_size, generator=generator) / hidden_size**0.5).bfloat16()
    labels = torch.randint(0, vocab, (1, tokens), generator=generator)

    def standard(h, w):
        return ForCausalLMLoss(
            F.linear(h, w), labels, vocab_size=vocab, num_items_in_batch=num_items
        )

    reference = hidden.double(), weight.double().requires_grad_()
    standard(*reference).backward()
    standard_error = _weight_grad_error(standard, hidden, weight, reference[1].grad)
    counted = []
    chunk = linear_loss._half_chunk
    with (
        mock.patch.object(linear_loss, "MIN_CHUNK_ROWS", 1),
        mock.patch.object(linear_loss, "MAX_HALF_CHUNKS", chunks),
        mock.patch.object(linear_loss, "_half_chunk", lambda *a: counted.append(1) or chunk(*a)),
    ):
        error = _weight_grad_error(
            lambda h, w: linear_causal_lm_loss(
                h, w, labels, num_items_in_batch=num_items, accum_dtype=accum_dtype
            ),
            hidden,
            weight,
            reference[1].grad,
        )
    assert len(counted) == chunks
    return error / standard_error


def test_bf16_weight_gradient_error_grows_with_the_chunks_and_is_bounded_at_the_most():
    """A bf16 buffer is rounded once per chunk: measured 1.45x the standard path's error over
    4 chunks, 1.86x over 8, 2.55x over MAX_HALF_CHUNKS = 16 (the docstring quotes these)."""
    ratios = [_bf16_weight_gradient_error_ratio(chunks, None) for chunks in (4, 8, 16)]
    assert ratios == sorted(ratios), ratios
    assert ratios[0] <= 1.6 and ratios[1] <= 2.0 and ratios[2] <= 3.0, ratios
    assert linear_loss.MAX_HALF_CHUNKS == 16


@pytest.mark.parametrize("num_items", [None, 4080])  # 1 / 4080 is 0.39 % off in bf16
def test_bf16_weight_gradient_with_a_float32_buffer_keeps_the_standard_paths_error(num_items):
    """The gradient is scaled before it is rounded, and a float32 buffer adds no rounding."""
    assert _bf16_weight_gradient_error_ratio(16, torch.float32, num_items) <= 1.1


def test_bf16_gradients_are_scaled_by_the_incoming_gradient_unrounded():
    """``(loss / 3).backward()``, as the Trainer's division by the accumulation steps: the
    bf16 buffers are multiplied by the float32 1/3, not by bf16(1/3), 0.2 % off."""
    hidden = torch.randn(1, 64, 8).bfloat16().requires_grad_()
    weight = torch.randn(50, 8).bfloat16().requires_grad_()
    labels = torch.randint(0, 50, (1, 64))
    linear_causal_lm_loss(hidden, weight, labels).backward()
    unscaled = hidden.grad, weight.grad
    hidden.grad = weight.grad = None
    (linear_causal_lm_loss(hidden, weight, labels) / 3).backward()
    third = torch.tensor(1.0) / 3
    for grad, whole in zip((hidden.grad, weight.grad), unscaled):
        assert torch.equal(grad, (whole.float() * third).bfloat16())


@pytest.mark.parametrize("accum_dtype, bound", [(None, 1.5), (torch.float32, 1.1)])
def test_bf16_weight_gradient_error_under_a_scaled_loss(accum_dtype, bound):
    """With an incoming gradient other than 1 a bf16 buffer is rounded twice, in forward and
    after the scaling in backward; a float32 buffer is rounded once, as in the standard path."""
    tokens, hidden_size, vocab = 512, 64, 1000
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(1, tokens, hidden_size, generator=generator).bfloat16()
    weight = (torch.randn(vocab, hidden_size, generator=generator) / hidden_size**0.5).bfloat16()
    labels = torch.randint(0, vocab, (1, tokens), generator=generator)

    def standard(h, w):
        return ForCausalLMLoss(F.linear(h, w), labels, vocab_size=vocab) / 3

    reference = hidden.double(), weight.double().requires_grad_()
    standard(*reference).backward()
    standard_error = _weight_grad_error(standard, hidden, weight, reference[1].grad)
    error = _weight_grad_error(
        lambda h, w: linear_causal_lm_loss(h, w, labels, accum_dtype=accum_dtype) / 3,
        hidden,
        weight,
        reference[1].grad,
    )
    # measured: 1.33x the standard error with bf16 buffers (two roundings, at most sqrt(2)),
    # 1.0x with float32 ones
    assert error <= bound * standard_error, (error, standard_error)


class _NewTensors(TorchDispatchMode):
    """Shape and dtype of every tensor an operation returns that shares no input's memory."""

    def __init__(self):
        super().__init__()
        self.made = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        given = {
            t.untyped_storage().data_ptr()
            for t in tree_leaves((args, kwargs))
            if isinstance(t, torch.Tensor)
        }
        self.made += [
            (tuple(t.shape), t.dtype)
            for t in tree_leaves(out)
            if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in given
        ]
        return out


BF16, F32 = torch.bfloat16, torch.float32
TOKENS, HIDDEN_SIZE, VOCAB = 600, 12, 97
HIDDEN, WEIGHT = (TOKENS, HIDDEN_SIZE), (VOCAB, HIDDEN_SIZE)


@pytest.mark.parametrize(
    "accum_dtype, trained, expected",
    [
        (None, ("hidden", "weight"), [(HIDDEN, BF16), (WEIGHT, BF16)]),
        (F32, ("hidden", "weight"), [(HIDDEN, BF16), (WEIGHT, F32), (WEIGHT, BF16)]),
        (None, ("hidden",), [(HIDDEN, BF16)]),  # a frozen head, as with LoRA
        (F32, ("hidden",), [(HIDDEN, BF16)]),
        (None, ("weight",), [(WEIGHT, BF16)]),
    ],
)
def test_bf16_full_size_tensors_are_the_gradients_and_their_buffers_only(
    accum_dtype, trained, expected
):
    """One buffer per gradient asked for, in the weight's dtype unless accum_dtype is float32
    (then cast back once); no (V, H) or (N, H) temporary in any chunk."""
    hidden = torch.randn(1, TOKENS, HIDDEN_SIZE).bfloat16().requires_grad_("hidden" in trained)
    weight = torch.randn(VOCAB, HIDDEN_SIZE).bfloat16().requires_grad_("weight" in trained)
    labels = torch.randint(0, VOCAB, (1, TOKENS))
    with mock.patch.object(linear_loss, "MIN_CHUNK_ROWS", 1), _NewTensors() as recorder:
        linear_causal_lm_loss(hidden, weight, labels, accum_dtype=accum_dtype).backward()
    full_size = [made for made in recorder.made if made[0] in (HIDDEN, WEIGHT)]
    assert full_size == expected


class _Multipliers(TorchDispatchMode):
    """The second operand of every in-place multiply."""

    def __init__(self):
        super().__init__()
        self.by = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten.mul_.Tensor:
            self.by.append(args[1])
        return func(*args, **(kwargs or {}))


def test_backward_scales_by_a_python_number_which_cuda_does_not_round_to_bf16():
    """On CUDA a bf16 tensor times a 0-dim CUDA float32 tensor casts the scalar to bf16 in the
    kernel (``gpu_kernel``'s ``fetch_and_cast``); only a CPU scalar, such as a Python number,
    is multiplied in float32 there. So backward must hand ``mul_`` a number, on every device."""
    hidden = torch.randn(1, 8, 4).bfloat16().requires_grad_()
    weight = torch.randn(9, 4).bfloat16().requires_grad_()
    loss = linear_causal_lm_loss(hidden, weight, torch.randint(0, 9, (1, 8))) / 3
    with _Multipliers() as recorder:
        loss.backward()
    assert len(recorder.by) == 2  # one per gradient buffer
    assert all(isinstance(by, float) for by in recorder.by), recorder.by


def test_the_docstring_and_comment_on_the_backward_scale_name_the_device_independent_number():
    """Round-2 review W1: the text said a 0-dim float32 tensor multiplies unrounded, true on
    the CPU only."""
    text = " ".join(
        (
            linear_loss._ChunkedHead.__doc__ + inspect.getsource(linear_loss._ChunkedHead.backward)
        ).split()
    )
    assert "times a 0-dim float32 tensor" not in text
    assert "a Python number" in text
    assert "not a power of two" in text


def test_under_no_grad_no_gradient_is_computed_or_kept():
    """Evaluation runs the loss under torch.no_grad(): the loss alone, no buffer."""
    hidden = torch.randn(1, TOKENS, HIDDEN_SIZE).bfloat16().requires_grad_()
    weight = torch.randn(VOCAB, HIDDEN_SIZE).bfloat16().requires_grad_()
    labels = torch.randint(0, VOCAB, (1, TOKENS))
    patched = mock.patch.object(linear_loss, "MIN_CHUNK_ROWS", 1)
    with patched, _NewTensors() as recorder, torch.no_grad():
        loss = linear_causal_lm_loss(hidden, weight, labels)
    assert [made for made in recorder.made if made[0] in (HIDDEN, WEIGHT)] == []
    torch.testing.assert_close(loss, linear_causal_lm_loss(hidden, weight, labels).detach())


def test_under_autocast_float32_inputs_get_the_standard_paths_loss():
    """F.linear follows autocast inside the chunks, as the standard path's lm_head does."""
    torch.manual_seed(0)
    hidden, weight = torch.randn(1, 64, 16), torch.randn(50, 16)
    labels = torch.randint(0, 50, (1, 64))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours = linear_causal_lm_loss(hidden, weight, labels)
        standard = ForCausalLMLoss(F.linear(hidden, weight), labels, vocab_size=50)
    torch.testing.assert_close(ours, standard)
    assert not torch.allclose(
        ours, linear_causal_lm_loss(hidden, weight, labels), rtol=0, atol=1e-7
    )


def test_under_autocast_float64_inputs_stay_float64():
    """Autocast leaves float64 alone: a float64 head computes in float64 under it too."""
    seen = set()
    linear = F.linear

    def spy(*args, **kwargs):
        out = linear(*args, **kwargs)
        seen.add(out.dtype)
        return out

    hidden, weight = torch.randn(1, 8, 4, dtype=torch.float64), torch.randn(5, 4).double()
    with mock.patch.object(linear_loss.F, "linear", spy), torch.autocast("cpu", torch.bfloat16):
        linear_causal_lm_loss(hidden, weight, torch.randint(0, 5, (1, 8)))
    assert seen == {torch.float64}
