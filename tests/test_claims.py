"""The site's claims about torch and transformers, checked against the pinned versions.

Each test is named after the claim it checks, so a failure after a version bump says which
sentence of the site is no longer true.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers.loss.loss_utils import ForCausalLMLoss

IGNORE_INDEX = -100


def _batch(batch: int = 2, length: int = 5, vocab: int = 11):
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(batch, length, vocab, generator=generator)
    labels = torch.randint(0, vocab, (batch, length), generator=generator)
    labels[0, :2] = IGNORE_INDEX  # a masked prompt, as SFT makes them
    return logits, labels


def test_claim_ForCausalLMLoss_shifts_labels_with_one_pad_of_ignore_index(monkeypatch):
    """pad-basics: ``ForCausalLMLoss`` shifts with ``F.pad(labels, (0, 1), value=ignore_index)``."""
    calls = []
    real_pad = F.pad

    def spy(input, pad, *args, **kwargs):
        calls.append((tuple(pad), kwargs.get("value")))
        return real_pad(input, pad, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "pad", spy)
    logits, labels = _batch()
    ForCausalLMLoss(logits, labels, vocab_size=logits.shape[-1])
    assert calls == [((0, 1), IGNORE_INDEX)]


def test_claim_ForCausalLMLoss_equals_cross_entropy_on_pad_then_slice_labels():
    """pad-basics: the pad and the slice ``[..., 1:]`` are the whole of the shift."""
    logits, labels = _batch()
    vocab = logits.shape[-1]
    shifted = F.pad(labels, (0, 1), value=IGNORE_INDEX)[..., 1:]
    expected = F.cross_entropy(
        logits.reshape(-1, vocab), shifted.reshape(-1), ignore_index=IGNORE_INDEX
    )
    actual = ForCausalLMLoss(logits, labels, vocab_size=vocab)
    torch.testing.assert_close(actual, expected, rtol=0, atol=0)


def test_claim_the_last_position_gets_ignore_index_and_the_shape_is_kept():
    """pad-basics: the shifted labels keep their shape and end in -100."""
    _, labels = _batch()
    shifted = F.pad(labels, (0, 1), value=IGNORE_INDEX)[..., 1:]
    assert shifted.shape == labels.shape
    assert (shifted[..., -1] == IGNORE_INDEX).all()
    assert torch.equal(shifted[..., :-1], labels[..., 1:])


def test_claim_cross_entropy_skips_ignore_index_positions():
    """pad-basics: positions labelled -100 do not count in the loss."""
    logits, labels = _batch()
    vocab = logits.shape[-1]
    kept = labels != IGNORE_INDEX
    with_ignored = F.cross_entropy(
        logits.reshape(-1, vocab), labels.reshape(-1), ignore_index=IGNORE_INDEX
    )
    only_kept = F.cross_entropy(logits[kept], labels[kept])
    torch.testing.assert_close(with_ignored, only_kept)
