"""Property tests that vary ``ignore_index`` (and the mode of ``pad_pairs_svg``).

The other property tests use the default -100. Here ``ignore_index`` is drawn from values that
collide with real labels (an id of the vocabulary, so that some labels are ignored because they
equal it), from -1, -100 and from values far outside the vocabulary; each helper is compared with
the reference that takes the same ``ignore_index`` (transformers' ``ForCausalLMLoss``,
``DataCollatorWithFlattening``'s ``separator_id``) or with its defining property.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import DataCollatorWithFlattening
from transformers.loss.loss_utils import ForCausalLMLoss

from lmloss import (
    causal_lm_loss,
    count_loss_tokens,
    explain_pad,
    linear_causal_lm_loss,
    pad_shape,
    shift_labels,
)
from lmloss.diagrams import pad_pairs_svg
from lmloss.sft import collate, pack

FAST = settings(derandomize=True, max_examples=25, deadline=None)
VOCAB = 8  # ids 0-7: an ignore_index in that range collides with real labels


def ignore_indices() -> st.SearchStrategy[int]:
    """-100, -1, an id of the vocabulary (a real label), or one far outside it."""
    return st.one_of(
        st.sampled_from([-100, -1]), st.integers(0, VOCAB - 1), st.integers(1000, 2**31 - 1)
    )


@st.composite
def labelled(draw):
    """``(labels, ignore_index)``: labels of ids 0-7, some positions set to ``ignore_index``."""
    ignore_index = draw(ignore_indices())
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 7)))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    labels = torch.randint(0, VOCAB, shape, generator=generator)
    masked = torch.rand(shape, generator=generator) < draw(st.sampled_from([0.0, 0.4, 1.0]))
    labels[masked] = ignore_index
    return labels, ignore_index


@FAST
@given(labelled())
def test_shift_labels_moves_left_and_ends_in_ignore_index(case):
    labels, ignore_index = case
    shifted = shift_labels(labels, ignore_index=ignore_index)
    assert torch.equal(shifted[..., :-1], labels[..., 1:])
    assert (shifted[..., -1] == ignore_index).all()


@FAST
@given(labelled())
def test_count_loss_tokens_counts_shifted_labels_other_than_ignore_index(case):
    labels, ignore_index = case
    shifted = shift_labels(labels, ignore_index=ignore_index)
    assert count_loss_tokens(labels, ignore_index=ignore_index) == int(
        (shifted != ignore_index).sum()
    )


@FAST
@given(labelled(), st.integers(0, 2**16), st.booleans())
def test_causal_lm_loss_equals_transformers_with_the_same_ignore_index(case, seed, shifted):
    labels, ignore_index = case
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(*labels.shape, VOCAB, generator=generator) * 3
    # Either the labels, or the model's own shift_labels instead of them.
    given_labels = None if shifted else labels
    kwargs = {"ignore_index": ignore_index}
    kwargs |= {"shift_labels": shift_labels(labels, ignore_index)} if shifted else {}
    theirs = ForCausalLMLoss(logits, given_labels, vocab_size=VOCAB, **kwargs)
    ours = causal_lm_loss(logits, given_labels, **kwargs)
    if count_loss_tokens(labels, ignore_index=ignore_index):
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
    else:  # nothing counted: transformers' mean is 0 / 0
        assert theirs.isnan() and ours.item() == 0.0


@FAST
@given(labelled(), st.integers(0, 2**16), st.integers(1, 5))
def test_linear_causal_lm_loss_equals_transformers_on_the_logits(case, seed, hidden_size):
    labels, ignore_index = case
    generator = torch.Generator().manual_seed(seed)
    hidden = torch.randn(*labels.shape, hidden_size, generator=generator)
    weight = torch.randn(VOCAB, hidden_size, generator=generator)
    ours = linear_causal_lm_loss(hidden, weight, labels, ignore_index=ignore_index)
    theirs = ForCausalLMLoss(hidden @ weight.T, labels, VOCAB, ignore_index=ignore_index)
    if count_loss_tokens(labels, ignore_index=ignore_index):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    else:  # nothing counted: transformers' mean is 0 / 0
        assert theirs.isnan() and ours.item() == 0.0


@st.composite
def examples(draw, min_length: int = 0):
    """``(examples, ignore_index)``: 1-4 examples of ids 0-7 whose labels mask some positions
    with ``ignore_index``, which may equal a real id."""
    ignore_index = draw(ignore_indices())
    batch = []
    for _ in range(draw(st.integers(1, 4))):
        ids = draw(st.lists(st.integers(0, VOCAB - 1), min_size=min_length, max_size=6))
        mask = draw(st.lists(st.booleans(), min_size=len(ids), max_size=len(ids)))
        labels = [i if m else ignore_index for i, m in zip(ids, mask, strict=True)]
        batch.append({"input_ids": ids, "labels": labels})
    return batch, ignore_index


@FAST
@given(examples())
def test_pack_equals_transformers_with_ignore_index_as_separator(case):
    batch, ignore_index = case
    if not any(e["input_ids"] for e in batch):
        with pytest.raises(ValueError, match="at least one non-empty sequence"):
            pack(batch, ignore_index=ignore_index)
        return
    flattening = DataCollatorWithFlattening(return_position_ids=True, separator_id=ignore_index)
    expected = flattening(batch, return_tensors="pt")
    packed = pack(batch, ignore_index=ignore_index)
    assert packed.keys() == expected.keys()
    for key, tensor in expected.items():
        assert torch.equal(packed[key], tensor), key


@FAST
@given(examples(min_length=1))
def test_collate_pads_labels_with_ignore_index_as_it_pads_with_minus_100(case):
    batch, ignore_index = case
    # The same batch masked with -100: collate's default, checked against TRL in test_sft.py.
    default = [
        {**e, "labels": [-100 if m == ignore_index else m for m in e["labels"]]} for e in batch
    ]
    collated = collate(batch, pad_token_id=2, ignore_index=ignore_index)
    reference = collate(default, pad_token_id=2)
    assert torch.equal(collated["input_ids"], reference["input_ids"])
    assert torch.equal(collated["attention_mask"], reference["attention_mask"])
    assert torch.equal(collated["labels"], reference["labels"].masked_fill(
        reference["labels"] == -100, ignore_index
    ))  # fmt: skip


MODES = ("constant", "reflect", "replicate", "circular")


@settings(derandomize=True, max_examples=40, deadline=None)
@given(
    st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
    st.data(),
    st.sampled_from(MODES),
)
def test_pairs_diagram_draws_the_shape_each_mode_gives(shape, data, mode):
    pairs = data.draw(st.integers(0, len(shape)))
    pad = tuple(data.draw(st.lists(st.integers(-2, 3), min_size=2 * pairs, max_size=2 * pairs)))
    try:
        result = pad_shape(shape, pad, mode)
    except (ValueError, NotImplementedError) as error:  # torch rejects it: so does the drawing
        with pytest.raises(type(error)):
            pad_pairs_svg(shape, pad, mode=mode)
        return
    root = ET.fromstring(pad_pairs_svg(shape, pad, mode=mode))
    dims = {int(el.get("data-dim")): el for el in root.iter() if el.get("data-kind") == "dim"}
    assert [int(dims[d].get("data-result")) for d in sorted(dims)] == list(result)
    assert tuple(F.pad(torch.zeros(shape), pad, mode).shape) == result
    # a long line is wrapped into <tspan>s: compare words, not the whitespace between them
    shown = " ".join("".join(root.itertext()).split())
    assert all(
        " ".join(line.split()) in shown for line in explain_pad(shape, pad, mode).splitlines()
    )
