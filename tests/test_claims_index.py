"""Claims of the home page (docs/*/index.md) about torch and TRL, each bound to its sentence.

Each test is named after the claim it checks and runs the pinned torch and TRL.
"""

from __future__ import annotations

import logging
import tempfile

import pytest
import torch
import torch.nn.functional as F
from datasets import Dataset
from transformers import LlamaConfig, LlamaForCausalLM
from trl import SFTConfig, SFTTrainer
from trl.chat_template_utils import qwen2_5_chat_template, qwen2_5_training_chat_template

from conversations import tokenizer_for
from page_claims import assert_page_says

IGNORE = -100


def test_claim_a_padding_tuple_holds_one_pair_per_padded_dimension_constant_takes_any_count():
    """Review round 1, M3: not "2, 4 or 6 entries"; constant padding takes 8, 10 or none."""
    assert_page_says(
        "index.md",
        "home",
        en="why the padding tuple of `torch.nn.functional.pad` holds one `(left, right)` pair "
        "per padded dimension",
        zh="`torch.nn.functional.pad` 的填充元组（padding tuple）为什么每个被填充的维度对应一个数对 "
        "`(左, 右)`",
    )
    five = torch.zeros(1, 1, 1, 1, 1)
    assert F.pad(five, (1,) * 8).shape == (1, 3, 3, 3, 3)
    assert F.pad(five, (1,) * 10).shape == (3, 3, 3, 3, 3)
    assert F.pad(torch.zeros(2, 3), ()).shape == (2, 3)
    with pytest.raises(RuntimeError, match="Padding length"):
        F.pad(torch.zeros(2, 3), (1, 1, 1))  # not a whole number of pairs


QUIET = dict(
    output_dir=tempfile.mkdtemp(), report_to="none", save_strategy="no", disable_tqdm=True,
    use_cpu=True, activation_checkpointing=False,
)  # fmt: skip
USER = {"role": "user", "content": "why is the sky blue"}
REPLY = {"role": "assistant", "content": "it is the weather"}


@pytest.fixture(scope="module")
def qwen():
    tokenizer = tokenizer_for(qwen2_5_chat_template)
    tokenizer.chat_template = qwen2_5_chat_template
    tokenizer.pad_token = "<eos>"  # a special token the offline tokenizer has
    return tokenizer


def _trainer(tokenizer, rows, **options):
    logging.getLogger("transformers").setLevel(logging.ERROR)
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
            num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
        )
    )  # fmt: skip
    return SFTTrainer(
        model=model,
        args=SFTConfig(**QUIET, **options),
        processing_class=tokenizer,
        train_dataset=Dataset.from_list(rows),
    )


def _labels(trainer):
    """The labels of the first example as the trainer's collator builds them."""
    batch = trainer.data_collator([trainer.train_dataset[0]])
    return batch["input_ids"][0], batch["labels"][0]


def test_claim_trl_masks_the_prompt_of_conversational_prompt_completion_data_by_default(qwen):
    """Review round 1, M7: "conversations need assistant_only_loss=True" was too broad; only a
    conversation stored as one `messages` list does, with a template TRL can mark."""
    assert_page_says(
        "index.md",
        "home",
        en="TRL does so by default for prompt–completion data, conversational prompt–completion "
        "data included; a conversation stored as a single `messages` list needs "
        "`assistant_only_loss=True` and a chat template with `{% generation %}` markers, which "
        "TRL swaps in for the templates it ships",
        zh="TRL 对“提示—补全”数据默认这样做，对话形式的“提示—补全”数据也一样；存成一个 `messages` "
        "列表的对话则要设 `assistant_only_loss=True`，对话模板还要有 generation 块"
        "（`{% generation %}`），TRL 收录的模板会自动换成带 generation 块的版本",
    )
    # Conversational prompt-completion, default options: the prompt is -100.
    trainer = _trainer(qwen, [{"prompt": [USER], "completion": [REPLY]}])
    ids, labels = _labels(trainer)
    prompt = qwen.apply_chat_template([USER], add_generation_prompt=True, tokenize=True,
                                      return_dict=True)["input_ids"]  # fmt: skip
    assert ids[: len(prompt)].tolist() == prompt
    assert (labels[: len(prompt)] == IGNORE).all()
    assert torch.equal(labels[len(prompt) :], ids[len(prompt) :])
    # The same chat as one messages list: every token is trained unless asked otherwise.
    trainer = _trainer(qwen, [{"messages": [USER, REPLY]}])
    ids, labels = _labels(trainer)
    assert torch.equal(labels, ids)
    # With assistant_only_loss=True, TRL swaps in its training template with the markers.
    assert "{% generation %}" not in qwen.chat_template
    trainer = _trainer(qwen, [{"messages": [USER, REPLY]}], assistant_only_loss=True)
    assert trainer.chat_template == qwen2_5_training_chat_template
    assert "{% generation %}" in trainer.chat_template
    ids, labels = _labels(trainer)
    trained = qwen.decode([int(i) for i, label in zip(ids, labels) if label != IGNORE])
    assert trained.strip() == f"{REPLY['content']}<|im_end|>"  # the reply and its end of turn
    assert (labels[: len(prompt) - 1] == IGNORE).all()  # the marked "\n" overlaps the prompt's end


def test_claim_the_glossary_says_what_trl_does_by_default():
    """The glossary's row for 提示/prompt (not this page's wording, kept as it was bound)."""
    assert_page_says(
        "glossary.md",
        "terms",
        en="TRL: by default for prompt–completion data, for conversations with "
        "`assistant_only_loss=True`",
        zh="TRL：“提示—补全”数据默认如此，对话数据需设 `assistant_only_loss=True`",
    )
    from trl import SFTConfig as Config

    defaults = {name: field.default for name, field in Config.__dataclass_fields__.items()}
    assert defaults["assistant_only_loss"] is False and defaults["completion_only_loss"] is None
