"""``lmloss.causal_lm_loss`` against transformers' own ``ForCausalLMLoss`` and a tiny Llama."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.overrides import TorchFunctionMode
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.loss.loss_utils import ForCausalLMLoss

from lmloss import causal_lm_loss, count_loss_tokens, shift_labels
from lmloss.loss import _as_int64, _checked_inputs

IGNORE = -100
FAST = settings(derandomize=True, max_examples=60, deadline=None)


@st.composite
def batches(draw):
    """Logits and labels over batch, length, vocabulary, masks, dtypes and num_items_in_batch."""
    shape = (
        draw(st.integers(1, 3)),  # B
        draw(st.integers(1, 9)),  # T
    )
    vocab = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**16))
    generator = torch.Generator().manual_seed(seed)
    dtype = draw(st.sampled_from([torch.float32, torch.bfloat16]))
    logits = (torch.randn(*shape, vocab, generator=generator) * 3).to(dtype)
    labels = torch.randint(0, vocab, shape, generator=generator)
    mask = draw(st.sampled_from(["none", "some", "all_but_one", "all"]))
    if mask == "some":
        labels[torch.rand(shape, generator=generator) < 0.4] = IGNORE
    elif mask == "all_but_one":
        keep = labels.flatten()[-1].item()
        labels.fill_(IGNORE)
        labels[..., -1] = keep
    elif mask == "all":
        labels.fill_(IGNORE)
    num = draw(st.sampled_from(["none", "int", "tensor"]))
    counted = max(count_loss_tokens(labels), 1)
    num_items = {"none": None, "int": counted + 2, "tensor": torch.tensor(counted)}[num]
    return logits, labels, num_items


@FAST
@given(batches())
def test_equals_transformers_wherever_transformers_is_finite(batch):
    logits, labels, num_items = batch
    ours = causal_lm_loss(logits, labels, num_items_in_batch=num_items)
    theirs = ForCausalLMLoss(
        logits, labels, vocab_size=logits.shape[-1], num_items_in_batch=num_items
    )
    assert ours.dtype == theirs.dtype == torch.float32
    if torch.isfinite(theirs):
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
    else:  # nothing counted: transformers' mean is 0 / 0
        assert count_loss_tokens(labels) == 0 and ours.item() == 0.0


@FAST
@given(batches())
def test_shift_labels_argument_equals_transformers(batch):
    logits, labels, num_items = batch
    shifted = shift_labels(labels)
    theirs = ForCausalLMLoss(
        logits,
        None,
        vocab_size=logits.shape[-1],
        num_items_in_batch=num_items,
        shift_labels=shifted,
    )
    ours = causal_lm_loss(logits, None, num_items_in_batch=num_items, shift_labels=shifted)
    if torch.isfinite(theirs):
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
    else:  # nothing counted: transformers' mean is 0 / 0
        assert int((shifted != IGNORE).sum()) == 0 and ours.item() == 0.0


@pytest.fixture(scope="module")
def tiny_llama():
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
    )
    return LlamaForCausalLM(config).eval()


@settings(derandomize=True, max_examples=15, deadline=None)
@given(st.integers(1, 3), st.integers(2, 12), st.integers(0, 2**16))
def test_tiny_llama_loss_equals_causal_lm_loss_on_its_logits(tiny_llama, batch, length, seed):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 128, (batch, length), generator=generator)
    labels = ids.clone()
    labels[torch.rand(batch, length, generator=generator) < 0.3] = IGNORE
    labels[0, -1] = ids[0, -1]  # at least one counted position
    with torch.no_grad():
        out = tiny_llama(input_ids=ids, labels=labels)
    torch.testing.assert_close(causal_lm_loss(out.logits, labels), out.loss, rtol=1e-6, atol=1e-6)


def test_nothing_counted_gives_zero_with_a_zero_gradient():
    logits = torch.randn(2, 4, 5, requires_grad=True)
    labels = torch.full((2, 4), IGNORE)
    labels[:, 0] = 3  # position 0 is never a target
    for num_items in (None, 0, torch.tensor(0), 7):
        loss = causal_lm_loss(logits, labels, num_items_in_batch=num_items)
        assert loss.item() == 0.0 and loss.dtype == torch.float32
        (grad,) = torch.autograd.grad(loss, logits)
        assert torch.equal(grad, torch.zeros_like(grad))


def test_gradient_equals_transformers():
    logits = torch.randn(2, 5, 7, requires_grad=True)
    labels = torch.randint(0, 7, (2, 5))
    labels[0, :2] = IGNORE
    ours = torch.autograd.grad(causal_lm_loss(logits, labels), logits)[0]
    theirs = torch.autograd.grad(ForCausalLMLoss(logits, labels, vocab_size=7), logits)[0]
    torch.testing.assert_close(ours, theirs)


def test_accepts_int32_labels_and_non_contiguous_shift_labels():
    logits = torch.randn(2, 5, 7)
    labels = torch.randint(0, 7, (2, 5))
    expected = ForCausalLMLoss(logits, labels, vocab_size=7)
    assert causal_lm_loss(logits, labels.int()) == expected
    sliced = F.pad(labels, (0, 1), value=IGNORE)[..., 1:]
    assert not sliced.is_contiguous()
    assert causal_lm_loss(logits, None, shift_labels=sliced) == expected


def test_shift_labels_is_contiguous_with_the_same_shape_dtype_and_device():
    for dtype in (torch.int64, torch.int32, torch.int16):
        labels = torch.arange(12, dtype=dtype).reshape(3, 4)
        shifted = shift_labels(labels)
        assert shifted.is_contiguous() and shifted.shape == labels.shape
        assert shifted.dtype == dtype and shifted.device == labels.device
        assert shifted.tolist() == [[1, 2, 3, -100], [5, 6, 7, -100], [9, 10, 11, -100]]


def test_count_loss_tokens_counts_after_the_shift():
    labels = torch.tensor([[5, IGNORE, 6, 7], [IGNORE, 1, IGNORE, IGNORE]])
    assert count_loss_tokens(labels) == 3
    assert count_loss_tokens(labels) == int((shift_labels(labels) != IGNORE).sum())


# Every bad input, with the message it gets.
BAD = [
    (
        lambda: causal_lm_loss(torch.randn(2, 5, 7), torch.zeros(2, 6, dtype=torch.long)),
        ValueError,
        r"labels must have the shape of logits without its last \(vocabulary\) "
        r"dimension, \(2, 5\) for logits of shape \(2, 5, 7\), got \(2, 6\)",
    ),
    (
        lambda: causal_lm_loss(torch.randn(2, 5, 7), torch.zeros(2, 5)),
        TypeError,
        r"labels must have an integer dtype .*got torch.float32",
    ),
    (
        lambda: causal_lm_loss(
            torch.randn(2, 5, 7), torch.tensor([[1, 2, 3, 4, 5], [1, 2, 7, 4, 5]])
        ),
        ValueError,
        r"labels must be in \[0, 7\) .* or ignore_index=-100, got 7 at position \(1, 2\)",
    ),
    (
        lambda: causal_lm_loss(torch.randn(1, 3, 7), torch.tensor([[0, -1, 2]])),
        ValueError,
        r"got -1 at position \(0, 1\)",
    ),
    (
        lambda: causal_lm_loss(
            torch.randn(2, 5, 7), None, shift_labels=torch.zeros(2, 4, dtype=torch.long)
        ),
        ValueError,
        r"shift_labels must have the shape of logits .* got \(2, 4\)",
    ),
    (
        lambda: causal_lm_loss(
            torch.randn(2, 5, 7), None, shift_labels=torch.tensor([[1, 2, 3, 4, 9]] * 2)
        ),
        ValueError,
        r"shift_labels must be in \[0, 7\) .* got 9 at position \(0, 4\)",
    ),
    (
        lambda: causal_lm_loss(torch.randn(2, 5, 7), None),
        TypeError,
        r"labels must be a tensor when shift_labels is not given, got None",
    ),
    (
        lambda: causal_lm_loss(
            torch.zeros(2, 5, 7, dtype=torch.long), torch.zeros(2, 5, dtype=torch.long)
        ),
        TypeError,
        r"logits must have a floating-point dtype, got torch.int64",
    ),
    (
        lambda: causal_lm_loss(
            torch.randn(2, 5, 7), torch.zeros(2, 5, dtype=torch.long), num_items_in_batch=2.0
        ),
        TypeError,
        r"num_items_in_batch must be an int or a tensor of one element, got float: 2.0",
    ),
    (
        lambda: causal_lm_loss(
            torch.randn(2, 5, 7), torch.zeros(2, 5, dtype=torch.long), ignore_index=None
        ),
        TypeError,
        r"ignore_index must be an int, got NoneType",
    ),
    (
        lambda: shift_labels(torch.zeros(2, 3, dtype=torch.uint8)),
        ValueError,
        r"ignore_index must fit the dtype of labels, got -100 for torch.uint8",
    ),
    (
        lambda: count_loss_tokens(torch.zeros(3, dtype=torch.bool)),
        TypeError,
        r"labels must have an integer dtype .*got torch.bool",
    ),
]


@pytest.mark.parametrize("call, error, message", BAD, ids=[m[:40] for _, _, m in BAD])
def test_bad_input_is_named_with_what_was_expected_and_got(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_bad_label_at_position_0_is_never_a_target_so_it_is_accepted():
    logits = torch.randn(1, 3, 7)
    labels = torch.tensor([[99, 1, 2]])
    assert causal_lm_loss(logits, labels) == ForCausalLMLoss(logits, labels, vocab_size=7)


class _Recorder(TorchFunctionMode):
    """Records every torch function called with the logits among its arguments."""

    def __init__(self, logits):
        super().__init__()
        self.logits, self.calls = logits, []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if any(a is self.logits for a in (*args, *kwargs.values())):
            self.calls.append(getattr(func, "__name__", repr(func)))
        return func(*args, **kwargs)


METADATA = {"shape", "ndim", "dtype", "is_floating_point", "__get__"}


@pytest.mark.parametrize(
    "labels",
    [torch.tensor([[1, 2, 3]]), torch.tensor([[1, 2, 99]]), torch.zeros(1, 4, dtype=torch.long)],
)
def test_validation_reads_only_the_shape_and_dtype_of_the_logits(labels):
    logits = torch.randn(1, 3, 7)
    with _Recorder(logits) as recorder:
        try:
            _checked_inputs(logits, labels, IGNORE, None, None)
            causal_lm_loss(logits, labels) if labels.max() >= 7 else None
        except ValueError:
            pass
    assert recorder.calls and set(recorder.calls) <= METADATA, recorder.calls


def test_the_recorder_does_see_the_ops_that_read_the_logits():
    logits = torch.randn(1, 3, 7)
    with _Recorder(logits) as recorder:
        causal_lm_loss(logits, torch.tensor([[1, 2, 3]]))
    assert "reshape" in recorder.calls


UNSUPPORTED_LABEL_DTYPES = (torch.uint16, torch.uint32, torch.uint64)
ACCEPTED = "int64, int32, int16, int8 or uint8"


def _label_takers():
    """Every public function of lmloss.loss, linear_loss and parallel that takes labels."""
    from lmloss import linear_causal_lm_loss
    from lmloss.parallel import global_num_items, vocab_parallel_cross_entropy

    logits, hidden, weight = torch.zeros(1, 4, 8), torch.zeros(1, 4, 3), torch.zeros(8, 3)
    return {
        "shift_labels": ("labels", lambda y: shift_labels(y, ignore_index=0)),
        "count_loss_tokens": ("labels", count_loss_tokens),
        "causal_lm_loss": ("labels", lambda y: causal_lm_loss(logits, y)),
        "causal_lm_loss(shift_labels=)": (
            "shift_labels",
            lambda y: causal_lm_loss(logits, None, shift_labels=y),
        ),
        "linear_causal_lm_loss": ("labels", lambda y: linear_causal_lm_loss(hidden, weight, y)),
        "global_num_items": ("labels", global_num_items),
        "vocab_parallel_cross_entropy": (
            "target",
            lambda y: vocab_parallel_cross_entropy(logits[0], y[0], vocab_start=0),
        ),
    }


@pytest.mark.parametrize("dtype", UNSUPPORTED_LABEL_DTYPES, ids=str)
@pytest.mark.parametrize("function", list(_label_takers()))
def test_labels_of_uint16_32_64_raise_a_type_error_naming_the_argument_and_the_accepted_dtypes(
    function, dtype
):
    """lmloss does not take these dtypes (see INTEGER_DTYPES) and says to convert them."""
    name, call = _label_takers()[function]
    labels = torch.tensor([[1, 2, 3, 4]]).to(dtype)
    expected = rf"^{name} must have an integer dtype \({ACCEPTED}: .*got {dtype}; convert"
    with pytest.raises(TypeError, match=expected):
        call(labels)


@pytest.mark.parametrize("dtype", (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8))
@pytest.mark.parametrize("function", list(_label_takers()))
def test_labels_of_every_accepted_dtype_work(function, dtype):
    _, call = _label_takers()[function]
    call(torch.tensor([[1, 2, 3, 4]]).to(dtype))


# Labels whose vocabulary does not fit their dtype: torch casts a Python int compared with a
# tensor to the tensor's dtype, so 256 is 0 in uint8 and -100 is 156.
WIDE_VOCABULARIES = [
    (torch.uint8, 256, [1, 200, 255, 156]),
    (torch.int8, 300, [1, 50, 127, 3]),
    (torch.int16, 151936, [1, 25000, 32767, 3]),
]


@pytest.mark.parametrize(("dtype", "vocab", "ids"), WIDE_VOCABULARIES, ids=str)
def test_narrow_labels_of_a_vocabulary_wider_than_their_dtype_give_transformers_loss(
    dtype, vocab, ids
):
    from lmloss import linear_causal_lm_loss

    labels = torch.tensor([ids])
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 4, vocab, generator=generator)
    expected = ForCausalLMLoss(logits, labels, vocab_size=vocab)
    assert torch.allclose(causal_lm_loss(logits, labels.to(dtype)), expected)
    shifted = labels if dtype == torch.uint8 else shift_labels(labels)  # -100 is not a uint8
    expected = ForCausalLMLoss(logits, None, vocab_size=vocab, shift_labels=shifted)
    assert torch.allclose(causal_lm_loss(logits, None, shift_labels=shifted.to(dtype)), expected)
    hidden, weight = torch.randn(1, 4, 3, generator=generator), torch.randn(vocab, 3)
    expected = causal_lm_loss(F.linear(hidden, weight), labels)
    assert torch.allclose(linear_causal_lm_loss(hidden, weight, labels.to(dtype)), expected)


@pytest.mark.parametrize(
    ("dtype", "vocab", "bad"),
    [(torch.uint8, 100, 200), (torch.int8, 100, -3), (torch.int16, 300, 30000)],
    ids=str,
)
def test_narrow_labels_out_of_range_still_raise_with_their_value(dtype, vocab, bad):
    labels = torch.tensor([[1, 2, bad, 3]], dtype=dtype)
    expected = rf"labels must be in \[0, {vocab}\) .* got {bad} at position \(0, 2\)"
    with pytest.raises(ValueError, match=expected):
        causal_lm_loss(torch.zeros(1, 4, vocab), labels)


def test_count_loss_tokens_counts_a_uint8_label_of_156_which_is_minus_100_wrapped():
    assert count_loss_tokens(torch.tensor([[0, 156, 156, 156]], dtype=torch.uint8)) == 3
    assert count_loss_tokens(torch.tensor([[0, 156, 200, 3]], dtype=torch.uint8)) == 3


def test_int64_labels_are_compared_without_a_copy():
    labels = torch.arange(12).reshape(3, 4)[..., 1:]
    assert _as_int64(labels) is labels
    assert _as_int64(labels.to(torch.uint8)).dtype == torch.int64


def test_the_docstrings_name_the_accepted_label_dtypes():
    for function in (causal_lm_loss, shift_labels, count_loss_tokens):
        assert "int64, int32, int16, int8 or uint8" in " ".join(function.__doc__.split())
    assert "any integer dtype" not in causal_lm_loss.__doc__


def test_the_loss_is_float64_only_for_a_float64_num_items_in_batch_as_in_transformers():
    logits, labels = torch.randn(2, 5, 7).bfloat16(), torch.randint(0, 7, (2, 5))
    for count, dtype in (
        (None, torch.float32),
        (3, torch.float32),
        (torch.tensor(3), torch.float32),
        (torch.tensor(3.0, dtype=torch.bfloat16), torch.float32),
        (torch.tensor(3.0, dtype=torch.float64), torch.float64),
    ):
        ours = causal_lm_loss(logits, labels, num_items_in_batch=count)
        theirs = ForCausalLMLoss(logits, labels, vocab_size=7, num_items_in_batch=count)
        assert ours.dtype == theirs.dtype == dtype
    returns = " ".join(causal_lm_loss.__doc__.split("Returns:")[1].split("Raises:")[0].split())
    assert "float64 if num_items_in_batch is a float64 tensor" in returns.replace("``", "")


def test_transformers_takes_int64_labels_and_uint8_shift_labels_only():
    """The docstring's "(transformers takes int64 labels, and uint8 only as shift_labels)":
    uint8 labels fail in ForCausalLMLoss's pad with -100, which no uint8 can hold."""
    logits = torch.randn(1, 4, 7)
    labels = torch.randint(0, 7, (1, 4))
    ForCausalLMLoss(logits, labels, vocab_size=7)
    ForCausalLMLoss(logits, None, vocab_size=7, shift_labels=labels.to(torch.uint8))
    with pytest.raises(RuntimeError, match="cannot be converted to type uint8_t"):
        ForCausalLMLoss(logits, labels.to(torch.uint8), vocab_size=7)
    for dtype in (torch.int32, torch.int16, torch.int8):
        with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte"):
            ForCausalLMLoss(logits, labels.to(dtype), vocab_size=7)
    text = " ".join(causal_lm_loss.__doc__.split())
    assert "(transformers takes int64 labels, and uint8 only as ``shift_labels``)" in text
