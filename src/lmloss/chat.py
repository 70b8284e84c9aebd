"""Which tokens of a chat are the assistant's, for any chat template; what TRL's templates do.

Prefix rendering raises ``NotPrefixPreservingError`` where the template is not prefix-preserving or
its generation prompt does not start the turn. It silently misses a stop token rendered as the next
message's start (GLM-4.5's ``<|user|>``).
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
    """``input_ids`` as ``apply_chat_template`` gives them, ``assistant_masks`` (1 on the
    assistant's tokens), the ``method``."""

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

    ``method="auto"`` uses the template's ``{% generation %}`` markers if it has them, else
    prefix rendering: ``messages[i]`` owns what ``messages[: i + 1]`` adds to ``messages[:i]``
    rendered with ``add_generation_prompt=True`` (not the prompt, a ``<think>`` it ends in
    included). A token overlapping a marked character is marked, as in transformers.

    Args:
        tokenizer: A fast transformers tokenizer.
        messages: The conversation, as ``apply_chat_template`` takes it.
        method: ``"generation"``, ``"prefix"`` or ``"auto"``.
        turns: ``"all"`` assistant messages, or the ``"last"``.
        tools: Tool schemas.
        chat_template: A template instead of the tokenizer's.
        chat_template_kwargs: Template variables (``preserve_thinking``...).

    Returns:
        An ``AssistantTokens``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If an argument is wrong, or the markers are missing or mark nothing;
            ``NotPrefixPreservingError`` (naming ``messages[i]``) where prefix rendering fails.

    Examples:
        >>> from tokenizers import Tokenizer, models, pre_tokenizers as pre
        >>> from transformers import PreTrainedTokenizerFast
        >>> words = Tokenizer(models.WordLevel({"<unk>": 0}, "<unk>"))
        >>> words.pre_tokenizer = pre.WhitespaceSplit()  # one token a word
        >>> tokenizer = PreTrainedTokenizerFast(tokenizer_object=words,
        ...     chat_template="{% for m in messages %}{{ m.role[0] }}: "
        ...     "{{ m.content }} ; {% endfor %}"
        ...     "{{ 'a: ' if add_generation_prompt }}")
        >>> chat = [{"role": "user", "content": "hi"},
        ...         {"role": "assistant", "content": "yo"}]
        >>> assistant_mask(tokenizer, chat).assistant_masks  # u: hi ; a: yo ;
        [0, 0, 0, 0, 1, 1]
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

    render = _renderer(tokenizer, template, tools, kwargs)

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
            _NOT_PRESERVING,
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
    """At ``messages[index]``, the whole conversation does not start with ``messages[:index + 1]``
    (markers with ``turns="last"``: ``messages[:index]``), or the generation prompt does not start
    the turn."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


Render = Callable[[Sequence[Mapping[str, Any]], bool], str]


def _renderer(
    tokenizer: Any, template: str, tools: object = None, kwargs: Mapping[str, Any] | None = None
) -> Render:
    """``render(messages, add_generation_prompt)``: the text ``template`` makes of them."""

    def render(part: Sequence[Mapping[str, Any]], add_generation_prompt: bool) -> str:
        return tokenizer.apply_chat_template(
            list(part),
            tools=tools,
            chat_template=template,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
            **(kwargs or {}),
        )

    return render


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
            "the generation prompt is not the start of the turn",
        )
        _check_prefix(
            full, turn, i, f"messages[:{i + 1}]", "the whole conversation", _NOT_PRESERVING
        )
        if len(turn) == len(prompt):
            raise ValueError(
                f"messages[{i}] (assistant) renders no text after the generation prompt: the "
                f"template drops it, so no token of it can be trained"
            )
        spans.append((len(prompt), len(turn)))
    return spans


_NOT_PRESERVING = "the chat template is not prefix-preserving"


def _check_prefix(
    text: str, prefix: str, index: int, prefix_name: str, text_name: str, problem: str
) -> None:
    if text.startswith(prefix):
        return
    at = len(os.path.commonprefix([prefix, text]))
    raise NotPrefixPreservingError(
        f"{problem} at messages[{index}] (assistant): "
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
    """What one chat template does on the probe conversations.

    A prefix column is ``True`` where ``assistant_mask(method="prefix")`` raises nothing on its
    probe, ``False`` where it raises ``NotPrefixPreservingError``, ``None`` where the template
    cannot render the probe whole.

    The probes (``multi_turn``, ``reasoning``, ``tool_calls``): user, assistant, user,
    assistant; the same with ``reasoning_content``; user, assistant tool call, tool result,
    assistant. ``training_version`` is TRL's ``<name>_training`` or ``None``;
    ``earlier_reasoning`` what the template writes of the first answer's reasoning in the
    reasoning probe: ``"kept"``, ``"dropped"`` or ``"never written"`` (also where the probe
    does not render).
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
_PROBES: dict[str, list[dict[str, Any]]] = {
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


def _trl_template_dir() -> Path:
    """The folder of the chat templates TRL installs (``trl/chat_templates``), found without
    importing TRL."""
    spec = importlib.util.find_spec("trl")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("template_behaviours reads TRL's chat templates: pip install trl")
    return Path(next(iter(spec.submodule_search_locations))) / "chat_templates"


def template_behaviours(directory: str | Path | None = None) -> list[TemplateBehaviour]:
    """Check each original template (not ``*_training``) on the probes.

    Args:
        directory: A folder of ``.jinja`` chat templates; ``None`` for TRL's.

    Returns:
        One ``TemplateBehaviour`` per template, by name.
    """
    if directory is None:
        directory = _trl_template_dir()
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
        checks = {kind: _probe(tokenizer, template, probe, kind) for kind, probe in _PROBES.items()}
        rendered = _render_probe(tokenizer, template, _PROBES["reasoning"]) or ""
        earlier: Literal["kept", "dropped", "never written"] = (
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

    render = _renderer(tokenizer, template)

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
