"""Peak memory and time of the loss from hidden states: full logits against chunked losses.

Not a test: run ``.venv/bin/python tests/benchmarks/loss_memory.py`` (add ``--big`` for the
case with Llama 3's vocabulary, 128256; ``--device cuda`` for the GPU case). Four methods,
forward and backward, each in its own fresh subprocess on the same hidden states (N, H),
lm_head (V, H) and labels (12.5 % of them -100), float32 on one CPU thread:

- ``standard``: ``logits = F.linear(hidden, weight)``, then transformers' ``ForCausalLMLoss``;
- ``lmloss``: ``lmloss.linear_causal_lm_loss``;
- ``torch``: torch's chunked ``F.linear_cross_entropy(..., options=LinearCrossEntropyOptions())``
  with its default chunks, divided by the count of targets;
- ``checkpoint``: chunks of 1024 tokens, each ``lm_head`` + summed cross-entropy under
  ``torch.utils.checkpoint``, so that backward recomputes each chunk's logits.

Peak memory is the peak resident set (``VmHWM``, reset through /proc/self/clear_refs) during
one forward + backward minus the resident set just before it, after one warm-up call, with
glibc's mmap threshold fixed at 1 MiB so that freed buffers leave the resident set; time is
the median of the timed calls that follow (``--runs``). With ``--device cuda`` the case is
bf16, N=32768, H=4096, V=128256, the peak is ``torch.cuda.max_memory_allocated`` above what
was allocated before the call, and each timed call ends with ``torch.cuda.synchronize()``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

METHODS = ("standard", "lmloss", "torch", "checkpoint")

CHILD = r"""
import ctypes, json, statistics, sys, time
# glibc: buffers over 1 MiB by mmap, so that a freed one leaves the resident set at once and
# the peak counts live buffers, not heap pages kept for reuse (as on the memory page)
ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # -3: M_MMAP_THRESHOLD
import torch
import torch.nn.functional as F
from torch.nn import LinearCrossEntropyOptions
from torch.utils.checkpoint import checkpoint
from transformers.loss.loss_utils import ForCausalLMLoss
from lmloss import linear_causal_lm_loss

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

which, device, (N, H, V, runs) = sys.argv[1], sys.argv[2], map(int, sys.argv[3:])
cuda = device == "cuda"
dtype = torch.bfloat16 if cuda else torch.float32
torch.set_num_threads(1)
torch.manual_seed(0)
hidden = torch.randn(1, N, H, device=device, dtype=dtype).requires_grad_()
weight = (torch.randn(V, H, device=device) / H**0.5).to(dtype).requires_grad_()
labels = torch.randint(0, V, (1, N), device=device)
labels[torch.rand(1, N, device=device) < 0.125] = -100

def chunk_sum(h, t):
    return F.cross_entropy(F.linear(h, weight), t, reduction="sum")

def loss():
    if which == "standard":
        return ForCausalLMLoss(F.linear(hidden, weight), labels, vocab_size=V)
    if which == "lmloss":
        return linear_causal_lm_loss(hidden, weight, labels)
    targets = F.pad(labels, (0, 1), value=-100)[0, 1:]
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
if cuda:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    value = step()
    peak = torch.cuda.max_memory_allocated() - before
else:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident set to the current one
    before = rss("VmRSS:")
    value = step()
    peak = rss("VmHWM:") - before
times = []
for _ in range(runs):  # timed apart from the memory call: clear_refs slows its page faults
    start = time.perf_counter()
    step()
    if cuda:
        torch.cuda.synchronize()  # backward's last kernels, after the loss's .item()
    times.append(time.perf_counter() - start)
print(json.dumps({"seconds": statistics.median(times), "peak": peak, "loss": value}))
"""


def run(which: str, device: str, tokens: int, hidden: int, vocab: int, runs: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, which, device, *map(str, (tokens, hidden, vocab, runs))],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(device: str, tokens: int, hidden: int, vocab: int, runs: int) -> None:
    mib = 2**20
    kind, size, peak = (
        ("CUDA bf16", 2, "peak allocated")
        if device == "cuda"
        else ("CPU float32", 4, "extra peak RSS")
    )
    print(
        f"{kind}, N={tokens}, H={hidden}, V={vocab}: logits {tokens * vocab * size / mib:.0f}"
        f" MiB; forward + backward, 1 thread, fresh process per method, median of {runs}",
        flush=True,
    )
    base = run("standard", device, tokens, hidden, vocab, runs)
    for which in METHODS:
        r = base if which == "standard" else run(which, device, tokens, hidden, vocab, runs)
        print(
            f"{which:>10}: {r['seconds']:6.2f} s ({r['seconds'] / base['seconds']:.2f}x), "
            f"{peak} {r['peak'] / mib:7.0f} MiB "
            f"({base['peak'] / max(r['peak'], 1):5.1f}x lower), loss {r['loss']:.6f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--big",
        action="store_true",
        help="also N=8192, V=128256 (about 12 GiB for the standard path)",
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
        report("cuda", 32768, 4096, 128256, args.runs)
        return
    report("cpu", 8192, 512, 32000, args.runs)
    if args.big:
        report("cpu", 8192, 512, 128256, 1)


if __name__ == "__main__":
    main()
