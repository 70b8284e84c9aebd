"""Time and peak memory of ``lmloss.causal_lm_loss`` against transformers' ``ForCausalLMLoss``.

Not a test: run ``.venv/bin/python tests/benchmarks/loss_vs_transformers.py``. Each call runs in
its own fresh subprocess on the same logits (8, 1024, 32000) float32 (~1.05 GB), alternating
the two functions. Peak memory is the process's peak resident set (``VmHWM`` in
/proc/self/status, Linux), reset just before the call through /proc/self/clear_refs: torch's
CPU allocations go straight to malloc/mmap, which tracemalloc does not see, but the resident set
does. The number reported is the peak during the call minus the resident set just before it.
Time is the median of 3 further calls in the same process.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

SHAPE = (8, 1024, 32000)
RUNS = 3

CHILD = r"""
import json, sys, time
import torch
from transformers.loss.loss_utils import ForCausalLMLoss
from lmloss import causal_lm_loss

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

B, T, V = SHAPE
torch.manual_seed(0)
logits = torch.randn(B, T, V)
labels = torch.randint(0, V, (B, T))
labels[:, :100] = -100
torch.set_num_threads(1)
which = sys.argv[1]
fn = (lambda: causal_lm_loss(logits, labels)) if which == "lmloss" else (
    lambda: ForCausalLMLoss(logits, labels, vocab_size=V))
fn()  # warm up: first-call allocations and lazy imports
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak resident set to the current one
before = rss("VmRSS:")
loss = fn()
peak = rss("VmHWM:") - before
times = []
for _ in range(3):  # timed apart from the memory call: clear_refs makes its page faults slower
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
seconds = sorted(times)[1]
print(json.dumps({"seconds": seconds, "peak": peak, "loss": loss.item()}))
""".replace("SHAPE", repr(SHAPE))


def run(which: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, which], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    results: dict[str, list[dict]] = {"lmloss": [], "transformers": []}
    for _ in range(RUNS):
        for which in results:
            results[which].append(run(which))
    gib = 2**30
    print(
        f"logits {SHAPE} float32 = {SHAPE[0] * SHAPE[1] * SHAPE[2] * 4 / gib:.2f} GiB, "
        f"{RUNS} runs each, 1 thread, fresh process per call"
    )
    for which, rows in results.items():
        print(
            f"{which:>12}: median {statistics.median(r['seconds'] for r in rows):.3f} s, "
            f"extra peak RSS median {statistics.median(r['peak'] for r in rows) / gib:.2f} GiB, "
            f"loss {rows[0]['loss']:.6f}"
        )
    ratio = statistics.median(r["seconds"] for r in results["lmloss"]) / statistics.median(
        r["seconds"] for r in results["transformers"]
    )
    extra = statistics.median(r["peak"] for r in results["lmloss"]) - statistics.median(
        r["peak"] for r in results["transformers"]
    )
    print(
        f"time ratio lmloss / transformers: {ratio:.3f}; peak difference: {extra / 2**20:+.1f} MiB"
    )


if __name__ == "__main__":
    main()
