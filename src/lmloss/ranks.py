"""Run a function on several ranks of a real ``torch.distributed`` group, on this machine's CPU.

The multi-process examples and tests of the site use [`run_on_ranks`][lmloss.ranks.run_on_ranks]: it forks one process
per rank, joins them in a gloo process group (gloo is torch's usual backend for CPU tensors) and
returns what each rank returned. Training scripts are started with ``torchrun`` instead; the
code each rank runs is the same.
"""

from __future__ import annotations

import datetime
import os
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lmloss._checks import check_int

__all__ = ["run_on_ranks"]


def run_on_ranks(
    fn: Callable[..., Any], world_size: int, *args: Any, timeout: float = 60.0
) -> list[Any]:
    """Call ``fn(rank, world_size, *args)`` on ``world_size`` ranks; return their results.

    Each rank is a forked process with one intra-op thread, joined in a gloo process group through
    a file in a fresh temporary folder (no port to collide with), with the environment
    ``torchrun`` sets (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``,
    ``OMP_NUM_THREADS=1``). Forking
    lets ``fn`` be any function, even one defined in a notebook; it needs Linux or macOS.

    Args:
        fn: The code of one rank. Its return value is sent back with ``torch.save``.
        world_size: The number of ranks, at least 1.
        *args: Passed on to ``fn`` after ``rank`` and ``world_size``.
        timeout: Seconds all ranks together may take; also the timeout of each collective.

    Returns:
        The return values of ranks ``0 .. world_size - 1``, in rank order.

    Raises:
        TypeError: If ``world_size`` is not an int.
        ValueError: If ``world_size < 1`` or ``timeout`` is not positive.
        torch.multiprocessing.ProcessRaisedException: If a rank raised; the other ranks are
            stopped, and the message holds the traceback of the rank that failed first (not
            that of a rank left waiting for it in a collective).
        TimeoutError: If the ranks are still running after ``timeout`` seconds; they are
            killed, so a rank waiting forever for another cannot hang the caller.
    """
    check_int("world_size", world_size)
    if world_size < 1:
        raise ValueError(f"world_size must be at least 1, got {world_size}")
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    with tempfile.TemporaryDirectory(prefix="lmloss-ranks-") as folder:
        context = mp.start_processes(
            _rank_main,
            args=(fn, world_size, args, folder, timeout),
            nprocs=world_size,
            join=False,
            start_method="fork",
        )
        deadline = time.monotonic() + timeout
        try:
            while not context.join(timeout=max(0.0, min(1.0, deadline - time.monotonic()))):
                if time.monotonic() >= deadline:
                    for process in context.processes:
                        process.kill()
                        process.join()
                    raise TimeoutError(
                        f"{world_size} ranks still running after {timeout} s; killed them"
                    )
        except mp.ProcessRaisedException as error:
            raise _first_failure(folder, error, context.pids()) from None
        return [
            torch.load(Path(folder) / f"{rank}.pt", weights_only=False)
            for rank in range(world_size)
        ]


def _first_failure(
    folder: str, error: mp.ProcessRaisedException, pids: list[int]
) -> mp.ProcessRaisedException:
    """The error of the rank that failed first, which ``error`` may not be.

    When a rank raises, the ranks waiting for it in a collective fail next ("Connection closed
    by peer"), and torch reports whichever failure it notices first.
    """
    failures = []
    for path in Path(folder).glob("*.failed"):
        stamp, trace = path.read_text(encoding="utf-8").split("\n", 1)
        failures.append((int(stamp), int(path.stem), trace))
    if not failures:  # the rank failed outside fn, before it could record it
        return error
    _, rank, trace = min(failures)
    if rank == error.error_index:
        return error
    message = f"\n\n-- Process {rank} terminated with the following error:\n{trace}"
    return mp.ProcessRaisedException(message, rank, pids[rank])


def _rank_main(
    rank: int, fn: Callable[..., Any], world_size: int, args: tuple, folder: str, timeout: float
) -> None:
    # One thread per rank: the ranks share the CPU, and a forked child must not reuse the
    # parent's OpenMP thread pool.
    torch.set_num_threads(1)
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_WORLD_SIZE=str(world_size),
        OMP_NUM_THREADS="1",
    )
    dist.init_process_group(
        "gloo",
        init_method=f"file://{folder}/store",
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=timeout),
    )
    try:
        result = fn(rank, world_size, *args)
        torch.save(result, Path(folder) / f"{rank}.pt")
    except BaseException:
        # Recorded before this rank's connections close, so before any rank it leaves waiting
        # can fail: the caller reports the earliest failure, the cause.
        failure = f"{time.monotonic_ns()}\n{traceback.format_exc()}"
        (Path(folder) / f"{rank}.failed").write_text(failure, encoding="utf-8")
        raise
    finally:
        dist.destroy_process_group()
