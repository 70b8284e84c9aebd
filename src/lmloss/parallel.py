"""The loss when a batch, a sequence or a vocabulary is split over processes (ranks).

Three helpers, one per split, so that the ranks together get what one process holding everything
would: [`global_num_items`][lmloss.parallel.global_num_items] (data parallel),
[`shard_sequence`][lmloss.parallel.shard_sequence] (context parallel) and
[`vocab_parallel_cross_entropy`][lmloss.parallel.vocab_parallel_cross_entropy]
(tensor-parallel ``lm_head``).

Collectives go through ``torch.distributed``; where it is not initialized, a helper works as a
world of one process. The checks read shapes, dtypes and the (small) targets only.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from lmloss._checks import check_int
from lmloss.loss import IGNORE_INDEX, _check_labels, count_loss_tokens

__all__ = ["global_num_items", "shard_sequence", "vocab_parallel_cross_entropy"]

_REDUCTIONS = ("mean", "sum", "none")


def shard_sequence(
    tensor: torch.Tensor,
    world_size: int,
    rank: int,
    *,
    load_balanced: bool = False,
    dim: int = -1,
) -> torch.Tensor:
    """Return the part of a sequence that ``rank`` holds when it is split over ``world_size`` ranks.

    Contiguous (the default): ``world_size`` equal chunks along ``dim``; rank *r* holds chunk
    *r*. Load-balanced: ``2 * world_size`` equal chunks; rank *r* holds chunks *r* and
    ``2 * world_size - 1 - r``, the head-tail order of torch's context-parallel load balancer
    (a comment in Megatron-LM's ``get_batch_on_this_cp_rank`` describes the same split), which
    gives each rank the same share of causal-attention work.

    Shard the *shifted* labels ([`lmloss.shift_labels`][lmloss.shift_labels] on the whole sequence), never
    shift a shard: the label of the token after a shard's end is on another rank.

    Args:
        tensor: Any tensor with a sequence dimension, such as ``input_ids`` ``(B, T)``, labels
            or logits ``(B, T, V)`` (then ``dim=1``).
        world_size: The number of ranks the sequence is split over, at least 1.
        rank: This rank, in ``[0, world_size)``.
        load_balanced: Head-tail order instead of contiguous chunks.
        dim: The sequence dimension.

    Returns:
        A new tensor holding ``T / world_size`` positions along ``dim``.

    Raises:
        TypeError: If ``tensor`` is not a tensor, or ``world_size``, ``rank`` or ``dim`` is not
            an int.
        ValueError: If ``world_size < 1``, ``rank`` is outside ``[0, world_size)``, ``dim`` is
            outside the tensor's dimensions, or the length is not divisible by ``world_size``
            (``2 * world_size`` when load-balanced).

    Examples:
        >>> ids = torch.arange(10, 18)
        >>> shard_sequence(ids, 2, 0).tolist(), shard_sequence(ids, 2, 1).tolist()
        ([10, 11, 12, 13], [14, 15, 16, 17])
        >>> [shard_sequence(ids, 2, r, load_balanced=True).tolist() for r in (0, 1)]
        [[10, 11, 16, 17], [12, 13, 14, 15]]
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    for name, value in (("world_size", world_size), ("rank", rank), ("dim", dim)):
        check_int(name, value)
    if world_size < 1:
        raise ValueError(f"world_size must be at least 1, got {world_size}")
    if not 0 <= rank < world_size:
        raise ValueError(
            f"rank must be in [0, {world_size}) for world_size={world_size}, got {rank}"
        )
    if not -tensor.ndim <= dim < tensor.ndim or tensor.ndim == 0:
        raise ValueError(
            f"dim must be in [{-tensor.ndim}, {tensor.ndim}) for a tensor of "
            f"shape {tuple(tensor.shape)}, got {dim}"
        )
    chunks = 2 * world_size if load_balanced else world_size
    length = tensor.shape[dim]
    if length % chunks:
        how = "2 * world_size" if load_balanced else "world_size"
        raise ValueError(
            f"the length of dim {dim} must be divisible by {how} = {chunks}, got {length} "
            f"(shape {tuple(tensor.shape)}); pad the sequence to a multiple of {chunks}"
        )
    size = length // chunks
    if not load_balanced:
        return tensor.narrow(dim, rank * size, size).clone()
    tail = chunks - 1 - rank
    return torch.cat(
        [tensor.narrow(dim, rank * size, size), tensor.narrow(dim, tail * size, size)], dim=dim
    )


def global_num_items(
    labels: torch.Tensor,
    *,
    group: dist.ProcessGroup | None = None,
    ignore_index: int = IGNORE_INDEX,
) -> int:
    """Count the targets of ``labels`` after the shift, summed over the ranks of ``group``.

    This is the denominator of the data-parallel loss: each rank sums the loss of its own
    targets and divides by this count, so that the ranks' losses add up to the mean over every
    target, however unevenly the targets are spread. Transformers' ``Trainer`` computes the
    same number for one micro-batch per step and data parallelism alone
    (``num_items_in_batch`` with ``average_tokens_across_devices=True``); under gradient
    accumulation it counts all the micro-batches of the step, so call this once per micro-batch
    and add the counts. DDP averages the gradients over the ranks, so multiply each rank's loss
    by the number of ranks, as the ``Trainer`` does, to get the gradient of this mean.

    Args:
        labels: This rank's integer labels ``(..., T)``, before the shift.
        group: The process group to sum over; the default group if None. Where
            ``torch.distributed`` is not initialized, the count of this process alone.
        ignore_index: The label value that does not count.

    Returns:
        The same int on every rank of ``group``.

    Raises:
        TypeError: If ``labels`` is not an integer tensor or ``ignore_index`` is not an int.
        ValueError: If ``labels`` has no dimension.

    Examples:
        >>> global_num_items(torch.tensor([[5, 6, -100, 7]]))  # one process
        2
    """
    count = count_loss_tokens(labels, ignore_index)
    if not dist.is_initialized():
        return count
    total = torch.tensor([count], dtype=torch.int64, device=labels.device)
    dist.all_reduce(total, group=group)
    return int(total)


def vocab_parallel_cross_entropy(
    local_logits: torch.Tensor,
    target: torch.Tensor,
    *,
    vocab_start: int,
    group: dist.ProcessGroup | None = None,
    ignore_index: int = IGNORE_INDEX,
    reduction: str = "mean",
) -> torch.Tensor:
    """Cross-entropy of logits whose vocabulary columns are split over the ranks of ``group``.

    Each rank holds the columns ``[vocab_start, vocab_start + V_local)`` of the full
    ``(N, V)`` logits, as a tensor-parallel ``lm_head`` leaves them. After one all-reduce that
    checks the ranks' shards, forward takes three all-reduces of ``N`` numbers each: the
    maximum of each row (for a stable exponent), the target logit (given by the one rank whose
    columns hold the target, zero elsewhere) and the sum of the exponentials. The loss of a row
    is ``log(sum_exp) - target_logit``. Its backward needs no communication: the gradient of a
    rank's columns is its part of ``softmax - one_hot(target)``.

    Args:
        local_logits: This rank's columns of the logits, ``(N, V_local)``, floating point.
        target: The target of each row, ``(N,)``, the same on every rank; ``ignore_index``
            rows are skipped.
        vocab_start: The full-vocabulary id of this rank's first column.
        group: The process group the vocabulary is split over; the default group if None.
            Where ``torch.distributed`` is not initialized, one process holds all columns.
        ignore_index: The target value to skip.
        reduction: ``"mean"`` over the targets that are not ignored, ``"sum"`` or ``"none"``
            (``(N,)``, 0 for ignored rows), as in ``F.cross_entropy``.

    Returns:
        The same value on every rank as ``F.cross_entropy(full_logits, target,
        ignore_index=ignore_index, reduction=reduction)``, differentiable with respect to
        ``local_logits`` (with no target left, a nan mean and a zero gradient, as there).
        Half-precision logits are reduced in float32, as transformers' loss upcasts them, so
        the value is that of ``F.cross_entropy`` on their float32 copy, returned in their dtype.

    Raises:
        TypeError: If an argument has the wrong type (a non-float ``local_logits``, a
            non-integer ``target``, a non-int ``vocab_start`` or ``ignore_index``).
        ValueError: If the shapes do not match, ``reduction`` is unknown, the ranks' columns do
            not tile ``[0, V)``, a rank holds no column or their row counts differ (one
            all-reduce finds it, on every rank), or a
            target is outside ``[0, V)`` and not ``ignore_index``.

    Examples:
        >>> import torch, torch.nn.functional as F
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]])
        >>> target = torch.tensor([0, -100])
        >>> loss = vocab_parallel_cross_entropy(logits, target, vocab_start=0)
        >>> torch.allclose(loss, F.cross_entropy(logits, target))
        True
    """
    vocab = _checked_vocab_shards(local_logits, target, vocab_start, group, ignore_index, reduction)
    # compared in int64: in a narrower dtype -100 or the vocabulary size would wrap (uint8: 156)
    target = target.long()  # no copy when it is int64 already
    bad = (target != ignore_index) & ((target < 0) | (target >= vocab))
    if bool(bad.any()):
        row = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"target must be in [0, {vocab}) (the full vocabulary, summed over the ranks) or "
            f"ignore_index={ignore_index}, got {int(target[row])} at row {row}"
        )
    return _VocabParallelCrossEntropy.apply(
        local_logits, target, vocab_start, group, ignore_index, reduction
    )


def _checked_vocab_shards(
    local_logits: object,
    target: object,
    vocab_start: object,
    group: dist.ProcessGroup | None,
    ignore_index: object,
    reduction: object,
) -> int:
    """Check the arguments; return the full vocabulary size ``V``, found with one all-reduce."""
    if not isinstance(local_logits, torch.Tensor) or not local_logits.is_floating_point():
        got = (
            local_logits.dtype
            if isinstance(local_logits, torch.Tensor)
            else type(local_logits).__name__
        )
        raise TypeError(f"local_logits must be a floating-point torch.Tensor, got {got}")
    if local_logits.ndim != 2:
        raise ValueError(
            f"local_logits must have shape (N, V_local), got {tuple(local_logits.shape)}"
        )
    target = _check_labels(target, "target")
    if tuple(target.shape) != (local_logits.shape[0],):
        raise ValueError(
            f"target must have shape (N,) = ({local_logits.shape[0]},) for "
            f"local_logits of shape {tuple(local_logits.shape)}, got "
            f"{tuple(target.shape)}"
        )
    check_int("vocab_start", vocab_start)
    check_int("ignore_index", ignore_index)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    rows, width = local_logits.shape
    if not dist.is_initialized():
        if width == 0:
            raise ValueError("local_logits must have at least one column, got shape (N, 0)")
        if vocab_start != 0:
            raise ValueError(f"vocab_start must be 0 in a single process, got {vocab_start}")
        return width
    # One row per rank, (vocab_start, V_local, N), zero elsewhere: a sum all-reduce gathers all.
    world, rank = dist.get_world_size(group), dist.get_rank(group)
    table = torch.zeros(world, 3, dtype=torch.int64, device=local_logits.device)
    table[rank] = torch.tensor([vocab_start, width, rows])
    dist.all_reduce(table, group=group)
    shards = sorted(tuple(row) for row in table.tolist())
    if any(size == 0 for _, size, _ in shards):  # max() over no column would fail on one rank
        raise ValueError(
            f"every rank's vocabulary shard must hold at least one column, got (vocab_start, "
            f"V_local) {[(s, w) for s, w, _ in table.tolist()]} by rank"
        )
    end = 0
    for start, size, _ in shards:
        if start != end:
            raise ValueError(
                f"the ranks' vocabulary shards (vocab_start, V_local) must tile [0, V) without "
                f"gap or overlap, got {[(s, w) for s, w, _ in table.tolist()]} by rank"
            )
        end = start + size
    if len({n for _, _, n in shards}) != 1:
        raise ValueError(
            f"every rank must hold the same N rows of local_logits, got "
            f"{[n for _, _, n in table.tolist()]} by rank"
        )
    return end


class _VocabParallelCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, local_logits, target, vocab_start, group, ignore_index, reduction):
        # Half-precision logits are reduced in float32, as ForCausalLMLoss upcasts them.
        compute = torch.promote_types(local_logits.dtype, torch.float32)
        logits = local_logits.detach().to(compute)
        width = logits.shape[1]
        row_max = logits.max(dim=1).values
        _all_reduce(row_max, dist.ReduceOp.MAX, group)
        shifted = logits - row_max[:, None]

        counted = target != ignore_index
        local_target = target.long() - vocab_start  # int64: no wrap-around, gather's dtype
        owned = counted & (local_target >= 0) & (local_target < width)
        index = torch.where(owned, local_target, 0)[:, None]
        # where, not a product: a masked -inf logit times 0 would be nan
        target_logit = torch.where(owned, shifted.gather(1, index).squeeze(1), 0.0)
        _all_reduce(target_logit, dist.ReduceOp.SUM, group)

        exp = shifted.exp()
        sum_exp = exp.sum(dim=1)
        _all_reduce(sum_exp, dist.ReduceOp.SUM, group)
        losses = torch.where(counted, sum_exp.log() - target_logit, 0.0)

        # Backward needs softmax - one_hot on this rank's columns only.
        grad = exp.div_(sum_exp[:, None])
        grad[owned, index[owned, 0]] -= 1
        grad *= counted[:, None]
        ctx.save_for_backward(grad)
        ctx.reduction, ctx.dtype = reduction, local_logits.dtype
        ctx.count = int(counted.sum())
        if reduction == "none":
            return losses.to(local_logits.dtype)
        total = losses.sum()
        if reduction == "mean":
            total = total / ctx.count  # 0 / 0 is nan, as in F.cross_entropy
        return total.to(local_logits.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (grad,) = ctx.saved_tensors
        if ctx.reduction == "none":
            scale = grad_output.to(grad.dtype)[:, None]
        elif ctx.reduction == "sum":
            scale = grad_output.to(grad.dtype)
        else:
            # no target: the loss is nan but, as in F.cross_entropy, the gradient is zero
            scale = grad_output.to(grad.dtype) / max(ctx.count, 1)
        return (grad * scale).to(ctx.dtype), None, None, None, None, None


def _all_reduce(tensor: torch.Tensor, op: dist.ReduceOp, group: dist.ProcessGroup | None) -> None:
    if dist.is_initialized():
        dist.all_reduce(tensor, op=op, group=group)
