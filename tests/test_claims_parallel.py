"""The claims of the chapter "The loss across processes" (docs/*/parallel.md).

Each test is named after the claim it checks, against torch 2.13 and transformers 5.24 as
installed, on real gloo ranks started by ``run_on_ranks`` (bounded in time).
"""

from __future__ import annotations

import inspect
import re

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.tensor import Shard, distribute_tensor
from torch.distributed.tensor.experimental import context_parallel
from torch.distributed.tensor.parallel import loss_parallel
from torch.nn.parallel import DistributedDataParallel
from transformers import Trainer, TrainingArguments
from transformers.loss.loss_utils import ForCausalLMLoss

from lmloss.parallel import shard_sequence
from lmloss.ranks import run_on_ranks
from page_claims import assert_page_says
from snippet_sections import OUTPUTS

TIMEOUT = 60.0


def _context_parallel_shard(mesh, length):
    """This rank's part of positions ``0 .. length - 1`` under torch's default context_parallel."""
    buffer = torch.arange(length).view(1, length)
    with context_parallel(mesh, buffers=[buffer], buffer_seq_dims=[1]):
        return buffer.clone()  # sharded in place inside the context


def _torch_shards(rank, world_size, length):
    mesh = init_device_mesh("cpu", (world_size,))
    full = torch.arange(length).view(1, length)
    torch_contiguous = distribute_tensor(full, mesh, [Shard(1)]).to_local()
    return (
        _context_parallel_shard(mesh, length),
        shard_sequence(full, world_size, rank, load_balanced=True),
        torch_contiguous,
        shard_sequence(full, world_size, rank),
    )


@pytest.mark.parametrize("world_size", [2, 3])
def test_claim_load_balanced_shards_are_torch_context_parallel_head_tail_order(world_size):
    """Also: contiguous shards are DTensor's Shard on the sequence dimension."""
    for rank, (torch_lb, ours_lb, torch_c, ours_c) in enumerate(
        run_on_ranks(_torch_shards, world_size, 4 * world_size, timeout=TIMEOUT)
    ):
        assert torch.equal(torch_lb, ours_lb), (rank, torch_lb, ours_lb)
        assert torch.equal(torch_c, ours_c), (rank, torch_c, ours_c)
        assert not torch.equal(ours_lb, ours_c)  # the two orders really differ


def _torch_default_shard(rank, world_size, length):
    return _context_parallel_shard(init_device_mesh("cpu", (world_size,)), length)


def test_claim_context_parallel_shards_contiguously_when_2_world_size_does_not_divide_length():
    """torch falls back without a word; shard_sequence(load_balanced=True) raises instead."""
    for rank, got in enumerate(run_on_ranks(_torch_default_shard, 2, 6, timeout=TIMEOUT)):
        assert torch.equal(got, shard_sequence(torch.arange(6).view(1, 6), 2, rank)), (rank, got)
    with pytest.raises(ValueError, match="divisible by 2 \\* world_size"):
        shard_sequence(torch.arange(6), 2, 0, load_balanced=True)


def _loss_parallel(rank, world_size):
    torch.manual_seed(0)
    full = torch.randn(6, 10, dtype=torch.float64)
    target = torch.tensor([1, 9, -100, 3, 0, 5])
    mesh = init_device_mesh("cpu", (world_size,))
    logits = distribute_tensor(full, mesh, [Shard(1)]).requires_grad_()
    with loss_parallel():
        loss = F.cross_entropy(logits, target)
        loss.backward()
    reference = full.clone().requires_grad_()
    F.cross_entropy(reference, target).backward()
    return (
        loss.full_tensor().detach(),
        F.cross_entropy(full, target),
        logits.grad.full_tensor(),
        reference.grad,
    )


def test_claim_loss_parallel_runs_on_gloo_cpu_and_equals_cross_entropy_with_ignore_index():
    for loss, want, grad, want_grad in run_on_ranks(_loss_parallel, 2, timeout=TIMEOUT):
        torch.testing.assert_close(loss, want, rtol=0, atol=1e-12)
        torch.testing.assert_close(grad, want_grad, rtol=0, atol=1e-12)


def _ddp_grads(rank, world_size):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2, bias=False, dtype=torch.float64)
    x = torch.full((1, 3), float(rank + 1), dtype=torch.float64)
    local = torch.nn.Linear(3, 2, bias=False, dtype=torch.float64)
    local.load_state_dict(model.state_dict())
    local(x).sum().backward()
    mine = local.weight.grad.clone()
    dist.all_reduce(mine)
    ddp = DistributedDataParallel(model)  # kept alive: its reducer syncs in backward
    ddp(x).sum().backward()
    return model.weight.grad, mine / world_size


def test_claim_ddp_averages_the_gradients_over_the_ranks():
    for ddp, mean in run_on_ranks(_ddp_grads, 2, timeout=TIMEOUT):
        torch.testing.assert_close(ddp, mean, rtol=0, atol=1e-15)


def test_claim_ForCausalLMLoss_does_not_shift_labels_given_as_shift_labels():
    torch.manual_seed(0)
    logits, targets = torch.randn(1, 4, 6), torch.tensor([[2, -100, 5, 1]])
    got = ForCausalLMLoss(logits, None, 6, shift_labels=targets)
    torch.testing.assert_close(got, F.cross_entropy(logits[0], targets[0]))
    # With num_items_in_batch it returns sum / count, a rank's share of the global mean.
    share = ForCausalLMLoss(logits, None, 6, shift_labels=targets, num_items_in_batch=10)
    torch.testing.assert_close(share, F.cross_entropy(logits[0], targets[0], reduction="sum") / 10)


def test_claim_Trainer_sums_num_items_over_ranks_and_multiplies_the_loss_by_processes():
    """The code path average_tokens_across_devices=True takes in transformers 5.24."""
    count = inspect.getsource(Trainer._get_num_items_in_batch)
    assert 'batch["labels"][..., 1:]' in count  # counted after the shift
    assert "self.accelerator.gather(num_items_in_batch.to(device)).sum()" in count
    assert "self.get_tp_size() * self.get_cp_size() * self.get_sp_size()" in count
    scale = inspect.getsource(Trainer.compute_loss)
    assert "loss_scale = self.accelerator.num_processes // self.get_tp_size()" in scale
    assert "loss *= loss_scale" in scale
    assert TrainingArguments(output_dir="unused").average_tokens_across_devices is True


def test_claim_Trainer_on_two_gloo_processes_reproduces_one_process_only_with_the_option():
    """The page's real Trainer runs (section trainer), as recorded and re-checked by
    test_snippets: 2 processes with the option on print the loss and grad norm of 1 process;
    with it off, both differ."""
    printed = (OUTPUTS / "parallel" / "trainer.txt").read_text(encoding="utf-8")
    runs = re.findall(
        r"(\d) process\(es\), average_tokens_across_devices=(\w+) *: "
        r"loss ([\d.]+)  grad_norm ([\d.]+)",
        printed,
    )
    assert [(n, option) for n, option, _, _ in runs] == [
        ("1", "True"),
        ("2", "True"),
        ("2", "False"),
    ]
    (_, _, *one), (_, _, *on), (_, _, *off) = runs
    assert on == one
    assert off[0] != one[0] and off[1] != one[1]


def test_claim_without_the_rank_check_some_bad_ranks_get_another_shard_silently():
    """shard_sequence's own narrow calls without its range check, 8 positions on 2 ranks:
    most bad ranks raise, but rank -1 (contiguous) and ranks 2 and 3 (load balanced) quietly
    read another part of the sequence."""
    ids, world = torch.arange(8), 2

    def contiguous(rank):
        return ids.narrow(0, rank * 4, 4).tolist()

    def balanced(rank):
        tail = 2 * world - 1 - rank
        return torch.cat([ids.narrow(0, rank * 2, 2), ids.narrow(0, tail * 2, 2)]).tolist()

    assert contiguous(-1) == [4, 5, 6, 7]  # rank 1's shard
    assert contiguous(-2) == [0, 1, 2, 3]  # rank 0's: ranks -world_size to -1 all read one
    assert balanced(2) == [4, 5, 2, 3] and balanced(3) == [6, 7, 0, 1]
    for shard, rank in ((contiguous, 2), (contiguous, 3), (balanced, 4), (balanced, -3)):
        with pytest.raises((RuntimeError, IndexError)):
            shard(rank)
    assert_page_says(
        "parallel.md",
        "errors",
        en="Without the check, even a bad rank is not always an error: most bad ranks make "
        "`narrow` raise, but not all: with contiguous shards ranks −world_size to −1 quietly get "
        "a shard (rank −1 the last), and with load balancing ranks `world_size` to "
        "2 · world_size − 1 quietly get other chunks",
        zh="不做检查时，越界的 rank 也不一定报错：越界的 rank 大多会让 `narrow` 报错，但不是全部："
        "连续切分时 rank −world_size 到 −1 会悄悄拿到某个分片（rank −1 拿到最后一个），"
        "负载均衡切分时 rank `world_size` 到 2 · world_size − 1 会悄悄拿到别的块",
    )
    assert_page_says(
        "parallel.md",
        "errors",
        en="the helpers raise a clear error where the computation would otherwise give a silently "
        "wrong result",
        zh="辅助函数都会直接报错并说明原因；不做这些检查，除了会被 `narrow` 拦下的越界 rank，"
        "其余情况都会悄悄算出错误的结果",
    )


def _fp16_ddp_grad(rank, world_size):
    layer = torch.nn.Linear(1, 1, bias=False, dtype=torch.float16)
    torch.nn.init.ones_(layer.weight)
    ddp = DistributedDataParallel(layer)  # kept alive: its reducer syncs in backward
    (ddp(torch.ones(1, 1, dtype=torch.float16)).sum() * 49984).backward()
    return layer.weight.grad.item()


def test_claim_ddp_divides_each_gradient_by_the_ranks_before_summing():
    """Summed first, 2 x 49984 would overflow float16 (largest finite value 65504) to inf."""
    assert torch.finfo(torch.float16).max < 2 * 49984
    assert run_on_ranks(_fp16_ddp_grad, 2, timeout=TIMEOUT) == [49984.0, 49984.0]
    assert_page_says(
        "parallel.md",
        "data-parallel",
        en="dividing each rank's gradient by the number of processes and then summing them",
        zh="先把每个 rank 的梯度除以进程数，再在各 rank 间求和",
    )


@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_claim_a_shift_inside_load_balanced_shards_gives_world_size_minus_1_wrong_targets(
    world_size,
):
    """Every rank but the last joins two chunks that are not neighbours; the last rank's
    chunks, world_size - 1 and world_size, are."""
    length = 4 * world_size
    ids = torch.arange(length)
    wrong = []
    for rank in range(world_size):
        shard = shard_sequence(ids, world_size, rank, load_balanced=True)
        inside = F.pad(shard, (0, 1), value=-100)[1:]  # the shift done after sharding
        true_next = torch.where(shard + 1 < length, shard + 1, -100)
        wrong.append(int(((inside != -100) & (inside != true_next)).sum()))
    assert wrong == [1] * (world_size - 1) + [0]
    assert_page_says(
        "parallel.md",
        "context-parallel",
        en="For every rank but the last, its two chunks are not neighbours in the sequence, "
        "and where they meet the shift pairs a token with a **wrong** target",
        zh="除最后一个 rank 外，每个 rank 的两块在原序列中并不相邻，移位会在两块衔接处给词元配上**错误**的目标",
    )


def _loss_parallel_backward_outside(rank, world_size):
    mesh = init_device_mesh("cpu", (world_size,))
    logits = distribute_tensor(torch.randn(4, 8), mesh, [Shard(1)]).requires_grad_()
    with loss_parallel():
        loss = F.cross_entropy(logits, torch.tensor([1, 7, -100, 3]))
    try:
        loss.backward()
    except RuntimeError as error:
        return str(error)
    return None


def test_claim_loss_parallel_needs_backward_inside_the_context_too():
    for message in run_on_ranks(_loss_parallel_backward_outside, 2, timeout=TIMEOUT):
        assert message is not None and "mixed torch.Tensor and DTensor" in message
    assert_page_says(
        "parallel.md",
        "vocab-parallel",
        en="call `backward()` inside `loss_parallel()` too: outside it, with a plain-tensor target "
        "as here, backward raises a "
        "`RuntimeError`",
        zh="`backward()` 也要在 `loss_parallel()` 的作用范围内调用：放在外面时，若目标像这里一样是普通张量，"
        "会抛出 `RuntimeError`",
    )


def test_claim_not_every_transformers_model_accepts_the_loss_kwargs():
    """LlamaForCausalLM's forward takes **kwargs; Qwen2.5-VL declares accepts_loss_kwargs=False,
    and the Trainer then passes no num_items_in_batch and multiplies by nothing."""
    from transformers import LlamaForCausalLM, Qwen2_5_VLForConditionalGeneration

    forward = inspect.signature(LlamaForCausalLM.forward).parameters.values()
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in forward)
    assert Qwen2_5_VLForConditionalGeneration.accepts_loss_kwargs is False
    assert_page_says(
        "parallel.md",
        "trainer",
        en="as most transformers models do, though not all (Qwen2.5-VL, for one, sets "
        "`accepts_loss_kwargs = False`)",
        zh="transformers 的大多数模型都满足，但不是全部（例如 Qwen2.5-VL 设置了 `accepts_loss_kwargs = False`）",
    )


def test_claim_transformers_tensor_parallel_gathers_the_logits_before_the_loss():
    from transformers import LlamaForCausalLM

    assert LlamaForCausalLM._tp_plan == {"lm_head": "colwise_gather_output"}
    assert_page_says(
        "parallel.md",
        "vocab-parallel",
        en="transformers' own tensor parallelism does not get here: its Llama plan shards the "
        "`lm_head` as `colwise_gather_output`, gathering the full vocabulary before the loss",
        zh="transformers 自己的张量并行走不到这一步：它给 Llama 的切分方案把 `lm_head` 设为 "
        "`colwise_gather_output`，在算损失之前就把完整的词表收集回来",
    )
