# Code of the page "The memory of the loss" (docs/*/memory.md).
# --8<-- [start:arithmetic]
H, V = 4096, 128256  # Llama 3 8B: hidden size, vocabulary
B, T = 8, 4096
N = B * T  # tokens in the batch
print(f"N = {N:,} tokens, N * V = {N * V:,} logits")
STAGES = [  # stage, bytes per logit at its peak and alive after it
    ("lm_head", 2, 2),  # bf16 logits
    ("loss", 10, 6),  # + float32 copy + float32 log-softmax; copy freed
    ("backward", 14, 2),  # + two float32 gradients; all but logits freed
]
print("stage     peak GB  alive after GB")
for stage, peak, alive in STAGES:
    print(f"{stage:9}{N * V * peak / 1e9:8.2f}{N * V * alive / 1e9:16.2f}")
print(f"hidden states {N * H * 2 / 1e9:.2f} GB, "
      f"lm_head weight {V * H * 2 / 1e9:.2f} GB (bf16)")
# --8<-- [end:arithmetic]

# --8<-- [start:measure]
import ctypes

import torch
import torch.nn.functional as F
from transformers.loss.loss_utils import ForCausalLMLoss


def resident(field="VmRSS:"):  # bytes resident now, or at the peak
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) * 1024


def reset_peak():  # Linux: the peak resident set starts again from now
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


# glibc: serve buffers over 1 MiB by mmap, so that a freed one leaves the
# resident set at once instead of waiting in the heap for reuse.
ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # -3: M_MMAP_THRESHOLD
n, h, v = 2048, 64, 4000  # 8,192,000 logits: small enough for a page
torch.manual_seed(0)
hidden = torch.randn(1, n, h, dtype=torch.bfloat16, requires_grad=True)
weight = (torch.randn(v, h) / h**0.5).bfloat16().requires_grad_()
labels = torch.randint(0, v, (1, n))
# warm-up on 8 tokens: the first call's one-off allocations stay out
few = hidden[:, :8]
ForCausalLMLoss(F.linear(few, weight), labels[:, :8], v).backward()
hidden.grad = weight.grad = None
base = resident()
steps = {}


def stage(name, run):
    reset_peak()
    result = run()
    peak, alive = resident("VmHWM:") - base, resident() - base
    steps[name] = peak / (n * v), alive / (n * v)
    return result


logits = stage("lm_head", lambda: F.linear(hidden, weight))
loss = stage("loss", lambda: ForCausalLMLoss(logits, labels, v))
stage("backward", loss.backward)
del logits, loss
print("stage    peak  alive after (bytes per logit)")
for name, (peak, alive) in steps.items():
    # lm_head: the product's own peak depends on the CPU's bf16 matmul
    shown = "-" if name == "lm_head" else f"{peak:.0f}"
    print(f"{name:9}{shown:>4}{alive:7.0f}")
# --8<-- [end:measure]

# --8<-- [start:upcast]
import math

zeros = torch.zeros(128256)  # equal logits, one per vocabulary entry
for dtype in (torch.bfloat16, torch.float32):
    eps = torch.finfo(dtype).eps  # from 1 to the next number up
    first = F.log_softmax(zeros.to(dtype), dim=-1)[0]  # it is -log(128256)
    print(f"{dtype}: {1 - math.log2(eps):.0f} significant bits, "
          f"log-probability {first:.4f}")
total = torch.zeros((), dtype=torch.bfloat16)
for one in torch.ones(128256, dtype=torch.bfloat16):
    total += one  # a running sum, rounded to bf16 at each step
print(f"128256 ones summed in bf16: {total:.0f}")
# --8<-- [end:upcast]

# --8<-- [start:chunked]
from lmloss import linear_causal_lm_loss

hidden.grad = weight.grad = None  # left by the measured backward
full = ForCausalLMLoss(F.linear(hidden, weight), labels, v)
full.backward()
print(f"ForCausalLMLoss {full.item():.4f}")
expected = hidden.grad, weight.grad
hidden.grad = weight.grad = None
del full
reset_peak()
start = resident()
ours = linear_causal_lm_loss(hidden, weight, labels)
ours.backward()
peak = (resident("VmHWM:") - start) / (n * v)
# the heap may hold freed memory from earlier code, so print a bound
print(f"peak under 2 B/logit: {peak < 2}, loss {ours.item():.4f}")
for a, b in zip((hidden.grad, weight.grad), expected):
    error = ((a - b).float().norm() / b.float().norm()).item()
    print(f"gradient {tuple(a.shape)}: relative error < 2**-7:",
          error < 2**-7)
# --8<-- [end:chunked]

# --8<-- [start:fallback]
import warnings

from torch.nn import LinearCrossEntropyOptions

x, w = torch.randn(6, 4), torch.randn(10, 4)
targets = torch.tensor([1, 2, 3, 4, 5, 6])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for dtype in (torch.int64, torch.int32, torch.uint8):
        try:
            F.linear_cross_entropy(x, w, targets.to(dtype),
                                   options=LinearCrossEntropyOptions())
            print(dtype, "ran;", len(caught), "warnings so far")
        except RuntimeError as error:
            print(dtype, "RuntimeError:", str(error).split(",")[0])
print(str(caught[0].message).split(";")[0])
# --8<-- [end:fallback]

# --8<-- [start:trl_tiles]
from trl.kernels import chunked_logprob
from trl.trainer import utils as trl_utils

print("tokens per tile:", chunked_logprob.TOKEN_CHUNK_SIZE)
print("vocabulary entries per tile:", trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE)
# --8<-- [end:trl_tiles]

# --8<-- [start:logits_to_keep]
from transformers.modeling_utils import slice_logits_to_keep

states = torch.zeros(2, 4096, 8)  # (B, T, H) before the lm_head
for keep in (0, 1):
    kept = slice_logits_to_keep(states, keep)
    print(f"logits_to_keep={keep}: lm_head sees {tuple(kept.shape)}")
# --8<-- [end:logits_to_keep]

# --8<-- [start:proof]
from lmloss import count_loss_tokens, shift_labels

g = torch.Generator().manual_seed(0)
x = torch.randn(2, 7, 16, generator=g)
w = torch.randn(50, 16, generator=g) / 4
y = torch.randint(0, 50, (2, 7), generator=g)
y[0, :3] = -100  # a masked prompt
cases = {
    "labels": {},
    "num_items_in_batch": {"num_items_in_batch": 20},
    "num_items (tensor)": {"num_items_in_batch": torch.tensor(20)},
    "shift_labels": {"shift_labels": shift_labels(y)},
}
for name, kwargs in cases.items():
    given = None if "shift_labels" in kwargs else y
    results = []
    for loss_of in (
        lambda a, b: linear_causal_lm_loss(a, b, given, **kwargs),
        lambda a, b: ForCausalLMLoss(a @ b.T, given, 50, **kwargs),
    ):
        a, b = x.clone().requires_grad_(), w.clone().requires_grad_()
        value = loss_of(a, b)
        results.append((value, *torch.autograd.grad(value, (a, b))))
    same = all(torch.allclose(p, q, rtol=1e-5, atol=1e-7)
               for p, q in zip(*results))
    print(f"{name:19} {results[0][0].item():.5f} equal: {same}")
print("counted:", count_loss_tokens(y))
# --8<-- [end:proof]

# --8<-- [start:quiz]
V, H = 128256, 4096  # Llama 3 8B, as above
T, per_logit = 8192, 14  # 1. batch size 1, backward peak
print("1.", f"{T * V * per_logit / 1e9:.2f} GB")
sequences = 8  # 2. one generation step, logits_to_keep=1, bf16
print("2.", f"{sequences * 1 * V * 2 / 1e6:.2f} MB")
chunk = 1024  # 3. float32 logits of one chunk of tokens
print("3.", f"{chunk * V * 4 / 1e9:.2f} GB")
N = 32_768  # 4. bf16 gradients of hidden and of the lm_head weight
floor = (N * H + V * H) * 2
print("4.", f"{floor / 2**30:.2f} GiB")
# --8<-- [end:quiz]
