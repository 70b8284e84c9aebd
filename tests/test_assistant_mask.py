"""lmloss.chat.assistant_mask on TRL's real chat templates, and the table of what they do.

The masks are checked against TRL's training templates (``{% generation %}`` markers) on random
conversations; the table of ``template_behaviours`` is pinned, row by row, so that a TRL upgrade
that changes a template fails a test naming it."""

from __future__ import annotations

import random
from itertools import groupby

import pytest
from transformers.utils.chat_template_utils import render_jinja_template
from trl import chat_template_utils

import lmloss
from conversations import conversation, profile_of, shaped, tokenizer_for
from lmloss.chat import (
    _PROBES,
    NotPrefixPreservingError,
    TemplateBehaviour,
    _overlapping,
    _trl_template_dir,
    assistant_mask,
    template_behaviours,
)

DIR = _trl_template_dir()
TRAINED = sorted(p.stem.removesuffix("_training") for p in DIR.glob("*_training.jinja"))
CONVERSATIONS = 200  # compared per template
MAX_SEEDS = 600

# name: generation markers, training version, multi-turn, reasoning, tool calls, earlier reasoning
# (prefix-preserving: True/False; None: the template does not render that conversation whole)
EXPECTED_TABLE = {
    "cohere": (False, True, True, None, None, "never written"),
    "cohere2": (False, True, True, None, None, "never written"),
    "deepseek_r1_distill": (False, True, False, None, None, "never written"),
    "deepseekv3": (False, True, False, None, False, "never written"),
    "diffusion_gemma": (False, True, True, False, True, "dropped"),
    "gemma": (False, True, True, None, None, "never written"),
    "gemma3": (False, True, True, None, None, "never written"),
    "gemma4": (False, False, True, None, True, "never written"),
    "gemma4_v2": (False, False, True, None, True, "never written"),
    "gemma4_v3": (False, False, True, None, True, "never written"),
    "gemma4_v4": (False, False, True, None, True, "never written"),
    "gemma4_v5": (False, False, True, False, True, "dropped"),
    "glm4moe": (False, True, True, False, True, "dropped"),
    "gptoss": (False, True, False, False, True, "dropped"),
    "idefics3": (False, True, True, None, None, "never written"),
    "lfm2": (False, True, True, None, None, "never written"),
    "lfm2_2_5": (True, False, True, False, True, "dropped"),
    "lfm2_2_5_v2": (True, False, True, False, True, "dropped"),
    "lfm2_2_5_vl": (True, False, True, False, True, "dropped"),
    "lfm2_v2": (False, True, True, None, True, "never written"),
    "llama3": (False, True, True, None, None, "never written"),
    "llama3_1": (False, False, True, None, True, "never written"),
    "llama3_2": (False, False, True, None, True, "never written"),
    "llava_next": (False, True, True, None, None, "never written"),
    "muse_glimmer": (False, True, True, True, True, "kept"),
    "nemotron_3_5_lightning": (False, True, False, False, False, "dropped"),
    "nemotron_3_nano": (False, True, False, False, False, "dropped"),
    "nemotron_3_super": (False, True, False, False, False, "dropped"),
    "nemotron_3_ultra": (False, True, False, False, False, "dropped"),
    "phi3": (False, True, False, None, None, "never written"),
    "phi3_5": (False, True, False, None, None, "never written"),
    "qwen2_5": (False, True, True, None, True, "never written"),
    "qwen2_5_vl": (False, True, True, None, None, "never written"),
    "qwen3": (False, True, False, False, False, "dropped"),
    "qwen3_5_nothink": (False, True, False, False, True, "dropped"),
    "qwen3_5_think": (False, True, False, False, True, "dropped"),
    "qwen3_6": (False, True, False, False, True, "dropped"),
    "qwen3_8": (False, True, True, True, True, "kept"),
    "qwen3_instruct_2507": (False, True, True, None, True, "never written"),
    "qwen3_vl": (False, True, True, None, True, "never written"),
    "smolvlm": (False, True, True, None, None, "never written"),
}

# Where the mask of prefix rendering on the original template and that of TRL's training
# template part, on every compared conversation: (which mask has the tokens, their text).
# "training" rows are tokens of the generation prompt that the training template trains; a
# lone "<think>" is where the "\n" after it merged with the next "\n" into one token that
# both masks have (a token is marked when it overlaps a marked character).
EXPECTED_DIFFERENCES = {
    "diffusion_gemma": {("prefix", "<|tool_response>"), ("prefix", "<|turn>model\n")},
    "gptoss": {("training", "<|start|>assistant")},
    "llava_next": {("prefix", " ")},
    "muse_glimmer": {("training", "<|start|>assistant")},
    "nemotron_3_5_lightning": {("training", "<think>\n")},
    "nemotron_3_nano": {("training", "<think>\n")},
    "nemotron_3_super": {("training", "<think>\n")},
    "nemotron_3_ultra": {("training", "<think>\n")},
    "qwen2_5": {("training", "\n")},
    "qwen3_5_nothink": {("training", "<think>\n\n</think>\n\n")},
    "qwen3_5_think": {("training", "<think>\n"), ("training", "<think>")},
    "qwen3_6": {("training", "<think>\n"), ("training", "<think>")},
    "qwen3_8": {("training", "<think>\n"), ("training", "<think>")},
}

# Templates on which no random conversation renders the same with both versions, and why.
NEVER_COMPARABLE = {
    "deepseek_r1_distill": "its generation prompt ends in <think>, its assistant turns do not",
    "deepseekv3": "its generation prompt ends in <think>, its assistant turns do not",
    "glm4moe": "the training version writes <|user|> after the last turn, the original does not",
}


@pytest.fixture(scope="module")
def table() -> dict[str, TemplateBehaviour]:
    return {row.name: row for row in template_behaviours()}


@pytest.fixture(scope="module")
def tokenizers() -> dict[str, object]:
    """One offline tokenizer per template family, built when first asked for."""
    return {}


def _tokenizer(tokenizers, name):
    if name not in tokenizers:
        text = (DIR / f"{name}.jinja").read_text(encoding="utf-8")
        training = DIR / f"{name}_training.jinja"
        tokenizers[name] = tokenizer_for(text + (training.read_text() if training.exists() else ""))
    return tokenizers[name]


def test_the_table_lists_every_installed_template(table):
    assert sorted(table) == sorted(EXPECTED_TABLE)


@pytest.mark.parametrize("name", sorted(EXPECTED_TABLE))
def test_the_table_row_of(name, table):
    row = table[name]
    got = (
        row.generation_markers,
        row.training_version is not None,
        row.multi_turn,
        row.reasoning,
        row.tool_calls,
        row.earlier_reasoning,
    )
    assert got == EXPECTED_TABLE[name], f"TRL's {name}.jinja now behaves differently: {row}"


@pytest.mark.parametrize("name", TRAINED)
def test_mask_equals_the_training_templates(name, tokenizers, table):
    """Prefix rendering on the original equals TRL's training template's markers wherever both
    render a conversation the same; it raises (with an assistant index) everywhere else."""
    original = (DIR / f"{name}.jinja").read_text(encoding="utf-8")
    training = (DIR / f"{name}_training.jinja").read_text(encoding="utf-8")
    tokenizer = _tokenizer(tokenizers, name)
    profile = profile_of(tokenizer, original)
    # Multi-turn chats of a template that is not prefix-preserving on them all raise (checked
    # by the table); single-turn chats still hold tool calls, reasoning and several answers.
    max_user_turns = 3 if table[name].multi_turn else 1
    compared, raised, differences = 0, 0, set()
    for seed in range(MAX_SEEDS):
        if compared == CONVERSATIONS:
            break
        messages = conversation(random.Random(seed), profile, max_user_turns)
        try:
            ours = assistant_mask(tokenizer, messages, chat_template=original)
        except NotPrefixPreservingError as error:
            assert messages[error.index]["role"] == "assistant"
            assert f"messages[{error.index}]" in str(error)
            raised += 1
            continue
        theirs = tokenizer.apply_chat_template(
            messages, chat_template=training, return_dict=True, return_assistant_tokens_mask=True
        )
        if ours.input_ids != theirs["input_ids"]:
            continue
        compared += 1
        differences |= _differences(
            tokenizer, ours.input_ids, ours.assistant_masks, theirs["assistant_masks"]
        )
    if name in NEVER_COMPARABLE:
        assert compared == 0, f"{name}: {compared} conversations now render the same"
        return
    assert compared == CONVERSATIONS, (
        f"{name}: only {compared} of {seed + 1} comparable ({raised} raised)"
    )
    assert differences == EXPECTED_DIFFERENCES.get(name, set()), name


def _differences(tokenizer, ids, ours, theirs) -> set[tuple[str, str]]:
    """Each run of tokens marked by one mask only, as (which mask, the run's text)."""
    runs = groupby(zip(ids, ours, theirs, strict=True), key=lambda t: (t[1], t[2]))
    return {
        ("prefix" if mine else "training", tokenizer.decode([token for token, _, _ in run]))
        for (mine, training), run in runs
        if mine != training
    }


@pytest.mark.parametrize("kind", sorted(_PROBES))
def test_every_template_that_is_not_prefix_preserving_is_caught_at_its_turn(
    kind, table, tokenizers
):
    failing = [name for name, row in table.items() if getattr(row, kind) is False]
    assert failing, kind
    for name in failing:
        template = (DIR / f"{name}.jinja").read_text(encoding="utf-8")
        tokenizer = _tokenizer(tokenizers, name)
        profile = profile_of(tokenizer, template)
        messages = [shaped(m, profile.blocks, profile.string_arguments) for m in _PROBES[kind]]
        with pytest.raises(
            NotPrefixPreservingError, match=r"messages\[1\] \(assistant\)"
        ) as caught:
            assistant_mask(tokenizer, messages, chat_template=template, method="prefix")
        assert caught.value.index == 1, name


def _template(name: str) -> str:
    return (DIR / f"{name}.jinja").read_text(encoding="utf-8")


CHAT = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "add two and three"},
    {"role": "assistant", "content": "it is five"},
    {"role": "user", "content": "thanks"},
    {"role": "assistant", "content": "sure"},
]


def test_the_generation_method_returns_transformers_mask(tokenizers):
    tokenizer, training = _tokenizer(tokenizers, "qwen2_5"), _template("qwen2_5_training")
    ours = assistant_mask(tokenizer, CHAT, chat_template=training)
    theirs = tokenizer.apply_chat_template(
        CHAT, chat_template=training, return_dict=True, return_assistant_tokens_mask=True
    )
    assert ours.method == "generation"
    assert (ours.input_ids, ours.assistant_masks) == (
        theirs["input_ids"],
        theirs["assistant_masks"],
    )


def test_prefix_input_ids_are_apply_chat_templates(tokenizers):
    tokenizer, original = _tokenizer(tokenizers, "qwen2_5"), _template("qwen2_5")
    ours = assistant_mask(tokenizer, CHAT, chat_template=original)
    assert ours.method == "prefix"
    assert ours.input_ids == tokenizer.apply_chat_template(
        CHAT, chat_template=original, return_dict=False
    )


def test_tokens_overlapping_a_span_are_marked_as_transformers_marks_them(tokenizers):
    """_overlapping on transformers' own character spans gives transformers' mask, on
    conversations where byte-level tokens straddle the span edges ("\\n\\n" after <think>)."""
    tokenizer, training = _tokenizer(tokenizers, "qwen3_8"), _template("qwen3_8_training")
    profile = profile_of(tokenizer, _template("qwen3_8"))
    for seed in range(20):
        messages = conversation(random.Random(seed), profile)
        (text,), (spans,) = render_jinja_template(
            [messages],
            chat_template=training,
            return_assistant_tokens_mask=True,
            **tokenizer.special_tokens_map,
        )
        offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)[
            "offset_mapping"
        ]
        theirs = tokenizer.apply_chat_template(
            messages, chat_template=training, return_dict=True, return_assistant_tokens_mask=True
        )
        assert _overlapping(offsets, spans) == theirs["assistant_masks"], seed


def test_transformers_reads_thinking_and_reasoning_as_reasoning_content(tokenizers):
    tokenizer, template = _tokenizer(tokenizers, "qwen3"), _template("qwen3")
    chat = CHAT[:2] + [{"role": "assistant", "content": "five"}]

    def rendered(field):
        return tokenizer.apply_chat_template(
            chat[:2] + [{**chat[2], field: "two plus three"}],
            chat_template=template,
            tokenize=False,
        )

    assert "two plus three" in rendered("reasoning_content")
    assert rendered("thinking") == rendered("reasoning") == rendered("reasoning_content")


def test_the_marker_pattern_is_trls():
    for path in sorted(DIR.glob("*.jinja")):
        text = path.read_text(encoding="utf-8")
        ours = lmloss.chat._GENERATION_MARKER.search(text) is not None
        assert ours == chat_template_utils.has_generation_markers(text), path.name


@pytest.mark.parametrize("name", TRAINED)
def test_the_training_version_is_the_one_trl_swaps_in(name, tokenizers):
    tokenizer = _tokenizer(tokenizers, name)
    tokenizer.chat_template = _template(name)
    try:
        assert chat_template_utils.get_training_chat_template(tokenizer) == _template(
            f"{name}_training"
        )
    finally:
        tokenizer.chat_template = None


def test_the_probe_forms_are_needed(tokenizers):
    """A vision-language template renders plain content as nothing, without an error; DeepSeek-V3
    cannot add dict arguments to its string."""
    plain = [{"role": "user", "content": "hi"}]
    rendered = _tokenizer(tokenizers, "smolvlm").apply_chat_template(
        plain, chat_template=_template("smolvlm"), tokenize=False
    )
    assert rendered == "<|im_start|>User: <end_of_utterance>\n"
    with pytest.raises(TypeError, match="can only concatenate str"):
        _tokenizer(tokenizers, "deepseekv3").apply_chat_template(
            _PROBES["tool_calls"], chat_template=_template("deepseekv3"), tokenize=False
        )


def test_preserve_thinking_makes_qwen3_6_prefix_preserving(tokenizers):
    tokenizer, template = _tokenizer(tokenizers, "qwen3_6"), _template("qwen3_6")
    with pytest.raises(NotPrefixPreservingError):
        assistant_mask(tokenizer, _PROBES["reasoning"], chat_template=template)
    kept = assistant_mask(
        tokenizer,
        _PROBES["reasoning"],
        chat_template=template,
        chat_template_kwargs={"preserve_thinking": True},
    )
    marked = tokenizer.decode(
        [t for t, m in zip(kept.input_ids, kept.assistant_masks, strict=True) if m]
    )
    assert "zqr1" in marked and "zqr2" in marked


def test_turns_last_marks_the_last_answer_only(tokenizers):
    tokenizer = _tokenizer(tokenizers, "qwen3_instruct_2507")
    original, training = _template("qwen3_instruct_2507"), _template("qwen3_instruct_2507_training")
    by_prefix = assistant_mask(tokenizer, CHAT, chat_template=original, turns="last")
    by_markers = assistant_mask(tokenizer, CHAT, chat_template=training, turns="last")
    assert by_prefix.input_ids == by_markers.input_ids
    assert by_prefix.assistant_masks == by_markers.assistant_masks
    marked = [t for t, m in zip(by_prefix.input_ids, by_prefix.assistant_masks, strict=True) if m]
    assert tokenizer.decode(marked) == "sure<|im_end|>\n"
    # qwen3 drops the think block of earlier turns: every turn raises, the last one alone does not
    qwen3 = _tokenizer(tokenizers, "qwen3")
    with pytest.raises(NotPrefixPreservingError, match=r"messages\[2\]"):
        assistant_mask(qwen3, CHAT, chat_template=_template("qwen3"))
    assert any(
        assistant_mask(qwen3, CHAT, chat_template=_template("qwen3"), turns="last").assistant_masks
    )


def test_generation_needs_markers_that_mark_something(tokenizers):
    tokenizer = _tokenizer(tokenizers, "qwen2_5")
    with pytest.raises(ValueError, match="needs a chat template with"):
        assistant_mask(tokenizer, CHAT, chat_template=_template("qwen2_5"), method="generation")
    unmarked = (
        "{% for m in messages %}{{ m.content }}{% endfor %}{% generation %}{% endgeneration %}"
    )
    with pytest.raises(ValueError, match="marked no token"):
        assistant_mask(tokenizer, CHAT, chat_template=unmarked)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"tokenizer": "qwen"}, TypeError, "tokenizer must be a fast transformers tokenizer"),
        ({"messages": "hi"}, TypeError, "messages must be a sequence of mappings"),
        ({"messages": []}, ValueError, "messages must hold at least one message"),
        (
            {"messages": [{"content": "hi"}]},
            TypeError,
            r"messages\[0\] must be a mapping with a str 'role'",
        ),
        ({"messages": CHAT[:2]}, ValueError, "at least one assistant message"),
        ({"messages": CHAT[2:3]}, ValueError, r"messages\[0\] is an assistant message"),
        (
            {"method": "markers"},
            ValueError,
            "method must be one of 'auto', 'generation', 'prefix'; got 'markers'",
        ),
        ({"turns": "first"}, ValueError, "turns must be one of 'all', 'last'; got 'first'"),
        ({"chat_template": 3}, TypeError, "chat_template must be a str or None, got int"),
        ({"tools": "add"}, TypeError, "tools must be a sequence of tool schemas or None, got str"),
        ({"chat_template_kwargs": ["x"]}, TypeError, "chat_template_kwargs must be a mapping"),
        ({"chat_template_kwargs": {"tools": []}}, ValueError, r"must not hold .*got \['tools'\]"),
    ],
)
def test_arguments_are_checked(kwargs, error, match, tokenizers):
    arguments = {
        "tokenizer": _tokenizer(tokenizers, "qwen2_5"),
        "messages": CHAT,
        "chat_template": _template("qwen2_5"),
        **kwargs,
    }
    with pytest.raises(error, match=match):
        assistant_mask(arguments.pop("tokenizer"), arguments.pop("messages"), **arguments)


def test_template_behaviours_checks_its_directory(tmp_path):
    with pytest.raises(TypeError, match="directory must be a str or Path, got int"):
        template_behaviours(3)
    with pytest.raises(ValueError, match="directory must hold chat templates"):
        template_behaviours(tmp_path)


def test_the_public_name_is_in_sft():
    assert lmloss.sft.assistant_mask is assistant_mask


def test_a_generation_prompt_that_does_not_start_the_turn_raises_even_on_one_turn(tokenizers):
    """deepseek_r1_distill's prompt ends with <think>\\n, which its rendered turn lacks: nothing
    follows the assistant message, and the error still names it (the docstring says so)."""
    tokenizer = _tokenizer(tokenizers, "deepseek_r1_distill")
    one_turn = CHAT[1:3]
    with pytest.raises(
        NotPrefixPreservingError, match="generation prompt is not the start"
    ) as caught:
        assistant_mask(tokenizer, one_turn, chat_template=_template("deepseek_r1_distill"))
    assert caught.value.index == 1
    assert "generation prompt does not start" in " ".join(NotPrefixPreservingError.__doc__.split())


def test_markers_with_turns_last_need_the_conversation_before_the_last_answer_preserved(tokenizers):
    """phi3_training appends <eos> to every rendering without a generation prompt, so the
    conversation before the last answer is no prefix of the whole: markers raise under
    turns="last" only (the error's docstring says so)."""
    tokenizer, training = _tokenizer(tokenizers, "phi3"), _template("phi3_training")
    assert any(assistant_mask(tokenizer, CHAT, chat_template=training).assistant_masks)
    last = len(CHAT) - 1
    with pytest.raises(NotPrefixPreservingError, match=rf"with messages\[:{last}\]") as caught:
        assistant_mask(tokenizer, CHAT, chat_template=training, turns="last")
    assert caught.value.index == last
    doc = " ".join(NotPrefixPreservingError.__doc__.split())
    assert 'markers with ``turns="last"``: ``messages[:index]``' in doc


def test_prefix_rendering_misses_a_stop_token_rendered_as_the_next_messages_start(tokenizers):
    """glm4moe renders the <|user|> GLM-4.5 stops with at the start of the user message: prefix
    rendering raises nothing and marks no <|user|>, where TRL's training template marks each one
    (the module docstring says so)."""
    tokenizer = _tokenizer(tokenizers, "glm4moe")
    runs = {}
    for name in ("glm4moe", "glm4moe_training"):
        result = assistant_mask(tokenizer, CHAT, chat_template=_template(name))
        marked = [t for t, m in zip(result.input_ids, result.assistant_masks, strict=True) if m]
        runs[name] = tokenizer.decode(marked).count("<|user|>")
    assistants = sum(m["role"] == "assistant" for m in CHAT)
    assert runs == {"glm4moe": 0, "glm4moe_training": assistants}
    assert "GLM-4.5's ``<|user|>``" in lmloss.chat.__doc__
