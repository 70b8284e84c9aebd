"""The SFT chapter's claims (docs/*/sft.md), checked against transformers 5.24 and TRL 1.16.

Each test is named after the claim it checks. The chat example is the page's own code: the
snippet's sections are run up to the one a test needs, so the test checks what the page shows.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
import torch
from datasets import Dataset
from transformers import (
    DataCollatorForLanguageModeling,
    LlamaConfig,
    LlamaForCausalLM,
    Trainer,
    TrainingArguments,
)
from trl import SFTConfig, SFTTrainer, chat_template_utils
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling as TRLCollator

from lmloss import count_loss_tokens
from lmloss.sft import collate, labels_from_mask, pack
from page_claims import assert_page_says
from snippet_sections import OUTPUTS, SNIPPETS, read_sections

IGNORE = -100
TEMPLATES = Path(chat_template_utils.__file__).parent / "chat_templates"


@pytest.fixture(scope="module")
def page():
    """The namespace of snippets/sft.py, every section run in order."""
    namespace: dict[str, object] = {"__name__": "__snippet__"}
    for section in read_sections(SNIPPETS / "sft.py"):
        exec(section.compiled(SNIPPETS / "sft.py"), namespace)
    return namespace


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        attn_implementation="sdpa",
    )
    return LlamaForCausalLM(config).eval()


def _documents(lengths, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(3, 128, (n,), generator=generator).tolist() for n in lengths]


def test_claim_SFTConfig_has_the_masking_and_layout_fields_with_these_defaults():
    defaults = {f.name: f.default for f in dataclasses.fields(SFTConfig)}
    assert {
        name: defaults[name]
        for name in (
            "completion_only_loss",
            "assistant_only_loss",
            "padding_free",
            "packing",
            "packing_strategy",
        )
    } == {
        "completion_only_loss": None,
        "assistant_only_loss": False,
        "padding_free": False,
        "packing": False,
        "packing_strategy": "bfd",
    }
    assert defaults["max_length"] == 1024


def test_claim_DataCollatorForCompletionOnlyLM_is_gone_from_trl():
    with pytest.raises(ImportError, match="cannot import name 'DataCollatorForCompletionOnlyLM'"):
        from trl import DataCollatorForCompletionOnlyLM  # noqa: F401


def test_claim_masking_every_pad_id_masks_the_real_eos_in_transformers_collator(page):
    """transformers' DataCollatorForLanguageModeling(mlm=False) leaves no EOS label when pad = EOS."""
    tokenizer, eos = page["toy"], page["eos"]
    assert tokenizer.pad_token_id == tokenizer.eos_token_id == eos
    batch = DataCollatorForLanguageModeling(tokenizer, mlm=False)(
        [{"input_ids": e["input_ids"]} for e in page["examples"]]
    )
    assert int((batch["input_ids"] == eos).sum()) > 0
    assert int((batch["labels"] == eos).sum()) == 0


def test_claim_TRL_collator_pads_labels_by_position_so_the_eos_is_trained(page):
    batch = TRLCollator(pad_token_id=page["eos"])(page["examples"])
    real = batch["attention_mask"] == 1
    assert torch.equal(batch["labels"][~real], torch.full_like(batch["labels"][~real], IGNORE))
    assert int((batch["labels"] == page["eos"]).sum()) == len(page["examples"])


def test_claim_assistant_mask_trains_exactly_the_assistant_turns_and_their_end_of_turn(page):
    tokenizer, chat = page["tokenizer"], page["chat"]
    ids, labels = page["chat_ids"], page["chat_labels"].tolist()
    end, header = tokenizer.convert_tokens_to_ids(["<|end|>", "<|assistant|>"])
    expected = []
    for message in chat:
        if message["role"] == "assistant":
            expected += tokenizer(message["content"], add_special_tokens=False)["input_ids"] + [end]
    assert [i for i, y in zip(ids, labels) if y != IGNORE] == expected
    # ... and each trained run starts right after an <|assistant|> header and ends on <|end|>.
    starts = [
        t for t, y in enumerate(labels) if y != IGNORE and (t == 0 or labels[t - 1] == IGNORE)
    ]
    ends = [
        t
        for t, y in enumerate(labels)
        if y != IGNORE and (t + 1 == len(labels) or labels[t + 1] == IGNORE)
    ]
    assert [ids[t - 1] for t in starts] == [header, header]
    assert [ids[t] for t in ends] == [end, end]


WARNING_NO_GENERATION = "return_assistant_tokens_mask==True but chat template does not contain `{% generation %}` keyword."


def test_claim_transformers_warns_once_when_the_template_has_no_generation_block(page):
    """sft.md #no-generation and #troubleshooting quote the warning transformers logs."""
    import logging

    from transformers.utils import logging as hf_logging

    for anchor in ("no-generation", "troubleshooting"):
        assert_page_says("sft.md", anchor, en=WARNING_NO_GENERATION, zh=WARNING_NO_GENERATION)
    plain = page["TEMPLATE"].replace("{% generation %}", "").replace("{% endgeneration %}", "")
    logger = logging.getLogger("transformers.utils.chat_template_utils")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    saved = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)  # the page's snippet quiets transformers' loggers
    hf_logging.warning_once.cache_clear()  # it may have been logged already in this process
    try:
        for _ in range(2):
            page["tokenizer"].apply_chat_template(
                page["chat"],
                chat_template=plain,
                tokenize=True,
                return_dict=True,
                return_assistant_tokens_mask=True,
            )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)
    assert [r.getMessage() for r in records] == [WARNING_NO_GENERATION]  # once, not twice


def test_claim_qwen_generation_prompt_ends_with_the_newline_TRL_trains(page):
    """sft.md #real-template: TRL trains the \\n that the generation prompt holds at inference."""
    assert_page_says(
        "sft.md",
        "real-template",
        en="which at inference `add_generation_prompt=True` puts in the prompt",
        zh="在推理时由 `add_generation_prompt=True` 放进提示",
    )
    qwen, chat = page["qwen"], page["chat"]
    prompt = qwen.apply_chat_template(chat[:1], add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("<|im_start|>assistant\n")
    trained = page["qwen"].decode(
        [
            i
            for i, m in zip(page["qwen_chat"]["input_ids"], page["qwen_chat"]["assistant_masks"])
            if m
        ]
    )
    assert trained.startswith("\n") and trained.endswith("<|im_end|>\n")


def test_claim_a_template_without_generation_only_gives_an_all_zero_mask(page):
    tokenizer, chat = page["tokenizer"], page["chat"]
    plain = page["TEMPLATE"].replace("{% generation %}", "").replace("{% endgeneration %}", "")
    out = tokenizer.apply_chat_template(
        chat,
        chat_template=plain,
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
    )
    assert out["input_ids"] == page["chat_ids"]
    assert set(out["assistant_masks"]) == {0}
    assert set(labels_from_mask(out["input_ids"], out["assistant_masks"]).tolist()) == {IGNORE}


def test_claim_TRL_padding_free_collator_packs_like_lmloss_pack():
    docs = _documents((5, 3, 7))
    examples = [{"input_ids": d, "labels": d} for d in docs]
    flat = TRLCollator(pad_token_id=0, padding_free=True)(examples)
    packed = pack(examples)
    for key in packed:
        assert torch.equal(flat[key], packed[key]), key


@torch.no_grad()
def test_claim_packed_loss_equals_the_mean_over_separate_sequences_only_with_masking_and_positions(
    model,
):
    docs = _documents((5, 3, 7), seed=3)
    losses = [model(torch.tensor([d]), labels=torch.tensor([d])).loss for d in docs]
    separate = sum(loss * (len(d) - 1) for loss, d in zip(losses, docs)) / sum(
        len(d) - 1 for d in docs
    )
    p = pack([{"input_ids": d} for d in docs])
    packed = model(
        input_ids=p["input_ids"],
        position_ids=p["position_ids"],
        labels=p["labels"],
        use_cache=False,
    ).loss
    torch.testing.assert_close(packed, separate, rtol=0, atol=2e-6)
    unmasked = model(
        input_ids=p["input_ids"],
        position_ids=p["position_ids"],
        labels=p["input_ids"],
        use_cache=False,
    ).loss
    no_positions = model(input_ids=p["input_ids"], labels=p["labels"], use_cache=False).loss
    assert abs(unmasked - separate) > 1e-3
    assert abs(no_positions - separate) > 1e-3


@torch.no_grad()
def test_claim_use_cache_true_silently_disables_packed_attention(model):
    assert_page_says(
        "sft.md",
        "packing",
        en="when the model gets no `attention_mask` and no cache",
        zh="模型既没有收到 `attention_mask`、也没有缓存时",
    )
    docs = _documents((5, 3, 7), seed=3)
    p = pack([{"input_ids": d} for d in docs])
    kwargs = dict(input_ids=p["input_ids"], position_ids=p["position_ids"], labels=p["labels"])
    assert model.config.use_cache is True
    default = model(**kwargs).loss
    explicit = model(**kwargs, use_cache=True).loss
    off = model(**kwargs, use_cache=False).loss
    assert torch.equal(default, explicit)
    assert abs(default - off) > 1e-4


def _micro_batches():
    generator = torch.Generator().manual_seed(1)
    rows = []
    for prompt_len, response_len in [(3, 6), (0, 3), (2, 7)]:
        row = torch.randint(3, 128, (prompt_len + response_len,), generator=generator)
        rows.append(
            {
                "input_ids": row,
                "labels": labels_from_mask(row, [0] * prompt_len + [1] * response_len),
            }
        )
    return rows, [collate([row], pad_token_id=0) for row in rows]


def _grads(model):
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def test_claim_gradient_accumulation_with_num_items_in_batch_equals_the_full_batch(model):
    rows, micro = _micro_batches()
    total = sum(count_loss_tokens(mb["labels"]) for mb in micro)
    assert [count_loss_tokens(mb["labels"]) for mb in micro] == [6, 2, 7] and total == 15
    model.zero_grad()
    full = model(**collate(rows, pad_token_id=0), use_cache=False).loss
    full.backward()
    full_grads = _grads(model)
    model.zero_grad()
    accumulated = 0.0
    for mb in micro:
        loss = model(**mb, use_cache=False, num_items_in_batch=total).loss
        loss.backward()
        accumulated += loss.detach()
    torch.testing.assert_close(accumulated, full.detach(), rtol=0, atol=2e-6)
    torch.testing.assert_close(_grads(model), full_grads, rtol=1e-4, atol=1e-6)
    model.zero_grad()
    with torch.no_grad():
        naive = sum(model(**mb, use_cache=False).loss for mb in micro) / len(micro)
        miscounted = sum(
            model(**mb, use_cache=False, num_items_in_batch=total + 1).loss for mb in micro
        )
    assert abs(naive - full) > 1e-4  # the mean of means, the pre-October-2024 bug
    # Counting the unshifted labels gives 16, one too many: the 2nd row's position 0.
    assert sum(int((mb["labels"] != IGNORE).sum()) for mb in micro) == total + 1
    torch.testing.assert_close(miscounted, full.detach() * total / (total + 1), rtol=0, atol=2e-6)


def test_claim_the_transformers_trainer_counts_num_items_in_batch_over_labels_from_position_1():
    import inspect

    from transformers import Trainer

    source = inspect.getsource(Trainer._get_num_items_in_batch)
    assert 'batch["labels"][..., 1:]' in source
    assert "labels.ne(-100).sum()" in source


@torch.no_grad()
def test_claim_right_padding_needs_no_attention_mask_for_the_loss_but_left_padding_does(
    page, model
):
    """sft.md #batching: the causal mask hides trailing pads; the -100 labels keep them out."""
    assert_page_says(
        "sft.md",
        "batching",
        en="the causal mask already hides it from every real token",
        zh="因果掩码已经让每个实际的词元都看不到它们",
    )
    assert_page_says(
        "sft.md",
        "batching",
        en="What keeps the padding out of the loss is the `-100` labels",
        zh="让填充不进入损失的是标签里的 `-100`",
    )
    batch = page["batch"]  # the page's right-padded batch, pad = EOS
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    assert mask[1, -1] == 0 and (mask[:, 0] == 1).all()  # padded on the right
    real = mask.bool()
    with_mask = model(input_ids=ids, attention_mask=mask, labels=labels)
    without = model(input_ids=ids, labels=labels)
    assert torch.equal(with_mask.logits[real], without.logits[real])
    assert with_mask.loss == without.loss
    # The same rows padded on the left: now a real token would see the pads.
    order = torch.argsort(mask, dim=1, stable=True)  # the pad columns first
    left_ids, left_mask = ids.gather(1, order), mask.gather(1, order)
    assert left_mask[1, 0] == 0
    left_real = left_mask.bool()
    left_with = model(input_ids=left_ids, attention_mask=left_mask).logits[left_real]
    left_without = model(input_ids=left_ids).logits[left_real]
    assert (left_with - left_without).abs().max() > 1e-3


def test_claim_FlashAttention_path_removes_the_padding_it_finds_in_attention_mask():
    from transformers import modeling_flash_attention_utils as flash

    source = inspect.getsource(flash._flash_attention_forward)
    assert "if attention_mask is not None:" in source and "_upad_input(" in source


def test_claim_the_transformers_collator_masks_labels_by_comparing_ids_with_the_pad_id():
    source = inspect.getsource(DataCollatorForLanguageModeling.torch_call)
    assert "labels[labels == self.tokenizer.pad_token_id] = -100" in source


# --- chat templates: what TRL ships, swaps in and refuses ------------------------------------


def test_claim_of_the_model_templates_TRL_ships_only_LFM2_5_ones_have_generation_markers():
    base = [p for p in TEMPLATES.glob("*.jinja") if not p.stem.endswith("_training")]
    marked = {p.stem for p in base if chat_template_utils.has_generation_markers(p.read_text())}
    assert marked == {"lfm2_2_5", "lfm2_2_5_v2", "lfm2_2_5_vl"}
    assert all(
        chat_template_utils.has_generation_markers(p.read_text())
        for p in TEMPLATES.glob("*_training.jinja")
    )


@pytest.mark.parametrize(
    "name", ["llama3", "qwen2_5", "qwen3", "gemma", "gemma3", "deepseekv3", "phi3", "phi3_5"]
)
def test_claim_TRL_swaps_in_its_training_template_for_the_templates_it_knows(page, name):
    tokenizer = page["qwen"]
    tokenizer.chat_template = getattr(chat_template_utils, f"{name}_chat_template")
    try:
        swapped = chat_template_utils.get_training_chat_template(tokenizer)
    finally:
        tokenizer.chat_template = chat_template_utils.qwen2_5_chat_template
    assert swapped == getattr(chat_template_utils, f"{name}_training_chat_template")


@pytest.mark.parametrize("name", ["llama3_1", "llama3_2", "gemma4", "gemma4_v5"])
def test_claim_TRL_raises_ValueError_for_templates_it_does_not_know_such_as_llama3_1(page, name):
    tokenizer = page["qwen"]
    tokenizer.chat_template = getattr(chat_template_utils, f"{name}_chat_template")
    try:
        with pytest.raises(ValueError, match="not training-compatible"):
            chat_template_utils.get_training_chat_template(tokenizer)
    finally:
        tokenizer.chat_template = chat_template_utils.qwen2_5_chat_template


def test_claim_SFTTrainer_swaps_the_template_raises_ValueError_then_RuntimeError(page):
    build, qwen, tokenizer = page["build"], page["qwen"], page["tokenizer"]
    chats = page["chats"]
    trainer = build(qwen, chats, assistant_only_loss=True)
    assert trainer.chat_template == chat_template_utils.qwen2_5_training_chat_template
    assert qwen.chat_template == chat_template_utils.qwen2_5_chat_template  # left as it was
    plain = page["TEMPLATE"].replace("{% generation %}", "").replace("{% endgeneration %}", "")
    tokenizer.chat_template = plain
    try:
        with pytest.raises(ValueError, match="not training-compatible"):
            build(tokenizer, chats, assistant_only_loss=True)
    finally:
        tokenizer.chat_template = page["TEMPLATE"]
    with pytest.raises(RuntimeError, match="at least one example has no assistant tokens"):
        build(qwen, Dataset.from_list([{"messages": page["chat"][:1]}]), assistant_only_loss=True)
    # A template with the markers is used as it is.
    assert build(tokenizer, chats, assistant_only_loss=True).chat_template is None


def test_claim_TRL_warns_when_the_end_of_turn_token_falls_outside_the_generation_block(page):
    # The page's template on the byte-level tokenizer, whose words are no added tokens.
    tokenizer = page["qwen"]
    template = page["TEMPLATE"].replace("<|end|>", "<|im_end|>")
    template = template.replace("<|user|>", "<|im_start|>").replace("<|assistant|>", "<|im_start|>")
    outside = template.replace(" <|im_end|>{% endgeneration %}", "{% endgeneration %} <|im_end|>")
    assert outside != template
    assert chat_template_utils.is_chat_template_stop_token_trained(tokenizer, template)
    assert not chat_template_utils.is_chat_template_stop_token_trained(tokenizer, outside)
    assert "is_chat_template_stop_token_trained" in inspect.getsource(SFTTrainer.__init__)


def test_claim_qwen_training_template_trains_the_reply_and_its_im_end(page):
    ids, masks = page["qwen_chat"]["input_ids"], page["qwen_chat"]["assistant_masks"]
    trained = page["qwen"].decode([i for i, m in zip(ids, masks) if m])
    assert trained == "\n" + page["chat"][1]["content"] + "<|im_end|>\n"


# --- one SFTTrainer step: the batch it trained on ----------------------------------------------


def test_claim_one_SFTTrainer_step_trains_on_the_assistant_replies_with_use_cache_false(page):
    """W3: each row also trains the newline after `assistant` and the one after <|im_end|>."""
    assert_page_says(
        "sft.md",
        "trl-step-chat",
        en="so each row trains on its assistant reply, the `<|im_end|>` that closes it and the two "
        "newlines around them ([above](#real-template)); everything else is `-100`",
        zh="所以每一行只训练助手的回复、结束它的 `<|im_end|>`，以及两者前后的两个换行"
        "（见[上文](#real-template)），其余全是 `-100`",
    )
    batch = page["one_step"](page["qwen"], page["chats"], assistant_only_loss=True)
    qwen = page["qwen"]
    assert batch["use_cache"] is False
    assert "attention_mask" in batch
    kept = [qwen.decode(row[row != IGNORE]) for row in batch["labels"]]
    assert kept == [
        f"\n{m['content']}<|im_end|>\n" for m in page["chat"] if m["role"] == "assistant"
    ]
    assert int(batch["num_items_in_batch"]) == count_loss_tokens(batch["labels"])
    # right padding: the shorter row ends with the pad token, with attention_mask 0
    short = int(batch["attention_mask"].sum(1).argmin())
    assert batch["attention_mask"][short, -1] == 0
    assert batch["input_ids"][short, -1] == qwen.pad_token_id


def test_claim_completion_only_loss_defaults_on_for_prompt_completion_and_TRL_appends_the_eos(page):
    batch = page["one_step"](page["qwen"], page["pairs"])
    kept = [page["qwen"].decode(row[row != IGNORE]) for row in batch["labels"]]
    assert kept == [p["completion"] + "<|im_end|>" for p in page["pairs"]]
    assert "common_prefix_length(prompt_ids, prompt_completion_ids)" in inspect.getsource(
        SFTTrainer._prepare_dataset
    )


def test_claim_TRL_drops_fully_masked_examples_only_when_it_truncates(page):
    assert_page_says(  # M9: the table row says "without packing"
        "sft.md",
        "trl",
        en="| `max_length` | without packing: truncate each example, and, for the datasets TRL "
        "prepares, drop the examples whose labels are all `-100` ([below](#trl-drops)); with "
        "packing: the length of a packed row |",
        zh="| `max_length` | 不打包时：截断每条样本；对 TRL 准备的数据集，还丢掉标签全是 `-100` 的样本"
        "（见[下文](#trl-drops)）；打包时：打包后每行的长度 |",
    )
    build, qwen, tokenized = page["build"], page["qwen"], page["tokenized"]
    assert len(build(qwen, tokenized).train_dataset) == 1  # max_length=1024 by default
    assert len(build(qwen, tokenized, max_length=None).train_dataset) == 2
    packed = build(qwen, tokenized, packing=True, max_length=64).train_dataset
    assert sum(len(row) for row in packed["input_ids"]) == 8  # both examples are there


def test_claim_TRL_drops_only_all_minus_100_examples_not_those_without_a_target(page):
    """A label at position 0 alone is no target after the shift, but it is not -100: kept."""
    only_first = Dataset.from_list([{"input_ids": [5, 6, 7, 8], "labels": [5, -100, -100, -100]}])
    assert len(page["build"](page["qwen"], only_first).train_dataset) == 1
    assert count_loss_tokens(torch.tensor([[5, -100, -100, -100]])) == 0
    assert_page_says(
        "sft.md",
        "trl",
        en="drop the examples whose labels are all `-100`",
        zh="丢掉标签全是 `-100` 的样本",
    )


def test_claim_SFTTrainer_pads_with_eos_when_the_tokenizer_has_no_pad_token(page):
    qwen = page["qwen"]
    saved = qwen.pad_token
    qwen.pad_token = None
    try:
        trainer = page["build"](qwen, page["chats"])
        assert trainer.data_collator.pad_token_id == qwen.eos_token_id
    finally:
        qwen.pad_token = saved


@pytest.mark.parametrize(
    ("strategy", "padding_free"), [("bfd", True), ("bfd_split", True), ("wrapped", False)]
)
def test_claim_packing_with_bfd_or_bfd_split_turns_on_padding_free(page, strategy, padding_free):
    trainer = page["build"](
        page["qwen"], page["chats"], packing=True, packing_strategy=strategy, max_length=64
    )
    assert trainer.padding_free is padding_free


def test_claim_padding_free_without_packing_requires_max_length_none(page):
    qwen, chats = page["qwen"], page["chats"]
    with pytest.raises(ValueError, match="`padding_free=True` without packing"):
        page["build"](qwen, chats, padding_free=True)  # max_length left at its default
    assert page["build"](qwen, chats, padding_free=True, max_length=None).padding_free


# --- use_cache, padding_free ---------------------------------------------------------------------


def test_claim_the_trainer_sets_config_use_cache_from_training_arguments_default_false(tmp_path):
    assert {f.name: f.default for f in dataclasses.fields(TrainingArguments)}["use_cache"] is False
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=16,
            hidden_size=8,
            intermediate_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
        )
    )
    assert model.config.use_cache is True
    Trainer(
        model=model,
        args=TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True),
    )
    assert model.config.use_cache is False


def test_claim_TRL_calls_the_model_with_fused_lm_head_which_the_recorded_batch_omits(page):
    """sft.md #trl-step-chat: the recorded inputs, and the keyword TRL adds to the call."""
    assert_page_says(
        "sft.md",
        "trl-step-chat",
        en="TRL's `compute_loss` also passes `fused_lm_head=True`, which the record does not show: "
        "the model then returns per-token log-probabilities, not logits, and TRL computes the loss "
        "from them itself",
        zh="TRL 的 `compute_loss` 还会传入 `fused_lm_head=True`，记下的批次里看不到它。"
        "传了这个参数，模型返回的是每个词元的对数概率，而不是 logits，由 TRL 自己据此算损失",
    )
    calls = []
    tiny_llama = page["tiny_llama"]

    def spied_llama(vocab_size):
        model = tiny_llama(vocab_size)
        model.register_forward_pre_hook(
            lambda module, args, kwargs: calls.append(sorted(kwargs)), with_kwargs=True
        )
        return model

    page["tiny_llama"] = spied_llama  # one_step builds its model through this name
    try:
        batch = page["one_step"](page["qwen"], page["chats"], assistant_only_loss=True)
    finally:
        page["tiny_llama"] = tiny_llama
    assert "fused_lm_head" not in batch
    assert calls == [sorted(set(batch) - {"num_items_in_batch"} | {"fused_lm_head"})]
    source = inspect.getsource(SFTTrainer.compute_loss)
    assert "outputs = model(**inputs, fused_lm_head=True)" in source
    assert "per_token_loss = -outputs.log_probs" in source


def test_claim_every_attention_implementation_shares_the_packed_detection_without_mask_or_cache():
    """sft.md #use-cache: find_packed_sequence_indices runs in the shared mask code."""
    from transformers import DynamicCache
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, _preprocess_mask_arguments

    assert_page_says(
        "sft.md",
        "use-cache",
        en="In transformers 5.24 the mask code that every attention implementation shares "
        "(`create_causal_mask`) infers the documents of a packed row from `position_ids`, and only "
        "when the model gets no `attention_mask` and no cache",
        zh="在 transformers 5.24 中，所有注意力实现共用的掩码代码（`create_causal_mask`）会从 "
        "`position_ids` 推断打包行里的文档，而且只在模型既没有收到 `attention_mask`、也没有缓存时才这样做",
    )
    position_ids = torch.tensor([[0, 1, 2, 0, 1, 0, 1, 2]])
    embeds = torch.zeros(1, 8, 4)
    implementations = list(ALL_MASK_ATTENTION_FUNCTIONS._global_mapping)
    assert {"sdpa", "eager", "flash_attention_2", "flex_attention"} <= set(implementations)

    def packed(implementation, attention_mask=None, cache=None):
        config = LlamaConfig(num_attention_heads=2, hidden_size=4)
        config._attn_implementation = implementation
        _, _, found, *_ = _preprocess_mask_arguments(
            config, embeds, attention_mask, cache, position_ids, 0
        )
        return None if found is None else found.tolist()

    for implementation in implementations:
        assert packed(implementation) == [[0, 0, 0, 1, 1, 2, 2, 2]]
        assert packed(implementation, attention_mask=torch.ones(1, 8, dtype=torch.bool)) is None
        assert packed(implementation, cache=DynamicCache(config=LlamaConfig())) is None


def test_claim_TRL_compute_loss_passes_use_cache_false():
    assert 'inputs["use_cache"] = False' in inspect.getsource(SFTTrainer.compute_loss)


@torch.no_grad()
def test_claim_packed_attention_needs_no_attention_mask(model):
    docs = _documents((5, 3, 7), seed=3)
    p = pack([{"input_ids": d} for d in docs])
    kwargs = dict(
        input_ids=p["input_ids"],
        position_ids=p["position_ids"],
        labels=p["labels"],
        use_cache=False,
    )
    without = model(**kwargs).loss
    with_mask = model(**kwargs, attention_mask=torch.ones_like(p["input_ids"])).loss
    assert abs(without - with_mask) > 1e-4


@torch.no_grad()
@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_claim_padding_free_batches_give_the_separate_loss_with_sdpa_and_eager_without_cache(
    model, attention
):
    docs = _documents((5, 3, 7), seed=3)
    free = TRLCollator(pad_token_id=0, padding_free=True)([{"input_ids": d} for d in docs])
    assert "attention_mask" not in free
    assert free["cu_seq_lens_q"].tolist() == [0, 5, 8, 15]
    losses = [model(torch.tensor([d]), labels=torch.tensor([d])).loss for d in docs]
    separate = sum(loss * (len(d) - 1) for loss, d in zip(losses, docs)) / sum(
        len(d) - 1 for d in docs
    )
    model.set_attn_implementation(attention)
    try:
        kwargs = dict(
            input_ids=free["input_ids"], position_ids=free["position_ids"], labels=free["labels"]
        )
        torch.testing.assert_close(
            model(**kwargs, use_cache=False).loss, separate, rtol=0, atol=2e-6
        )
        assert abs(model(**kwargs, use_cache=True).loss - separate) > 1e-4
    finally:
        model.set_attn_implementation("sdpa")


@torch.no_grad()
@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_claim_sdpa_and_eager_ignore_cu_seq_lens_and_read_the_documents_from_position_ids(
    model, attention
):
    model.set_attn_implementation(attention)
    try:
        _loss_ignores_cu_seq_lens(model)
    finally:
        model.set_attn_implementation("sdpa")


def _loss_ignores_cu_seq_lens(model):
    docs = _documents((5, 3, 7), seed=3)
    free = TRLCollator(pad_token_id=0, padding_free=True)([{"input_ids": d} for d in docs])
    boundaries = {
        k: free[k] for k in ("cu_seq_lens_q", "cu_seq_lens_k", "max_length_q", "max_length_k")
    }
    one_document = torch.arange(free["input_ids"].shape[1])[None]
    common = dict(input_ids=free["input_ids"], labels=free["labels"], use_cache=False)
    with_boundaries = model(**common, position_ids=one_document, **boundaries).loss
    without = model(**common, position_ids=one_document).loss
    torch.testing.assert_close(with_boundaries, without, rtol=0, atol=0)


def test_claim_TRL_builds_labels_where_every_applicable_mask_is_1_and_pads_on_the_right():
    source = inspect.getsource(SFTTrainer._prepare_dataset)
    assert "token_id if all(bits) else -100" in source
    assert source.count('padding_side="right"') == 0  # the collator does the padding
    collator = inspect.getsource(TRLCollator.torch_call)
    assert 'padding_side="left"' not in collator
    assert collator.count('padding_side="right"') >= 3


def test_claim_TRL_docstring_says_padding_free_is_for_flash_attention_2_or_3():
    assert "only supported with the FlashAttention 2 or 3" in " ".join(SFTConfig.__doc__.split())


# --- all targets ignored, several processes --------------------------------------------------------


@torch.no_grad()
def test_claim_a_micro_batch_with_no_target_gives_zero_only_when_others_have_targets(model):
    rows, _ = _micro_batches()
    masked = collate([{"input_ids": rows[0]["input_ids"], "labels": [IGNORE] * 9}], pad_token_id=0)
    assert torch.isnan(model(**masked, use_cache=False).loss)
    assert model(**masked, use_cache=False, num_items_in_batch=15).loss == 0
    assert torch.isnan(model(**masked, use_cache=False, num_items_in_batch=0).loss)


def test_claim_SFTTrainer_gives_0_not_nan_for_a_step_with_no_target(page):
    """The model's own loss is 0/0 there; TRL divides by the count clamped to at least 1."""
    no_target = Dataset.from_list([{"input_ids": [5, 6, 7, 8], "labels": [IGNORE] * 4}] * 2)
    args = SFTConfig(**page["QUIET"], max_steps=1, per_device_train_batch_size=2, max_length=None)
    trainer = page["RecordingTrainer"](
        model=page["tiny_llama"](len(page["qwen"])),
        args=args,
        processing_class=page["qwen"],
        train_dataset=no_target,
    )
    trainer.train()
    assert int(trainer.batch["num_items_in_batch"]) == 0
    assert trainer.logs["train_loss"] == 0.0
    batch = {k: trainer.batch[k] for k in ("input_ids", "attention_mask", "labels")}
    with torch.no_grad():
        assert torch.isnan(trainer.model(**batch).loss)
        assert torch.isnan(trainer.model(**batch, num_items_in_batch=0).loss)
        assert trainer.compute_loss(trainer.model, dict(batch), num_items_in_batch=0) == 0


def _logged_losses(tmp_path, nan_filter):
    """transformers' Trainer on rows with no target: 2 steps of 2 micro-batches, logged each step."""
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=16,
            hidden_size=8,
            intermediate_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
        )
    )
    rows = [{"input_ids": [5, 6, 7, 8], "attention_mask": [1] * 4, "labels": [IGNORE] * 4}] * 8
    args = TrainingArguments(
        output_dir=str(tmp_path),
        report_to="none",
        use_cpu=True,
        save_strategy="no",
        disable_tqdm=True,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=2,
        max_steps=2,
        logging_steps=1,
        logging_nan_inf_filter=nan_filter,
    )
    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_list(rows))
    trainer.train()
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


def test_claim_the_Trainer_logs_0_for_steps_with_no_target_and_nan_only_without_its_filter(
    tmp_path,
):
    """M1 (round 2): the plain Trainer replaces the nan by the average so far, which is 0."""
    assert_page_says(
        "sft.md",
        "troubleshooting",
        en="You see the `nan` in a training loop of your own, or with "
        "`logging_nan_inf_filter=False`; transformers' `Trainer` logs 0.0 by default",
        zh="在自己写的训练循环里，或者设了 `logging_nan_inf_filter=False` 时，会看到这个 `nan`；"
        "transformers 的 `Trainer` 默认记录的是 0.0",
    )
    assert_page_says(
        "sft.md",
        "troubleshooting",
        en="transformers' `Trainer` gets `nan` but, with `logging_nan_inf_filter=True`, its "
        "default, replaces each `nan` by an average of the loss summed since the last log "
        "([all labels -100](loss.md#all-ignored)), which is 0 here.",
        zh="transformers 的 `Trainer` 得到的是 `nan`，但在 `logging_nan_inf_filter=True`（默认值）时，"
        "它用上次记录以来累计损失的一个平均值顶替每个 `nan`（见[标签全为 -100](loss.md#all-ignored)），"
        "这里这个值就是 0。",
    )
    assert {f.name: f.default for f in dataclasses.fields(TrainingArguments)}[
        "logging_nan_inf_filter"
    ] is True
    assert _logged_losses(tmp_path, nan_filter=True) == [0.0, 0.0]
    assert all(torch.isnan(torch.tensor(_logged_losses(tmp_path, nan_filter=False))))


def test_claim_without_a_mask_sdpa_applies_is_causal_a_padding_mask_is_explicit_and_no_flash():
    """M5 (round 2): on a GPU the two calls may run different kernels, so agree up to rounding."""
    from transformers.masking_utils import _ignore_causal_mask_sdpa, create_causal_mask

    assert_page_says(
        "sft.md",
        "batching",
        en="without a mask, transformers lets `sdpa` apply the causal mask itself (`is_causal`), "
        "which lets torch pick its FlashAttention kernel; with a padding mask it passes an "
        "explicit mask, which that kernel does not take",
        zh="不传掩码时，transformers 让 `sdpa` 自己施加因果掩码（`is_causal`），torch 因此可以选用它的 "
        "FlashAttention 内核；传了填充掩码时，transformers 传入一个显式的掩码，而这个内核不接受显式掩码",
    )
    config = LlamaConfig(hidden_size=64, num_attention_heads=4, attn_implementation="sdpa")
    embeds = torch.zeros(2, 6, 64)
    positions = torch.arange(6).expand(2, 6)
    assert create_causal_mask(config, embeds, None, None, position_ids=positions) is None
    right_padded = torch.tensor([[1] * 6, [1] * 4 + [0] * 2])
    explicit = create_causal_mask(config, embeds, right_padded, None, position_ids=positions)
    assert explicit is not None and explicit.dtype == torch.bool
    assert "allowing to dispatch to the flash attention kernel" in _ignore_causal_mask_sdpa.__doc__
    header = Path(torch.__file__).parent / "include/ATen/native/transformers/sdp_utils_cpp.h"
    assert "Flash Attention does not support non-null attn_mask." in header.read_text()


def test_claim_num_items_in_batch_is_a_float_because_the_Trainer_divides_by_tp_cp_sp(tmp_path):
    """M6 (round 2): the recorded step shows 16.0 targets."""
    assert_page_says(
        "sft.md",
        "trl-step-chat",
        en="It is a float because the Trainer divides the count by the product of the tensor-, "
        "context- and sequence-parallel sizes, here 1.",
        zh="它是浮点数，因为 Trainer 把目标数除以了（张量并行规模 × 上下文并行规模 × 序列并行规模），"
        "这里三者都是 1。",
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(vocab_size=16, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                    num_attention_heads=2)
    )  # fmt: skip
    trainer = Trainer(
        model=model, args=TrainingArguments(str(tmp_path), report_to="none", use_cpu=True)
    )
    assert (trainer.get_tp_size(), trainer.get_cp_size(), trainer.get_sp_size()) == (1, 1, 1)
    labels = torch.tensor([[IGNORE, 3, 4, IGNORE]])
    count = trainer._get_num_items_in_batch([{"labels": labels}], torch.device("cpu"))
    assert count.dtype.is_floating_point and count.item() == 2.0
    assert "self.get_tp_size() * self.get_cp_size() * self.get_sp_size()" in inspect.getsource(
        Trainer._get_num_items_in_batch
    )
    assert "num_items_in_batch 16.0" in (OUTPUTS / "sft" / "trl_step_chat.txt").read_text()


def test_claim_TRL_prepares_only_text_datasets_and_skipping_it_drops_nothing(page):
    """M7 (round 2): vision datasets and skip_prepare_dataset get their labels in the collator."""
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    assert_page_says(
        "sft.md",
        "trl",
        en="For text datasets, TRL's `SFTTrainer` builds the labels while preparing the dataset",
        zh="对文本数据集，TRL 的 `SFTTrainer` 在准备数据集的阶段就把标签构造好",
    )
    assert_page_says(
        "sft.md",
        "trl",
        en="Vision datasets skip that preparation, and so does any dataset with `dataset_kwargs="
        '{"skip_prepare_dataset": True}`: no example is dropped, and the labels come from the '
        "collator, which builds them batch by batch for vision data and, for text, takes the "
        "dataset's `labels` column, or the `input_ids` when there is none.",
        zh='视觉数据集跳过这一准备阶段，设了 `dataset_kwargs={"skip_prepare_dataset": True}` 的数据集也一样：'
        "这时不丢掉任何样本，标签来自数据整理器，视觉数据由它逐批构造标签，文本数据则直接用数据集的 `labels` 列，"
        "没有这一列时就用 `input_ids`。",
    )
    init = inspect.getsource(SFTTrainer.__init__)
    assert (
        'args.dataset_kwargs.get("skip_prepare_dataset", False)\n            or self._is_vision_dataset'
        in init
    )
    assert (
        'self._is_vision_dataset = "image" in dataset_sample or "images" in dataset_sample' in init
    )
    build, qwen, tokenized = page["build"], page["qwen"], page["tokenized"]
    assert len(build(qwen, tokenized).train_dataset) == 1  # prepared: the no-target one dropped
    skipped = build(qwen, tokenized, dataset_kwargs={"skip_prepare_dataset": True})
    assert len(skipped.train_dataset) == 2
    batch = skipped.data_collator(list(skipped.train_dataset))
    assert batch["labels"].tolist() == tokenized["labels"]  # the labels column, as it is
    no_labels = TRLCollator(pad_token_id=0)([{"input_ids": [5, 6, 7]}])
    assert no_labels["labels"].tolist() == [[5, 6, 7]]
    vlm = inspect.getsource(DataCollatorForVisionLanguageModeling)
    assert 'labels = output["input_ids"].clone()' in vlm


def test_claim_average_tokens_across_devices_sums_the_count_over_processes_and_scales_the_loss(
    tmp_path, monkeypatch
):
    assert_page_says(
        "sft.md",
        "several-processes",
        en="It also multiplies each process's loss by the number of processes divided by the "
        "tensor-parallel size. With data parallelism alone that factor is the number of processes",
        zh="它还把各进程的损失乘以（进程数 ÷ 张量并行规模）；只做数据并行时，这个因子就是进程数",
    )
    assert {f.name: f.default for f in dataclasses.fields(TrainingArguments)}[
        "average_tokens_across_devices"
    ] is True
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=16,
            hidden_size=8,
            intermediate_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
        )
    )
    trainer = Trainer(
        model=model,
        args=TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True),
    )
    # Pretend to be one of 2 processes: the other one counted 5 targets.
    monkeypatch.setattr(type(trainer.args), "world_size", property(lambda self: 2))
    monkeypatch.setattr(trainer.accelerator, "gather", lambda t: torch.stack([t, t.new_tensor(5)]))
    labels = torch.tensor([[IGNORE, 3, 4, IGNORE]])
    batch = {"input_ids": torch.tensor([[1, 3, 4, 5]]), "labels": labels}
    assert int(trainer._get_num_items_in_batch([batch], torch.device("cpu"))) == 2 + 5
    monkeypatch.setattr(type(trainer.accelerator), "num_processes", property(lambda self: 2))
    model.eval()
    with torch.no_grad():
        scaled = trainer.compute_loss(model, dict(batch), num_items_in_batch=7)
        plain = model(**batch, num_items_in_batch=7).loss
    torch.testing.assert_close(scaled, 2 * plain)
    # 4 processes in 2 tensor-parallel groups of 2: the factor is 4 // 2 data-parallel replicas
    monkeypatch.setattr(type(trainer.accelerator), "num_processes", property(lambda self: 4))
    monkeypatch.setattr(trainer, "get_tp_size", lambda: 2)
    with torch.no_grad():
        scaled = trainer.compute_loss(model, dict(batch), num_items_in_batch=7)
    torch.testing.assert_close(scaled, 2 * plain)
    assert "self.accelerator.num_processes // self.get_tp_size()" in inspect.getsource(
        SFTTrainer.compute_loss
    )


# --- the exercises ---------------------------------------------------------------------------------


def test_exercise_answers_are_computed_and_match_the_questions():
    answers = (OUTPUTS / "sft" / "quiz.txt").read_text(encoding="utf-8").splitlines()
    # 1: shift by hand, count what is not -100; the padding never counts.
    rows = [[-100, -100, 7, 8], [-100, 9, 9, 9, 9, 2]]
    assert answers[0] == f"1. {sum(sum(y != IGNORE for y in row[1:]) for row in rows)}"
    # 2: each document loses its first token as a target; unmasked, only the row's first.
    assert answers[1] == f"2. {(4 - 1) + (3 - 1)} {4 + 3 - 1}"
    # 3: the mean over all targets, and the mean of the two means.
    assert answers[2] == f"3. {(2 * 1.0 + 6 * 3.0) / 8} {(1.0 + 3.0) / 2}"
    assert answers[3] == "4. [True, False]"
    for lang in ("en", "zh"):
        page = (SNIPPETS.parent / "docs" / lang / "sft.md").read_text(encoding="utf-8")
        questions = page.split("{ #exercises }")[1].split("???")[0]
        for fact in (
            "[-100, -100, 7, 8]",
            "[-100, 9, 9, 9, 9, 2]",
            "pad_token_id=2",
            "4",
            "3",
            "2",
            "6",
            "1.0",
            "3.0",
        ):
            assert fact in questions, (lang, fact)


@torch.no_grad()
def test_claim_without_attention_mask_the_cross_entropy_is_the_same_but_not_an_MoE_router_loss(
    page,
):
    """sft.md #batching: with right padding the mask changes neither the logits at the real
    positions nor the cross-entropy; Mixtral's load-balancing loss takes the mask."""
    from transformers import MixtralConfig, MixtralForCausalLM

    assert_page_says(
        "sft.md",
        "batching",
        en="the cross-entropy loss and the logits at the real positions do not depend on "
        "`attention_mask`. On the CPU they are the same bit for bit with or without it.",
        zh="交叉熵损失和实际词元位置上的 logits 都与 `attention_mask` 无关。在 CPU 上，传不传它，结果逐位相同。",
    )
    assert_page_says(
        "sft.md",
        "batching",
        en="The exception is an auxiliary loss that reads the mask: with "
        "`output_router_logits=True`, the router load-balancing loss of a mixture-of-experts "
        "model such as Mixtral leaves the padding out only with `attention_mask`",
        zh="例外是读取掩码的辅助损失：设置 `output_router_logits=True` 时，Mixtral 这类混合专家模型的"
        "路由负载均衡损失，只有收到 `attention_mask` 才把填充排除在外",
    )
    torch.manual_seed(0)
    config = MixtralConfig(
        vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, num_local_experts=4,
        num_experts_per_tok=2, output_router_logits=True, attn_implementation="sdpa",
    )  # fmt: skip
    moe = MixtralForCausalLM(config).eval()
    batch = page["batch"]  # the page's right-padded batch
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    assert int(ids.max()) < 128 and mask[1, -1] == 0
    real = mask.bool()
    with_mask = moe(input_ids=ids, attention_mask=mask, labels=labels)
    without = moe(input_ids=ids, labels=labels)
    torch.testing.assert_close(with_mask.logits[real], without.logits[real])

    def cross_entropy(out):
        return torch.nn.functional.cross_entropy(
            out.logits[:, :-1].reshape(-1, 128), labels[:, 1:].reshape(-1)
        )

    torch.testing.assert_close(cross_entropy(with_mask), cross_entropy(without))
    assert abs(float(with_mask.aux_loss - without.aux_loss)) > 1e-3
    assert with_mask.loss != without.loss  # the model's loss adds the router loss
    source = inspect.getsource(type(moe).forward)
    assert "attention_mask" in source.split("load_balancing_loss_func(")[1].split(")")[0]


def test_claim_the_batches_TRL_hands_the_model_are_padded_on_the_right_vlm_prompts_too():
    """sft.md #padding-side: the VLM collator pads prompts on the left, then flushes rows left."""
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    assert_page_says(
        "sft.md",
        "padding-side",
        en="the batches TRL's SFT collators hand to the model are padded on the right: the text "
        "collator pads on the right, and so does the vision–language one for conversational and "
        "text data; for prompt–completion data it pads the prompts on the left before appending "
        "the completions, then moves each row to the left (`flush_left`)",
        zh="TRL 的 SFT 数据整理器交给模型的批次都是右填充的：文本数据整理器直接右填充；"
        "视觉—语言数据整理器处理对话和纯文本数据时也直接右填充，处理提示—补全数据时先把提示左填充、"
        "再接上补全，然后把每一行左对齐（`flush_left`）",
    )

    class Processor:
        """Character ids, padded on the side asked for; records the sides."""

        def __init__(self):
            self.sides = []

        def __call__(self, text, padding_side, images=None, **kwargs):
            self.sides.append(padding_side)
            width = max(map(len, text))
            rows, masks = [], []
            for line in text:
                ids, pad = [ord(c) for c in line], [0] * (width - len(line))
                ones = [1] * len(line)
                left = padding_side == "left"
                rows.append(pad + ids if left else ids + pad)
                masks.append([0] * len(pad) + ones if left else ones + [0] * len(pad))
            return {"input_ids": torch.tensor(rows), "attention_mask": torch.tensor(masks)}

    processor = Processor()
    collator = DataCollatorForVisionLanguageModeling(processor, completion_only_loss=True)
    examples = [
        {"prompt": "ab", "completion": "cde", "images": []},
        {"prompt": "abcdef", "completion": "g", "images": []},
    ]
    batch = collator(examples)
    assert processor.sides == ["left", "right"]  # prompts left, completions right
    assert batch["attention_mask"].tolist() == [[1] * 5 + [0] * 2, [1] * 7]  # right-padded
    assert batch["input_ids"][0, :5].tolist() == [ord(c) for c in "abcde"]
    processor.sides.clear()  # M11: text (and conversational) data: padded on the right at once
    texts = [{"text": "ab", "images": []}, {"text": "abcd", "images": []}]
    batch = DataCollatorForVisionLanguageModeling(processor)(texts)
    assert processor.sides == ["right"]
    assert batch["attention_mask"].tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]
    text = TRLCollator(pad_token_id=0)([{"input_ids": [1, 2, 3]}, {"input_ids": [4]}])
    assert text["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_claim_DataCollatorForLanguageModeling_overwrites_or_rejects_given_labels(page):
    """sft.md #pad-is-eos: equal-length labels are rebuilt from input_ids, ragged ones raise."""
    assert_page_says(
        "sft.md",
        "pad-is-eos",
        en="It also ignores any `labels` the examples hold: if they all have the same length it "
        "overwrites them with labels rebuilt from `input_ids`, so a masked prompt is trained again; "
        "if their lengths differ it raises a `ValueError`, because the tokenizer's `pad` that it "
        "calls leaves `labels` unpadded",
        zh="它也不用样本自带的 `labels`：长度都相同时，用从 `input_ids` 重新构造的标签覆盖它们，"
        "已经屏蔽的提示又会参与训练；长度不同时抛出 `ValueError`，因为它调用的分词器 `pad` "
        "不填充 `labels`",
    )
    collator = DataCollatorForLanguageModeling(page["toy"], mlm=False)
    batch = collator([{"input_ids": [5, 6, 7, 8], "labels": [IGNORE, IGNORE, 7, 8]}])
    assert batch["labels"].tolist() == [[5, 6, 7, 8]]
    ragged = [
        {"input_ids": [5, 6, 7, 8], "labels": [IGNORE, IGNORE, 7, 8]},
        {"input_ids": [5, 6], "labels": [IGNORE, 6]},
    ]
    with pytest.raises(ValueError, match="Unable to create tensor"):
        collator(ragged)
    padded = page["toy"].pad(ragged)
    assert [len(row) for row in padded["input_ids"]] == [4, 4]
    assert padded["labels"] == [e["labels"] for e in ragged]  # left ragged


def test_claim_SFTConfig_eos_token_replaces_the_config_eos_and_prepends_it_to_generation(page):
    """sft.md #troubleshooting: generation stops on generation_config.eos_token_id."""
    assert_page_says(
        "sft.md",
        "troubleshooting",
        en="or the model does produce its end-of-turn token but `generate` stops only on "
        "`generation_config.eos_token_id`, which does not hold it",
        zh="或者模型确实输出了轮次结束词元，但 `generate` 只在 `generation_config.eos_token_id` "
        "里的词元处停下，而其中没有它",
    )
    assert_page_says(
        "sft.md",
        "troubleshooting",
        en='`SFTConfig(eos_token="<|im_end|>")` makes it the tokenizer\'s EOS, replaces the '
        "model config's `eos_token_id` with it, and, if `generation_config.eos_token_id` does not "
        "hold it yet, puts it first there, keeping the EOS ids already there",
        zh='`SFTConfig(eos_token="<|im_end|>")` 会把它设为分词器的 EOS，用它替换模型配置里的 '
        "`eos_token_id`，`generation_config.eos_token_id` 里还没有它时，把它放在最前面，原有的 EOS 保留",
    )
    qwen = page["qwen"]
    saved = qwen.eos_token
    try:
        qwen.eos_token = "<|endoftext|>"  # a base checkpoint's EOS
        end_of_turn = qwen.convert_tokens_to_ids("<|im_end|>")
        base_eos = qwen.eos_token_id
        model = page["tiny_llama"](len(qwen))
        model.config.eos_token_id = model.generation_config.eos_token_id = base_eos
        trainer = SFTTrainer(
            model=model,
            args=SFTConfig(**page["QUIET"], eos_token="<|im_end|>"),
            processing_class=qwen,
            train_dataset=page["chats"],
        )
        assert qwen.eos_token_id == end_of_turn != base_eos
        assert trainer.model.config.eos_token_id == end_of_turn  # replaced
        stops_on = trainer.model.generation_config.eos_token_id
        assert stops_on == [end_of_turn, base_eos]  # first, the old one kept
        model = page["tiny_llama"](len(qwen))  # M10: an id already there keeps its place
        model.config.eos_token_id = base_eos
        model.generation_config.eos_token_id = [base_eos, end_of_turn]
        trainer = SFTTrainer(
            model=model,
            args=SFTConfig(**page["QUIET"], eos_token="<|im_end|>"),
            processing_class=qwen,
            train_dataset=page["chats"],
        )
        assert trainer.model.generation_config.eos_token_id == [base_eos, end_of_turn]
    finally:
        qwen.eos_token = saved


def test_claim_models_that_declare_accepts_loss_kwargs_false_get_the_mean_of_means():
    """sft.md #troubleshooting: Qwen2.5-VL declares accepts_loss_kwargs = False."""
    from transformers import Qwen2_5_VLForConditionalGeneration

    assert_page_says(
        "sft.md",
        "troubleshooting",
        en="when the Trainer decides that the model takes no loss keyword arguments: its `forward` "
        "takes no `**kwargs` and it declares no `accepts_loss_kwargs`, or it sets "
        "`accepts_loss_kwargs = False`, as Qwen2.5-VL does",
        zh="Trainer 认定模型不接收损失相关的关键字参数时就会这样：`forward` 不接收 `**kwargs`、"
        "也没有声明 `accepts_loss_kwargs`，或者模型设了 `accepts_loss_kwargs = False`"
        "（Qwen2.5-VL 就是如此）",
    )
    assert Qwen2_5_VLForConditionalGeneration.accepts_loss_kwargs is False
    source = inspect.getsource(Trainer.__init__)
    assert 'hasattr(unwrapped_model, "accepts_loss_kwargs")' in source


def test_claim_packed_rows_are_kept_apart_by_a_per_document_mask_not_the_padding_mask():
    assert_page_says(
        "sft.md",
        "batching",
        en="in packed rows, where what keeps the documents apart is a per-document mask that "
        "transformers builds from `position_ids` when no `attention_mask` is given "
        "([below](#packing))",
        zh="二是打包的行，这时靠按文档划分的掩码把文档分开，不传 `attention_mask` 时由 transformers "
        "根据 `position_ids` 构造（见[下文](#packing)）",
    )


def test_claim_gradient_checkpointing_in_training_turns_the_cache_off_for_packed_rows():
    """M2: transformers sets use_cache=False itself when checkpointing, training, with grad."""
    assert_page_says(
        "sft.md",
        "use-cache",
        en="unless the model is training with activation checkpointing on (its older name is "
        "gradient checkpointing) and gradients enabled: transformers then turns the cache off itself",
        zh="例外是模型在训练模式下打开了激活检查点（activation checkpointing，旧名 gradient checkpointing）"
        "并且启用了梯度，这时 transformers 会自己关掉缓存",
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=128,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=4,
            attn_implementation="sdpa",
        )
    )
    docs = _documents((5, 3, 7), seed=3)
    p = pack([{"input_ids": d} for d in docs])
    kwargs = dict(input_ids=p["input_ids"], position_ids=p["position_ids"], labels=p["labels"])
    assert model.config.use_cache is True
    model.activation_checkpointing_enable()
    model.train()
    torch.testing.assert_close(model(**kwargs).loss, model(**kwargs, use_cache=False).loss)
    with torch.no_grad():  # no gradient: the cache stays on and attention crosses documents
        assert abs(model(**kwargs).loss - model(**kwargs, use_cache=False).loss) > 1e-4


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_claim_packed_rows_get_a_dense_mask_and_sdpa_loses_is_causal(attention):
    """M3: padding-free with sdpa/eager is correct but builds a (B, 1, T, T) mask."""
    from transformers.masking_utils import create_causal_mask

    assert_page_says(
        "sft.md",
        "padding-free",
        en="It is correct, not free: for a packed row, transformers builds them a dense "
        "(B, 1, T, T) mask, whose memory grows with the square of the row length, and `sdpa` "
        "loses its `is_causal` fast path.",
        zh="不过结果正确并不等于没有代价：对打包的行，transformers 要为 `sdpa`/`eager` 构造一个稠密的 "
        "(B, 1, T, T) 掩码，"
        "占用的内存随行长的平方增长，`sdpa` 也用不上它的 `is_causal` 快速路径。",
    )
    config = LlamaConfig(hidden_size=64, num_attention_heads=4, attn_implementation=attention)
    embeds = torch.zeros(1, 15, 64)
    packed = torch.cat([torch.arange(n) for n in (5, 3, 7)])[None]
    mask = create_causal_mask(config, embeds, None, None, position_ids=packed)
    assert tuple(mask.shape) == (1, 1, 15, 15)
    plain = create_causal_mask(config, embeds, None, None, position_ids=torch.arange(15)[None])
    if attention == "sdpa":
        assert plain is None  # one document: sdpa's is_causal, no mask at all


def test_claim_TRL_swaps_only_a_template_equal_to_one_it_stores_an_edited_one_raises(page):
    """M4: get_training_chat_template compares the template text, not the model family."""
    assert_page_says(
        "sft.md",
        "no-generation",
        en="TRL swaps in its training variant if the template is, character for character, one "
        "that it stores",
        zh="模板与 TRL 存的某个模板逐字相同",
    )
    assert_page_says(
        "sft.md",
        "no-generation",
        en="and for any edited template, even one of those families",
        zh="改动过的模板即使属于上面这些模型系列，也会报错",
    )
    tokenizer = page["qwen"]
    tokenizer.chat_template = chat_template_utils.qwen2_5_chat_template + "\n"
    try:
        with pytest.raises(ValueError, match="not training-compatible"):
            chat_template_utils.get_training_chat_template(tokenizer)
    finally:
        tokenizer.chat_template = chat_template_utils.qwen2_5_chat_template
