# Code of the page "Label masking in SFT" (docs/*/sft.md); each section is shown on the page.
# --8<-- [start:single_turn]
import torch

from lmloss import shift_labels
from lmloss.sft import labels_from_mask

IGNORE_INDEX = -100
VOCAB = {"<eos>": 2, "User:": 10, "What": 11, "is": 12, "2+2": 13,
         "?": 14, "Assistant:": 15, "It": 16, "4": 17, ".": 18}
prompt = ["User:", "What", "is", "2+2", "?", "Assistant:"]
response = ["It", "is", "4", ".", "<eos>"]  # EOS belongs to the response
tokens = prompt + response
input_ids = torch.tensor([VOCAB[token] for token in tokens])
# 1: the model must learn this token
loss_mask = [0] * len(prompt) + [1] * len(response)
labels = labels_from_mask(input_ids, loss_mask)
print("tokens   ", tokens)
print("input_ids", input_ids.tolist())
print("labels   ", labels.tolist())
# --8<-- [end:single_turn]

# --8<-- [start:which_count]
for t, target in enumerate(shift_labels(labels).tolist()):
    if target != IGNORE_INDEX:
        print(f"logits[{t:2}] after {tokens[t]!r:12} "
              f"is scored on {tokens[t + 1]!r}")
counted = int((shift_labels(labels) != IGNORE_INDEX).sum())
print(f"counted: {counted} of {len(tokens)}")
# --8<-- [end:which_count]

# --8<-- [start:chat_tokenizer]
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}"
    "<|user|> {{ m['content'] }} <|end|> "
    "{% else %}"
    "<|assistant|> "
    "{% generation %}"
    "{{ m['content'] }} <|end|>"
    "{% endgeneration %} "
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
SPECIALS = ["<unk>", "<pad>", "<|user|>", "<|assistant|>", "<|end|>"]
bpe = Tokenizer(models.BPE(unk_token="<unk>"))
bpe.pre_tokenizer = pre_tokenizers.Whitespace()
bpe.train_from_iterator(
    [m["content"] for m in chat],  # a tokenizer trained offline
    trainers.BpeTrainer(vocab_size=64, special_tokens=SPECIALS,
                        show_progress=False),
)
tokenizer = PreTrainedTokenizerFast(
    tokenizer_object=bpe, chat_template=TEMPLATE,
    unk_token="<unk>", pad_token="<pad>", eos_token="<|end|>",
)
print(tokenizer.apply_chat_template(chat, tokenize=False))
# --8<-- [end:chat_tokenizer]

# --8<-- [start:chat_mask]
encoded = tokenizer.apply_chat_template(
    chat, tokenize=True, return_dict=True,
    return_assistant_tokens_mask=True,
)
chat_ids, assistant_masks = encoded["input_ids"], encoded["assistant_masks"]
chat_labels = labels_from_mask(chat_ids, assistant_masks)
print(f"{len(chat_ids)} tokens, {sum(assistant_masks)} trained")
pieces = tokenizer.convert_ids_to_tokens(chat_ids)
trained = [p if y != IGNORE_INDEX else "·"
           for p, y in zip(pieces, chat_labels.tolist())]
print(" ".join(trained))
# --8<-- [end:chat_mask]

# --8<-- [start:qwen_template]
from tokenizers import decoders
from trl.chat_template_utils import (
    get_training_chat_template, has_generation_markers,
    qwen2_5_chat_template, qwen2_5_training_chat_template,
)

# A byte-level BPE with Qwen 2.5's special tokens, trained offline.
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
byte_bpe = Tokenizer(models.BPE())
byte_bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
byte_bpe.decoder = decoders.ByteLevel()
byte_bpe.train_from_iterator(
    [("system user assistant You are Qwen, created by Alibaba Cloud. "
      "You are a helpful assistant.")] + [m["content"] for m in chat],
    trainers.BpeTrainer(
        vocab_size=400, special_tokens=QWEN_SPECIALS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
)
qwen = PreTrainedTokenizerFast(
    tokenizer_object=byte_bpe, chat_template=qwen2_5_chat_template,
    eos_token="<|im_end|>", pad_token="<|endoftext|>",
)
marked = has_generation_markers(qwen.chat_template)
print(f"Qwen 2.5 template has {{% generation %}}: {marked}")
training_template = get_training_chat_template(qwen)
is_training = training_template == qwen2_5_training_chat_template
print(f"TRL's training template is qwen2_5_training.jinja: {is_training}")
qwen_chat = qwen.apply_chat_template(
    chat[:2], chat_template=training_template, tokenize=True,
    return_dict=True, return_assistant_tokens_mask=True,
)
text = [qwen.decode([i]) for i in qwen_chat["input_ids"]]
masks = qwen_chat["assistant_masks"]
print("".join(text), end="")
trained = "".join(p for p, m in zip(text, masks) if m)
print(f"trained: {trained!r}")
# --8<-- [end:qwen_template]

# --8<-- [start:trl_swap]
import logging
import tempfile

from datasets import Dataset
from transformers import LlamaConfig, LlamaForCausalLM
from trl import SFTConfig, SFTTrainer

logging.getLogger("transformers").setLevel(logging.ERROR)
# Quiet settings for one step on the CPU: nothing saved, logged or sent.
QUIET = dict(output_dir=tempfile.mkdtemp(), report_to="none",
             save_strategy="no", disable_tqdm=True, use_cpu=True,
             activation_checkpointing=False)  # TRL's default warns


def tiny_llama(vocab_size: int) -> LlamaForCausalLM:
    """A 2-layer Llama with random weights: no download."""
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(
        vocab_size=vocab_size, hidden_size=64, intermediate_size=128,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
        attn_implementation="sdpa",
    ))


def build(tok, dataset, **options):
    args = SFTConfig(**QUIET, **options)
    return SFTTrainer(model=tiny_llama(len(tok)), args=args,
                      processing_class=tok, train_dataset=dataset)


chats = Dataset.from_list([{"messages": chat[:2]}, {"messages": chat[2:]}])
trainer = build(qwen, chats, assistant_only_loss=True)
swapped = trainer.chat_template == qwen2_5_training_chat_template
print(f"swapped in: {swapped}")
toy_plain = TEMPLATE.replace("{% generation %}", "")
tokenizer.chat_template = toy_plain.replace("{% endgeneration %}", "")
try:  # a template TRL does not know, without {% generation %}
    build(tokenizer, chats, assistant_only_loss=True)
except ValueError as error:
    print("ValueError:", str(error).split(" (")[0])
tokenizer.chat_template = TEMPLATE  # back to the template above
no_reply = Dataset.from_list([{"messages": chat[:1]}])
try:  # the template is fine, but one example has no assistant turn
    build(qwen, no_reply, assistant_only_loss=True)
except RuntimeError as error:
    print("RuntimeError:", str(error).split(", but ")[1].split(".")[0])
# --8<-- [end:trl_swap]

# --8<-- [start:trl_step_chat]
class RecordingTrainer(SFTTrainer):
    """An SFTTrainer that keeps the batch of its last step."""

    def compute_loss(self, model, inputs, return_outputs=False,
                     num_items_in_batch=None):
        loss = super().compute_loss(model, inputs, return_outputs,
                                    num_items_in_batch)
        self.batch = dict(inputs, num_items_in_batch=num_items_in_batch)
        return loss

    def log(self, logs, start_time=None):
        self.logs = logs  # kept, not printed


def one_step(tok, dataset, **options):
    args = SFTConfig(**QUIET, max_steps=1, per_device_train_batch_size=2,
                     **options)
    trainer = RecordingTrainer(model=tiny_llama(len(tok)), args=args,
                               processing_class=tok, train_dataset=dataset)
    trainer.train()
    return trainer.batch


def show(batch, tok):
    for key, value in batch.items():
        shape = tuple(value.shape) if torch.is_tensor(value) else ""
        print(f"{key:18} {shape or value}")
    for row, targets in enumerate(batch["labels"]):
        kept = targets[targets != IGNORE_INDEX]
        print(f"row {row} trains on {tok.decode(kept)!r}")


show(one_step(qwen, chats, assistant_only_loss=True), qwen)
# --8<-- [end:trl_step_chat]

# --8<-- [start:trl_step_completion]
pairs = Dataset.from_list([
    {"prompt": "What is two plus two?", "completion": " Four."},
    {"prompt": "Thanks!", "completion": " You are welcome."},
])
show(one_step(qwen, pairs), qwen)  # completion_only_loss: None → on
# --8<-- [end:trl_step_completion]

# --8<-- [start:trl_drops]
tokenized = Dataset.from_list([  # already tokenized, with its labels
    {"input_ids": [5, 6, 7, 8], "labels": [-100, -100, 7, 8]},
    {"input_ids": [5, 6, 7, 8], "labels": [-100] * 4},  # no target
])
for max_length in (1024, None):
    kept = build(qwen, tokenized, max_length=max_length).train_dataset
    print(f"max_length={max_length}: {len(kept)} of 2 examples kept")
# --8<-- [end:trl_drops]

# --8<-- [start:collate]
from lmloss.sft import collate

short = ["User:", "2+2", "?", "Assistant:", "4", "<eos>"]
short_ids = [VOCAB[t] for t in short]
short_labels = labels_from_mask(short_ids, [0, 0, 0, 0, 1, 1])
examples = [  # lists of ints, as a tokenized dataset holds them
    {"input_ids": input_ids.tolist(), "labels": labels.tolist()},
    {"input_ids": short_ids, "labels": short_labels.tolist()},
]
# the padding token is the EOS token
batch = collate(examples, pad_token_id=VOCAB["<eos>"])
for name, tensor in batch.items():
    print(f"{name} {tuple(tensor.shape)}\n{tensor}")
# --8<-- [end:collate]

# --8<-- [start:eos_trap]
eos = VOCAB["<eos>"]
wrong = batch["input_ids"].clone()
wrong[wrong == eos] = IGNORE_INDEX  # "mask every pad id": the EOS goes too
wrong[batch["labels"] == IGNORE_INDEX] = IGNORE_INDEX  # the prompt
print(f"masked by id      : {wrong[1].tolist()}")
print(f"masked by position: {batch['labels'][1].tolist()}")
for name, rows in [("by id", wrong), ("by position", batch["labels"])]:
    print(f"EOS labels left {name}: {int((rows == eos).sum())}")
# --8<-- [end:eos_trap]

# --8<-- [start:hf_collator]
from transformers import DataCollatorForLanguageModeling

# A word-level tokenizer over the toy vocabulary; pad = EOS, as is common.
words = Tokenizer(models.WordLevel({**VOCAB, "<unk>": 0}, "<unk>"))
words.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
toy = PreTrainedTokenizerFast(tokenizer_object=words, eos_token="<eos>",
                              pad_token="<eos>")
hf = DataCollatorForLanguageModeling(toy, mlm=False)
# labels = input_ids, then every pad id → -100
hf_batch = hf([{"input_ids": e["input_ids"]} for e in examples])
print(hf_batch["labels"])
print(f"EOS labels left: {int((hf_batch['labels'] == eos).sum())}")
# --8<-- [end:hf_collator]

# --8<-- [start:padding_side]
model = tiny_llama(128).eval()
questions = ["User: What is 2+2 ? Assistant:", "User: 2+2 ? Assistant:"]
alone = [model.generate(**toy(q, return_tensors="pt"), max_new_tokens=3,
                        do_sample=False)[0, -3:].tolist()
         for q in questions]
print(f"each prompt alone: {alone}")
for side in ("right", "left"):
    inputs = toy(questions, padding=True, padding_side=side,
                 return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=3, do_sample=False)
    print(f"padding_side={side!r:7}: {inputs['input_ids'][1].tolist()}")
    print(f"        new tokens {out[:, -3:].tolist()}"
          f"  same: {out[:, -3:].tolist() == alone}")
# --8<-- [end:padding_side]

# --8<-- [start:trl_config]
import dataclasses

defaults = {f.name: f.default for f in dataclasses.fields(SFTConfig)}
for name in ["completion_only_loss", "assistant_only_loss",
             "padding_free", "packing", "packing_strategy", "max_length"]:
    print(f"{name:20} = {defaults[name]!r}")
# --8<-- [end:trl_config]

# --8<-- [start:trl_removed]
try:
    from trl import DataCollatorForCompletionOnlyLM
except ImportError as error:
    print(f"ImportError: {str(error).split(' (')[0]}")
# --8<-- [end:trl_removed]

# --8<-- [start:trl_collator]
from trl.trainer.sft_trainer import (
    DataCollatorForLanguageModeling as TRLCollator,
)

trl_batch = TRLCollator(pad_token_id=eos)(examples)
print(trl_batch["labels"])
same = all(torch.equal(trl_batch[k], batch[k])
           for k in ("input_ids", "attention_mask", "labels"))
print(f"same as lmloss.sft.collate: {same}")
# --8<-- [end:trl_collator]

# --8<-- [start:pack]
from transformers import DataCollatorWithFlattening

from lmloss.sft import pack

torch.manual_seed(0)
# three documents
docs = [torch.randint(3, 128, (n,)).tolist() for n in (5, 3, 7)]
packed = pack([{"input_ids": d, "labels": d} for d in docs])
for name, tensor in packed.items():
    print(f"{name:12} {tuple(tensor.shape)} {tensor[0].tolist()}")
flat = DataCollatorWithFlattening(
    return_position_ids=True, separator_id=IGNORE_INDEX,
)([{"input_ids": d, "labels": d} for d in docs], return_tensors="pt")
same = all(torch.equal(flat[k], packed[k]) for k in packed)
print(f"same as DataCollatorWithFlattening: {same}")
# --8<-- [end:pack]

# --8<-- [start:packed_loss]
with torch.no_grad():
    separate = [model(torch.tensor([d]), labels=torch.tensor([d])).loss
                for d in docs]
    targets = [len(d) - 1 for d in docs]  # a first token is no target
    mean_separate = (sum(loss * n for loss, n in zip(separate, targets))
                     / sum(targets))
    ids, positions = packed["input_ids"], packed["position_ids"]
    runs = {
        "packed": dict(position_ids=positions, labels=packed["labels"]),
        "no boundary masking": dict(position_ids=positions, labels=ids),
        "no position_ids": dict(labels=packed["labels"]),
    }
    print(f"separate sequences: {mean_separate:.5f}")
    for name, kwargs in runs.items():
        loss = model(input_ids=ids, use_cache=False, **kwargs).loss
        same = torch.allclose(loss, mean_separate, atol=1e-5)
        print(f"{name}: {loss:.5f}  equal: {same}")
# --8<-- [end:packed_loss]

# --8<-- [start:use_cache]
print(f"model.config.use_cache: {model.config.use_cache}")
with torch.no_grad():
    for use_cache in (False, True):
        loss = model(input_ids=ids, position_ids=positions,
                     labels=packed["labels"], use_cache=use_cache).loss
        same = torch.allclose(loss, mean_separate, atol=1e-5)
        print(f"use_cache={use_cache!s:5}: {loss:.5f}  equal: {same}")
# --8<-- [end:use_cache]

# --8<-- [start:trainer_use_cache]
print(f"TrainingArguments.use_cache: {defaults['use_cache']}")
print(f"model in the trainer: {trainer.model.config.use_cache}")
# --8<-- [end:trainer_use_cache]

# --8<-- [start:padding_free]
from transformers.masking_utils import find_packed_sequence_indices

free = TRLCollator(pad_token_id=0, padding_free=True)(
    [{"input_ids": d} for d in docs])
print(f"attention_mask in the batch: {'attention_mask' in free}")
print(f"position_ids:  {free['position_ids'][0].tolist()}")
print(f"cu_seq_lens_q: {free['cu_seq_lens_q'].tolist()}")
documents = find_packed_sequence_indices(free["position_ids"])[0].tolist()
print(f"document of each token (sdpa, eager): {documents}")
with torch.no_grad():
    for attention in ("sdpa", "eager"):
        model.set_attn_implementation(attention)
        loss = model(input_ids=free["input_ids"], use_cache=False,
                     position_ids=free["position_ids"],
                     labels=free["labels"]).loss
        same = torch.allclose(loss, mean_separate, atol=1e-5)
        print(f"{attention}: {loss:.5f}  equal: {same}")
model.set_attn_implementation("sdpa")
# --8<-- [end:padding_free]

# --8<-- [start:grad_accum]
from lmloss import count_loss_tokens

torch.manual_seed(1)
rows = []
# the 2nd row is plain text, with no prompt
for prompt_len, response_len in [(3, 6), (0, 3), (2, 7)]:
    row = torch.randint(3, 128, (prompt_len + response_len,))
    mask = [0] * prompt_len + [1] * response_len
    rows.append({"input_ids": row, "labels": labels_from_mask(row, mask)})
# one row per micro-batch
micro_batches = [collate([row], pad_token_id=0) for row in rows]
per_micro = [count_loss_tokens(mb["labels"]) for mb in micro_batches]
num_items_in_batch = sum(per_micro)
print(f"targets per micro-batch: {per_micro}, total: {num_items_in_batch}")
with torch.no_grad():
    full = model(**collate(rows, pad_token_id=0), use_cache=False).loss
    accumulated = sum(
        model(**mb, use_cache=False,
              num_items_in_batch=num_items_in_batch).loss
        for mb in micro_batches)
    naive = sum(model(**mb, use_cache=False).loss
                for mb in micro_batches) / len(micro_batches)
print(f"full batch: {full:.5f}")
print(f"with num_items_in_batch: {accumulated:.5f}  "
      f"equal: {torch.allclose(full, accumulated)}")
print(f"mean of means (naive): {naive:.5f}  "
      f"equal: {torch.allclose(full, naive)}")
# --8<-- [end:grad_accum]

# --8<-- [start:count_items]
wrong_count = sum(int((mb["labels"] != IGNORE_INDEX).sum())
                  for mb in micro_batches)
with torch.no_grad():
    miscounted = sum(
        model(**mb, use_cache=False, num_items_in_batch=wrong_count).loss
        for mb in micro_batches)
print(f"labels != -100: {wrong_count}, "
      f"shifted labels != -100: {num_items_in_batch}")
print(f"loss with the wrong count {miscounted:.5f} instead of {full:.5f}")
# --8<-- [end:count_items]

# --8<-- [start:all_masked]
masked = collate([{"input_ids": rows[0]["input_ids"],
                   "labels": [IGNORE_INDEX] * 9}], pad_token_id=0)
with torch.no_grad():
    mean = model(**masked, use_cache=False).loss
    print(f"mean: {mean:.4f}")
    for n in (num_items_in_batch, 0):
        loss = model(**masked, use_cache=False, num_items_in_batch=n).loss
        print(f"num_items_in_batch={n}: {loss:.4f}")
# --8<-- [end:all_masked]

# --8<-- [start:quiz]
print("1.", count_loss_tokens(collate(
    [{"input_ids": [5, 6, 7, 8], "labels": [-100, -100, 7, 8]},
     {"input_ids": [5, 9, 9, 9, 9, 2], "labels": [-100, 9, 9, 9, 9, 2]}],
    pad_token_id=2)["labels"]))
print("2.", count_loss_tokens(pack(
    [{"input_ids": [5, 6, 7, 8]}, {"input_ids": [9, 10, 11]}])["labels"]),
    count_loss_tokens(torch.tensor([[5, 6, 7, 8, 9, 10, 11]])))
print("3.", (2 * 1.0 + 6 * 3.0) / (2 + 6), (1.0 + 3.0) / 2)
print("4.", [toy(questions, padding=True, padding_side=side)["input_ids"]
             [1][-1] == eos for side in ("right", "left")])
# --8<-- [end:quiz]
