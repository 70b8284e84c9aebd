"""The loss chapter's claims about torch and transformers, checked against the pinned versions.

Each test is named after the sentence of docs/*/loss.md it checks.
"""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F
from transformers.loss import loss_utils
from transformers.loss.loss_utils import ForCausalLMLoss

IGNORE = -100


def _batch(batch=2, length=6, vocab=11):
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(batch, length, vocab, generator=generator)
    labels = torch.randint(0, vocab, (batch, length), generator=generator)
    labels[-1, :2] = IGNORE
    return logits, labels


def test_claim_ForCausalLMLoss_always_returns_float32_even_for_bf16_logits():
    logits, labels = _batch()
    assert ForCausalLMLoss(logits.bfloat16(), labels, vocab_size=11).dtype == torch.float32


def test_claim_cross_entropy_on_bf16_logits_returns_bf16():
    logits, labels = _batch()
    assert F.cross_entropy(logits.bfloat16().view(-1, 11), labels.view(-1)).dtype == torch.bfloat16


def test_claim_bf16_near_10_ignores_an_added_0_03_and_its_next_number_is_10_0625():
    ten = torch.tensor(10.0, dtype=torch.bfloat16)
    assert ten + 0.03 == ten
    assert torch.nextafter(ten, torch.tensor(11.0, dtype=torch.bfloat16)).item() == 10.0625


def test_claim_sliced_labels_are_contiguous_for_batch_1_and_not_for_batch_2():
    for batch, contiguous in ((1, True), (2, False)):
        labels = torch.zeros(batch, 6, dtype=torch.long)
        assert F.pad(labels, (0, 1), value=IGNORE)[..., 1:].is_contiguous() is contiguous


def test_claim_view_minus_1_fails_on_non_contiguous_labels():
    sliced = F.pad(torch.zeros(2, 6, dtype=torch.long), (0, 1), value=IGNORE)[..., 1:]
    with pytest.raises(
        RuntimeError, match="view size is not compatible with input tensor's size and stride"
    ):
        sliced.view(-1)


def test_claim_flattening_the_logits_is_a_view_not_a_copy():
    logits, _ = _batch()
    assert logits.float().view(-1, 11).data_ptr() == logits.data_ptr()


def test_claim_fixed_cross_entropy_sums_and_divides_by_num_items_in_batch():
    logits, labels = _batch()
    shifted = F.pad(labels, (0, 1), value=IGNORE)[..., 1:].reshape(-1)
    total = F.cross_entropy(logits.view(-1, 11), shifted, reduction="sum")
    actual = ForCausalLMLoss(logits, labels, vocab_size=11, num_items_in_batch=7)
    torch.testing.assert_close(actual, total / 7)
    assert 'reduction = "sum" if num_items_in_batch is not None else "mean"' in inspect.getsource(
        loss_utils.fixed_cross_entropy
    )


def test_claim_summing_micro_batch_losses_over_num_items_gives_the_full_batch_loss():
    logits, labels = _batch()
    full = ForCausalLMLoss(logits, labels, vocab_size=11)
    n = (labels[..., 1:] != IGNORE).sum()
    summed = sum(
        ForCausalLMLoss(logits[i : i + 1], labels[i : i + 1], vocab_size=11, num_items_in_batch=n)
        for i in range(2)
    )
    torch.testing.assert_close(summed, full)
    means = [ForCausalLMLoss(logits[i : i + 1], labels[i : i + 1], vocab_size=11) for i in range(2)]
    assert abs((means[0] + means[1]) / 2 - full) > 1e-3  # the pre-fix average differs


def test_claim_minus_100_is_the_default_ignore_index_of_cross_entropy():
    assert inspect.signature(F.cross_entropy).parameters["ignore_index"].default == -100
    assert torch.nn.CrossEntropyLoss().ignore_index == -100


def test_claim_the_4_46_logit_slice_gives_the_same_loss_and_copies_the_logits():
    logits, labels = _batch()
    sliced = logits[..., :-1, :].contiguous()
    old = F.cross_entropy(sliced.view(-1, 11), labels[..., 1:].reshape(-1))
    torch.testing.assert_close(old, ForCausalLMLoss(logits, labels, vocab_size=11))
    assert sliced.data_ptr() != logits.data_ptr() and sliced.nbytes == 2 * 5 * 11 * 4


def test_claim_all_labels_ignored_gives_nan_and_so_does_a_label_only_at_position_0():
    logits, _ = _batch(batch=1)
    nothing = torch.full((1, 6), IGNORE)
    assert ForCausalLMLoss(logits, nothing, vocab_size=11).isnan()
    nothing[0, 0] = 3
    assert ForCausalLMLoss(logits, nothing, vocab_size=11).isnan()
    assert ForCausalLMLoss(logits, nothing, vocab_size=11, num_items_in_batch=4).item() == 0.0


def test_claim_int32_labels_raise_expected_long_or_byte():
    logits, labels = _batch()
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Int"):
        ForCausalLMLoss(logits, labels.int(), vocab_size=11)


def test_claim_a_label_equal_to_the_vocabulary_size_raises_IndexError_on_cpu():
    logits, labels = _batch()
    labels[0, 3] = 11
    with pytest.raises(IndexError, match="Target 11 is out of bounds."):
        ForCausalLMLoss(logits, labels, vocab_size=11)


def test_claim_a_non_contiguous_shift_labels_fails_in_ForCausalLMLoss():
    logits, labels = _batch()
    sliced = F.pad(labels, (0, 1), value=IGNORE)[..., 1:]
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        ForCausalLMLoss(logits, None, vocab_size=11, shift_labels=sliced)
    ForCausalLMLoss(logits, None, vocab_size=11, shift_labels=sliced.contiguous())


def test_claim_shifting_twice_loses_a_target_per_row_and_breaks_a_perfect_model():
    _, labels = _batch(vocab=11)
    once = F.pad(labels, (0, 1), value=IGNORE)[..., 1:]
    perfect = F.one_hot(once.clamp(min=0), 11).float() * 20
    assert ForCausalLMLoss(perfect, labels, vocab_size=11) < 1e-6
    assert ForCausalLMLoss(perfect, once.contiguous(), vocab_size=11) > 10


def test_claim_LlamaForCausalLM_passes_its_vocab_size_to_its_loss_function():
    from transformers.models.llama.modeling_llama import LlamaForCausalLM

    source = inspect.getsource(LlamaForCausalLM.forward)
    assert "self.loss_function(" in source and "vocab_size=self.config.vocab_size" in source
