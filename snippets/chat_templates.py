# Code of the page "Assistant masks on real chat templates"
# (docs/*/chat-templates.md); each section is shown on the page.
# --8<-- [start:tokenizer]
import re
from pathlib import Path

import trl
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

TEMPLATES = Path(trl.__file__).parent / "chat_templates"


def template(name: str) -> str:
    return (TEMPLATES / f"{name}.jinja").read_text(encoding="utf-8")


# Control tokens: <|im_start|>, <think>, </tool_call>, <｜User｜>...
CONTROL = re.compile(r"</?[|｜]?[A-Za-z_▁:|｜]+[|｜]?>")
WORDS = ("system user assistant add two and three it is five thanks sure "
         "weather in paris sunny\n\n")


def tokenizer_for(name: str) -> PreTrainedTokenizerFast:
    """A byte-level BPE, trained offline, for TRL's template `name`."""
    # Special tokens: the template's control tokens and its training's.
    training = TEMPLATES / f"{name}_training.jinja"
    text = template(name) + (training.read_text(encoding="utf-8")
                             if training.exists() else "")
    specials = sorted(set(CONTROL.findall(text)) | {"<bos>", "<eos>"})
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=500, special_tokens=specials, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    # Spaced and one per line: words with and without a space before them.
    bpe.train_from_iterator([WORDS, WORDS.replace(" ", "\n")], trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe, chat_template=template(name),
        bos_token="<bos>", eos_token="<eos>")


def trained(tok, ids, mask) -> list[str]:
    """The text of each run of marked tokens."""
    runs, run = [], []
    for token, flag in zip(ids, mask):
        if flag:
            run.append(token)
        elif run:
            runs.append(tok.decode(run))
            run = []
    return runs + [tok.decode(run)] if run else runs


chat = [
    {"role": "user", "content": "add two and three"},
    {"role": "assistant", "content": "it is five"},
    {"role": "user", "content": "thanks"},
    {"role": "assistant", "content": "sure"},
]
qwen = tokenizer_for("qwen2_5")
print(qwen.apply_chat_template(chat, tokenize=False), end="")
# --8<-- [end:tokenizer]

# --8<-- [start:markers]
def show_tokens(tok, ids, mask, first: int = 0) -> None:
    """Each token from `first` on, [in brackets] where the mask is 1."""
    pieces = [repr(tok.decode([t]))[1:-1] for t in ids]
    print(" ".join(f"[{p}]" if m else p
                   for p, m in zip(pieces[first:], mask[first:])))


marked = qwen.apply_chat_template(
    chat, chat_template=template("qwen2_5_training"), return_dict=True,
    return_assistant_tokens_mask=True)
ids, mask = marked["input_ids"], marked["assistant_masks"]
last_turn = len(ids) - 1 - ids[::-1].index(
    qwen.convert_tokens_to_ids("<|im_start|>"))
show_tokens(qwen, ids, mask, first=last_turn)
print(f"trained: {trained(qwen, ids, mask)}")
# --8<-- [end:markers]

# --8<-- [start:no_markers]
import logging

from transformers.utils import logging as hf_logging


class Recorder(logging.Handler):
    """Keeps the messages logged to it."""

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


recorder = Recorder()
logger = logging.getLogger("transformers.utils.chat_template_utils")
logger.setLevel(logging.WARNING)
logger.addHandler(recorder)
hf_logging.warning_once.cache_clear()  # forget what was logged before
for _ in range(2):  # the original template: no {% generation %}
    plain = qwen.apply_chat_template(
        chat, return_dict=True, return_assistant_tokens_mask=True)
logger.removeHandler(recorder)
print(f"same tokens: {plain['input_ids'] == ids}")
print(f"marked: {sum(plain['assistant_masks'])} of {len(ids)}")
print(f"logged {len(recorder.messages)} time(s): {recorder.messages}")
# --8<-- [end:no_markers]

# --8<-- [start:prefixes]
from lmloss.chat import NotPrefixPreservingError, assistant_mask


def runs(tok, result) -> list[str]:
    """The trained runs of what assistant_mask returns."""
    return trained(tok, result.input_ids, result.assistant_masks)


prompt = qwen.apply_chat_template(
    chat[:1], add_generation_prompt=True, tokenize=False)
turn = qwen.apply_chat_template(chat[:2], tokenize=False)
print(f"messages[:2] starts with the prompt: {turn.startswith(prompt)}")
print(f"messages[1] adds: {turn[len(prompt):]!r}")
by_prefix = assistant_mask(qwen, chat, method="prefix")
print(f"prefix rendering: {runs(qwen, by_prefix)}")
extra = [qwen.decode([t]) for t, ours, trl_mask
         in zip(ids, by_prefix.assistant_masks, mask) if trl_mask > ours]
print(f"only the training template marks: {extra}")
# --8<-- [end:prefixes]

# --8<-- [start:prefix_fails]
qwen3 = tokenizer_for("qwen3")
print(qwen3.apply_chat_template(chat, tokenize=False), end="")
try:
    assistant_mask(qwen3, chat, method="prefix")
except NotPrefixPreservingError as error:
    print(f"index {error.index}: {error}")
# --8<-- [end:prefix_fails]

# --8<-- [start:offsets]
def overlapping(offsets, spans) -> list[int]:
    """1 for each token that has a character in one of the spans."""
    return [int(any(start < end_ and end > start_
                    for start_, end_ in spans))
            for start, end in offsets]


text = qwen.apply_chat_template(chat, tokenize=False)
spans, at = [], 0
for message in chat:  # find each message's text after the previous one
    at = text.index(message["content"], at)
    if message["role"] == "assistant":
        spans.append((at, at + len(message["content"])))
    at += len(message["content"])
encoded = qwen(text, add_special_tokens=False, return_offsets_mapping=True)
by_content = overlapping(encoded["offset_mapping"], spans)
print(f"same tokens: {encoded['input_ids'] == ids}")
print(f"assistant content: {trained(qwen, ids, by_content)}")
# A token with characters on both sides of a span's edge is marked.
qwen3_8 = tokenizer_for("qwen3_8")
prompt = qwen3_8.apply_chat_template(
    chat[:1], add_generation_prompt=True, tokenize=False)
print(f"qwen3_8 generation prompt ends with {prompt[-9:]!r}")
result = assistant_mask(qwen3_8, chat[:2])
first = result.input_ids.index(qwen3_8.convert_tokens_to_ids("<think>"))
show_tokens(qwen3_8, result.input_ids, result.assistant_masks, first)
# --8<-- [end:offsets]

# --8<-- [start:table]
from lmloss.chat import template_behaviours


def cell(value) -> str:
    return {True: "✓", False: "✗", None: "-"}[value]


def markers(row) -> str:
    """Where the template's {% generation %} markers come from."""
    if row.generation_markers:
        return "own"
    return "training" if row.training_version else "none"


EARLIER = {"kept": "kept", "dropped": "dropped", "never written": "-"}
rows = template_behaviours()
print("template               markers  earlier")
for row in rows:
    print(f"{row.name:23}{markers(row):9}"
          f"{EARLIER[row.earlier_reasoning]}")
print("\ntemplate               multi reason tools")
for row in rows:
    print(f"{row.name:23}{cell(row.multi_turn):6}"
          f"{cell(row.reasoning):7}{cell(row.tool_calls)}")
# --8<-- [end:table]

# --8<-- [start:multi_turn]
for turns in ("all", "last"):
    for name in ("qwen2_5", "qwen3"):
        tok = tokenizer_for(name)
        try:
            result = assistant_mask(tok, chat, turns=turns)
            print(f"{turns:4} {name:7} {runs(tok, result)}")
        except NotPrefixPreservingError as error:
            print(f"{turns:4} {name:7} raises at messages[{error.index}]")
# Data without reasoning: the empty block moves into the prompt.
no_think = {"enable_thinking": False}
result = assistant_mask(qwen3, chat, turns="last",
                        chat_template_kwargs=no_think)
print(f"last qwen3, {no_think}: {runs(qwen3, result)}")
result = assistant_mask(qwen3_8, chat, chat_template_kwargs=no_think)
print(f"all  qwen3_8, {no_think}: {runs(qwen3_8, result)}")
# --8<-- [end:multi_turn]

# --8<-- [start:reasoning]
reasoned = [chat[0], {**chat[1], "reasoning_content": "two plus three"},
            chat[2], {**chat[3], "reasoning_content": "a thank you"}]
rendered = qwen3.apply_chat_template(reasoned, tokenize=False)
print(f"earlier reasoning kept: {'two plus three' in rendered}")
last = assistant_mask(qwen3, reasoned, turns="last")
print(f"qwen3, last turn: {runs(qwen3, last)}")
training = qwen3.apply_chat_template(
    reasoned, chat_template=template("qwen3_training"), return_dict=True,
    return_assistant_tokens_mask=True)
marked_runs = trained(qwen3, training["input_ids"],
                      training["assistant_masks"])
print(f"qwen3_training: {marked_runs}")
qwen3_6 = tokenizer_for("qwen3_6")
for kwargs in ({}, {"preserve_thinking": True}):
    try:
        result = assistant_mask(qwen3_6, reasoned,
                                chat_template_kwargs=kwargs)
        print(f"qwen3_6 {kwargs}: {runs(qwen3_6, result)}")
    except NotPrefixPreservingError as error:
        print(f"qwen3_6 {kwargs}: raises at messages[{error.index}]")
# --8<-- [end:reasoning]

# --8<-- [start:tools]
call = {"type": "function",
        "function": {"name": "weather", "arguments": {"city": "paris"}}}
with_tools = [
    {"role": "user", "content": "weather in paris"},
    {"role": "assistant", "content": "", "tool_calls": [call]},
    {"role": "tool", "name": "weather", "content": "sunny, 21 C"},
    {"role": "assistant", "content": "it is sunny"},
]
print(qwen.apply_chat_template(with_tools, tokenize=False)
      .split("<|im_start|>user\n", 1)[1], end="")
tool_mask = assistant_mask(qwen, with_tools)
print(f"trained: {runs(qwen, tool_mask)}")
# Qwen3 keeps the reasoning of each step after the last user message.
agent = [with_tools[0],
         {**with_tools[1], "reasoning_content": "need the tool"},
         with_tools[2],
         {**with_tools[3], "reasoning_content": "it said sunny"}]
print(f"qwen3, every turn: {runs(qwen3, assistant_mask(qwen3, agent))}")
# --8<-- [end:tools]

# --8<-- [start:pitfalls]
def check(tok, ids, mask, messages, end="<|im_end|>") -> list[str]:
    """The checks a mask fails, by the text of its trained runs."""
    runs = trained(tok, ids, mask)
    failed = []
    if not runs:
        failed.append("nothing trained")
    if any(not run.rstrip("\n").endswith(end) for run in runs):
        failed.append(f"a trained run does not end with {end}")
    # Empty, or opened by the prompt and closed at once.
    if any(re.search(r"<think>\s*</think>|^\s*</think>", run)
           for run in runs):
        failed.append("an empty think block is trained")
    results = [m["content"] for m in messages if m["role"] == "tool"]
    if any(result in run for run in runs for result in results):
        failed.append("a tool result is trained")
    return failed or ["passes"]


# Prompt-completion: the first user turn, and everything after it.
text = qwen.apply_chat_template(with_tools, tokenize=False)
cut = len(qwen.apply_chat_template(
    with_tools[:1], add_generation_prompt=True, tokenize=False))
encoded = qwen(text, add_special_tokens=False, return_offsets_mapping=True)
completion = [int(start >= cut) for start, _ in encoded["offset_mapping"]]
truncated = qwen.apply_chat_template(
    chat, chat_template=template("qwen2_5_training"), return_dict=True,
    return_assistant_tokens_mask=True, truncation=True,
    max_length=len(ids) - 2)
qwen3_8_prefix = assistant_mask(qwen3_8, chat)
# GLM-4.5 ends its turn with the next message's first token, <|user|>.
glm = tokenizer_for("glm4moe")
glm_prefix = assistant_mask(glm, chat)
glm_training = assistant_mask(glm, chat,
                              chat_template=template("glm4moe_training"))
no_reasoning = qwen3.apply_chat_template(
    chat, chat_template=template("qwen3_training"), return_dict=True,
    return_assistant_tokens_mask=True)
cases = {
    "generation markers": (qwen, ids, mask, chat),
    "no markers": (qwen, ids, plain["assistant_masks"], chat),
    "assistant content": (qwen, ids, by_content, chat),
    "prompt-completion": (qwen, encoded["input_ids"], completion,
                          with_tools),
    "truncated": (qwen, truncated["input_ids"],
                  truncated["assistant_masks"], chat),
    "qwen3_training": (qwen3, no_reasoning["input_ids"],
                       no_reasoning["assistant_masks"], chat),
    "qwen3_8 prefix": (qwen3_8, qwen3_8_prefix.input_ids,
                       qwen3_8_prefix.assistant_masks, chat),
    "glm4moe prefix": (glm, glm_prefix.input_ids,
                       glm_prefix.assistant_masks, chat, "<|user|>"),
    "glm4moe_training": (glm, glm_training.input_ids,
                         glm_training.assistant_masks, chat, "<|user|>"),
}
for name, case in cases.items():
    print(f"{name}: " + "; ".join(check(*case)))
# --8<-- [end:pitfalls]

# --8<-- [start:recipes]
def per_turn(messages) -> list[list[dict]]:
    """One example per assistant message, ending with it."""
    return [messages[:i + 1] for i, message in enumerate(messages)
            if message["role"] == "assistant"]


for example in per_turn(reasoned):  # Qwen3, reasoning in the data
    result = assistant_mask(qwen3, example, turns="last")
    print(f"qwen3, example {len(example) // 2}: {runs(qwen3, result)}")
# DeepSeek-R1: the reasoning is written inline, in the content.
r1 = tokenizer_for("deepseek_r1_distill")
r1_chat = [chat[0], {"role": "assistant", "content":
                     "<think>\ntwo plus three\n</think>\n\nit is five"},
           chat[2], {"role": "assistant", "content":
                     "<think>\na thank you\n</think>\n\nsure"}]
inline = r1_chat[:2]
print(f"r1: {r1.apply_chat_template(inline, tokenize=False)!r}")
r1_training = template("deepseek_r1_distill_training")
marked = r1.apply_chat_template(
    inline, chat_template=r1_training, return_dict=True,
    return_assistant_tokens_mask=True)
print(f"r1_training markers: "
      f"{trained(r1, marked['input_ids'], marked['assistant_masks'])}")
result = assistant_mask(r1, inline, method="prefix",
                        chat_template=r1_training)
print(f"r1_training, prefix: {runs(r1, result)}")


def as_served(example) -> list[dict]:
    """The earlier answers cut as R1's own template cuts them."""
    *earlier, last = example
    return [{**m, "content": m["content"].split("</think>")[-1]}
            if m["role"] == "assistant" else m for m in earlier] + [last]


for example in per_turn(r1_chat):  # one example per turn, the last trained
    cut = as_served(example)
    result = assistant_mask(r1, cut, method="prefix", turns="last",
                            chat_template=r1_training)
    context = r1.apply_chat_template(
        cut[:-1], chat_template=r1_training, add_generation_prompt=True,
        tokenize=False)
    served = r1.apply_chat_template(
        example[:-1], add_generation_prompt=True, tokenize=False)
    print(f"r1, example {len(example) // 2}: {runs(r1, result)}; "
          f"context as served: {context == served}")
# --8<-- [end:recipes]

# --8<-- [start:trainer]
import tempfile

from datasets import Dataset
from transformers import LlamaConfig, LlamaForCausalLM
from trl import SFTConfig, SFTTrainer

from lmloss.sft import labels_from_mask

llama = tokenizer_for("llama3_1")


def tiny_trainer(dataset, **options) -> SFTTrainer:
    """SFTTrainer on a one-layer Llama with random weights."""
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(llama), hidden_size=16, intermediate_size=32,
        num_hidden_layers=1, num_attention_heads=2))
    args = SFTConfig(output_dir=tempfile.mkdtemp(), report_to="none",
                     use_cpu=True, activation_checkpointing=False,
                     **options)
    return SFTTrainer(model=model, args=args, processing_class=llama,
                      train_dataset=dataset)


try:
    tiny_trainer(Dataset.from_list([{"messages": chat}]),
                 assistant_only_loss=True)
except ValueError as error:
    print(f"assistant_only_loss=True: {str(error)[:52]}...")
# Our mask instead: TRL builds the labels from assistant_masks.
mask = assistant_mask(llama, chat)
dataset = Dataset.from_list([{"input_ids": mask.input_ids,
                              "assistant_masks": mask.assistant_masks}])
trainer = tiny_trainer(dataset)
labels = trainer.train_dataset[0]["labels"]
kept = [label != -100 for label in labels]
print(f"trained: {trained(llama, mask.input_ids, kept)}")
ours = labels_from_mask(mask.input_ids, mask.assistant_masks)
print(f"same as labels_from_mask: {labels == ours.tolist()}")
# TRL truncates after building labels, then drops rows with none trained.
print(f"max_length: {trainer.args.max_length}")
untrained = {"input_ids": mask.input_ids,
             "assistant_masks": [0] * len(mask.input_ids)}
cut_rows = tiny_trainer(Dataset.from_list([dataset[0], untrained]),
                        max_length=len(mask.input_ids) - 1).train_dataset
kept = [label != -100 for label in cut_rows[0]["labels"]]
print(f"rows kept: {len(cut_rows)} of 2, trained: "
      f"{trained(llama, cut_rows[0]['input_ids'], kept)}")
# It drops them only when it truncates: not with max_length=None.
uncut_rows = tiny_trainer(Dataset.from_list([dataset[0], untrained]),
                          max_length=None).train_dataset
print(f"max_length=None: rows kept: {len(uncut_rows)} of 2")
# --8<-- [end:trainer]

# --8<-- [start:quiz]
training_mask = assistant_mask(
    qwen, with_tools, chat_template=template("qwen2_5_training"))
print("1.", sum(training_mask.assistant_masks)
      - sum(tool_mask.assistant_masks))
print("2.", [row.name for row in rows if row.reasoning])


def reasons_with(name, kwargs) -> bool:
    """Prefix rendering finds every answer of `reasoned`."""
    try:
        assistant_mask(tokenizer_for(name), reasoned,
                       chat_template_kwargs=kwargs)
        return True
    except NotPrefixPreservingError:
        return False


switch = {"preserve_thinking": True}
has_switch = [row.name for row in rows if row.reasoning is False
              and "preserve_thinking" in template(row.name)]
print("  ", switch,
      {name: reasons_with(name, switch) for name in has_switch})
last_reasoned = chat[:3] + reasoned[3:]
try:
    assistant_mask(qwen3, last_reasoned)
except NotPrefixPreservingError as error:
    print("3.", error.index,
          runs(qwen3, assistant_mask(qwen3, last_reasoned, turns="last")))
# --8<-- [end:quiz]
