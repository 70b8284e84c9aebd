"""The claims of the chapter "The loss across processes" (docs/*/parallel.md).

Each test is named after the claim it checks, against torch 2.13 and transformers 5.24 as
installed, on real gloo ranks started by ``run_on_ranks`` (bounded in time).
"""

from __future__ import annotations

import inspect
import os
import re
import zipfile
from pathlib import Path

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
    assert_page_says(
        "parallel.md",
        "trainer",
        en="`compute_loss` multiplies the loss by `num_processes // tp_size`",
        zh="`compute_loss` 再把损失乘以 `num_processes // tp_size`（进程数除以张量并行的规模）",
    )


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
        zh="这几种情况辅助函数都会直接报错并说明原因，否则计算会悄悄给出错误的结果",
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
        zh="transformers 自带的张量并行不会遇到这种情况：它给 Llama 的切分方案把 `lm_head` 设为 "
        "`colwise_gather_output`，在算损失之前就把完整的词表收集回来",
    )


# --- review round 1 (parallel): each test fails on the page's old text --------------------------


def test_claim_average_tokens_across_devices_is_the_default_of_the_pinned_transformers():
    """The page gives the release it became the default in; the wheels are read by the next test."""
    assert TrainingArguments(output_dir="unused").average_tokens_across_devices is True
    assert_page_says(
        "parallel.md",
        "trainer",
        en="(the default from transformers 4.54.0 on; False before, since the option appeared in "
        "4.46.2)",
        zh="（从 transformers 4.54.0 起是默认值；此前默认为 False，这个选项在 4.46.2 中加入）",
    )


def _option_default(release: str) -> str | None:
    """The default of average_tokens_across_devices in a cached transformers wheel (None: absent)."""
    from history.verify_history import CACHE

    with zipfile.ZipFile(CACHE / f"transformers-{release}-py3-none-any.whl") as wheel:
        source = wheel.read("transformers/training_args.py").decode()
    found = re.search(r"average_tokens_across_devices: [^=]+= field\(\s*default=(\w+)", source)
    return found[1] if found else None


WHEELS = ("4.46.1", "4.46.2", "4.53.3", "4.54.0")


@pytest.mark.skipif(
    not all(
        (
            Path(os.environ.get("LMLOSS_HISTORY_CACHE", Path.home() / ".cache/lmloss-history"))
            / f"transformers-{r}-py3-none-any.whl"
        ).is_file()
        for r in WHEELS
    ),
    reason="needs the released wheels in the history cache (pip download them, as make "
    "verify-history does)",
)
def test_claim_average_tokens_across_devices_appeared_in_4_46_2_and_became_true_in_4_54_0():
    assert [_option_default(r) for r in WHEELS] == [None, "False", "False", "True"]


# --- review round 2 (parallel, M1): what num_items_in_batch counts, by release ------------------

COUNT_CHANGE = (
    "5.9.0",
    "5.10.1",
)  # the last release counting every label, the first after the shift


def test_claim_the_Trainer_counts_after_the_shift_from_5_10_1_and_every_label_before():
    """#trainer: 'after the shift' holds only from 5.10.1; the loss page's history table (read
    from the released wheels by tests/history/verify_history.py) records both counts, and the
    next test reads the two wheels themselves."""
    from history.verify_history import TABLE

    counted = {row.split()[0]: row.split(None, 5)[-1] for row in TABLE.read_text().splitlines()[2:]}
    assert counted["4.46.2"] == counted["5.9.0"] == "labels"
    assert counted["5.10.1"] == "shift_labels or labels[..., 1:]"
    assert 'batch["labels"][..., 1:]' in inspect.getsource(Trainer._get_num_items_in_batch)
    assert_page_says(
        "parallel.md",
        "trainer",
        en="from transformers 5.10.1 on, after the shift (`labels[..., 1:]`); from 4.46.2 to "
        "5.9.0, every label that is not `-100`, position 0 included",
        zh="从 transformers 5.10.1 起按移位后的 `labels[..., 1:]` 计数；4.46.2 到 5.9.0 "
        "则数所有不是 `-100` 的标签，连位置 0 也算在内",
    )


def _counting_code(release: str) -> str:
    """The Trainer code that counts num_items_in_batch in a cached transformers wheel."""
    from history.verify_history import CACHE

    with zipfile.ZipFile(CACHE / f"transformers-{release}-py3-none-any.whl") as wheel:
        source = wheel.read("transformers/trainer.py").decode()
    start = source.index("num_items_in_batch = None")
    return source[start : source.index("\n", source.index("num_items_in_batch = sum", start))]


@pytest.mark.skipif(
    not all(
        (
            Path(os.environ.get("LMLOSS_HISTORY_CACHE", Path.home() / ".cache/lmloss-history"))
            / f"transformers-{r}-py3-none-any.whl"
        ).is_file()
        for r in COUNT_CHANGE
    ),
    reason="needs the released wheels in the history cache (pip download them, as make "
    "verify-history does)",
)
def test_claim_num_items_in_batch_dropped_position_0_in_5_10_1():
    before, after = (_counting_code(r) for r in COUNT_CHANGE)
    assert 'sum((batch["labels"].ne(-100)).sum() for batch in batch_samples)' in before
    assert "[..., 1:]" not in before
    assert 'else batch["labels"][..., 1:]' in after


def test_claim_the_Trainer_scales_the_loss_with_a_compute_loss_func_and_TRL_does_it_itself():
    from trl import SFTTrainer

    scale = " ".join(inspect.getsource(Trainer.compute_loss).split())
    assert "and (self.model_accepts_loss_kwargs or self.compute_loss_func)" in scale
    trl = " ".join(inspect.getsource(SFTTrainer.compute_loss).split())
    assert (
        "if self.args.average_tokens_across_devices and num_items_in_batch is not None: "
        "loss = loss * (self.accelerator.num_processes // self.get_tp_size())"
    ) in trl
    assert_page_says(
        "parallel.md",
        "trainer",
        en="and for any model when it is given a `compute_loss_func`",
        zh="传入了 `compute_loss_func` 时，任何模型都这样处理",
    )
    assert_page_says(
        "parallel.md",
        "trainer",
        en="TRL's `SFTTrainer` computes the loss itself and multiplies it by the same factor",
        zh="TRL 的 `SFTTrainer` 自己计算损失，也乘以同一个因子",
    )


def _fsdp_grads(rank, world_size):
    from torch.distributed.fsdp import fully_shard

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2, bias=False, dtype=torch.float64)
    local = torch.nn.Linear(3, 2, bias=False, dtype=torch.float64)
    local.load_state_dict(model.state_dict())
    x = torch.full((1, 3), float(rank + 1), dtype=torch.float64)
    local(x).sum().backward()
    summed = local.weight.grad.clone()
    dist.all_reduce(summed)
    fully_shard(model)
    model(x).sum().backward()
    return model.weight.grad.full_tensor(), summed / world_size


def test_claim_fsdp_averages_the_gradients_over_the_ranks_as_ddp_does():
    for fsdp, mean in run_on_ranks(_fsdp_grads, 2, timeout=TIMEOUT):
        torch.testing.assert_close(fsdp, mean, rtol=0, atol=1e-15)
    assert_page_says(
        "parallel.md",
        "data-parallel",
        en="FSDP (`fully_shard`) averages the gradients over the ranks as well, so the same factor "
        "applies there",
        zh="FSDP（`fully_shard`）同样对各 rank 的梯度取平均，所以也要乘上这个因子",
    )


def test_claim_a_model_numbers_its_shard_from_0_without_position_ids():
    """RoPE sees the positions it is given: a load-balanced shard needs its own position_ids."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=16,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=32,
    )
    model = LlamaForCausalLM(config).eval()
    ids = torch.arange(8).view(1, 8) % 16
    shard = shard_sequence(ids, 2, 0, load_balanced=True)  # positions 0, 1, 6, 7
    positions = shard_sequence(torch.arange(8).view(1, 8), 2, 0, load_balanced=True)
    with torch.no_grad():
        given_none = model(shard).logits
        from_0 = model(shard, position_ids=torch.arange(4).view(1, 4)).logits
        true = model(shard, position_ids=positions).logits
    torch.testing.assert_close(given_none, from_0)
    assert not torch.allclose(given_none, true)
    assert_page_says(
        "parallel.md",
        "context-parallel",
        en="a model given no `position_ids` numbers its tokens from 0. Shard `position_ids` in the "
        "same order as the inputs",
        zh="而没有传入 `position_ids` 的模型会把分片里的词元从 0 开始编号。所以要把 `position_ids` "
        "按与输入相同的顺序切分",
    )


def test_claim_the_Trainer_builds_shift_labels_and_position_ids_before_context_parallel():
    source = " ".join(inspect.getsource(Trainer._prepare_context_parallel_inputs).split())
    assert 'if "shift_labels" not in inputs:' in source
    assert 'inputs["shift_labels"] = labels[:, 1:].contiguous()' in source
    assert 'if "position_ids" not in inputs:' in source
    assert 'inputs["position_ids"] = torch.arange( inputs["input_ids"].size(1)' in source
    for name in ("input_ids", "shift_labels", "position_ids"):
        assert f'buffers.append(inputs["{name}"])' in source
    assert "self.accelerator.maybe_context_parallel, buffers=buffers" in source
    assert_page_says(
        "parallel.md",
        "context-parallel",
        en="when the batch lacks them, it builds `shift_labels` from `labels` and `position_ids` "
        "from the full length, then shards them with `input_ids`",
        zh="批次里没有 `shift_labels` 和 `position_ids` 时，它由 `labels` 构造前者，按完整长度生成后者，"
        "再把它们和 `input_ids` 一起切分",
    )


def _vocab_checks(rank, world_size):
    from lmloss.parallel import vocab_parallel_cross_entropy

    logits = torch.zeros(1, 4, dtype=torch.float64)  # each rank 4 columns: V = 8
    results = []
    for target in (6, 8):  # beyond this rank's 4 columns; beyond the full 8
        try:
            vocab_parallel_cross_entropy(logits, torch.tensor([target]), vocab_start=4 * rank)
            results.append("ok")
        except ValueError as error:
            results.append(str(error))
    return results


def test_claim_the_full_vocabulary_is_the_sum_of_the_ranks_widths():
    """Errors section: "the last two" checks need every rank; a target beyond one rank's own
    columns is fine, one beyond the sum of all widths is refused on every rank."""
    for ok, refused in run_on_ranks(_vocab_checks, 2, timeout=TIMEOUT):
        assert ok == "ok"
        assert refused.startswith("target must be in [0, 8) (the full vocabulary"), refused
    assert_page_says(
        "parallel.md",
        "errors",
        en="The last two are found only by looking at every rank, since the full vocabulary size "
        "`V` is the sum of the ranks' widths",
        zh="目标是否超出完整词表、词表分片能否拼成 `[0, V)`，都要看所有 rank 才能判断，"
        "因为完整词表的大小 `V` 是各 rank 分片宽度之和",
    )
