# Code of the page "The loss across processes" (docs/*/parallel.md).
# --8<-- [start:ranks]
import torch
import torch.distributed as dist
import torch.nn.functional as F

from lmloss.ranks import run_on_ranks


def hello(rank, world_size):
    x = torch.tensor([rank + 1])
    dist.all_reduce(x)  # sums x over the ranks; every rank gets the sum
    return f"rank {rank} of {world_size}: all_reduce gives {x.item()}"


for line in run_on_ranks(hello, 2):
    print(line)
# --8<-- [end:ranks]

# --8<-- [start:dp_bias]
from lmloss import causal_lm_loss, count_loss_tokens, shift_labels
from lmloss.parallel import global_num_items

V = 16
torch.manual_seed(0)
logits = torch.randn(2, 8, V, dtype=torch.float64)
labels = torch.tensor([[3, 5, 7, 2, 9, 4, 1, 6],  # rank 0: plain text
                       [-100] * 6 + [8, 2]])  # rank 1: mostly prompt


def data_parallel(rank, world_size):
    my_logits, my_labels = logits[rank], labels[rank]  # one row each
    local_sum = F.cross_entropy(my_logits, shift_labels(my_labels),
                                reduction="sum")
    local_mean = local_sum / count_loss_tokens(my_labels)
    mean_of_means = local_mean.clone()
    dist.all_reduce(mean_of_means)
    mean_of_means /= world_size
    right = local_sum / global_num_items(my_labels)
    dist.all_reduce(right)
    return (count_loss_tokens(my_labels), local_mean.item(),
            mean_of_means.item(), right.item())


results = run_on_ranks(data_parallel, 2)
for rank, (count, mean, _, _) in enumerate(results):
    print(f"rank {rank}: {count} targets, local mean {mean:.4f}")
_, _, mean_of_means, right = results[0]
print(f"mean of the ranks' means  {mean_of_means:.4f}")
print(f"all-reduced sum / count   {right:.4f}")
print(f"one process, whole batch  {causal_lm_loss(logits, labels):.4f}")
# --8<-- [end:dp_bias]

# --8<-- [start:dp_grad]
from torch.nn.parallel import DistributedDataParallel as DDP

H = 4
hidden = torch.randn(2, 8, H, dtype=torch.float64)


def head():
    torch.manual_seed(1)  # the same weights on every rank
    return torch.nn.Linear(H, V, bias=False, dtype=torch.float64)


SCALES = ("local mean", "sum / global count",
          "sum / global count * world")


def ddp_grads(rank, world_size):
    grads = []
    my_labels = labels[rank]
    targets = shift_labels(my_labels)
    for scale in SCALES:
        model = DDP(head())  # averages the gradients over the ranks
        local_sum = F.cross_entropy(model(hidden[rank]), targets,
                                    reduction="sum")
        if scale == "local mean":
            loss = local_sum / count_loss_tokens(my_labels)
        elif scale == "sum / global count":
            loss = local_sum / global_num_items(my_labels)
        else:  # what the Trainer does: times the number of processes
            loss = local_sum / global_num_items(my_labels) * world_size
        loss.backward()
        grads.append(model.module.weight.grad)
    return grads


one = head()
causal_lm_loss(one(hidden), labels).backward()
print(f"grad norm {one.weight.grad.norm():.6f}  one process")
for scale, grad in zip(SCALES, run_on_ranks(ddp_grads, 2)[0]):
    same = torch.allclose(grad, one.weight.grad)
    print(f"grad norm {grad.norm():.6f}  equal: {same!s:5}  {scale}")
# --8<-- [end:dp_grad]

# --8<-- [start:cp_shards]
import torch

from lmloss import shift_labels
from lmloss.parallel import shard_sequence

ids = torch.arange(10, 18)  # token ids 10..17 at positions 0..7
positions = torch.arange(8)
world_size = 2
for balanced in (False, True):
    print("load-balanced" if balanced else "contiguous")
    for rank in range(world_size):
        def mine(t):
            return shard_sequence(
                t, world_size, rank, load_balanced=balanced)
        right = mine(shift_labels(ids))  # shift, then shard
        wrong = shift_labels(mine(ids))  # shard, then shift
        print(f"  rank {rank}: positions {mine(positions).tolist()}  "
              f"targets {right.tolist()}  shifted after sharding "
              f"{wrong.tolist()}")
# --8<-- [end:cp_shards]

# --8<-- [start:cp_loss]
from transformers.loss.loss_utils import ForCausalLMLoss

torch.manual_seed(2)
seq_logits = torch.randn(1, 8, V)  # float32, as ForCausalLMLoss computes
seq_labels = torch.tensor([[3, 5, 7, 2, 9, 4, 1, 6]])


def context_parallel(rank, world_size):
    losses = []
    for balanced in (False, True):
        def mine(t):
            return shard_sequence(t, world_size, rank, dim=1,
                                  load_balanced=balanced)
        my_logits = mine(seq_logits)
        my_targets = mine(shift_labels(seq_labels))  # shift before sharding
        count = (my_targets != -100).sum()
        dist.all_reduce(count)
        right = ForCausalLMLoss(my_logits, None, V, shift_labels=my_targets,
                                num_items_in_batch=count)
        dist.all_reduce(right)  # each rank gave its sum / global count
        wrong = ForCausalLMLoss(my_logits, mine(seq_labels), V)
        dist.all_reduce(wrong)  # shifted after sharding, mean of means
        losses.append((right.item(), wrong.item() / world_size))
    return losses


single = causal_lm_loss(seq_logits, seq_labels)
print(f"one process             {single:.5f}")
for name, (right, wrong) in zip(("contiguous   ", "load-balanced"),
                                run_on_ranks(context_parallel, 2)[0]):
    print(f"{name} shift first {right:.5f}  shard first {wrong:.5f}")
# --8<-- [end:cp_loss]

# --8<-- [start:vocab]
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.tensor import Shard, distribute_tensor
from torch.distributed.tensor.parallel import loss_parallel

from lmloss.parallel import vocab_parallel_cross_entropy

torch.manual_seed(3)
full_logits = torch.randn(6, V, dtype=torch.float64)
target = torch.tensor([1, 15, -100, 8, 0, 7])
full = full_logits.clone().requires_grad_()
reference = F.cross_entropy(full, target)  # ignore_index=-100
reference.backward()


def vocab_parallel(rank, world_size):
    width = V // world_size
    start = rank * width  # this rank's columns: [start, start + width)
    mine = full_logits[:, start:start + width].clone().requires_grad_()
    loss = vocab_parallel_cross_entropy(mine, target, vocab_start=start)
    loss.backward()  # no communication here
    grad_error = (mine.grad - full.grad[:, start:start + width]).abs()
    mesh = init_device_mesh("cpu", (world_size,))
    dtensor = distribute_tensor(full_logits, mesh, [Shard(1)])
    with loss_parallel():  # torch's own, on DTensor logits
        torch_loss = F.cross_entropy(dtensor, target)
    return (start, width, loss.item(), grad_error.max().item(),
            torch_loss.full_tensor().item())


print(f"F.cross_entropy, full logits  {reference.item():.12f}")
for rank, result in enumerate(run_on_ranks(vocab_parallel, 2)):
    start, width, loss, grad_error, torch_loss = result
    columns = f"[{start}, {start + width})"
    print(f"rank {rank}, columns {columns}: loss {loss:.12f}"
          f"  grad error {grad_error:.1e}  loss_parallel {torch_loss:.12f}")
# --8<-- [end:vocab]

# --8<-- [start:errors]
def attempt(call):
    try:
        call()
    except (ValueError, TypeError) as error:
        print(f"{type(error).__name__}: {error}")


attempt(lambda: shard_sequence(torch.arange(10), 2, 0, load_balanced=True))
attempt(lambda: shard_sequence(ids, 2, 2))
attempt(lambda: vocab_parallel_cross_entropy(
    full_logits, torch.tensor([1, 16, 2, 3, 4, 5]), vocab_start=0))


def overlapping(rank, world_size):  # both ranks claim columns [0, 8)
    try:
        vocab_parallel_cross_entropy(full_logits[:, :8], target,
                                     vocab_start=0)
    except ValueError as error:
        return f"rank {rank}: ValueError: {error}"


for line in run_on_ranks(overlapping, 2):
    print(line)
# --8<-- [end:errors]

# --8<-- [start:quiz]
print("1.", shard_sequence(torch.arange(16), 4, 1, load_balanced=True)
      .tolist())
long = torch.arange(4096)
kept = torch.cat([shift_labels(shard_sequence(long, 8, r))
                  for r in range(8)])
print("2.", int((kept == -100).sum()) - 1, "targets lost")
sums, counts = torch.tensor([6.0, 6.0]), torch.tensor([3, 1])
print("3.", (sums / counts).mean().item(),
      (sums.sum() / counts.sum()).item())
per_rank = 32000 // 4
print("4.", per_rank, f"[{2 * per_rank}, {3 * per_rank})",
      17000 // per_rank)
# --8<-- [end:quiz]

# --8<-- [start:trainer]
import tempfile

from transformers import (LlamaConfig, LlamaForCausalLM, PrinterCallback,
                          Trainer, TrainingArguments)


def rows():  # four rows of 8 tokens; the prompt (-100) lengths differ
    generator = torch.Generator().manual_seed(0)
    for prompt in (1, 6, 3, 5):
        ids = torch.randint(3, 128, (8,), generator=generator)
        yield {"input_ids": ids,
               "labels": torch.where(torch.arange(8) < prompt, -100, ids)}


def train(rank, world_size, average_tokens):
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=128, hidden_size=64,
                         num_hidden_layers=2, intermediate_size=128,
                         num_attention_heads=4)
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(), report_to="none", save_strategy="no",
        use_cpu=True, max_steps=1, logging_steps=1, disable_tqdm=True,
        # 2 rows per micro-batch in all
        per_device_train_batch_size=2 // world_size,
        gradient_accumulation_steps=2, train_sampling_strategy="sequential",
        average_tokens_across_devices=average_tokens)
    trainer = Trainer(model=LlamaForCausalLM(config), args=args,
                      train_dataset=list(rows()))
    trainer.remove_callback(PrinterCallback)  # we print the log ourselves
    trainer.train()
    return trainer.state.log_history[0]


for world_size, average_tokens in ((1, True), (2, True), (2, False)):
    log = run_on_ranks(train, world_size, average_tokens)[0]
    print(f"{world_size} process(es), average_tokens_across_devices="
          f"{average_tokens!s:5}: loss {log['loss']:.6f}  "
          f"grad_norm {log['grad_norm']:.6f}")
# --8<-- [end:trainer]
