"""Claims of the home page (docs/*/index.md) about torch and TRL, each bound to its sentence.

Each test is named after the claim it checks and runs the pinned torch and TRL.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from datasets import Dataset
from transformers import LlamaConfig, LlamaForCausalLM
from trl import SFTConfig, SFTTrainer, chat_template_utils
from trl.chat_template_utils import qwen2_5_chat_template, qwen2_5_training_chat_template

from conversations import tokenizer_for
from page_claims import assert_page_says
from page_structure import LANGUAGES, OUTPUT_TITLE, all_fences
from snippet_source import SNIPPETS

IGNORE = -100
HISTORY_SCRIPT = SNIPPETS.parent / "tests" / "history" / "verify_history.py"


def test_claim_a_padding_tuple_holds_one_pair_per_padded_dimension_constant_takes_any_count():
    """Review round 1, M3: not "2, 4 or 6 entries"; constant padding takes 8, 10 or none.
    Round 2, English 5: the page shows how to read the tuple, not why torch chose it."""
    assert_page_says(
        "index.md",
        "home",
        en="how to read the padding tuple of `torch.nn.functional.pad`, which holds one "
        "`(left, right)` pair per padded dimension",
        zh="怎样读懂 `torch.nn.functional.pad` 的填充元组（padding tuple）：每个被填充的维度对应一个"
        "数对 `(左, 右)`",
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
        "data included. A conversation stored as a single `messages` list needs "
        "`assistant_only_loss=True` and a chat template with `{% generation %}` markers.",
        zh="TRL 对“提示—补全”数据默认只训练补全，对话形式的“提示—补全”数据也一样。存成一个 `messages` "
        "列表的对话要设 `assistant_only_loss=True`，对话模板还要有 generation 块"
        "（`{% generation %}`）。",
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


@pytest.mark.parametrize(
    "name", ["llama3_1", "llama3_2", "gemma4", "gemma4_v2", "gemma4_v3", "gemma4_v4", "gemma4_v5"]
)
def test_claim_trl_swaps_in_a_training_template_only_for_an_exact_copy_of_one_it_stores(qwen, name):
    """Review round 2, W1: not "which TRL swaps in for the templates it ships": TRL ships the
    Llama 3.1/3.2 and Gemma 4 templates with no training version and raises ValueError on them,
    and an edited copy of a template it does know raises too."""
    assert_page_says(
        "index.md",
        "home",
        en="For a template without them, TRL swaps in its training version only if the template "
        "is, character for character, one that it stores a training version of (Llama 3, Qwen 2.5 "
        "and 3, Gemma 3 and others), and raises `ValueError` otherwise, as for the Llama 3.1, "
        "Llama 3.2 and Gemma 4 templates it also ships",
        zh="模板没有 generation 块时，只有它与 TRL 存有训练版本的某个模板逐字符相同（Llama 3、Qwen 2.5 和 3、"
        "Gemma 3 等），TRL 才会换用训练版本；否则抛出 `ValueError`，TRL 自己收录的 Llama 3.1、Llama 3.2 "
        "和 Gemma 4 模板也是这样",
    )
    shipped = getattr(chat_template_utils, f"{name}_chat_template")
    assert not chat_template_utils.has_generation_markers(shipped)
    assert not hasattr(chat_template_utils, f"{name}_training_chat_template")
    with pytest.raises(ValueError, match="not training-compatible"):
        _trainer(_with_template(qwen, shipped), [{"messages": [USER, REPLY]}],
                 assistant_only_loss=True)  # fmt: skip
    for known in ("llama3", "qwen2_5", "qwen3", "gemma3"):
        template = getattr(chat_template_utils, f"{known}_chat_template")
        swapped = chat_template_utils.get_training_chat_template(_with_template(qwen, template))
        assert swapped == getattr(chat_template_utils, f"{known}_training_chat_template"), known
        edited = _with_template(qwen, template + "\n")  # one character more
        with pytest.raises(ValueError, match="not training-compatible"):
            chat_template_utils.get_training_chat_template(edited)


def _with_template(tokenizer, template):
    """A copy of ``tokenizer`` with ``template`` as its chat template."""
    copy = tokenizer_for(template)
    copy.chat_template = template
    copy.pad_token = tokenizer.pad_token
    return copy


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


def test_claim_every_output_block_is_printed_by_code_but_the_history_table_and_two_records():
    """Review round 2, W2: not "prints every output the page shows": the memory page shows two
    measurements no code of the site prints, and the loss page's history table is read from
    the released wheels by tests/history/verify_history.py. Every other titled block of every
    page is a recorded snippet output; the two records say at their top how they were made."""
    assert_page_says(
        "index.md",
        "home",
        en="prints every output block the page shows, with three exceptions that say where they "
        "come from: the loss page's version-history table, which a script of the tests reads "
        "from the released transformers wheels, and the two blocks of the memory page whose "
        "titles begin with *Recorded*, measurements that state at their top how they were made",
        zh="页面上的每个输出块都由这些代码打印，只有三处例外，各自写明了来历：“损失逐行解析”一页的版本"
        "历史表，由测试里的一个脚本从 transformers 各发布版的 wheel 中读出；“损失的内存”一页里标题含"
        "“上的记录”的两个块，是实测记录，开头写明了是怎样测得的",
    )
    recorded_title = {"en": "Recorded", "zh": "上的记录"}
    for lang, docs in LANGUAGES.items():
        history, recorded = [], []
        for path in sorted(docs.rglob("*.md")):
            for fence in all_fences(path.read_text(encoding="utf-8")):
                if fence.title is None:
                    continue
                include = fence.include
                if fence.title != OUTPUT_TITLE[lang]:
                    recorded.append((path.name, fence.title))
                    body = (SNIPPETS / include[0]).read_text("utf-8") if include else fence.body
                    assert "not printed by this site's code" in " ".join(body.splitlines()[:3])
                elif include[0].startswith("history/"):
                    history.append(path.name)
                    assert Path(include[0]).name in HISTORY_SCRIPT.read_text(encoding="utf-8")
                else:
                    assert include[0].startswith("output/"), (path, fence.line)
        assert history == ["loss.md"], (lang, history)
        assert [page for page, _ in recorded] == ["memory.md", "memory.md"], (lang, recorded)
        assert all(recorded_title[lang] in title for _, title in recorded), (lang, recorded)
        assert all(title.startswith("Recorded") for _, title in recorded if lang == "en")
