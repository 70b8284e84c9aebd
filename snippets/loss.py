# Code of the page "The loss, line by line" (docs/*/loss.md); each section is shown on the page.
# --8<-- [start:next_token]
import torch
import torch.nn.functional as F

from lmloss import shift_labels

IGNORE_INDEX = -100
tokens = ["I", "love", "beautiful", "flower", ".", "<eos>"]
input_ids = torch.tensor([[40, 1842, 4950, 15607, 13, 2]])
labels = input_ids.clone()  # pretraining: the labels are the inputs themselves
shifted = shift_labels(labels)  # F.pad(labels, (0, 1), value=-100)[..., 1:]
for t, target in enumerate(shifted[0].tolist()):
    seen = " ".join(tokens[: t + 1])
    wanted = tokens[t + 1] if target != IGNORE_INDEX else "(ignored)"
    print(f"logits[{t}] has seen {seen!r:34} -> label {target:6} {wanted}")
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
print("per position:", [round(x, 4) for x in nll])
print(f"mean by hand   : {sum(nll) / len(nll):.4f}")
print(f"F.cross_entropy: {F.cross_entropy(logits.view(-1, V), shifted.view(-1)).item():.4f}")
# --8<-- [end:by_hand]

# --8<-- [start:source]
import inspect

from transformers.loss import loss_utils

print(inspect.getsource(loss_utils.fixed_cross_entropy))
print(inspect.getsource(loss_utils.ForCausalLMLoss), end="")
# --8<-- [end:source]

# --8<-- [start:upcast]
# bfloat16 keeps 8 significant bits: near 10, the steps are 1/16 wide.
ten = torch.tensor(10.0, dtype=torch.bfloat16)
print("next bf16 number after 10:", torch.nextafter(ten, ten + 1).item())
print(ten + 0.03)

torch.manual_seed(0)
bf16_logits = (torch.randn(512, 32_000) * 4).bfloat16()  # what a bf16 model outputs
targets = torch.randint(0, 32_000, (512,))
exact = F.cross_entropy(bf16_logits.double(), targets, reduction="none")
in_bf16 = F.cross_entropy(bf16_logits, targets, reduction="none")
upcast = F.cross_entropy(bf16_logits.float(), targets, reduction="none")  # ForCausalLMLoss
print("dtype of the loss on bf16 logits:", in_bf16.dtype)
print(f"largest error, computed in bf16   : {(in_bf16.double() - exact).abs().max():.6f}")
print(f"largest error, upcast to float32  : {(upcast.double() - exact).abs().max():.6f}")
# --8<-- [end:upcast]

# --8<-- [start:pad_slice]
# Two rows: the seed sentence, and an SFT example whose prompt is masked, padded on the right.
batch = torch.tensor([
    [40, 1842, 4950, 15607, 13, 2],
    [IGNORE_INDEX, IGNORE_INDEX, 318, 257, 2, IGNORE_INDEX],
])
padded = F.pad(batch, (0, 1), value=IGNORE_INDEX)  # one -100 at the end of every row
print(padded)
sliced = padded[..., 1:]  # drop position 0: it is nobody's target
print(sliced)
# --8<-- [end:pad_slice]

# --8<-- [start:contiguous]
one_row = F.pad(labels, (0, 1), value=IGNORE_INDEX)[..., 1:]
print("batch of 1:", one_row.is_contiguous(), one_row.stride())
print("batch of 2:", sliced.is_contiguous(), sliced.stride())
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
print("same memory as the logits:", flat_logits.data_ptr() == batch_logits.data_ptr())
# --8<-- [end:flatten]

# --8<-- [start:reduction]
from transformers.loss.loss_utils import ForCausalLMLoss

mean = F.cross_entropy(flat_logits, flat_labels, ignore_index=IGNORE_INDEX)
total = F.cross_entropy(flat_logits, flat_labels, ignore_index=IGNORE_INDEX, reduction="sum")
n = (flat_labels != IGNORE_INDEX).sum()
print(f"counted: {n.item()}, mean: {mean.item():.6f}, sum / counted: {(total / n).item():.6f}")

# Gradient accumulation: one row per micro-batch (5 and 3 targets).
rows = [ForCausalLMLoss(batch_logits[i : i + 1], batch[i : i + 1], vocab_size=V) for i in range(2)]
print(f"mean of the two row means     : {((rows[0] + rows[1]) / 2).item():.6f}")
summed = sum(
    ForCausalLMLoss(batch_logits[i : i + 1], batch[i : i + 1], vocab_size=V, num_items_in_batch=n)
    for i in range(2)
)
print(f"sum of rows / num_items_in_batch: {summed.item():.6f}")
# --8<-- [end:reduction]

# --8<-- [start:ignore_index]
print("F.cross_entropy's default:", inspect.signature(F.cross_entropy).parameters["ignore_index"].default)
kept = flat_labels != IGNORE_INDEX  # the same as leaving the ignored positions out
print(f"{F.cross_entropy(flat_logits[kept], flat_labels[kept]).item():.6f}")
# --8<-- [end:ignore_index]

# --8<-- [start:history]
def loss_4_46(logits, labels, vocab_size):
    """transformers 4.46: slice the logits (a copy) instead of padding the labels."""
    logits = logits.float()
    shift_logits = logits[..., :-1, :].contiguous()
    shift_labels = labels[..., 1:].contiguous()
    return F.cross_entropy(shift_logits.view(-1, vocab_size), shift_labels.view(-1))


print(f"4.46: {loss_4_46(batch_logits, batch, V).item():.6f}")
print(f"5.24: {ForCausalLMLoss(batch_logits, batch, vocab_size=V).item():.6f}")
sliced_logits = batch_logits[..., :-1, :].contiguous()
print("4.46 copies the logits:", sliced_logits.data_ptr() != batch_logits.data_ptr(),
      f"{sliced_logits.nbytes:,} bytes")
print("5.24 views them:", batch_logits.float().view(-1, V).data_ptr() == batch_logits.data_ptr())

B, T, V_LLAMA3 = 8, 4096, 128_256
print(f"bf16 logits        : {B * T * V_LLAMA3 * 2 / 1e9:.2f} GB")
print(f"float32 upcast     : {B * T * V_LLAMA3 * 4 / 1e9:.2f} GB")
print(f"4.46's sliced copy : {B * (T - 1) * V_LLAMA3 * 4 / 1e9:.2f} GB")
print(f"5.24's padded labels: {B * (T + 1) * 8 / 1e3:.1f} kB")
# --8<-- [end:history]

# --8<-- [start:double_shift]
from lmloss import causal_lm_loss, count_loss_tokens

# Logits of a model that has learned the data: a high score for the right next token.
good_logits = F.one_hot(shift_labels(batch).clamp(min=0), V).float() * 20
print(f"right: {ForCausalLMLoss(good_logits, batch, vocab_size=V).item():.4f}")
shifted_twice = shift_labels(batch)  # shifted in the data pipeline, shifted again by the loss
print(f"wrong: {ForCausalLMLoss(good_logits, shifted_twice, vocab_size=V).item():.4f}")
print("targets:", count_loss_tokens(shifted_twice), "instead of", count_loss_tokens(batch))
# Fix: hand labels shifted in advance to the loss as shift_labels, so it does not shift them.
print(f"fixed: {ForCausalLMLoss(good_logits, None, vocab_size=V, shift_labels=shifted_twice).item():.4f}")
# --8<-- [end:double_shift]

# --8<-- [start:all_ignored]
prompt_only = torch.tensor([[318, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]])
print(ForCausalLMLoss(batch_logits[:1], prompt_only, vocab_size=V))  # nothing left after the shift
print(causal_lm_loss(batch_logits[:1], prompt_only))
# --8<-- [end:all_ignored]

# --8<-- [start:int32]
try:
    ForCausalLMLoss(batch_logits, batch.int(), vocab_size=V)
except RuntimeError as error:
    print("RuntimeError:", error)
print(f"{ForCausalLMLoss(batch_logits, batch.int().long(), vocab_size=V).item():.6f}")
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
from_collator = F.pad(batch, (0, 1), value=IGNORE_INDEX)[..., 1:]  # .contiguous() forgotten
try:
    ForCausalLMLoss(batch_logits, None, vocab_size=V, shift_labels=from_collator)
except RuntimeError as error:
    print("RuntimeError:", error)
fixed = ForCausalLMLoss(batch_logits, None, vocab_size=V, shift_labels=from_collator.contiguous())
print(f"{fixed.item():.6f}")
print(f"{causal_lm_loss(batch_logits, None, shift_labels=from_collator).item():.6f}")
# --8<-- [end:noncontiguous]

# --8<-- [start:proof]
from transformers import LlamaConfig, LlamaForCausalLM

torch.manual_seed(0)
config = LlamaConfig(
    vocab_size=128, hidden_size=64, intermediate_size=128,
    num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
)
model = LlamaForCausalLM(config).eval()  # random weights, nothing downloaded
ids = torch.randint(0, 128, (2, 10))
tiny_labels = ids.clone()
tiny_labels[0, :4] = IGNORE_INDEX  # a masked prompt
tiny_labels[1, 7:] = IGNORE_INDEX  # right padding
with torch.no_grad():
    out = model(input_ids=ids, labels=tiny_labels)
print(f"model(...).loss : {out.loss.item():.8f}")
print(f"ForCausalLMLoss : {ForCausalLMLoss(out.logits, tiny_labels, vocab_size=128).item():.8f}")
print(f"causal_lm_loss  : {causal_lm_loss(out.logits, tiny_labels).item():.8f}")
# --8<-- [end:proof]
