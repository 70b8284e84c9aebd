"""The SFT chapter's claims (docs/*/sft.md), checked against transformers 5.24 and TRL 1.16.

Each test is named after the claim it checks. The chat example is the page's own code: the
snippet's sections are run up to the one a test needs, so the test checks what the page shows.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from snippet_sections import SNIPPETS, read_sections
from transformers import DataCollatorForLanguageModeling, LlamaConfig, LlamaForCausalLM
from trl import SFTConfig
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling as TRLCollator

from lmloss import count_loss_tokens
from lmloss.sft import collate, labels_from_mask, pack

IGNORE = -100


@pytest.fixture(scope="module")
def page():
    """The namespace of snippets/sft.py run up to its chat example."""
    namespace: dict[str, object] = {"__name__": "__snippet__"}
    for section in read_sections(SNIPPETS / "sft.py"):
        exec(section.compiled(SNIPPETS / "sft.py"), namespace)
        if section.name == "chat_mask":
            return namespace
    raise AssertionError("snippets/sft.py has no section 'chat_mask'")


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


def test_claim_SFTConfig_has_the_four_masking_and_layout_fields_with_these_defaults():
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
