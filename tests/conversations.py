"""Random conversations for a chat template, with what the template can render: multi-turn
chats, system prompts, ``reasoning_content``, tool calls and tool results; and offline
tokenizers that know a template's special tokens."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Any

import jinja2
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

_TEXT = "the cat sat on a mat why is sky blue add two and three it is five ok thanks weather in "
WORDS = tuple(
    (_TEXT + "paris sunny rain today what time now tell me more sure here you go").split()
)
TOOL_NAMES = ("get_weather", "add", "lookup")

# A template's control tokens: <|im_start|>, <｜User｜>, <start_of_turn>, <think>, </tool_call>...
_SPECIAL = re.compile(r"</?[|｜]?[A-Za-z_▁:|｜]+[|｜]?>")


@dataclass(frozen=True)
class Profile:
    """What a template renders: content as blocks (vision-language templates), tool
    arguments as a JSON string (DeepSeek-V3), and which kinds of message it supports."""

    blocks: bool
    string_arguments: bool
    system: bool
    reasoning: bool
    tools: bool


def tokenizer_for(template: str) -> PreTrainedTokenizerFast:
    """A byte-level BPE trained offline on ``WORDS``, with the template's control tokens as
    special tokens, and the bos/eos tokens templates read."""
    specials = sorted(set(_SPECIAL.findall(template)) | {"<bos>", "<eos>"})
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        [" ".join(WORDS), " ".join(TOOL_NAMES), '{"a": 1, "b": "x"}', "User Assistant system\n\n"],
        trainers.BpeTrainer(
            vocab_size=400,
            special_tokens=specials,
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<bos>", eos_token="<eos>")


def profile_of(tokenizer: PreTrainedTokenizerFast, template: str) -> Profile:
    """Probe ``template`` for each kind of message, keeping only what it renders whole."""

    def renders(messages: list[dict[str, Any]], *words: str, blocks: bool, strings: bool) -> bool:
        try:
            text = tokenizer.apply_chat_template(
                [shaped(m, blocks, strings) for m in messages],
                chat_template=template,
                tokenize=False,
            )
        except (jinja2.TemplateError, TypeError):
            return False
        return all(word in text for word in words)

    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]
    blocks = not renders(chat, "hi", "ok", blocks=False, strings=False)
    system = [{"role": "system", "content": "sure"}, *chat]
    reasoning = [chat[0], {**chat[1], "reasoning_content": "why"}]
    call = {"type": "function", "function": {"name": "lookup", "arguments": {"a": 1}}}
    tool = [
        chat[0],
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "name": "lookup", "content": "sunny"},
        chat[1],
    ]
    strings = not renders(tool, blocks=blocks, strings=False)
    return Profile(
        blocks=blocks,
        string_arguments=strings,
        system=renders(system, "sure", blocks=blocks, strings=strings),
        reasoning=renders(reasoning, "why", blocks=blocks, strings=strings),
        tools=renders(tool, "lookup", "sunny", blocks=blocks, strings=strings),
    )


def conversation(
    rng: random.Random, profile: Profile, max_user_turns: int = 3
) -> list[dict[str, Any]]:
    """One to ``max_user_turns`` user turns, each answered by the assistant, sometimes after
    tool calls and their results; a system prompt and reasoning where the profile has them."""
    messages: list[dict[str, Any]] = []
    if profile.system and rng.random() < 0.3:
        messages.append({"role": "system", "content": _text(rng)})
    for _ in range(rng.randint(1, max_user_turns)):
        messages.append({"role": "user", "content": _text(rng)})
        if profile.tools and rng.random() < 0.4:
            calls = [_call(rng) for _ in range(rng.randint(1, 2))]
            messages.append(
                _reasoned(rng, profile, {"role": "assistant", "content": "", "tool_calls": calls})
            )
            messages += [
                {"role": "tool", "name": c["function"]["name"], "content": _text(rng)}
                for c in calls
            ]
        messages.append(_reasoned(rng, profile, {"role": "assistant", "content": _text(rng)}))
    return [shaped(m, profile.blocks, profile.string_arguments) for m in messages]


def _text(rng: random.Random) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(1, 6)))


def _call(rng: random.Random) -> dict[str, Any]:
    arguments = {"a": rng.randint(0, 9), "b": rng.choice(WORDS)}
    return {
        "type": "function",
        "function": {"name": rng.choice(TOOL_NAMES), "arguments": arguments},
    }


def _reasoned(rng: random.Random, profile: Profile, message: dict[str, Any]) -> dict[str, Any]:
    if profile.reasoning and rng.random() < 0.5:
        return {**message, "reasoning_content": _text(rng)}
    return message


def shaped(message: dict[str, Any], blocks: bool, string_arguments: bool) -> dict[str, Any]:
    """The message with its content as text blocks and its tool arguments as JSON text, as
    asked."""
    if blocks:
        message = {**message, "content": [{"type": "text", "text": message["content"]}]}
    if string_arguments and "tool_calls" in message:
        message = {
            **message,
            "tool_calls": [
                {
                    **c,
                    "function": {
                        **c["function"],
                        "arguments": json.dumps(c["function"]["arguments"]),
                    },
                }
                for c in message["tool_calls"]
            ],
        }
    return message
