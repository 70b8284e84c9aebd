# Code of the page "Label masking in SFT" (docs/*/sft.md); each section is shown on the page.
# --8<-- [start:single_turn]
import torch

from lmloss import shift_labels
from lmloss.sft import labels_from_mask

IGNORE_INDEX = -100
VOCAB = {"<eos>": 2, "User:": 10, "What": 11, "is": 12, "2+2": 13, "?": 14,
         "Assistant:": 15, "It": 16, "4": 17, ".": 18}
prompt = ["User:", "What", "is", "2+2", "?", "Assistant:"]
response = ["It", "is", "4", ".", "<eos>"]  # the EOS token belongs to the response
tokens = prompt + response
input_ids = torch.tensor([VOCAB[token] for token in tokens])
loss_mask = [0] * len(prompt) + [1] * len(response)  # 1: the model must learn this token
labels = labels_from_mask(input_ids, loss_mask)
print("tokens   ", tokens)
print("input_ids", input_ids.tolist())
print("labels   ", labels.tolist())
print("shifted  ", shift_labels(labels).tolist())
# --8<-- [end:single_turn]

# --8<-- [start:which_count]
for t, target in enumerate(shift_labels(labels).tolist()):
    if target != IGNORE_INDEX:
        print(f"logits[{t:2}] after {tokens[t]!r:12} is scored on {tokens[t + 1]!r}")
print("counted:", int((shift_labels(labels) != IGNORE_INDEX).sum()), "of", len(tokens))
# --8<-- [end:which_count]

# --8<-- [start:collate]
from lmloss.sft import collate

short = ["User:", "2+2", "?", "Assistant:", "4", "<eos>"]
short_ids = [VOCAB[t] for t in short]
examples = [  # lists of ints, as a tokenized dataset holds them
    {"input_ids": input_ids.tolist(), "labels": labels.tolist()},
    {"input_ids": short_ids, "labels": labels_from_mask(short_ids, [0, 0, 0, 0, 1, 1]).tolist()},
]
batch = collate(examples, pad_token_id=VOCAB["<eos>"])  # the padding token is the EOS token
for name, tensor in batch.items():
    print(f"{name} {tuple(tensor.shape)}\n{tensor}")
# --8<-- [end:collate]

# --8<-- [start:eos_trap]
eos = VOCAB["<eos>"]
wrong = batch["input_ids"].clone()
wrong[wrong == eos] = IGNORE_INDEX  # "mask every pad id": the real EOS goes too
wrong[batch["labels"] == IGNORE_INDEX] = IGNORE_INDEX  # the prompt, as before
print("masked by id      :", wrong[1].tolist())
print("masked by position:", batch["labels"][1].tolist())
for name, rows in [("by id", wrong), ("by position", batch["labels"])]:
    print(f"EOS labels left {name}: {int((rows == eos).sum())}")
# --8<-- [end:eos_trap]

# --8<-- [start:hf_collator]
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import DataCollatorForLanguageModeling, PreTrainedTokenizerFast

# A word-level tokenizer over the toy vocabulary, built offline; pad = EOS, as is common.
word_level = Tokenizer(models.WordLevel({**VOCAB, "<unk>": 0}, unk_token="<unk>"))
word_level.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
toy = PreTrainedTokenizerFast(tokenizer_object=word_level, eos_token="<eos>", pad_token="<eos>")
hf = DataCollatorForLanguageModeling(toy, mlm=False)
hf_batch = hf([{"input_ids": e["input_ids"]} for e in examples])  # labels = input_ids
print(hf_batch["labels"])
print("EOS labels left:", int((hf_batch["labels"] == eos).sum()))
# --8<-- [end:hf_collator]

# --8<-- [start:chat_tokenizer]
from tokenizers import trainers

TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}<|user|> {{ m['content'] }} <|end|> "
    "{% else %}<|assistant|> {% generation %}{{ m['content'] }} <|end|>{% endgeneration %} "
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|> {% endif %}"
)
chat = [
    {"role": "user", "content": "What is two plus two?"},
    {"role": "assistant", "content": "Two plus two is four."},
    {"role": "user", "content": "Thanks!"},
    {"role": "assistant", "content": "You are welcome."},
]
bpe = Tokenizer(models.BPE(unk_token="<unk>"))
bpe.pre_tokenizer = pre_tokenizers.Whitespace()
bpe.train_from_iterator(
    [m["content"] for m in chat],
    trainers.BpeTrainer(vocab_size=64, show_progress=False,
                        special_tokens=["<unk>", "<pad>", "<|user|>", "<|assistant|>", "<|end|>"]),
)
tokenizer = PreTrainedTokenizerFast(
    tokenizer_object=bpe, chat_template=TEMPLATE,
    unk_token="<unk>", pad_token="<pad>", eos_token="<|end|>",
)
print(tokenizer.apply_chat_template(chat, tokenize=False))
# --8<-- [end:chat_tokenizer]

# --8<-- [start:chat_mask]
encoded = tokenizer.apply_chat_template(
    chat, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
)
chat_ids, assistant_masks = encoded["input_ids"], encoded["assistant_masks"]
chat_labels = labels_from_mask(chat_ids, assistant_masks)
print(len(chat_ids), "tokens,", sum(assistant_masks), "in the assistant turns")
pieces = tokenizer.convert_ids_to_tokens(chat_ids)
trained = [p if y != IGNORE_INDEX else "·" for p, y in zip(pieces, chat_labels.tolist())]
print(" ".join(trained))
# --8<-- [end:chat_mask]

# --8<-- [start:trl_config]
import dataclasses

from trl import SFTConfig

defaults = {field.name: field.default for field in dataclasses.fields(SFTConfig)}
for name in ["completion_only_loss", "assistant_only_loss", "padding_free", "packing",
             "packing_strategy"]:
    print(f"{name:20} = {defaults[name]!r}")
# --8<-- [end:trl_config]

# --8<-- [start:trl_removed]
try:
    from trl import DataCollatorForCompletionOnlyLM
except ImportError as error:
    print(f"ImportError: {str(error).split(' (')[0]}")
# --8<-- [end:trl_removed]

# --8<-- [start:trl_collator]
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling as TRLCollator

trl_batch = TRLCollator(pad_token_id=eos)(examples)
print(trl_batch["labels"])
print("same as lmloss.sft.collate:",
      all(torch.equal(trl_batch[k], batch[k]) for k in ("input_ids", "attention_mask", "labels")))
# --8<-- [end:trl_collator]

# --8<-- [start:pack]
from transformers import DataCollatorWithFlattening

from lmloss.sft import pack

torch.manual_seed(0)
docs = [torch.randint(3, 128, (n,)).tolist() for n in (5, 3, 7)]  # three documents
packed = pack([{"input_ids": d, "labels": d} for d in docs])
for name, tensor in packed.items():
    print(f"{name:12} {tuple(tensor.shape)} {tensor[0].tolist()}")
flat = DataCollatorWithFlattening(return_position_ids=True, separator_id=IGNORE_INDEX)(
    [{"input_ids": d, "labels": d} for d in docs], return_tensors="pt"
)
print("same as DataCollatorWithFlattening:", all(torch.equal(flat[k], packed[k]) for k in packed))
# --8<-- [end:pack]

# --8<-- [start:tiny_model]
from transformers import LlamaConfig, LlamaForCausalLM

torch.manual_seed(0)
config = LlamaConfig(
    vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
    num_attention_heads=4, num_key_value_heads=4, attn_implementation="sdpa",
)
model = LlamaForCausalLM(config).eval()  # random weights, no download
print(sum(p.numel() for p in model.parameters()), "parameters")
# --8<-- [end:tiny_model]

# --8<-- [start:packed_loss]
with torch.no_grad():
    separate = [model(torch.tensor([d]), labels=torch.tensor([d])).loss for d in docs]
    targets = [len(d) - 1 for d in docs]  # each document's first token is not a target
    mean_separate = sum(loss * n for loss, n in zip(separate, targets)) / sum(targets)
    ids, positions = packed["input_ids"], packed["position_ids"]
    runs = {
        "packed": dict(position_ids=positions, labels=packed["labels"]),
        "no boundary masking": dict(position_ids=positions, labels=ids),
        "no position_ids": dict(labels=packed["labels"]),
    }
    print(f"{'separate sequences':20} {mean_separate:.5f}")
    for name, kwargs in runs.items():
        loss = model(input_ids=ids, use_cache=False, **kwargs).loss
        print(f"{name:20} {loss:.5f}  equal: {torch.allclose(loss, mean_separate, atol=1e-5)}")
# --8<-- [end:packed_loss]

# --8<-- [start:use_cache]
with torch.no_grad():
    for use_cache in (False, True):
        loss = model(input_ids=ids, position_ids=positions, labels=packed["labels"],
                     use_cache=use_cache).loss
        print(f"use_cache={use_cache!s:5}: {loss:.5f}  equal: "
              f"{torch.allclose(loss, mean_separate, atol=1e-5)}")
# --8<-- [end:use_cache]

# --8<-- [start:grad_accum]
from lmloss import count_loss_tokens

torch.manual_seed(1)
rows = []
for prompt_len, response_len in [(3, 6), (0, 3), (2, 7)]:  # the 2nd row: plain text, no prompt
    row = torch.randint(3, 128, (prompt_len + response_len,))
    mask = [0] * prompt_len + [1] * response_len
    rows.append({"input_ids": row, "labels": labels_from_mask(row, mask)})
micro_batches = [collate([row], pad_token_id=0) for row in rows]  # one row each
num_items_in_batch = sum(count_loss_tokens(mb["labels"]) for mb in micro_batches)
print("targets per micro-batch:", [count_loss_tokens(mb["labels"]) for mb in micro_batches],
      "total:", num_items_in_batch)
with torch.no_grad():
    full = model(**collate(rows, pad_token_id=0), use_cache=False).loss
    accumulated = sum(model(**mb, use_cache=False, num_items_in_batch=num_items_in_batch).loss
                      for mb in micro_batches)
    naive = sum(model(**mb, use_cache=False).loss for mb in micro_batches) / len(micro_batches)
print(f"full batch              {full:.5f}")
print(f"with num_items_in_batch {accumulated:.5f}  equal: {torch.allclose(full, accumulated)}")
print(f"mean of means (naive)   {naive:.5f}  equal: {torch.allclose(full, naive)}")
# --8<-- [end:grad_accum]

# --8<-- [start:count_items]
wrong_count = sum(int((mb["labels"] != IGNORE_INDEX).sum()) for mb in micro_batches)
with torch.no_grad():
    miscounted = sum(model(**mb, use_cache=False, num_items_in_batch=wrong_count).loss
                     for mb in micro_batches)
print("labels != -100:", wrong_count, " shifted labels != -100:", num_items_in_batch)
print(f"loss with the wrong count {miscounted:.5f} instead of {full:.5f}")
# --8<-- [end:count_items]
