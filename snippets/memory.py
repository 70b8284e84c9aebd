# Code of the page "The memory of the loss" (docs/*/memory.md).
# --8<-- [start:measure]
import weakref

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from transformers.loss.loss_utils import ForCausalLMLoss


def storages(tree):
    return [t.untyped_storage() for t in tree_leaves(tree)
            if isinstance(t, torch.Tensor)]


class LiveBytes(TorchDispatchMode):
    """Bytes of the tensors torch creates while it is on, until freed."""

    def __init__(self):
        super().__init__()
        self.live = self.peak = 0

    def __torch_dispatch__(self, op, types, args=(), kwargs=None):
        result = op(*args, **(kwargs or {}))
        given = {s.data_ptr() for s in storages((args, kwargs))}
        for storage in storages(result):
            if storage.data_ptr() not in given:  # new, not a view
                self.live += storage.nbytes()
                weakref.finalize(storage, self.free, storage.nbytes())
        self.peak = max(self.peak, self.live)
        return result

    def free(self, nbytes):
        self.live -= nbytes


n, h, v = 2048, 64, 4000  # 8,192,000 logits: small enough for a page
torch.manual_seed(0)
hidden = torch.randn(1, n, h, dtype=torch.bfloat16, requires_grad=True)
weight = (torch.randn(v, h) / h**0.5).bfloat16().requires_grad_()
labels = torch.randint(0, v, (1, n))
rows = {}


def stage(name, run):
    counter.peak = counter.live  # this stage's peak, counted from here
    result = run()
    rows[name] = counter.peak / (n * v), counter.live / (n * v)
    return result


with LiveBytes() as counter:  # counts what is made above the inputs
    logits = stage("lm_head", lambda: F.linear(hidden, weight))
    loss = stage("loss", lambda: ForCausalLMLoss(logits, labels, v))
    stage("backward, logits kept", loss.backward)
    del logits, loss
    hidden.grad = weight.grad = None
    # as the Trainer does: keep the loss, drop the model's outputs
    loss = ForCausalLMLoss(F.linear(hidden, weight), labels, v)
    stage("backward, logits freed", loss.backward)
print("bytes per logit          peak  alive after")
for name, (peak, alive) in rows.items():
    print(f"{name:22}{peak:6.1f}{alive:13.1f}")
gradients = (n * h + v * h) * 2  # bf16 gradients of hidden and weight
print(f"gradients of hidden and weight: {gradients / (n * v):.1f}")
print(f"bytes per number: bf16 {torch.bfloat16.itemsize}, "
      f"float32 {torch.float32.itemsize}")
# --8<-- [end:measure]

# --8<-- [start:arithmetic]
H, V = 4096, 128256  # Llama 3 8B: hidden size, vocabulary
B, T = 8, 4096
N = B * T  # tokens in the batch
print(f"N = {N:,} tokens, N * V = {N * V:,} logits")
print("stage                   peak GiB")
for name, (peak, _) in rows.items():
    per_logit = round(peak)  # the part that grows with N * V
    print(f"{name:22}{per_logit:3} B{N * V * per_logit / 2**30:8.2f}")
print(f"hidden states {N * H * 2 / 2**30:.2f} GiB, "
      f"lm_head weight {V * H * 2 / 2**30:.2f} GiB (bf16)")
# --8<-- [end:arithmetic]

# --8<-- [start:upcast]
import math

zeros = torch.zeros(128256)  # equal logits, one per vocabulary entry
for dtype in (torch.bfloat16, torch.float32):
    eps = torch.finfo(dtype).eps  # from 1 to the next number up
    first = F.log_softmax(zeros.to(dtype), dim=-1)[0]  # it is -log(128256)
    print(f"{dtype} has {1 - math.log2(eps):.0f} significant bits; "
          f"log-probability {first:.4f}")
same = torch.full((65536, 1), -12.4375, dtype=torch.bfloat16)
mean = F.nll_loss(same, torch.zeros(65536, dtype=torch.long))
print(f"mean of 65536 losses of 12.4375, in bf16: {mean.item()}")
scores = (2 * torch.randn(512, 32000)).bfloat16()  # bf16 logits
targets = torch.randint(0, 32000, (512,))
exact = scores.double().requires_grad_()  # the float64 reference
reference = F.cross_entropy(exact, targets)
reference.backward()


def error(grad):  # relative to the float64 gradient
    return (grad.double() - exact.grad).norm() / exact.grad.norm()


for name, upcast in (("in bf16", False), ("upcast", True)):
    x = scores.clone().requires_grad_()
    loss = F.cross_entropy(x.float() if upcast else x, targets)
    loss.backward()  # x.grad is bf16 either way, like the logits
    print(f"{name:8} loss {loss.item():.6f} ({loss.dtype}), "
          f"gradient error {error(x.grad):.1e}")
print(f"float64  loss {reference.item():.6f}; rounded to bf16: "
      f"{reference.bfloat16().item():.6f}, "
      f"gradient error {error(exact.grad.bfloat16()):.1e}")
# --8<-- [end:upcast]

# --8<-- [start:upcast_cost]
from lmloss import causal_lm_loss

logits = torch.randn(1, n, v).bfloat16()  # the size measured above
ways = {
    "ForCausalLMLoss (.float())": ForCausalLMLoss,
    "causal_lm_loss (dtype=)": lambda x, y, _: causal_lm_loss(x, y),
}
for name, loss_of in ways.items():
    with LiveBytes() as counter:
        loss = loss_of(logits, labels, v)
    print(f"{name:27} peak {counter.peak / (n * v):.1f} B/logit")
# --8<-- [end:upcast_cost]

# --8<-- [start:logits_to_keep]
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.modeling_utils import slice_logits_to_keep

from lmloss import shift_labels

states = torch.zeros(2, 4096, 8)  # (B, T, H) before the lm_head
for keep in (0, 1):
    kept = slice_logits_to_keep(states, keep)
    print(f"logits_to_keep={keep}: lm_head sees {tuple(kept.shape)}")
config = LlamaConfig(vocab_size=128, hidden_size=32, num_hidden_layers=1,
                     intermediate_size=64, num_attention_heads=2,
                     num_key_value_heads=2)  # random weights, offline
model = LlamaForCausalLM(config)
ids = torch.randint(0, 128, (2, 11))
sft = ids.clone()
sft[0, :6] = sft[1, :5] = -100  # the prompts
shifted = shift_labels(sft)
counted = shifted != -100  # the positions the loss counts
full = model(ids, labels=sft)
only = model(ids, labels=sft, shift_labels=shifted[counted],
             logits_to_keep=counted)
print(f"all positions:   logits {tuple(full.logits.shape)}, "
      f"loss {full.loss.item():.6f}")
print(f"counted (mask):  logits {tuple(only.logits.shape)}, "
      f"loss {only.loss.item():.6f}")
# --8<-- [end:logits_to_keep]

# --8<-- [start:chunked]
from lmloss import linear_causal_lm_loss
from lmloss.linear_loss import MAX_HALF_CHUNKS

print(f"bf16: at most {MAX_HALF_CHUNKS} chunks of tokens")

hidden.grad = weight.grad = None
full = ForCausalLMLoss(F.linear(hidden, weight), labels, v)
full.backward()
expected = hidden.grad, weight.grad
hidden.grad = weight.grad = None
with LiveBytes() as counter:
    ours = linear_causal_lm_loss(hidden, weight, labels)
    ours.backward()
print(f"loss {full.item():.4f} (full logits), {ours.item():.4f} (chunked)")
print(f"peak {counter.peak / (n * v):.1f} B/logit, "
      f"{counter.peak / gradients:.1f} x the gradients")
for a, b in zip((hidden.grad, weight.grad), expected):
    error = ((a - b).float().norm() / b.float().norm()).item()
    print(f"gradient {tuple(a.shape)}: relative error < 2**-7: "
          f"{error < 2**-7}")
# --8<-- [end:chunked]

# --8<-- [start:frozen_head]
weight.requires_grad_(False)  # a frozen lm_head, as with LoRA
hidden.grad = weight.grad = None
with LiveBytes() as counter:
    linear_causal_lm_loss(hidden, weight, labels).backward()
print(f"weight.grad: {weight.grad}")
print(f"peak {counter.peak / 2**10:.0f} KiB, "
      f"hidden's gradient {hidden.grad.nbytes / 2**10:.0f} KiB")
weight.requires_grad_(True)
# --8<-- [end:frozen_head]

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
            print(f"{dtype} ran; {len(caught)} warnings so far")
        except RuntimeError as error:
            print(f"{dtype} RuntimeError:", str(error).split(",")[0])
print(str(caught[0].message).split(";")[0])
# --8<-- [end:fallback]

# --8<-- [start:trl_tiles]
from trl.kernels import chunked_logprob
from trl.trainer import utils as trl_utils

print(f"tokens per tile: {chunked_logprob.TOKEN_CHUNK_SIZE}")
size = trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE
print(f"vocabulary entries per tile: {size}")
# --8<-- [end:trl_tiles]

# --8<-- [start:proof]
from lmloss import count_loss_tokens

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
print(f"counted: {count_loss_tokens(y)}")
# --8<-- [end:proof]

# --8<-- [start:quiz]
V, H = 128256, 4096  # Llama 3 8B, as above
T, per_logit = 8192, 12  # 1. batch size 1, backward peak
print("1.", f"{T * V * per_logit / 2**30:.2f} GiB")
sequences = 8  # 2. one generation step, logits_to_keep=1, bf16
print("2.", f"{sequences * 1 * V * 2 / 2**20:.2f} MiB")
chunk = 1024  # 3. float32 logits of one chunk of tokens
print("3.", f"{chunk * V * 4 / 2**30:.2f} GiB")
N = 32_768  # 4. bf16 gradients of hidden and of the lm_head weight
print(f"4. {(N * H + V * H) * 2 / 2**30:.2f} GiB, "
      f"hidden alone {N * H * 2 / 2**30:.2f} GiB")
# --8<-- [end:quiz]
