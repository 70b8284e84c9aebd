"""Claims of the API pages (docs/*/api.md) and of the docstrings they render, each bound to its
sentence and checked against the pinned torch and transformers.
"""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from transformers import DataCollatorWithFlattening, Trainer
from transformers.loss.loss_utils import ForCausalLMLoss

from lmloss import count_loss_tokens, explain_pad, linear_causal_lm_loss
from lmloss.parallel import global_num_items
from lmloss.ranks import run_on_ranks
from lmloss.sft import pack
from page_claims import assert_page_says


def _said(obj: object) -> str:
    return " ".join(inspect.getdoc(obj).split())


def _gradients(dtype: torch.dtype, *, chunked: bool):
    torch.manual_seed(0)
    hidden = torch.randn(4, 512, 16).to(dtype).requires_grad_()
    weight = (torch.randn(64, 16) / 4).to(dtype).requires_grad_()
    labels = torch.randint(0, 64, (4, 512))
    if chunked:
        loss = linear_causal_lm_loss(hidden, weight, labels)
    else:
        loss = ForCausalLMLoss(F.linear(hidden, weight), labels, 64)
    loss.backward()
    return loss.detach(), weight.grad


def test_claim_linear_causal_lm_loss_has_the_standard_gradients_up_to_rounding():
    """Review round 1, M5: not "the same gradients"; in bf16 the weight's gradient is summed
    over chunks in bf16 and differs by about one rounding step."""
    assert_page_says(
        "api.md",
        "loss",
        en="its gradients are the standard path's up to rounding (in bfloat16 and float16 the "
        "weight's gradient is summed over chunks",
        zh="梯度与标准做法只差舍入误差（bfloat16 和 float16 下权重的梯度按块累加",
    )
    assert "The gradients are the standard path's up to rounding: in bfloat16 and float16 the " \
        "weight's gradient is summed over the chunks" in _said(linear_causal_lm_loss)  # fmt: skip
    loss, grad = _gradients(torch.float32, chunked=True)
    want_loss, want_grad = _gradients(torch.float32, chunked=False)
    torch.testing.assert_close(loss, want_loss)
    torch.testing.assert_close(grad, want_grad, rtol=1e-5, atol=1e-7)
    loss, grad = _gradients(torch.bfloat16, chunked=True)
    want_loss, want_grad = _gradients(torch.bfloat16, chunked=False)
    torch.testing.assert_close(loss, want_loss)
    assert not torch.equal(grad, want_grad)  # not the same gradient...
    ulp = torch.finfo(torch.bfloat16).eps * want_grad.float().abs().max()
    assert (grad.float() - want_grad.float()).abs().max() <= 2 * ulp  # ...but within rounding


def test_claim_the_trainer_sums_the_count_over_the_ranks_too():
    """Review round 1, M11: with several ranks num_items_in_batch is summed over them."""
    assert_page_says(
        "api.md",
        "loss",
        en="(and, with several ranks, sum over the ranks too: `global_num_items`)",
        zh="（有多个 rank 时还要在各 rank 间求和，见 `global_num_items`）",
    )
    assert "and over the ranks under data parallelism" in _said(count_loss_tokens)
    count = inspect.getsource(Trainer._get_num_items_in_batch)
    assert "self.accelerator.gather(num_items_in_batch.to(device)).sum()" in count


def _ddp_and_mean(rank, world_size):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1, bias=False, dtype=torch.float64)
    x = torch.full((1, 3), float(rank + 1), dtype=torch.float64)
    local = torch.nn.Linear(3, 1, bias=False, dtype=torch.float64)
    local.load_state_dict(model.state_dict())
    local(x).sum().backward()
    summed = local.weight.grad.clone()
    dist.all_reduce(summed)  # the gradient of the ranks' losses added up
    ddp = DistributedDataParallel(model)  # kept alive: its reducer syncs in backward
    (ddp(x).sum() * world_size).backward()
    return model.weight.grad, summed


def test_claim_ddp_averages_so_each_rank_multiplies_its_loss_by_the_ranks():
    """Review round 1, M8: the ranks' losses add up to the mean, but DDP averages the
    gradients; multiplied by the number of ranks, each rank gets the sum's gradient."""
    said = _said(global_num_items)
    assert "so that the ranks' losses add up to the mean over every target" in said
    assert "DDP averages the gradients over the ranks, so multiply each rank's loss by the " \
        "number of ranks, as the ``Trainer`` does" in said  # fmt: skip
    for ddp, summed in run_on_ranks(_ddp_and_mean, 2, timeout=60.0):
        torch.testing.assert_close(ddp, summed, rtol=0, atol=1e-15)
    scale = inspect.getsource(Trainer.compute_loss)
    assert "loss_scale = self.accelerator.num_processes // self.get_tp_size()" in scale
    assert "loss *= loss_scale" in scale


def test_claim_pack_equals_DataCollatorWithFlattening_when_all_or_no_examples_have_labels():
    """Review round 2, W4: not whatever the batch: transformers reads `"labels" in features[0]`
    once, so a mixed batch loses the later labels or raises KeyError, while pack reads each."""
    said = _said(pack)
    assert "When every example has ``labels`` or none has, the output equals that of " \
        "transformers' ``DataCollatorWithFlattening(return_position_ids=True, " \
        "separator_id=ignore_index)``" in said  # fmt: skip
    assert "transformers decides from the first example alone whether labels are given, so it " \
        "then ignores the later examples' ``labels`` or raises ``KeyError``" in said  # fmt: skip
    flatten = DataCollatorWithFlattening(return_position_ids=True, separator_id=-100)
    plain = {"input_ids": [5, 6, 7]}
    labelled = {"input_ids": [1, 2, 3, 4], "labels": [1, -100, 3, 4]}
    for batch in ([plain, dict(plain)], [labelled, dict(labelled)]):
        expected = flatten(batch, return_tensors="pt")
        assert all(torch.equal(pack(batch)[key], value) for key, value in expected.items())
    mixed = flatten([plain, labelled], return_tensors="pt")["labels"]
    assert mixed.tolist() == [[-100, 6, 7, -100, 2, 3, 4]]  # the second example's labels lost
    assert pack([plain, labelled])["labels"].tolist() == [[-100, 6, 7, -100, -100, 3, 4]]
    with pytest.raises(KeyError, match="labels"):
        flatten([labelled, plain], return_tensors="pt")
    assert pack([labelled, plain])["labels"].tolist() == [[-100, -100, 3, 4, -100, 6, 7]]


def test_claim_explain_pads_overlap_note_means_values_set_by_the_copy_order_or_never_written():
    """Review round 2, M4: not "unusable" alone: torch 2.13 on the CPU gives a repeated wrap
    when it crops on the left and wraps on the right, and memory it never wrote (the largest
    int64, with deterministic algorithms on) when it wraps on the left; explain_pad notes both."""
    said = _said(explain_pad)
    assert "whose values depend on the order of its copy and may be memory it never wrote, so " \
        "do not use them" in said  # fmt: skip
    assert "unusable" not in said
    torch.use_deterministic_algorithms(True)
    try:
        right = F.pad(torch.arange(5).repeat(2, 1), (-3, 3), mode="circular")
        left = F.pad(torch.arange(6).repeat(2, 1), (3, -4), mode="circular")
    finally:
        torch.use_deterministic_algorithms(False)
    assert right.tolist() == [[3, 4, 3, 4, 3]] * 2  # kept [3, 4], wrapped in the order copied
    assert torch.iinfo(torch.int64).max in left.flatten().tolist()  # never written
    assert "Note:" in explain_pad((2, 5), (-3, 3), "circular")
    assert "Note:" in explain_pad((2, 6), (3, -4), "circular")
