# Code of the page "The loss, line by line" (docs/*/loss.md); each section is shown on the page.
# --8<-- [start:next_token]
import torch
import torch.nn.functional as F

from lmloss import shift_labels

IGNORE_INDEX = -100
tokens = ["I", "love", "beautiful", "flower", ".", "<eos>"]
input_ids = torch.tensor([[40, 1842, 4950, 15607, 13, 2]])
labels = input_ids.clone()  # pretraining: the labels are the inputs
shifted = shift_labels(labels)  # F.pad(labels, (0, 1), value=-100)[..., 1:]
for t, target in enumerate(shifted[0].tolist()):
    seen = " ".join(tokens[: t + 1])
    wanted = tokens[t + 1] if target != IGNORE_INDEX else "(ignored)"
    print(f"logits[{t}] has seen {seen!r:34} label {target:6} {wanted}")
# --8<-- [end:next_token]

# --8<-- [start:by_hand]
torch.manual_seed(0)
V = 16_000  # the vocabulary size; token ids must be < V
logits = torch.randn(1, 6, V)  # random "model output", shape (B, T, V)
log_probs = logits.log_softmax(dim=-1)
nll = [
    -log_probs[0, t, y].item()  # −log p(label at t | tokens 0..t)
    for t, y in enumerate(shifted[0].tolist())
    if y != IGNORE_INDEX
]
print(f"per position: {[round(x, 4) for x in nll]}")
print(f"counted: {len(nll)}, positions: {shifted.shape[-1]}")
print(f"mean by hand   : {sum(nll) / len(nll):.4f}")
library = F.cross_entropy(logits.view(-1, V), shifted.view(-1))
print("V =", V)
print(f"F.cross_entropy: {library.item():.4f}")
# --8<-- [end:by_hand]

# --8<-- [start:source]
import inspect

import transformers
from transformers.loss import loss_utils

print("transformers", transformers.__version__)
print(inspect.getsource(loss_utils.fixed_cross_entropy))
print(inspect.getsource(loss_utils.ForCausalLMLoss), end="")
# --8<-- [end:source]

# --8<-- [start:upcast]
import math

# bfloat16 keeps 8 significant bits: near 10, the steps are 1/16 wide.
ten = torch.tensor(10.0, dtype=torch.bfloat16)
eps = torch.finfo(torch.bfloat16).eps  # the step after 1.0: 2 ** -7
print(f"significant bits: {1 - int(math.log2(eps))}")
after_ten = torch.nextafter(ten, ten + 1).item()
print(f"next bf16 number after 10: {after_ten}")
print(ten + 0.03)

torch.manual_seed(0)
# what a bf16 model outputs
bf16_logits = (torch.randn(512, 32_000) * 4).bfloat16()
targets = torch.randint(0, 32_000, (512,))


def losses(logits):
    return F.cross_entropy(logits, targets, reduction="none")


exact = losses(bf16_logits.double())
in_bf16 = losses(bf16_logits)
upcast = losses(bf16_logits.float())  # what ForCausalLMLoss does
print(f"dtype of the loss on bf16 logits: {in_bf16.dtype}")
error_bf16 = (in_bf16.double() - exact).abs().max()
error_fp32 = (upcast.double() - exact).abs().max()
print(f"largest error, computed in bf16 : {error_bf16:.6f}")
print(f"largest error, upcast to float32: {error_fp32:.6f}")
# --8<-- [end:upcast]

# --8<-- [start:pad_slice]
# Row 1: the sentence above. Row 2: an SFT example, its prompt masked
# and right padding.
batch = torch.tensor([
    [40, 1842, 4950, 15607, 13, 2],
    [IGNORE_INDEX, IGNORE_INDEX, 318, 257, 2, IGNORE_INDEX],
])
# one -100 at the end of every row
padded = F.pad(batch, (0, 1), value=IGNORE_INDEX)
print(padded)
sliced = padded[..., 1:]  # drop position 0: it is nobody's target
print(sliced)
# --8<-- [end:pad_slice]

# --8<-- [start:contiguous]
one_row = F.pad(labels, (0, 1), value=IGNORE_INDEX)[..., 1:]
print(f"batch of 1: {one_row.is_contiguous()} {one_row.stride()}")
print(f"batch of 2: {sliced.is_contiguous()} {sliced.stride()}")
try:
    sliced.view(-1)
except RuntimeError as error:
    print("RuntimeError:", error)
print(sliced.contiguous().view(-1))
# --8<-- [end:contiguous]

# --8<-- [start:flatten]
B, T = batch.shape
batch_logits = torch.randn(B, T, V)
flat_logits = batch_logits.view(-1, V)  # (B·T, V)
flat_labels = sliced.contiguous().view(-1)  # (B·T,)
print(flat_logits.shape, flat_labels.shape)
same = flat_logits.data_ptr() == batch_logits.data_ptr()
print(f"same memory as the logits: {same}")
# --8<-- [end:flatten]

# --8<-- [start:reduction]
from transformers.loss.loss_utils import ForCausalLMLoss

mean = F.cross_entropy(flat_logits, flat_labels)
total = F.cross_entropy(flat_logits, flat_labels, reduction="sum")
n = (flat_labels != IGNORE_INDEX).sum()
per_row = (batch[..., 1:] != IGNORE_INDEX).sum(1).tolist()
print(f"targets per row: {per_row}")
print(f"counted: {n.item()}, mean: {mean.item():.6f}; "
      f"sum / counted: {(total / n).item():.6f}")

# Gradient accumulation: one row per micro-batch (5 and 3 targets).
micro = [(batch_logits[i : i + 1], batch[i : i + 1]) for i in range(2)]
means = [ForCausalLMLoss(x, y, vocab_size=V) for x, y in micro]
print(f"mean of the two row means       : {(sum(means) / 2).item():.6f}")
summed = sum(
    ForCausalLMLoss(x, y, vocab_size=V, num_items_in_batch=n)
    for x, y in micro
)
print(f"sum of rows / num_items_in_batch: {summed.item():.6f}")
# --8<-- [end:reduction]

# --8<-- [start:ignore_index]
default = inspect.signature(F.cross_entropy).parameters["ignore_index"]
print(f"F.cross_entropy's default: {default.default}")
kept = flat_labels != IGNORE_INDEX  # leave the ignored positions out
print(f"{F.cross_entropy(flat_logits[kept], flat_labels[kept]).item():.6f}")
# --8<-- [end:ignore_index]

# --8<-- [start:history]
def loss_4_48(logits, labels, vocab_size):
    """transformers 4.46 to 4.48.3: slice the logits, not the labels."""
    logits = logits.float()
    shift_logits = logits[..., :-1, :].contiguous()
    shift_labels = labels[..., 1:].contiguous()
    return F.cross_entropy(
        shift_logits.view(-1, vocab_size), shift_labels.view(-1)
    )


print(f"4.48: {loss_4_48(batch_logits, batch, V).item():.6f}")
new = ForCausalLMLoss(batch_logits, batch, vocab_size=V)
print(f"5.24: {new.item():.6f}")
sliced_logits = batch_logits[..., :-1, :].contiguous()
copied = sliced_logits.data_ptr() != batch_logits.data_ptr()
print(f"4.48 copies the logits: {copied} {sliced_logits.nbytes:,} bytes")
viewed = batch_logits.float().view(-1, V).data_ptr()
views = viewed == batch_logits.data_ptr()
print(f"5.24 views float32 logits: {views}")


# in GB, and in GiB as the memory page gives sizes
def size(n_bytes):
    return f"{n_bytes / 1e9:.2f} GB = {n_bytes / 2**30:.2f} GiB"


B, T, V_LLAMA3 = 8, 4096, 128_256
print(f"B = {B}, T = {T}, V = {V_LLAMA3:,}")
print(f"bf16 logits         : {size(B * T * V_LLAMA3 * 2)}")
print(f"float32 upcast      : {size(B * T * V_LLAMA3 * 4)}")
print(f"4.48's sliced copy  : {size(B * (T - 1) * V_LLAMA3 * 4)}")
print(f"5.24's padded labels: {B * (T + 1) * 8 / 1e3:.1f} kB")

# What the Trainer counts as num_items_in_batch for this batch:
print("labels != -100         :", (batch != IGNORE_INDEX).sum().item())
print("labels[..., 1:] != -100:",
      (batch[..., 1:] != IGNORE_INDEX).sum().item())
# --8<-- [end:history]

# --8<-- [start:double_shift]
from lmloss import causal_lm_loss, count_loss_tokens

# A model that has learned the data: a high score for the next token.
good_logits = F.one_hot(shift_labels(batch).clamp(min=0), V).float() * 20


def loss(labels, **kwargs):
    return ForCausalLMLoss(good_logits, labels, vocab_size=V, **kwargs)


print(f"right: {loss(batch).item():.4f}")
# shifted in the data pipeline, then shifted again by the loss
shifted_twice = shift_labels(batch)
print(f"wrong: {loss(shifted_twice).item():.4f}")
print(f"targets: {count_loss_tokens(shifted_twice)} "
      f"instead of {count_loss_tokens(batch)}")
# Fix: pass labels shifted in advance as shift_labels; they stay as is.
print(f"fixed: {loss(None, shift_labels=shifted_twice).item():.4f}")
# --8<-- [end:double_shift]

# --8<-- [start:all_ignored]
prompt_only = torch.tensor([[318] + [IGNORE_INDEX] * 5])
row = batch_logits[:1]
print(ForCausalLMLoss(row, prompt_only, vocab_size=V))  # nothing left
# Another micro-batch of the step has 8 targets:
print(ForCausalLMLoss(row, prompt_only, vocab_size=V,
                      num_items_in_batch=torch.tensor(8)))
# No micro-batch of the step has one:
print(ForCausalLMLoss(row, prompt_only, vocab_size=V,
                      num_items_in_batch=torch.tensor(0)))
print(causal_lm_loss(row, prompt_only))
# --8<-- [end:all_ignored]

# --8<-- [start:int32]
try:
    ForCausalLMLoss(batch_logits, batch.int(), vocab_size=V)
except RuntimeError as error:
    print("RuntimeError:", error)
as_long = ForCausalLMLoss(batch_logits, batch.int().long(), vocab_size=V)
print(f"{as_long.item():.6f}")
print(f"{causal_lm_loss(batch_logits, batch.int()).item():.6f}")
# --8<-- [end:int32]

# --8<-- [start:out_of_range]
broken = batch.clone()
broken[0, 3] = V  # one past the last token id
try:
    ForCausalLMLoss(batch_logits, broken, vocab_size=V)
except IndexError as error:
    print("IndexError:", error)
try:
    causal_lm_loss(batch_logits, broken)
except ValueError as error:
    print("ValueError:", error)
# --8<-- [end:out_of_range]

# --8<-- [start:noncontiguous]
# a collator that forgot .contiguous()
from_collator = F.pad(batch, (0, 1), value=IGNORE_INDEX)[..., 1:]


def loss_of(shifted):
    return ForCausalLMLoss(batch_logits, None, vocab_size=V,
                           shift_labels=shifted)


try:
    loss_of(from_collator)
except RuntimeError as error:
    print("RuntimeError:", error)
print(f"{loss_of(from_collator.contiguous()).item():.6f}")
ours = causal_lm_loss(batch_logits, None, shift_labels=from_collator)
print(f"{ours.item():.6f}")
# --8<-- [end:noncontiguous]

# --8<-- [start:proof]
from transformers import LlamaConfig, LlamaForCausalLM

torch.manual_seed(0)
config = LlamaConfig(
    vocab_size=128, hidden_size=64, intermediate_size=128,
    num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
)
# random weights, nothing downloaded
model = LlamaForCausalLM(config).eval()
ids = torch.randint(0, 128, (2, 10))
tiny_labels = ids.clone()
tiny_labels[0, :4] = IGNORE_INDEX  # a masked prompt
tiny_labels[1, 7:] = IGNORE_INDEX  # right padding
with torch.no_grad():
    out = model(input_ids=ids, labels=tiny_labels)
theirs = ForCausalLMLoss(out.logits, tiny_labels, vocab_size=128)
ours = causal_lm_loss(out.logits, tiny_labels)
print(f"vocab {config.vocab_size}, hidden {config.hidden_size}, "
      f"layers {config.num_hidden_layers}")
print(f"model(...).loss : {out.loss.item():.8f}")
print(f"ForCausalLMLoss : {theirs.item():.8f}")
print(f"causal_lm_loss  : {ours.item():.8f}")
# --8<-- [end:proof]

# --8<-- [start:model_shift_labels]
pre_shifted = shift_labels(tiny_labels)  # shifted by the collator
with torch.no_grad():
    alone = model(input_ids=ids, shift_labels=pre_shifted)
    both = model(input_ids=ids, labels=ids, shift_labels=pre_shifted)
print(f"shift_labels only     : {alone.loss}")
print(f"labels + shift_labels: {both.loss.item():.8f}")
# --8<-- [end:model_shift_labels]

# --8<-- [start:exercises]
# 1. A prompt (masked), a three-token answer, one pad token.
ex_labels = torch.tensor([[-100, -100, 7, 8, 9, -100]])
ex_shifted = F.pad(ex_labels, (0, 1), value=-100)[..., 1:]
print("1.", ex_shifted.tolist())
print(f"   counted: {(ex_shifted != -100).sum().item()} "
      f"| label 7 at t = {ex_shifted[0].tolist().index(7)}")
# 2. Two micro-batches: 6 targets at 2.0 each, 2 targets at 6.0 each.
per_token = [torch.full((6,), 2.0), torch.full((2,), 6.0)]
total = sum(x.sum() for x in per_token)
count = sum(len(x) for x in per_token)
mean_of_means = sum(x.mean() for x in per_token) / 2
print(f"2. losses: {[x.tolist() for x in per_token]}")
print(f"   sum {total:.1f} / {count} targets = {total / count:.1f}")
print(f"   mean of means: {mean_of_means:.1f}")
# 3. V = 151,936, B = 4, T = 2048, bf16 logits.
B, T, V_BIG = 4, 2048, 151_936
print(f"3. B, T, V = {B}, {T}, {V_BIG:,}")
print(f"   bf16: {B * T * V_BIG * 2 / 1e9:.2f} GB, "
      f"float32 copy: {B * T * V_BIG * 4 / 1e9:.2f} GB")
# 4. Two pretraining rows of 6 tokens, no -100 anywhere.
rows = torch.ones(2, 6, dtype=torch.long)
print(f"4. 4.46.2 to 5.9.0: {(rows != -100).sum().item()} "
      f"| 5.10.1 on: {(rows[..., 1:] != -100).sum().item()}")
# --8<-- [end:exercises]
