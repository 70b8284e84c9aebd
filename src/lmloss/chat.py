"""Which tokens of a chat are the assistant's: a loss mask for any chat template.

[`assistant_mask`][lmloss.chat.assistant_mask] renders a conversation with a tokenizer's chat template and marks
the tokens of its assistant turns, in one of two ways:

- **generation markers**: a template that wraps the assistant's output in
  ``{% generation %}`` / ``{% endgeneration %}`` says itself which characters are the model's;
  transformers' ``apply_chat_template(..., return_assistant_tokens_mask=True)`` maps them to
  tokens. Few templates shipped with models have them; TRL ships training versions that add them.
- **prefix rendering**: for the assistant message ``messages[i]``, the conversation up to it is
  rendered with ``add_generation_prompt=True`` (the text a model sees before it answers), then
  with ``messages[i]`` included; the characters between the two ends are the answer. This holds
  only where a template is *prefix-preserving*: the first rendering must be the start of the
  second, and that of the whole conversation. Where it is not (a template that drops the
  reasoning of earlier turns, or ends the last turn differently), ``assistant_mask`` raises
  ``ValueError`` naming the message, rather than mark the wrong tokens.

[`template_behaviours`][lmloss.chat.template_behaviours] runs such checks on every chat template
TRL installs and returns what each one does, as data.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jinja2

__all__ = [
    "AssistantTokens",
    "NotPrefixPreservingError",
    "TemplateBehaviour",
    "assistant_mask",
    "template_behaviours",
    "trl_template_dir",
]

METHODS = ("auto", "generation", "prefix")
TURNS = ("all", "last")

# The pattern transformers and TRL both use to detect the markers (whitespace-trim variants too).
_GENERATION_MARKER = re.compile(r"\{%-?\s*generation\s*-?%\}")

# Arguments assistant_mask sets itself, so chat_template_kwargs must not hold them.
_RESERVED_KWARGS = frozenset(
    {
        "add_generation_prompt",
        "chat_template",
        "continue_final_message",
        "return_assistant_tokens_mask",
        "return_dict",
        "tokenize",
        "tools",
    }
)


@dataclass(frozen=True)
class AssistantTokens:
    """The tokens of a rendered conversation and which of them are the assistant's.

    Attributes:
        input_ids: The token ids of the whole conversation, as
            ``apply_chat_template(messages, tokenize=True)`` returns them.
        assistant_masks: One int per token, 1 where the token is the assistant's (named as
            transformers names the mask); pass it to ``lmloss.sft.labels_from_mask``.
        method: How the mask was found: ``"generation"`` or ``"prefix"``.
    """

    input_ids: list[int]
    assistant_masks: list[int]
    method: Literal["generation", "prefix"]


def assistant_mask(
    tokenizer: Any,
    messages: Sequence[Mapping[str, Any]],
    *,
    method: Literal["auto", "generation", "prefix"] = "auto",
    turns: Literal["all", "last"] = "all",
    tools: Sequence[Mapping[str, Any]] | None = None,
    chat_template: str | None = None,
    chat_template_kwargs: Mapping[str, Any] | None = None,
) -> AssistantTokens:
    """Render ``messages`` and mark the tokens of the assistant's turns.

    ``method="auto"`` uses the template's ``{% generation %}`` markers when it has them and
    prefix rendering otherwise. With prefix rendering, an assistant message ``messages[i]``
    owns the characters that ``messages[: i + 1]`` adds to ``messages[:i]`` rendered with
    ``add_generation_prompt=True``: its content, tool calls, reasoning as the template writes
    it, and its end-of-turn token, but not the generation prompt, which the model is given
    rather than writes (a ``<think>`` that a template puts into the prompt is not marked).
    A token is marked when it overlaps a marked character, as transformers does with the
    markers.

    Reasoning is read from each message's ``reasoning_content``, the field TRL and
    transformers use (transformers also copies ``thinking`` or ``reasoning`` into it); whether
    and where a template writes it is up to the template. Template options such as Qwen's
    ``enable_thinking`` or ``preserve_thinking`` go in ``chat_template_kwargs``, as in a TRL
    dataset's column of that name.

    Args:
        tokenizer: A fast transformers tokenizer (``tokenizer.is_fast``): the mask is mapped to
            tokens through character offsets.
        messages: The conversation: mappings with a ``role``, and ``content``,
            ``reasoning_content``, ``tool_calls`` as the template reads them.
        method: ``"generation"`` (the template's markers), ``"prefix"`` (prefix rendering) or
            ``"auto"`` (markers when the template has them).
        turns: ``"all"`` marks every assistant message; ``"last"`` only the last one (training
            on the final answer, the earlier turns being context).
        tools: Tool schemas passed to the template, as in ``apply_chat_template``.
        chat_template: A template to use instead of the tokenizer's.
        chat_template_kwargs: Extra variables for the template, e.g.
            ``{"enable_thinking": False}``.

    Returns:
        The conversation's ``input_ids``, its ``assistant_masks`` and the ``method`` used.

    Raises:
        TypeError: If an argument has the wrong type, or the tokenizer is not a fast one.
        ValueError: If an argument has a wrong value, the template has no markers for
            ``method="generation"``, the conversation has no assistant message (or the markers
            mark nothing), or the template is not prefix-preserving where the method needs it:
            the message names the assistant message ``messages[i]`` and where the texts part.

    Examples:
        >>> from tokenizers import Tokenizer, models, pre_tokenizers
        >>> from transformers import PreTrainedTokenizerFast
        >>> words = Tokenizer(models.WordLevel(
        ...     {"<unk>": 0, "<s>": 1, "</s>": 2, "user:": 3, "bot:": 4, "hi": 5, "hello": 6},
        ...     unk_token="<unk>"))
        >>> words.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        >>> tokenizer = PreTrainedTokenizerFast(tokenizer_object=words, chat_template=(
        ...     "{% for m in messages %}{{ 'user: ' if m.role == 'user' else 'bot: ' }}"
        ...     "{{ m.content }} </s> {% endfor %}{% if add_generation_prompt %}bot: {% endif %}"))
        >>> chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
        >>> tokens = assistant_mask(tokenizer, chat)
        >>> tokens.input_ids, tokens.assistant_masks, tokens.method
        ([3, 5, 2, 4, 6, 2], [0, 0, 0, 0, 1, 1], 'prefix')
    """
    template = _checked_template(tokenizer, chat_template, tools)
    _check_messages(messages)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got {method!r}")
    if turns not in TURNS:
        raise ValueError(f"turns must be one of {', '.join(map(repr, TURNS))}; got {turns!r}")
    kwargs = _checked_kwargs(chat_template_kwargs)
    assistants = [i for i, message in enumerate(messages) if message["role"] == "assistant"]
    if not assistants:
        raise ValueError("messages must hold at least one assistant message, got none")
    counted = assistants[-1:] if turns == "last" else assistants

    def render(part: Sequence[Mapping[str, Any]], add_generation_prompt: bool) -> str:
        return tokenizer.apply_chat_template(
            list(part),
            tools=tools,
            chat_template=template,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
            **kwargs,
        )

    if method == "generation" and not _GENERATION_MARKER.search(template):
        raise ValueError(
            "method='generation' needs a chat template with {% generation %} markers, got one "
            "without; use method='prefix', or TRL's training version of the template "
            "(trl.chat_template_utils.get_training_chat_template)"
        )
    if method == "prefix" or not _GENERATION_MARKER.search(template):
        full = render(messages, False)
        spans = _prefix_spans(render, messages, counted, full)
        encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
        mask = _overlapping(encoded["offset_mapping"], spans)
        return AssistantTokens(list(encoded["input_ids"]), mask, "prefix")
    encoded = tokenizer.apply_chat_template(
        list(messages),
        tools=tools,
        chat_template=template,
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
        **kwargs,
    )
    mask = list(encoded["assistant_masks"])
    if turns == "last":
        # The markers do not say which message a span belongs to: the last assistant message
        # owns what follows the conversation before it, if the whole conversation starts with
        # that rendering.
        before = render(messages[: counted[0]], False) if counted[0] else ""
        _check_prefix(
            render(messages, False),
            before,
            counted[0],
            f"messages[:{counted[0]}]",
            "the whole conversation",
        )
        ends = [end for _, end in encoded.encodings[0].offsets]
        mask = [flag if end > len(before) else 0 for flag, end in zip(mask, ends, strict=True)]
    if not any(mask):
        raise ValueError(
            "the chat template's {% generation %} markers marked no token of the assistant "
            "messages; check that they wrap the assistant branch of the template"
        )
    return AssistantTokens(list(encoded["input_ids"]), mask, "generation")


class NotPrefixPreservingError(ValueError):
    """A chat template renders the conversation before an assistant message differently once
    more messages follow; ``index`` is that assistant message's index in ``messages``."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


Render = Callable[[Sequence[Mapping[str, Any]], bool], str]


def _prefix_spans(
    render: Render, messages: Sequence[Mapping[str, Any]], counted: Sequence[int], full: str
) -> list[tuple[int, int]]:
    """The character span of each counted assistant message in ``full``, by prefix rendering."""
    spans = []
    for i in counted:
        if i == 0:
            raise ValueError(
                "messages[0] is an assistant message: prefix rendering needs the messages "
                "before it to render the prompt; use turns='last' after a user message, or "
                "method='generation'"
            )
        prompt = render(messages[:i], True)
        turn = render(messages[: i + 1], False)
        _check_prefix(
            turn,
            prompt,
            i,
            f"messages[:{i}] with add_generation_prompt=True",
            f"messages[:{i + 1}]",
        )
        _check_prefix(full, turn, i, f"messages[:{i + 1}]", "the whole conversation")
        if len(turn) == len(prompt):
            raise ValueError(
                f"messages[{i}] (assistant) renders no text after the generation prompt: the "
                f"template drops it, so no token of it can be trained"
            )
        spans.append((len(prompt), len(turn)))
    return spans


def _check_prefix(text: str, prefix: str, index: int, prefix_name: str, text_name: str) -> None:
    if text.startswith(prefix):
        return
    at = len(os.path.commonprefix([prefix, text]))
    raise NotPrefixPreservingError(
        f"the chat template is not prefix-preserving at messages[{index}] (assistant): "
        f"{text_name} does not start with {prefix_name}; from character {at}, {prefix_name} "
        f"has {prefix[at : at + 40]!r}, {text_name} has {text[at : at + 40]!r}",
        index,
    )


def _overlapping(offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]) -> list[int]:
    """1 for each token whose characters overlap a span, as transformers maps its markers."""
    return [
        int(any(start < span_end and end > span_start for span_start, span_end in spans))
        for start, end in offsets
    ]


def _checked_template(tokenizer: Any, chat_template: object, tools: object) -> str:
    if not callable(getattr(tokenizer, "apply_chat_template", None)) or not getattr(
        tokenizer, "is_fast", False
    ):
        raise TypeError(
            "tokenizer must be a fast transformers tokenizer (PreTrainedTokenizerFast, "
            f"is_fast True), got {type(tokenizer).__name__}"
        )
    if chat_template is not None and not isinstance(chat_template, str):
        raise TypeError(f"chat_template must be a str or None, got {type(chat_template).__name__}")
    if tools is not None and (
        isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Sequence)
    ):
        raise TypeError(
            f"tools must be a sequence of tool schemas or None, got {type(tools).__name__}"
        )
    return tokenizer.get_chat_template(chat_template, tools)


def _check_messages(messages: object) -> None:
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Sequence):
        raise TypeError(
            f"messages must be a sequence of mappings with a 'role', got {type(messages).__name__}"
        )
    if not messages:
        raise ValueError("messages must hold at least one message, got an empty sequence")
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
            got = sorted(message) if isinstance(message, Mapping) else type(message).__name__
            raise TypeError(f"messages[{i}] must be a mapping with a str 'role', got {got}")


def _checked_kwargs(chat_template_kwargs: object) -> dict[str, Any]:
    if chat_template_kwargs is None:
        return {}
    if not isinstance(chat_template_kwargs, Mapping) or not all(
        isinstance(key, str) for key in chat_template_kwargs
    ):
        raise TypeError(
            "chat_template_kwargs must be a mapping with str keys or None, got "
            f"{type(chat_template_kwargs).__name__}"
        )
    reserved = sorted(_RESERVED_KWARGS & set(chat_template_kwargs))
    if reserved:
        raise ValueError(
            f"chat_template_kwargs must not hold arguments assistant_mask sets itself "
            f"({', '.join(sorted(_RESERVED_KWARGS))}), got {reserved}"
        )
    return dict(chat_template_kwargs)


@dataclass(frozen=True)
class TemplateBehaviour:
    """What one chat template does, found by rendering probe conversations.

    The three prefix checks are ``True`` where ``assistant_mask(method="prefix")`` finds every
    assistant turn of the probe, ``False`` where the template is not prefix-preserving on it,
    and ``None`` where the template cannot render that kind of conversation (it raises, or
    leaves out the reasoning, the tool call or the tool result).

    Attributes:
        name: The template's file name without ``.jinja``, e.g. ``"qwen3"``.
        generation_markers: Whether it has ``{% generation %}`` markers.
        training_version: The name of TRL's training version (``"<name>_training"``), or
            ``None`` where TRL ships none.
        multi_turn: Prefix-preserving on user, assistant, user, assistant.
        reasoning: The same with ``reasoning_content`` in both assistant turns.
        tool_calls: Prefix-preserving on user, assistant with a tool call, tool result,
            assistant.
        earlier_reasoning: In the reasoning probe, what the template writes of the first
            turn's reasoning: ``"kept"``, ``"dropped"`` (it writes only the last turn's), or
            ``"never written"`` (no turn's).
    """

    name: str
    generation_markers: bool
    training_version: str | None
    multi_turn: bool | None
    reasoning: bool | None
    tool_calls: bool | None
    earlier_reasoning: Literal["kept", "dropped", "never written"]


# Probe words that no template's own text contains, so finding one in a rendering finds a message.
_PROBE_CALL = {"type": "function", "function": {"name": "zqlookup", "arguments": {"zqkey": "zqv"}}}
PROBES: dict[str, list[dict[str, Any]]] = {
    "multi_turn": [
        {"role": "user", "content": "zqu1"},
        {"role": "assistant", "content": "zqa1"},
        {"role": "user", "content": "zqu2"},
        {"role": "assistant", "content": "zqa2"},
    ],
    "reasoning": [
        {"role": "user", "content": "zqu1"},
        {"role": "assistant", "content": "zqa1", "reasoning_content": "zqr1"},
        {"role": "user", "content": "zqu2"},
        {"role": "assistant", "content": "zqa2", "reasoning_content": "zqr2"},
    ],
    "tool_calls": [
        {"role": "user", "content": "zqu1"},
        {"role": "assistant", "content": "", "tool_calls": [_PROBE_CALL]},
        {"role": "tool", "name": "zqlookup", "content": "zqt1"},
        {"role": "assistant", "content": "zqa2"},
    ],
}
"""The probe conversations of ``template_behaviours``, by the column they decide."""

# What a probe's rendering must contain for the template to have rendered it whole.
_PROBE_WORDS = {
    "multi_turn": ("zqa1", "zqa2"),
    "reasoning": ("zqr2",),
    "tool_calls": ("zqlookup", "zqt1"),
}


def trl_template_dir() -> Path:
    """The folder of the chat templates TRL installs (``trl/chat_templates``), found without
    importing TRL."""
    spec = importlib.util.find_spec("trl")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("template_behaviours reads TRL's chat templates: pip install trl")
    return Path(next(iter(spec.submodule_search_locations))) / "chat_templates"


def template_behaviours(directory: str | Path | None = None) -> list[TemplateBehaviour]:
    """Check every original chat template in ``directory`` (default: TRL's) on the probes.

    An original template is a ``<name>.jinja`` not ending in ``_training``; its training
    version is ``<name>_training.jinja`` in the same folder, as TRL names them.

    Args:
        directory: A folder of ``.jinja`` chat templates; ``None`` for those TRL installs.

    Returns:
        One ``TemplateBehaviour`` per original template, sorted by name.

    Raises:
        TypeError: If ``directory`` is not a path.
        ValueError: If the folder holds no original template.

    Examples:
        >>> rows = {row.name: row for row in template_behaviours()}
        >>> rows["qwen2_5"].multi_turn, rows["qwen3"].multi_turn, rows["qwen3"].earlier_reasoning
        (True, False, 'dropped')
    """
    if directory is None:
        directory = trl_template_dir()
    if not isinstance(directory, (str, Path)):
        raise TypeError(f"directory must be a str or Path, got {type(directory).__name__}")
    folder = Path(directory)
    originals = sorted(p for p in folder.glob("*.jinja") if not p.stem.endswith("_training"))
    if not originals:
        raise ValueError(f"directory must hold chat templates (*.jinja), got none in {folder}")
    tokenizer = _rendering_tokenizer()
    rows = []
    for path in originals:
        template = path.read_text(encoding="utf-8")
        training = path.with_name(f"{path.stem}_training.jinja")
        checks = {kind: _probe(tokenizer, template, probe, kind) for kind, probe in PROBES.items()}
        rendered = _render_probe(tokenizer, template, PROBES["reasoning"]) or ""
        earlier = (
            "kept" if "zqr1" in rendered else "dropped" if "zqr2" in rendered else "never written"
        )
        rows.append(
            TemplateBehaviour(
                name=path.stem,
                generation_markers=_GENERATION_MARKER.search(template) is not None,
                training_version=training.stem if training.exists() else None,
                earlier_reasoning=earlier,
                **checks,
            )
        )
    return rows


def _probe(tokenizer: Any, template: str, messages: list[dict[str, Any]], kind: str) -> bool | None:
    full = _render_probe(tokenizer, template, messages)
    if full is None or not all(word in full for word in _PROBE_WORDS[kind]):
        return None
    messages = _probe_form(tokenizer, template, messages)

    def render(part: Sequence[Mapping[str, Any]], add_generation_prompt: bool) -> str:
        return tokenizer.apply_chat_template(
            list(part),
            chat_template=template,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
        )

    assistants = [i for i, message in enumerate(messages) if message["role"] == "assistant"]
    try:
        _prefix_spans(render, messages, assistants, full)
    except NotPrefixPreservingError:
        return False
    return True


def _render_probe(tokenizer: Any, template: str, messages: list[dict[str, Any]]) -> str | None:
    """The probe rendered in the form the template takes, or ``None`` where it takes none."""
    try:
        form = _probe_form(tokenizer, template, messages)
    except ValueError:
        return None
    return tokenizer.apply_chat_template(form, chat_template=template, tokenize=False)


def _probe_form(
    tokenizer: Any, template: str, messages: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The probe as the template can render it: plain, with content blocks (vision-language
    templates index into ``content``), and with JSON-string tool arguments (DeepSeek-V3 adds
    them to a string); ``ValueError`` if none renders."""
    blocks = [{**m, "content": [{"type": "text", "text": m["content"]}]} for m in messages]
    for form in (messages, blocks, _string_arguments(messages), _string_arguments(blocks)):
        try:
            rendered = tokenizer.apply_chat_template(form, chat_template=template, tokenize=False)
        except (jinja2.TemplateError, TypeError):
            continue
        # A template written for blocks renders plain content as nothing, without an error.
        if all(m["content"] in rendered for m in messages):
            return form
    raise ValueError("the template renders no form of the probe")


def _string_arguments(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def stringified(call: dict[str, Any]) -> dict[str, Any]:
        function = call["function"]
        return {**call, "function": {**function, "arguments": json.dumps(function["arguments"])}}

    return [
        {**m, "tool_calls": [stringified(c) for c in m["tool_calls"]]} if "tool_calls" in m else m
        for m in messages
    ]


def _rendering_tokenizer() -> Any:
    """A tokenizer with no vocabulary to speak of: the probes only render text, but templates
    read its ``bos_token`` and ``eos_token``."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>")),
        bos_token="<bos>",
        eos_token="<eos>",
    )
