"""Peak memory, time and accuracy of the loss from hidden states: full logits against chunked losses.

Not a test: run ``.venv/bin/python tests/benchmarks/loss_memory.py`` (add ``--big`` for the
float32 case with Llama 3's vocabulary, 128256; ``--device cuda`` for the GPU case). Each
method runs forward and backward in its own fresh subprocess, on one CPU thread, on the same
hidden states (N, H), lm_head (V, H) and labels (12.5 % of them -100):

- ``standard``: ``logits = F.linear(hidden, weight)``, then transformers' ``ForCausalLMLoss``;
- ``lmloss``: ``lmloss.linear_causal_lm_loss`` with its default options;
- ``lmloss-f32``: the same with ``accum_dtype=torch.float32`` (half-precision cases only);
- ``torch``: torch's chunked ``F.linear_cross_entropy(..., options=LinearCrossEntropyOptions())``
  with its default chunks, divided by the count of targets;
- ``checkpoint``: chunks of 1024 tokens, each ``lm_head`` + summed cross-entropy under
  ``torch.utils.checkpoint``, so that backward recomputes each chunk's logits.

Two cases by default: float32 with N=8192, H=512, V=32000, and bf16 with N=8192, H=2048,
V=32000 (the GPU case's N/V). Peak memory is measured twice over one forward + backward,
after one warm-up call:

- ``RSS``: the peak resident set (``VmHWM``, reset through /proc/self/clear_refs) minus the
  resident set just before, with glibc's mmap threshold fixed at 1 MiB so that freed buffers
  leave the resident set; it also sees memory that kernels allocate outside torch's tensors;
- ``live``: the peak of the bytes held by live tensors above those held before, counted by
  ``torch.distributed._tools.mem_tracker.MemTracker``, whatever the allocator keeps.

Time is the median of the timed calls that follow (``--runs``): the methods' processes wait,
each with its inputs, and are called in turn, one call each, so that a change in the machine's
load falls on every method. In the half-precision cases
the weight's gradient is compared with a float64 reference (the same inputs in float64,
autograd over chunks of 1024 tokens): the error printed is the Frobenius norm of the
difference over the reference's. The goals are printed after each case with PASS or FAIL.

With ``--device cuda`` the case is bf16, N=32768, H=4096, V=128256, the peak is
``torch.cuda.max_memory_allocated`` above what was allocated before the call, and each timed
call ends with ``torch.cuda.synchronize()``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

FLOAT_METHODS = ("standard", "lmloss", "torch", "checkpoint")
HALF_METHODS = ("standard", "lmloss", "lmloss-f32", "torch", "checkpoint")

CHILD = r"""
import ctypes, json, sys, time
# glibc: buffers over 1 MiB by mmap, so that a freed one leaves the resident set at once and
# the peak counts live buffers, not heap pages kept for reuse (as on the memory page)
ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # -3: M_MMAP_THRESHOLD
import torch
import torch.nn.functional as F
from torch.distributed._tools.mem_tracker import MemTracker
from torch.nn import LinearCrossEntropyOptions
from torch.utils.checkpoint import checkpoint
from transformers.loss.loss_utils import ForCausalLMLoss
from lmloss import linear_causal_lm_loss

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

which, device, dtype_name, grad_file = sys.argv[1:5]
N, H, V = map(int, sys.argv[5:])
cuda = device == "cuda"
dtype = getattr(torch, dtype_name)
torch.set_num_threads(1)
torch.manual_seed(0)
hidden = torch.randn(1, N, H, device=device, dtype=dtype).requires_grad_()
weight = (torch.randn(V, H, device=device) / H**0.5).to(dtype).requires_grad_()
labels = torch.randint(0, V, (1, N), device=device)
labels[torch.rand(1, N, device=device) < 0.125] = -100
targets = F.pad(labels, (0, 1), value=-100)[0, 1:]

if which == "reference":  # float64 gradient of the same inputs, chunk by chunk
    torch.set_num_threads(2)
    hidden64 = hidden.detach().double()
    weight64 = weight.detach().double().requires_grad_()
    count = (targets != -100).sum()
    for i in range(0, N, 1024):
        chunk = F.linear(hidden64[0, i:i + 1024], weight64)
        (F.cross_entropy(chunk, targets[i:i + 1024], reduction="sum") / count).backward()
    torch.save(weight64.grad.float(), grad_file)  # float32: 2**-24, far below bf16's errors
    sys.exit()

def chunk_sum(h, t):
    return F.cross_entropy(F.linear(h, weight), t, reduction="sum")

def loss():
    if which == "standard":
        return ForCausalLMLoss(F.linear(hidden, weight), labels, vocab_size=V)
    if which == "lmloss":
        return linear_causal_lm_loss(hidden, weight, labels)
    if which == "lmloss-f32":
        return linear_causal_lm_loss(hidden, weight, labels, accum_dtype=torch.float32)
    if which == "torch":
        total = F.linear_cross_entropy(hidden[0], weight, targets, reduction="sum",
                                       options=LinearCrossEntropyOptions())
        return total / (targets != -100).sum()
    total = sum(checkpoint(chunk_sum, hidden[0, i:i + 1024], targets[i:i + 1024],
                           use_reentrant=False) for i in range(0, N, 1024))
    return total / (targets != -100).sum()

def step():
    hidden.grad = weight.grad = None
    value = loss()
    value.backward()
    return value.item()  # .item() waits for the GPU

step()  # warm up: first-call allocations and lazy imports
hidden.grad = weight.grad = None
live = None
if cuda:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    value = step()
    peak = torch.cuda.max_memory_allocated() - before
else:
    tracker = MemTracker()
    tracker.track_external(hidden, weight, labels, targets)
    with tracker:
        held = tracker.get_tracker_snapshot("current")[hidden.device]["Total"]
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak resident set to the current one
        before = rss("VmRSS:")
        value = step()
        peak = rss("VmHWM:") - before
        live = tracker.get_tracker_snapshot("peak")[hidden.device]["Total"] - held
if grad_file != "-":
    torch.save(weight.grad, grad_file)
print(json.dumps({"peak": peak, "live": live, "loss": value}), flush=True)
# Timed apart from the memory call (clear_refs slows its page faults), one call per "go" from
# the parent, which takes the methods in turn: a change of load on the machine falls on all.
for line in sys.stdin:
    if line.strip() != "go":
        break
    start = time.perf_counter()
    step()
    if cuda:
        torch.cuda.synchronize()  # backward's last kernels, after the loss's .item()
    print(json.dumps({"seconds": time.perf_counter() - start}), flush=True)
"""

MIB = 2**20


def start(which: str, device: str, dtype: str, grad_file: str, shape: tuple) -> subprocess.Popen:
    """A method's process, once it has measured its memory: it waits to be timed."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, which, device, dtype, grad_file, *map(str, shape)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    child.result = _read(child) if which != "reference" else {}
    return child


def _read(child: subprocess.Popen) -> dict:
    line = child.stdout.readline()
    if not line:
        raise RuntimeError(f"a benchmark process exited with {child.wait()}")
    return json.loads(line)


def timed(children: dict[str, subprocess.Popen], runs: int) -> None:
    """Time each method ``runs`` times, one call of each in turn; keep the median."""
    times = {which: [] for which in children}
    for _ in range(runs):
        for which, child in children.items():
            child.stdin.write("go\n")
            child.stdin.flush()
            times[which].append(_read(child)["seconds"])
    for which, child in children.items():
        child.stdin.close()
        child.wait()
        child.result["seconds"] = statistics.median(times[which])


def relative_error(grad_file: str, reference) -> float:
    import torch

    grad = torch.load(grad_file).double()
    return float((grad - reference).norm() / reference.norm())


def goal(text: str, passed: bool) -> None:
    print(f"  goal: {text}: {'PASS' if passed else 'FAIL'}", flush=True)


def report(device: str, dtype: str, shape: tuple[int, int, int], runs: int) -> None:
    tokens, hidden, vocab = shape
    size = {"float32": 4, "bfloat16": 2}[dtype]
    half = size == 2
    cpu = device == "cpu"
    print(
        f"{device.upper()} {dtype}, N={tokens}, H={hidden}, V={vocab}: logits "
        f"{tokens * vocab * size / MIB:.0f} MiB, gradients {(tokens + vocab) * hidden * size / MIB:.0f}"
        f" MiB; forward + backward, 1 thread, fresh process per method, median of {runs} taken in turn",
        flush=True,
    )
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        reference = None
        if half and cpu:
            import torch

            path = os.path.join(folder, "reference.pt")
            start("reference", device, dtype, path, shape).wait()
            reference = torch.load(path).double()
        children = {}
        for which in HALF_METHODS if half else FLOAT_METHODS:  # one at a time: memory first
            path = os.path.join(folder, f"{which}.pt") if reference is not None else "-"
            children[which] = start(which, device, dtype, path, shape)
            error = None if reference is None else relative_error(path, reference)
            children[which].result["error"] = error
        timed(children, runs)
        for which, child in children.items():
            r = results[which] = child.result
            base = results["standard"]
            line = (
                f"{which:>10}: {r['seconds']:6.2f} s ({r['seconds'] / base['seconds']:.2f}x), "
                f"{'extra peak RSS' if cpu else 'peak allocated'} {r['peak'] / MIB:6.0f} MiB "
                f"({base['peak'] / max(r['peak'], 1):5.1f}x lower)"
            )
            if r["live"] is not None:
                line += f", live tensors {r['live'] / MIB:6.0f} MiB"
            if r["error"] is not None:
                line += f", weight grad error {r['error']:.2e}"
            print(f"{line}, loss {r['loss']:.6f}", flush=True)
    if cpu:
        check_goals(results, half, (tokens + vocab) * hidden * size)


def check_goals(results: dict, half: bool, grads: int) -> None:
    ours, base = results["lmloss"], results["standard"]
    speed = ours["seconds"] / base["seconds"]
    goal(f"lmloss time <= 1.0x standard: {speed:.2f}x", speed <= 1.0)
    if not half:
        lower = base["peak"] / ours["peak"]
        goal(f"lmloss extra peak RSS >= 20x lower than standard: {lower:.1f}x", lower >= 20)
        return
    for name in ("peak", "live"):
        ratio = ours[name] / grads
        label = "extra peak RSS" if name == "peak" else "live-tensor peak"
        goal(f"lmloss {label} <= 1.6x the gradients' size: {ratio:.2f}x", ratio <= 1.6)
    ratio = ours["error"] / base["error"]
    goal(f"lmloss weight grad error <= 2x standard's: {ratio:.2f}x", ratio <= 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--big",
        action="store_true",
        help="also float32, N=8192, V=128256 (about 12 GiB for the standard path)",
    )
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="cuda: the GPU case (bf16, N=32768, H=4096, V=128256) instead of the CPU ones",
    )
    parser.add_argument("--runs", type=int, default=3, help="timed calls per method")
    args = parser.parse_args()
    if args.device == "cuda":
        report("cuda", "bfloat16", (32768, 4096, 128256), args.runs)
        return
    report("cpu", "float32", (8192, 512, 32000), args.runs)
    report("cpu", "bfloat16", (8192, 2048, 32000), args.runs)
    if args.big:
        report("cpu", "float32", (8192, 512, 128256), 1)


if __name__ == "__main__":
    main()
