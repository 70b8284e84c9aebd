"""The claims of "Assistant masks on real chat templates" (docs/*/chat-templates.md), checked
against transformers 5.24 and TRL 1.16.

Each test is named after the claim it checks and binds the sentence it backs with
``assert_page_says``. The tokenizers and conversations are the page's own: the snippet's
sections are run once, in order.
"""

from __future__ import annotations

import dataclasses
import inspect

import pytest
from transformers.utils import logging as hf_logging
from transformers.utils.chat_template_utils import render_jinja_template

from conversations import profile_of, shaped
from lmloss.chat import _PROBES
from page_claims import assert_page_says
from snippet_sections import OUTPUTS, SNIPPETS, read_sections

PAGE = "chat-templates.md"


@pytest.fixture(scope="module")
def page():
    """The namespace of snippets/chat_templates.py, every section run in order."""
    namespace: dict[str, object] = {"__name__": "__snippet__"}
    for section in read_sections(SNIPPETS / "chat_templates.py"):
        exec(section.compiled(SNIPPETS / "chat_templates.py"), namespace)
    return namespace


def _marked_text(tokenizer, encoded) -> str:
    ids, mask = encoded["input_ids"], encoded["assistant_masks"]
    return tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if m])


def test_claim_transformers_marks_every_token_that_overlaps_a_generation_span(page):
    assert_page_says(
        PAGE,
        "offsets",
        en="transformers maps its markers' spans with the same rule",
        zh="transformers 也按同样的规则映射 generation 块的区间",
    )
    tokenizer, chat = page["qwen3_8"], page["chat"]
    for name in ("qwen3_8_training", "qwen2_5_training", "qwen3_training"):
        training = page["template"](name)
        (text,), (spans,) = render_jinja_template(
            [chat],
            chat_template=training,
            return_assistant_tokens_mask=True,
            **tokenizer.special_tokens_map,
        )
        offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)[
            "offset_mapping"
        ]
        theirs = tokenizer.apply_chat_template(
            chat, chat_template=training, return_dict=True, return_assistant_tokens_mask=True
        )
        assert page["overlapping"](offsets, spans) == theirs["assistant_masks"], name
    # ... and on the page's example the straddling "\n\n" token is one of them.
    assert "<think> [\\n\\n]" in (OUTPUTS / "chat_templates" / "offsets.txt").read_text()


def test_claim_warning_once_remembers_what_it_logged_so_the_warning_comes_once_per_process():
    assert_page_says(
        PAGE,
        "generation-markers",
        en="it logs one warning, and only once per process",
        zh="只记录一条警告，而且每个进程只记录一次",
    )
    assert_page_says(
        PAGE,
        "generation-markers",
        en="`warning_once` remembers the messages it has logged",
        zh="`warning_once` 会记住已经记录过的消息",
    )
    # functools' cache: a second call with the same message returns before logging.
    assert callable(hf_logging.warning_once.cache_clear)
    assert hf_logging.warning_once.cache_info().maxsize is None


def test_claim_transformers_keeps_the_mask_of_the_tokens_truncation_leaves(page):
    assert_page_says(
        PAGE,
        "pitfalls",
        en="transformers keeps the mask of the tokens truncation leaves",
        zh="transformers 保留截断后剩下的词元的掩码",
    )
    tokenizer, chat, training = page["qwen"], page["chat"], page["template"]("qwen2_5_training")
    full = tokenizer.apply_chat_template(
        chat, chat_template=training, return_dict=True, return_assistant_tokens_mask=True
    )
    for cut in (3, 5, 9):
        kept = len(full["input_ids"]) - cut
        truncated = tokenizer.apply_chat_template(
            chat,
            chat_template=training,
            return_dict=True,
            return_assistant_tokens_mask=True,
            truncation=True,
            max_length=kept,
        )
        assert truncated["input_ids"] == full["input_ids"][:kept]
        assert truncated["assistant_masks"] == full["assistant_masks"][:kept]
    # On the page's example the cut answer is still trained, without its <|im_end|>.
    assert page["truncated"]["assistant_masks"][-1] == 1


def test_claim_transformers_reads_reasoning_and_thinking_as_reasoning_content(page):
    assert_page_says(
        PAGE,
        "reasoning",
        en="transformers also reads `reasoning` and `thinking`",
        zh="transformers 也认 `reasoning` 和 `thinking` 这两个字段",
    )
    tokenizer, reasoned = page["qwen3"], page["reasoned"]

    def rendered(field):
        last = {k: v for k, v in reasoned[3].items() if k != "reasoning_content"}
        chat = [*reasoned[:3], {**last, field: "two plus three"}]
        return tokenizer.apply_chat_template(chat, tokenize=False)

    assert "two plus three" in rendered("reasoning_content")
    assert rendered("reasoning") == rendered("thinking") == rendered("reasoning_content")
    # The qwen3 template itself reads reasoning_content only: the aliasing is transformers'.
    template = page["template"]("qwen3")
    assert "reasoning_content" in template and "message.thinking" not in template


def test_claim_the_DeepSeek_generation_prompts_end_with_think_so_one_turn_already_fails(page):
    assert_page_says(
        PAGE,
        "template-table",
        en="the DeepSeek and `nemotron_3_*` templates end it with `<think>\\n`",
        zh="DeepSeek 和 `nemotron_3_*` 的模板把生成提示写成以 `<think>\\n` 结尾",
    )
    one_turn = page["chat"][:2]
    for name in ("deepseek_r1_distill", "deepseekv3"):
        tokenizer = page["tokenizer_for"](name)
        prompt = tokenizer.apply_chat_template(
            one_turn[:1], add_generation_prompt=True, tokenize=False
        )
        turn = tokenizer.apply_chat_template(one_turn, tokenize=False)
        assert prompt.endswith("<think>\n") and "<think>" not in turn, name
        with pytest.raises(page["NotPrefixPreservingError"]):
            page["assistant_mask"](tokenizer, one_turn)


def test_claim_TRL_training_templates_mark_every_assistant_turn(page):
    assert_page_says(
        PAGE,
        "multi-turn",
        en="TRL's training templates mark every assistant turn",
        zh="TRL 的训练模板标出助手的每一轮发言",
    )
    names = sorted(p.stem.removesuffix("_training") for p in page["TEMPLATES"].glob("*_training.*"))
    assert len(names) > 20
    for name in names:
        tokenizer = page["tokenizer_for"](name)
        profile = profile_of(tokenizer, page["template"](name))
        chat = [shaped(m, profile.blocks, profile.string_arguments) for m in _PROBES["multi_turn"]]
        encoded = tokenizer.apply_chat_template(
            chat,
            chat_template=page["template"](f"{name}_training"),
            return_dict=True,
            return_assistant_tokens_mask=True,
        )
        marked = _marked_text(tokenizer, encoded)
        assert "zqa1" in marked and "zqa2" in marked, name
        assert "zqu1" not in marked and "zqu2" not in marked, name


def test_claim_qwen3_training_writes_and_marks_an_empty_think_block_in_every_turn(page):
    assert_page_says(
        PAGE,
        "pitfalls",
        en="TRL's Qwen3 training template writes and marks `<think>\\n\\n</think>\\n\\n` in every turn",
        zh="TRL 的 Qwen3 训练模板在每一轮里写出并标出 `<think>\\n\\n</think>\\n\\n`",
    )
    tokenizer, chat = page["qwen3"], page["chat"]
    encoded = page["no_reasoning"]
    runs = page["trained"](tokenizer, encoded["input_ids"], encoded["assistant_masks"])
    answers = [m["content"] for m in chat if m["role"] == "assistant"]
    assert runs == [f"<think>\n\n</think>\n\n{a}<|im_end|>\n" for a in answers]


def test_claim_qwen3_6_with_preserve_thinking_trains_after_the_think_of_its_generation_prompt(
    page,
):
    assert_page_says(
        PAGE,
        "reasoning",
        en="On `qwen3_6` the trained text starts after `<think>\\n` (part of the generation prompt)",
        zh="在 `qwen3_6` 上，参与训练的文本从 `<think>\\n` 之后开始，这部分由生成提示给出",
    )
    tokenizer, reasoned = page["qwen3_6"], page["reasoned"]
    prompt = tokenizer.apply_chat_template(reasoned[:1], add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("<|im_start|>assistant\n<think>\n")


def test_exercise_answers_are_computed_and_match_the_page(page):
    answers = (OUTPUTS / "chat_templates" / "quiz.txt").read_text(encoding="utf-8").splitlines()
    # 1: one "\n" after <|im_start|>assistant per assistant turn of the tool conversation.
    turns = sum(m["role"] == "assistant" for m in page["with_tools"])
    assert answers[0] == f"1. {turns}"
    assert_page_says(PAGE, "exercises", en="1. Two: the `\\n`", zh="1. 两个：")
    # 2: the templates prefix-preserving on the reasoning probe are those that keep it.
    kept = [row.name for row in page["rows"] if row.earlier_reasoning == "kept"]
    assert answers[1] == f"2. {kept}"
    # ... and, with preserve_thinking, those that read the switch and then keep it.
    switch = {"preserve_thinking": True}
    works = {
        row.name: page["reasons_with"](row.name, switch)
        for row in page["rows"]
        if row.reasoning is False and "preserve_thinking" in page["template"](row.name)
    }
    assert answers[2] == f"   {switch} {works}"
    assert [name for name, ok in works.items() if ok] == [
        "lfm2_2_5",
        "lfm2_2_5_v2",
        "lfm2_2_5_vl",
        "qwen3_6",
    ]
    assert_page_says(
        PAGE,
        "exercises",
        en="`lfm2_2_5`, `lfm2_2_5_v2`, `lfm2_2_5_vl` and `qwen3_6`",
        zh="`lfm2_2_5`、`lfm2_2_5_v2`、`lfm2_2_5_vl` 和 `qwen3_6`",
    )
    assert_page_says(
        PAGE,
        "exercises",
        en="`diffusion_gemma` and `gemma4_v5` read the switch too, but still raise",
        zh="`diffusion_gemma` 和 `gemma4_v5` 也读这个开关，但仍然报错",
    )
    # 3: the first assistant message is where prefix rendering stops.
    assert answers[3].startswith("3. 1 ['<think>\\na thank you")
    assert_page_says(PAGE, "exercises", en="raises at `messages[1]`", zh="在 `messages[1]` 处报错")


def test_claim_qwen3_keeps_the_reasoning_of_the_answers_after_the_last_user_message(page):
    assert_page_says(
        PAGE,
        "reasoning",
        en="Qwen3 keeps it for the answers after the last user message only",
        zh="Qwen3 只保留最后一条用户消息之后那些回复的推理",
    )
    assert_page_says(
        PAGE, "tool-calls", en="Qwen3 keeps each step's reasoning", zh="Qwen3 保留每一步的推理"
    )
    qwen3, agent, reasoned = page["qwen3"], page["agent"], page["reasoned"]
    rendered = qwen3.apply_chat_template(agent, tokenize=False)
    assert "need the tool" in rendered and "it said sunny" in rendered
    assert "two plus three" not in qwen3.apply_chat_template(reasoned, tokenize=False)
    runs = page["runs"](qwen3, page["assistant_mask"](qwen3, agent, turns="all"))
    assert [run.startswith("<think>\n") for run in runs] == [True, True]


def test_claim_check_catches_a_think_block_the_generation_prompt_opens(page):
    assert_page_says(
        PAGE,
        "pitfalls",
        en="no trained run holds an empty think block or starts by closing one",
        zh="没有哪一段训练内容含有空的 think 块，或者一开头就关闭 think 块",
    )
    tokenizer, chat = page["qwen3_8"], page["chat"]
    prompt = tokenizer.apply_chat_template(chat[:1], add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("<think>\n")  # the real template opens the block in the prompt
    mask = page["qwen3_8_prefix"]
    runs = page["trained"](tokenizer, mask.input_ids, mask.assistant_masks)
    assert all(run.startswith("\n\n</think>") for run in runs)
    assert page["check"](tokenizer, mask.input_ids, mask.assistant_masks, chat) == [
        "an empty think block is trained"
    ]


def test_claim_check_runs_on_the_masks_above_and_on_masks_not_shown_before(page):
    assert_page_says(
        PAGE,
        "pitfalls",
        en="on the masks of the sections above and on masks not shown before",
        zh="用在前面几节的掩码上，也用在几个前面没出现过的掩码上",
    )
    new = [
        name
        for name in page["cases"]
        if name not in ("generation markers", "no markers", "assistant content")
    ]
    assert new == [
        "prompt-completion",
        "truncated",
        "qwen3_training",
        "qwen3_8 prefix",
        "glm4moe prefix",
        "glm4moe_training",
    ]
    assert_page_says(
        PAGE, "pitfalls", en="prefix rendering on `qwen3_8`", zh="在 `qwen3_8` 上前缀渲染"
    )


def test_claim_enable_thinking_false_moves_the_empty_block_into_the_generation_prompt(page):
    assert_page_says(
        PAGE,
        "multi-turn",
        en="Qwen3's template then puts the empty block into the generation prompt, and only the "
        "answer is trained",
        zh="Qwen3 的模板会把空的 think 块放进生成提示，只有回复参与训练",
    )
    chat, off = page["chat"], {"enable_thinking": False}
    for name in ("qwen3", "qwen3_5_think", "qwen3_5_nothink", "qwen3_6", "qwen3_8"):
        tokenizer = page["tokenizer_for"](name)
        prompt = tokenizer.apply_chat_template(
            chat[:3], add_generation_prompt=True, tokenize=False, **off
        )
        assert prompt.endswith("<think>\n\n</think>\n\n"), name
        result = page["assistant_mask"](tokenizer, chat, turns="last", chat_template_kwargs=off)
        assert page["runs"](tokenizer, result) == ["sure<|im_end|>\n"], name


def test_claim_TRL_prefix_preserving_check_passes_DeepSeek_where_prefix_rendering_fails(page):
    from trl.chat_template_utils import is_chat_template_prefix_preserving

    assert_page_says(
        PAGE,
        "template-table",
        en="TRL's `is_chat_template_prefix_preserving` tests the first condition only, on one "
        "tool-call conversation, so it returns `True` for `deepseek_r1_distill`",
        zh="TRL 的 `is_chat_template_prefix_preserving` 只检查第一个条件，而且只在一段工具调用对话上检查，"
        "所以它对 `deepseek_r1_distill` 返回 `True`",
    )
    deepseek = page["tokenizer_for"]("deepseek_r1_distill")
    assert is_chat_template_prefix_preserving(deepseek)
    with pytest.raises(
        page["NotPrefixPreservingError"], match="generation prompt is not the start"
    ):
        page["assistant_mask"](deepseek, page["chat"][:2])
    assert not is_chat_template_prefix_preserving(page["qwen3"])  # the two agree on Qwen3


def test_claim_phi3_and_gptoss_end_the_last_turn_differently(page):
    assert_page_says(
        PAGE,
        "template-table",
        en="phi3 ends the whole rendering with `<eos>` unless a generation prompt is added, gpt-oss "
        "ends the last answer with `<|return|>` and the others with `<|end|>`",
        zh="phi3 只要不加生成提示，就在整段渲染的末尾加上 `<eos>`，gpt-oss 的最后一次回复以 `<|return|>` 结尾、"
        "其余的以 `<|end|>` 结尾",
    )
    chat = page["chat"]
    # phi3's <eos> follows the rendering whatever the last role, after that turn's <|end|>.
    phi3 = page["tokenizer_for"]("phi3")
    assert phi3.apply_chat_template(chat[:1], tokenize=False).endswith("<|end|>\n<eos>")
    prompt = phi3.apply_chat_template(chat[:1], add_generation_prompt=True, tokenize=False)
    assert "<eos>" not in prompt
    for name, last, earlier in (("phi3", "<eos>", "<|end|>"), ("gptoss", "<|return|>", "<|end|>")):
        tokenizer = page["tokenizer_for"](name)
        two = tokenizer.apply_chat_template(chat[:2], tokenize=False)
        full = tokenizer.apply_chat_template(chat, tokenize=False)
        assert two.endswith(last) and full.endswith(last), name
        assert full[: full.index("thanks")].rstrip().rsplit("five", 1)[1].count(earlier), name
        with pytest.raises(page["NotPrefixPreservingError"], match="not prefix-preserving"):
            page["assistant_mask"](tokenizer, chat)


def test_claim_TRL_builds_labels_from_assistant_masks_and_completion_mask_only_if_asked():
    import inspect

    from trl import SFTTrainer

    assert_page_says(
        PAGE,
        "trainer",
        en="A `labels` column is used as it is; a `completion_mask` column counts only when "
        "`completion_only_loss` is on: `True`, or its default `None` on a dataset with `prompt` and "
        "`completion`",
        zh="已有的 `labels` 列会原样使用；`completion_mask` 列只在 `completion_only_loss` 打开时才起作用："
        "设为 `True`，或者取默认值 `None` 而数据集有 `prompt` 和 `completion` 两列",
    )
    from trl import SFTConfig

    defaults = {field.name: field.default for field in dataclasses.fields(SFTConfig)}
    assert defaults["completion_only_loss"] is None
    assert_page_says(
        PAGE,
        "pitfalls",
        en="the labels then keep only the tokens both `completion_mask` and `assistant_masks` mark",
        zh="标签只保留 `completion_mask` 和 `assistant_masks` 都标出的词元",
    )
    source = inspect.getsource(SFTTrainer._prepare_dataset)
    assert 'if "labels" not in column_names:' in source
    assert 'if self.completion_only_loss and "completion_mask" in column_names:' in source
    assert "token_id if all(bits) else -100" in source  # every applicable mask must be 1
    init = inspect.getsource(SFTTrainer.__init__)
    assert '"prompt" in dataset_sample and "completion" in dataset_sample' in init


def test_claim_the_end_of_turn_tokens_of_each_family(page):
    assert_page_says(
        PAGE,
        "pitfalls",
        en="`<|eot_id|>` for Llama 3, `<end_of_turn>` for Gemma up to Gemma 3 (`gemma`, `gemma3`), "
        "`<turn|>` for Gemma 4 (`gemma4*`, `diffusion_gemma`)",
        zh="Llama 3 是 `<|eot_id|>`，Gemma 3 及更早的 Gemma（`gemma`、`gemma3`）是 `<end_of_turn>`，"
        "Gemma 4（`gemma4*`、`diffusion_gemma`）是 `<turn|>`",
    )
    gemma4 = sorted(p.stem for p in page["TEMPLATES"].glob("gemma4*.jinja"))
    assert "gemma4" in gemma4 and not any(name.endswith("_training") for name in gemma4)
    for name, end in (
        ("llama3_1", "<|eot_id|>"),
        ("gemma", "<end_of_turn>"),
        ("gemma3", "<end_of_turn>"),
        *((name, "<turn|>") for name in (*gemma4, "diffusion_gemma")),
        ("deepseek_r1_distill", "<｜end▁of▁sentence｜>"),
        ("gptoss", "<|return|>"),
    ):
        tokenizer = page["tokenizer_for"](name)
        turn = tokenizer.apply_chat_template(page["chat"][:2], tokenize=False)
        assert turn.rstrip("\n").endswith(end), name


def test_claim_glm4moe_prefix_rendering_leaves_out_the_stop_token_without_raising(page):
    assert_page_says(
        PAGE,
        "prefixes",
        en="prefix rendering gives that token to the next message, leaves the last answer with no "
        "stop token at all, and raises nothing",
        zh="前缀渲染于是把它算给下一条消息，最后一次回复则完全没有停止词元，而且不会报错",
    )
    assert_page_says(
        PAGE,
        "summary",
        en="A stop token the template writes as the next message's start (GLM-4.5) is left out "
        "without an error",
        zh="模板写成下一条消息开头的停止词元（GLM-4.5）会被漏掉，而且不报错",
    )
    glm, chat, template = page["glm"], page["chat"], page["template"]
    rendered = glm.apply_chat_template(chat, tokenize=False)
    assert "it is five<|user|>" in rendered and rendered.endswith("sure")
    runs = page["runs"](glm, page["assistant_mask"](glm, chat))  # no error: method "auto"
    assert runs == ["\n<think></think>\nit is five", "\n<think></think>\nsure"]
    # TRL's training template puts the role token that follows an answer in its markers.
    training = template("glm4moe_training")
    assert "{%- elif loop.last -%}\n{{- '<|user|>' }}" in training
    marked = page["runs"](glm, page["glm_training"])
    assert [run.endswith("<|user|>") for run in marked] == [True, True]
    prefix = page["glm_prefix"]
    assert page["check"](glm, prefix.input_ids, prefix.assistant_masks, chat, "<|user|>")[0] == (
        "a trained run does not end with <|user|>"
    )


def test_claim_qwen3_rewrites_inline_reasoning_and_DeepSeek_R1_cuts_it_from_every_turn(page):
    assert_page_says(
        PAGE,
        "offsets",
        en="DeepSeek-R1 cuts it out of every assistant turn that does not follow a tool result",
        zh="DeepSeek-R1 把它从每一轮不紧跟在工具结果后面的助手发言里删掉",
    )
    assert_page_says(
        PAGE,
        "offsets",
        en="Qwen3 cuts it out of the turns before the last user message and re-formats it in the "
        "later ones as `<think>\\n...\\n</think>\\n\\n`",
        zh="Qwen3 把它从最后一条用户消息之前的轮次里删掉，在之后的轮次里改写成",
    )
    assert_page_says(
        PAGE,
        "offsets",
        en="Llama 3 trims the whitespace around the content",
        zh="Llama 3 会去掉内容首尾的空白",
    )
    chat, tokenizer_for = page["chat"], page["tokenizer_for"]

    def rendered(name, first, last):
        answers = [{"role": "assistant", "content": first}, {"role": "assistant", "content": last}]
        conversation = [chat[0], answers[0], chat[2], answers[1]]
        return tokenizer_for(name).apply_chat_template(conversation, tokenize=False)

    formatted = "<think>\nr1\n</think>\n\nanswer one"
    qwen3 = rendered("qwen3", formatted, "<think>\nr2\n</think>\n\nanswer two")
    assert "r1" not in qwen3 and "<think>\nr2\n</think>\n\nanswer two" in qwen3
    reformatted = rendered("qwen3", formatted, "<think>r2</think>answer two")
    assert "<think>r2</think>" not in reformatted and "<think>\nr2\n</think>" in reformatted
    r1 = rendered("deepseek_r1_distill", formatted, "<think>\nr2\n</think>\n\nanswer two")
    assert "r1" not in r1 and "r2" not in r1
    llama = rendered("llama3_1", " answer one ", "answer two")
    assert " answer one " not in llama and "answer one" in llama and "answer two" in llama


def test_claim_the_straddling_token_never_occurs_at_the_edge_when_the_model_generates(page):
    assert_page_says(
        PAGE,
        "offsets",
        en="the prompt is then tokenized alone and ends with its own `\\n` token",
        zh="那时提示单独分词，以它自己的 `\\n` 词元结尾",
    )
    tokenizer, chat = page["qwen3_8"], page["chat"]
    prompt = tokenizer.apply_chat_template(chat[:1], add_generation_prompt=True)["input_ids"]
    whole = page["assistant_mask"](tokenizer, chat[:2]).input_ids
    edge = len(prompt) - 1
    assert tokenizer.decode(prompt[edge:]) == "\n"
    assert whole[:edge] == prompt[:edge] and tokenizer.decode(whole[edge : edge + 1]) == "\n\n"


def test_claim_TRL_assistant_only_loss_on_qwen3_marks_an_empty_think_block_whatever_enable_thinking(
    page,
):
    from trl.chat_template_utils import get_training_chat_template

    assert_page_says(
        PAGE,
        "pitfalls",
        en="on a Qwen3 tokenizer it swaps in `qwen3_training`, which writes and marks the empty "
        "block whatever `enable_thinking` is (the switch changes only its generation prompt)",
        zh="在 Qwen3 的分词器上它会换上 `qwen3_training`，不管 `enable_thinking` 取什么值，"
        "这个模板都会写出并标出空的 think 块（这个开关只改变它的生成提示）",
    )
    assert_page_says(
        PAGE,
        "trainer",
        en="In `SFTTrainer`, `chat_template_kwargs` is a dataset column, one mapping per example, "
        "not an `SFTConfig` field",
        zh="在 `SFTTrainer` 里，`chat_template_kwargs` 是数据集的一列，每条样本一个映射，而不是 "
        "`SFTConfig` 的字段",
    )
    from trl import SFTConfig, SFTTrainer

    assert "chat_template_kwargs" not in {field.name for field in dataclasses.fields(SFTConfig)}
    assert 'example.get("chat_template_kwargs", {})' in inspect.getsource(SFTTrainer)
    qwen3, chat, template = page["qwen3"], page["chat"], page["template"]
    assert get_training_chat_template(qwen3) == template("qwen3_training")
    for kwargs in ({}, {"enable_thinking": False}):
        marked = qwen3.apply_chat_template(
            chat,
            chat_template=template("qwen3_training"),
            return_dict=True,
            return_assistant_tokens_mask=True,
            **kwargs,
        )
        runs = page["trained"](qwen3, marked["input_ids"], marked["assistant_masks"])
        assert runs == [
            "<think>\n\n</think>\n\nit is five<|im_end|>\n",
            "<think>\n\n</think>\n\nsure<|im_end|>\n",
        ], kwargs


def test_claim_DeepSeek_R1_templates_ignore_reasoning_content_and_need_content_to_open_the_think(
    page,
):
    assert_page_says(
        PAGE,
        "recipes",
        en="Both R1 templates ignore `reasoning_content`",
        zh="R1 的两个模板都不读 `reasoning_content`",
    )
    assert_page_says(
        PAGE,
        "recipes",
        en="prefix rendering raises unless `content` starts with it",
        zh="`content` 不以它开头时前缀渲染会报错",
    )
    r1, chat, training = page["r1"], page["chat"], page["r1_training"]
    separate = [chat[0], {**chat[1], "reasoning_content": "two plus three"}]
    for template in (None, training):
        text = r1.apply_chat_template(separate, chat_template=template, tokenize=False)
        assert "two plus three" not in text
    no_newline = [chat[0], {**chat[1], "content": "<think>two plus three</think>it is five"}]
    with pytest.raises(page["NotPrefixPreservingError"], match="generation prompt"):
        page["assistant_mask"](r1, no_newline, method="prefix", chat_template=training)
    # Cut as the original template cuts them, the earlier answers give each example the context
    # the original template gives the model; uncut, the second example keeps the first reasoning.
    served, uncut = [], []
    for example in page["per_turn"](page["r1_chat"]):
        original = r1.apply_chat_template(example[:-1], add_generation_prompt=True, tokenize=False)
        for kept, messages in ((served, page["as_served"](example)), (uncut, example)):
            context = r1.apply_chat_template(
                messages[:-1], chat_template=training, add_generation_prompt=True, tokenize=False
            )
            kept.append(context == original)
    assert served == [True, True] and uncut == [True, False]


def test_claim_TRL_truncates_after_the_labels_and_drops_rows_with_nothing_trained(page):
    assert_page_says(
        PAGE,
        "trainer",
        en="TRL truncates each example after building its labels",
        zh="TRL 在构造好标签之后才截断每条样本",
    )
    assert_page_says(
        PAGE,
        "trainer",
        en="When it truncates (`max_length` set, `packing` off), it then drops every row left with no "
        "trained token, without a warning",
        zh="截断时（设了 `max_length`、没开 `packing`），它接着把没有词元参与训练的行都丢掉，不发出任何警告",
    )
    assert_page_says(
        PAGE,
        "pitfalls",
        en="it drops an all-zero row without a word, but only when it truncates (`max_length` set, "
        "`packing` off); otherwise the row stays and adds no loss",
        zh="它会把全 0 的那一行悄悄丢掉，不给任何提示，但只在截断时（设了 `max_length`、没开 `packing`）；"
        "否则这一行留下来，不贡献任何损失",
    )
    from trl import SFTConfig, SFTTrainer

    # The filter sits inside the truncation branch, and nowhere else.
    source = inspect.getsource(SFTTrainer._prepare_dataset)
    branch = "            if args.max_length is not None and not packing:\n"
    drop = "                dataset = dataset.filter(\n"
    assert source.count(branch) == 1 and source.count("dataset.filter(") == 1
    assert source.index(branch) < source.index(drop) < source.index("            # Pack")
    assert len(page["uncut_rows"]) == 2  # max_length=None: the all-zero row stays
    assert all(label == -100 for label in page["uncut_rows"][1]["labels"])  # ... adding no loss

    defaults = {field.name: field.default for field in dataclasses.fields(SFTConfig)}
    assert defaults["max_length"] == page["trainer"].args.max_length == 1024
    rows = page["cut_rows"]
    assert len(rows) == 1 and rows[0]["labels"][-1] != -100  # the cut answer is still trained


def test_claim_qwen3_5_nothink_takes_reasoning_data_only_with_enable_thinking(page):
    """Round-3 review W1: its generation prompt holds the empty think block by default only;
    with enable_thinking=True it opens <think> and the last answer's reasoning is found."""
    tokenizer = page["tokenizer_for"]("qwen3_5_nothink")
    with pytest.raises(page["NotPrefixPreservingError"]):
        page["assistant_mask"](tokenizer, page["reasoned"], turns="last")
    result = page["assistant_mask"](
        tokenizer,
        page["reasoned"],
        turns="last",
        chat_template_kwargs={"enable_thinking": True},
    )
    assert any("</think>" in run for run in page["runs"](tokenizer, result))
    assert_page_says(
        PAGE,
        "reasoning",
        en="not on `qwen3_5_nothink`, a model that does not reason, by default: unless "
        '`chat_template_kwargs={"enable_thinking": True}` is passed',
        zh='`qwen3_5_nothink` 默认连这样也不行：它是不思考的模型，除非传 `chat_template_kwargs={"enable_thinking": True}`',
    )


def test_claim_DeepSeek_R1_keeps_the_content_of_an_answer_that_follows_a_tool_result(page):
    """Round-3 review M4: the template's tool-output branch writes content uncut."""
    assert_page_says(
        PAGE,
        "recipes",
        en="cuts everything up to `</think>` out of every assistant turn, the last one included, "
        "except one that follows a tool result",
        zh="把每一轮助手发言里 `</think>` 之前的内容都删掉，最后一轮也不例外，只有紧跟在工具结果后面的那一轮原样保留",
    )
    r1, tools = page["r1"], page["with_tools"]
    inline = "<think>\nr9\n</think>\n\nanswer"
    after_tool = [*tools[:-1], {"role": "assistant", "content": inline}]
    assert "<｜tool▁outputs▁end｜>" + inline in r1.apply_chat_template(after_tool, tokenize=False)
    after_user = [tools[0], {"role": "assistant", "content": inline}]
    assert "r9" not in r1.apply_chat_template(after_user, tokenize=False)


def test_claim_glm4moe_training_ends_runs_with_the_stop_token_but_trains_an_empty_think(page):
    """Round-3 review M3: the fix for the stop token still trains <think></think>."""
    assert_page_says(
        PAGE,
        "pitfalls",
        en="fix: TRL's `glm4moe_training`, whose runs end with it, though on data without reasoning "
        "it still trains an empty `<think></think>` in every answer",
        zh="解决办法是用 TRL 的 `glm4moe_training`，它的每一段都以这个词元结尾，但数据不带推理内容时，"
        "它仍在每次回复里训练空的 `<think></think>`",
    )
    glm, chat = page["glm"], page["chat"]
    marked = page["glm_training"]
    runs = page["runs"](glm, marked)
    assert runs == ["\n<think></think>\nit is five<|user|>", "\n<think></think>\nsure<|user|>"]
    assert page["check"](glm, marked.input_ids, marked.assistant_masks, chat, "<|user|>") == [
        "an empty think block is trained"
    ]


def test_claim_qwen3_5_nothink_recipes_default_without_reasoning_switch_with_it(page):
    """Round-3 review M7: enable_thinking=False is qwen3_5_nothink's default."""
    assert_page_says(
        PAGE,
        "recipes",
        en='`chat_template_kwargs={"enable_thinking": False}` (the default of `qwen3_5_nothink`;',
        zh='`chat_template_kwargs={"enable_thinking": False}`（`qwen3_5_nothink` 默认如此；',
    )
    assert_page_says(
        PAGE,
        "recipes",
        en='on `qwen3_5_nothink` with `chat_template_kwargs={"enable_thinking": True}`',
        zh='在 `qwen3_5_nothink` 上还要加 `chat_template_kwargs={"enable_thinking": True}`',
    )
    tokenizer, chat = page["tokenizer_for"]("qwen3_5_nothink"), page["chat"]

    def prompt(**kwargs):
        return tokenizer.apply_chat_template(
            chat[:3], add_generation_prompt=True, tokenize=False, **kwargs
        )

    assert prompt() == prompt(enable_thinking=False) != prompt(enable_thinking=True)
    assert page["runs"](tokenizer, page["assistant_mask"](tokenizer, chat, turns="last")) == [
        "sure<|im_end|>\n"
    ]


def test_claim_the_nemotron_3_generation_prompts_end_with_think_so_one_turn_already_fails(page):
    """Round-4 review: the Nemotron 3 templates fail for DeepSeek's reason."""
    names = [f"nemotron_3_{n}" for n in ("5_lightning", "nano", "super", "ultra")]
    for name in names:
        tokenizer = page["tokenizer_for"](name)
        prompt = tokenizer.apply_chat_template(
            page["chat"][:1], add_generation_prompt=True, tokenize=False
        )
        assert prompt.endswith("<think>\n"), name
        with pytest.raises(page["NotPrefixPreservingError"], match="generation prompt is not"):
            page["assistant_mask"](tokenizer, page["chat"][:2])
    assert_page_says(
        PAGE,
        "template-table",
        en="the DeepSeek and `nemotron_3_*` templates end it with `<think>\\n`",
        zh="DeepSeek 和 `nemotron_3_*` 的模板把生成提示写成以 `<think>\\n` 结尾",
    )
