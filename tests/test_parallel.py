"""lmloss.parallel and lmloss.ranks: equal to one process holding everything, on real gloo ranks.

Every multi-process test runs through ``run_on_ranks``, which kills the ranks after its timeout,
so a failing or hanging rank fails the test instead of hanging it.
"""

from __future__ import annotations

import re
import time

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.multiprocessing import ProcessRaisedException

from lmloss import shift_labels
from lmloss.diagrams.parallel import shard_targets_svg
from lmloss.parallel import global_num_items, shard_sequence, vocab_parallel_cross_entropy
from lmloss.ranks import run_on_ranks
from snippet_sections import OUTPUTS

TIMEOUT = 60.0

# ---------------------------------------------------------------- shard_sequence


@pytest.mark.parametrize("world_size", [1, 2, 3, 4])
@pytest.mark.parametrize("load_balanced", [False, True])
def test_shards_of_all_ranks_hold_every_position_once(world_size, load_balanced):
    positions = torch.arange(2 * world_size * 3)
    shards = [
        shard_sequence(positions, world_size, r, load_balanced=load_balanced)
        for r in range(world_size)
    ]
    assert sorted(torch.cat(shards).tolist()) == positions.tolist()
    assert {len(s) for s in shards} == {len(positions) // world_size}


@pytest.mark.parametrize("world_size", [2, 3])
def test_load_balanced_rank_holds_chunks_r_and_2w_minus_1_minus_r(world_size):
    chunks = torch.arange(2 * world_size * 2).view(2 * world_size, 2)
    for rank in range(world_size):
        got = shard_sequence(chunks.flatten(), world_size, rank, load_balanced=True)
        assert got.tolist() == chunks[[rank, 2 * world_size - 1 - rank]].flatten().tolist()


def test_shard_sequence_cuts_the_given_dim_and_returns_a_copy():
    logits = torch.arange(2 * 8 * 3).view(2, 8, 3)
    shard = shard_sequence(logits, 2, 1, dim=1, load_balanced=True)
    assert shard.shape == (2, 4, 3)
    assert torch.equal(shard, logits[:, [2, 3, 4, 5]])
    shard.zero_()
    assert logits.sum() > 0


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: shard_sequence(torch.arange(10), 4, 0),
            ValueError,
            r"divisible by world_size = 4, got 10",
        ),
        (
            lambda: shard_sequence(torch.arange(8), 3, 0, load_balanced=True),
            ValueError,
            r"divisible by 2 \* world_size = 6, got 8",
        ),
        (
            lambda: shard_sequence(torch.arange(8), 2, 2),
            ValueError,
            r"rank must be in \[0, 2\).*got 2",
        ),
        (lambda: shard_sequence(torch.arange(8), 2, -1), ValueError, r"rank must be in"),
        (
            lambda: shard_sequence(torch.arange(8), 0, 0),
            ValueError,
            r"world_size must be at least 1",
        ),
        (
            lambda: shard_sequence(torch.arange(8), 2, 0, dim=1),
            ValueError,
            r"dim must be in \[-1, 1\)",
        ),
        (
            lambda: shard_sequence([1, 2], 1, 0),
            TypeError,
            r"tensor must be a torch.Tensor, got list",
        ),
        (lambda: shard_sequence(torch.arange(8), 2.0, 0), TypeError, r"world_size must be an int"),
        (lambda: shard_sequence(torch.arange(8), 2, True), TypeError, r"rank must be an int"),
    ],
)
def test_shard_sequence_errors_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- single process


def test_global_num_items_in_one_process_is_the_shifted_count():
    assert global_num_items(torch.tensor([[-100, 5, -100, 7], [1, 2, 3, -100]])) == 2 + 2


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_vocab_parallel_in_one_process_equals_cross_entropy(reduction):
    torch.manual_seed(0)
    logits = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    target = torch.tensor([0, 6, -100, 3, 3])
    mine = logits.detach().clone().requires_grad_()
    got = vocab_parallel_cross_entropy(mine, target, vocab_start=0, reduction=reduction)
    want = F.cross_entropy(logits, target, reduction=reduction)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    weight = torch.rand_like(want)
    (got * weight).sum().backward()
    (want * weight).sum().backward()
    torch.testing.assert_close(mine.grad, logits.grad, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "dtype, vocab", [(torch.uint8, 256), (torch.int8, 300), (torch.int16, 151936)]
)
def test_vocab_parallel_takes_narrow_targets_whatever_the_vocabulary_size(dtype, vocab):
    """Review of the loss page, found in parallel.py too: -100 compared with a uint8 target
    wraps to 156, and 300 with an int8 one to 44, so valid targets were rejected."""
    torch.manual_seed(0)
    logits = torch.randn(4, vocab, dtype=torch.float64)
    target = torch.tensor([1, 100, 50, 99])
    got = vocab_parallel_cross_entropy(logits, target.to(dtype), vocab_start=0)
    torch.testing.assert_close(got, F.cross_entropy(logits, target), rtol=0, atol=1e-12)


def test_vocab_parallel_mean_over_no_target_is_nan_with_a_zero_gradient_like_cross_entropy():
    logits, target = torch.randn(2, 3, requires_grad=True), torch.tensor([-100, -100])
    reference = logits.detach().clone().requires_grad_()
    got = vocab_parallel_cross_entropy(logits, target, vocab_start=0)
    want = F.cross_entropy(reference, target)
    assert torch.isnan(got) and torch.isnan(want)
    got.backward()
    want.backward()
    assert torch.equal(logits.grad, reference.grad) and not reference.grad.any()


def test_vocab_parallel_bfloat16_is_reduced_in_float32_and_returned_in_bfloat16():
    torch.manual_seed(0)
    logits, target = torch.randn(4, 9) * 10, torch.tensor([1, 8, 0, 4])
    got = vocab_parallel_cross_entropy(logits.bfloat16(), target, vocab_start=0)
    assert got.dtype == torch.bfloat16
    want = F.cross_entropy(logits.bfloat16().float(), target)
    torch.testing.assert_close(got.float(), want, rtol=1e-2, atol=0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            dict(target=torch.tensor([0, 7])),
            ValueError,
            r"target must be in \[0, 7\).*got 7 at row 1",
        ),
        (dict(target=torch.tensor([0, -5])), ValueError, r"got -5 at row 1"),
        (dict(vocab_start=3), ValueError, r"vocab_start must be 0 in a single process, got 3"),
        (dict(vocab_start=0.0), TypeError, r"vocab_start must be an int"),
        (dict(reduction="avg"), ValueError, r"reduction must be one of .*got 'avg'"),
        (dict(target=torch.tensor([0.0, 1.0])), TypeError, r"target must have an int.*float32"),
        (
            dict(target=torch.tensor([0, 1, 2])),
            ValueError,
            r"target must have shape \(N,\) = \(2,\)",
        ),
        (
            dict(local_logits=torch.ones(2, 7, dtype=torch.long)),
            TypeError,
            r"local_logits must be a floating-point torch.Tensor, got torch.int64",
        ),
        (
            dict(local_logits=torch.ones(1, 2, 7)),
            ValueError,
            r"local_logits must have shape \(N, V_local\)",
        ),
    ],
)
def test_vocab_parallel_errors_name_the_argument(kwargs, error, match):
    args = dict(local_logits=torch.zeros(2, 7), target=torch.tensor([0, 1]), vocab_start=0)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        vocab_parallel_cross_entropy(args.pop("local_logits"), args.pop("target"), **args)


# ---------------------------------------------------------------- several ranks


def _vocab_case(rank, world_size, splits, reduction):
    torch.manual_seed(0)
    full = torch.randn(7, splits[-1], dtype=torch.float64)
    target = torch.tensor([0, splits[-1] - 1, -100, splits[1], splits[1] - 1, 2, -100])
    start, end = splits[rank], splits[rank + 1]
    mine = full[:, start:end].clone().requires_grad_()
    loss = vocab_parallel_cross_entropy(mine, target, vocab_start=start, reduction=reduction)
    reference = full.clone().requires_grad_()
    want = F.cross_entropy(reference, target, reduction=reduction)
    weight = torch.linspace(0.5, 2.0, want.numel(), dtype=torch.float64).view_as(want)
    (loss * weight).sum().backward()
    (want * weight).sum().backward()
    return loss.detach(), want.detach(), mine.grad, reference.grad[:, start:end]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("splits", [(0, 5, 11), (0, 2, 3, 11)], ids=["2 ranks", "3 ranks"])
def test_vocab_parallel_equals_cross_entropy_on_every_rank_gradient_included(splits, reduction):
    results = run_on_ranks(_vocab_case, len(splits) - 1, splits, reduction, timeout=TIMEOUT)
    for loss, want, grad, want_grad in results:
        torch.testing.assert_close(loss, want, rtol=0, atol=1e-12)
        torch.testing.assert_close(grad, want_grad, rtol=0, atol=1e-12)


def _vocab_backward_without_collectives(rank, world_size):
    mine = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    loss = vocab_parallel_cross_entropy(mine, torch.tensor([0, 5, 7]), vocab_start=4 * rank)
    calls = []
    real = dist.all_reduce
    dist.all_reduce = lambda *a, **k: calls.append(a)  # backward must not call it
    try:
        loss.backward()
    finally:
        dist.all_reduce = real
    return calls


def test_vocab_parallel_backward_needs_no_communication():
    assert run_on_ranks(_vocab_backward_without_collectives, 2, timeout=TIMEOUT) == [[], []]


def _bad_shards(rank, world_size, starts, rows, widths=(4, 4, 4)):
    logits = torch.zeros(rows[rank], widths[rank])
    try:
        vocab_parallel_cross_entropy(
            logits, torch.zeros(rows[rank], dtype=torch.long), vocab_start=starts[rank]
        )
    except ValueError as error:
        return str(error)
    return "no error"


@pytest.mark.parametrize(
    ("starts", "rows", "match"),
    [
        ((0, 0, 8), (2, 2, 2), r"tile \[0, V\).*\[\(0, 4\), \(0, 4\), \(8, 4\)\]"),
        ((0, 5, 8), (2, 2, 2), r"without gap or overlap"),
        ((0, 4, 8), (2, 3, 2), r"same N rows.*\[2, 3, 2\]"),
    ],
)
def test_vocab_shards_that_do_not_add_up_fail_on_every_rank(starts, rows, match):
    messages = run_on_ranks(_bad_shards, 3, starts, rows, timeout=TIMEOUT)
    assert all(re.search(match, m) for m in messages), messages


def test_a_rank_with_no_vocabulary_column_fails_on_every_rank_before_any_reduction():
    """An empty shard tiles [0, V) too, but max() over its 0 columns would fail on that rank
    alone, leaving the others waiting in the next all-reduce."""
    messages = run_on_ranks(_bad_shards, 3, (0, 4, 4), (2, 2, 2), (4, 0, 4), timeout=TIMEOUT)
    expected = r"at least one column.*\[\(0, 4\), \(4, 0\), \(4, 4\)\]"
    assert all(re.search(expected, m) for m in messages), messages
    with pytest.raises(ValueError, match=r"at least one column, got shape \(N, 0\)"):
        vocab_parallel_cross_entropy(
            torch.zeros(2, 0), torch.zeros(2, dtype=torch.long), vocab_start=0
        )


def _counts(rank, world_size):
    labels = [
        torch.tensor([[1, 2, 3, 4]]),
        torch.tensor([[-100, -100, 5, 6]]),
        torch.tensor([[7, -100, -100, -100], [8, 9, 10, 11]]),
    ][rank]
    return global_num_items(labels)


def test_global_num_items_sums_the_shifted_counts_over_three_ranks():
    assert run_on_ranks(_counts, 3, timeout=TIMEOUT) == [3 + 2 + 3] * 3


def _data_parallel_loss(rank, world_size, logits, labels):
    rows = shard_sequence(torch.arange(labels.shape[0]), world_size, rank, dim=0)
    local = F.cross_entropy(
        logits[rows].flatten(0, 1), shift_labels(labels[rows]).flatten(), reduction="sum"
    ) / global_num_items(labels[rows])
    dist.all_reduce(local)
    return local


def test_sum_over_global_count_equals_one_process_with_uneven_targets():
    torch.manual_seed(0)
    logits = torch.randn(3, 6, 5, dtype=torch.float64)
    labels = torch.tensor([[1, 2, 3, 4, 0, 1], [-100] * 4 + [2, 3], [-100, 4, 4, 4, 4, -100]])
    want = F.cross_entropy(logits.flatten(0, 1), shift_labels(labels).flatten())
    for got in run_on_ranks(_data_parallel_loss, 3, logits, labels, timeout=TIMEOUT):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def _fails_on_rank_1(rank, world_size):
    if rank == 1:
        raise RuntimeError("rank 1 broke")
    dist.all_reduce(torch.zeros(1))  # rank 0 waits for rank 1 here


def test_a_failing_rank_fails_the_caller_quickly():
    start = time.monotonic()
    with pytest.raises(ProcessRaisedException, match="rank 1 broke"):
        run_on_ranks(_fails_on_rank_1, 2, timeout=TIMEOUT)
    assert time.monotonic() - start < 20


def _hangs(rank, world_size):
    if rank == 0:
        time.sleep(600)


def test_a_hanging_rank_is_killed_after_the_timeout():
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="still running after 2.0 s"):
        run_on_ranks(_hangs, 2, timeout=2.0)
    assert time.monotonic() - start < 10


def _identity(rank, world_size, tag):
    return (tag, rank, world_size, dist.get_rank(), dist.get_world_size())


def test_run_on_ranks_returns_each_rank_result_in_rank_order():
    assert run_on_ranks(_identity, 3, "x", timeout=TIMEOUT) == [("x", r, 3, r, 3) for r in range(3)]


@pytest.mark.parametrize(("args", "error"), [((2.0,), TypeError), ((0,), ValueError), ((2,), None)])
def test_run_on_ranks_checks_its_arguments(args, error):
    if error is None:
        with pytest.raises(ValueError, match="timeout must be a positive"):
            run_on_ranks(_identity, *args, timeout=0)
    else:
        with pytest.raises(error, match="world_size"):
            run_on_ranks(_identity, *args)


# ---------------------------------------------------------------- the diagram


def test_site_diagram_draws_the_shards_the_page_prints():
    """The page's cp_shards output and the site's diagram show the same real shards."""
    from site_diagrams import DIAGRAMS

    printed = (OUTPUTS / "parallel" / "cp_shards.txt").read_text(encoding="utf-8")
    rows = re.findall(
        r"rank (\d): positions (\[.*?\])  targets (\[.*?\])  "
        r"shifted after sharding (\[.*?\])",
        printed,
    )
    cells = re.findall(
        r'data-layout="(\w+)" data-rank="(\d)" data-position="(\d+)" '
        r'data-target="(-?\d+)" data-local="(-?\d+)"',
        DIAGRAMS["parallel-shards"]("en"),
    )
    drawn = []
    for layout in ("contiguous", "balanced"):
        for rank in ("0", "1"):
            mine = [c[2:] for c in cells if c[:2] == (layout, rank)]
            drawn.append((rank, *(str([int(c[k]) for c in mine]) for k in range(3))))
    assert rows == drawn


def test_diagram_marks_lost_and_wrong_targets():
    svg = shard_targets_svg(range(10, 18), 2, lang="zh")
    cells = re.findall(
        r'data-kind="(\w+)" data-layout="(\w+)" data-rank="(\d)" '
        r'data-position="(\d)"',
        svg,
    )
    kinds = {(layout, int(p)): kind for kind, layout, _, p in cells}
    assert kinds[("contiguous", 3)] == "lost" and kinds[("balanced", 5)] == "lost"
    assert [p for (layout, p), k in kinds.items() if k == "wrong"] == [1]
    assert len(cells) == 16


@pytest.mark.parametrize("masked_column", [0, 2])
def test_vocab_parallel_takes_a_masked_minus_inf_logit_as_cross_entropy_does(masked_column):
    """A -inf logit (a token id masked out) in the column the unowned rows gather from."""
    logits = torch.randn(3, 4, dtype=torch.float64)
    logits[:, masked_column] = float("-inf")
    target = torch.tensor([1, -100, 3])
    for reduction in ("mean", "sum", "none"):
        got = vocab_parallel_cross_entropy(logits, target, vocab_start=0, reduction=reduction)
        want = F.cross_entropy(logits, target, reduction=reduction)
        torch.testing.assert_close(got, want)
