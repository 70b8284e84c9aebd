"""The numbers a sentence states, in either language, and the label an output prints a number with.

A number is stated as digits (``5``, ``16,000``, ``0.07``), as a shape (``(2, 3, 4)``), as an
English word (``five``) or as a Chinese numeral counting something (``三个``, ``两行``, ``十二``).
``tests/test_prose.py`` holds each to its section's output, ``tests/test_sections_agree.py``
holds the two languages of a section to the same numbers in the same order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Numbers that are not outputs, found by the words around them. Keep this list short.
NOT_OUTPUTS = {
    "a year": r"\b(?:19|20)\d\d\b",
    "a pull request or issue": r"#\d+",
    "a version": (
        r"\b\d+\.\d+\.\d+\b"
        r"|(?:transformers|torch|PyTorch|TRL|trl|Python|Material|MkDocs|NumPy|version|v)"
        r"\s*\d+(?:\.\d+)+(?:\s*(?:,|and|or|to|和|或|到|至|、)\s*\d+(?:\.\d+)+)*"
        r"|(?:[Ss]ince|[Uu]ntil|[Bb]efore|[Aa]fter|[Ff]rom|自|从|(?<![得达])到|至|于)\s*\d+\.\d{1,2}(?!\d|\.\d)"
        r"|\d+\.\d+\s*(?:起|版|之前|之后|以前|以后|开始)"
        r"|(?:removed|added|deprecated|introduced|changed|fixed|released) in \d+\.\d+"
        r"|\d+\.\d+\s*(?:中|里)?(?:移除|删除|加入|引入|弃用)"
    ),
    "the lengths a pad tuple can have": (
        r"\b2, 4,? (?:and|or) 6\b|2、4(?:、| ?和 ?| ?或 ?)6\b|2 个、4 个(?:、|和|或) ?6 个"
    ),
    "a list item's number": r"^\s*\d+\.\s",
    "a dimension": (  # one digit: 隐藏层维度 64 is a size
        r"(?:\bdim(?:ension)?s?|\baxis|维度?)\s*=?\s*-?\d(?!\d|\.\d)(?:\s*维)?"
        r"(?:\s*(?:,|and|or|和|或|、)\s*-?\d(?!\d|\.\d))*|第\s*-?\d+\s*维"
    ),
    "a step of the page": r"\b[Ss]tep\s+\d+|第\s*\d+\s*步",
    "a model or format name": (
        r"(?:Llama|Qwen|Gemma|FlashAttention|GPT|Phi|DeepSeek|Mistral|BERT|T5)[\s-]*\d+(?:\.\d+)?"
        r"(?:\s*(?:/|,|、|和|或|\band\b|\bor\b)\s*\d+(?:\.\d+)?)*"
    ),
    "the ignore index": r"-100\b",
}
NOT_OUTPUT = re.compile("|".join(f"(?:{p})" for p in NOT_OUTPUTS.values()), re.M)

SHAPE = re.compile(r"[(\[]\s*-?\d+(?:\s*,\s*-?\d+)+\s*,?\s*[)\]]")
_DIGITS = (
    r"(?<![A-Za-z0-9_.])(?<![A-Za-z0-9_.]-)-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
    r"(?![A-Za-z0-9_]|\.\d|-[A-Za-z]|×)"
)
# Ordinals are numbers too (the sixth label, the 6th, 第 6 个, 第六个): a position changed in
# prose must fail like a count. "second" and "third" (第二, 第三) are left out, as step numbers
# are: "second-to-last dimension", "第二次运行" are not positions an output prints.
ENGLISH_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20,
    "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10,
    "eleventh": 11, "twelfth": 12,
}  # fmt: skip
_ENGLISH = r"(?<![\w-])(?i:" + "|".join(ENGLISH_WORDS) + r")(?![\w-])"
_DIGIT_ORDINAL = r"(?<![\w.])\d+(?=(?:st|nd|rd|th)\b)"
_ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}  # fmt: skip
# A Chinese numeral is a number when it counts something (三个, 两行) or has a 十 (十二): 一 on
# its own (一样, 统一) and ordinals (第二) are words.
_ZH_MEASURE = "个次行列步种组条项对批层块倍份轮句处类件张位"
_ZH_NUMERAL = (
    r"(?<![零一二两三四五六七八九十百千])(?<!第(?=[二三](?!十)|[四五六七八九十]+步))"
    r"(?:[二两三四五六七八九十][零一二三四五六七八九十百千]*(?=\s*[" + _ZH_MEASURE + r"])"
    r"|[一二三四五六七八九]?十[一二三四五六七八九]?)"
    r"(?![零一二两三四五六七八九十百千])"
)
_NUMBER = re.compile(f"{_DIGITS}|{_DIGIT_ORDINAL}|{_ENGLISH}|{_ZH_NUMERAL}")


def zh_numeral_value(numeral: str) -> int:
    """十二 → 12, 二十 → 20, 两 → 2, 三百 → 300 (to the thousands)."""
    total, current = 0, 0
    for char in numeral:
        if char in _ZH_DIGITS:
            current = _ZH_DIGITS[char]
        else:
            total += (current or 1) * {"十": 10, "百": 100, "千": 1000}[char]
            current = 0
    return total + current


def value(token: str) -> float:
    """The value of a stated number: digits, an English word or a Chinese numeral."""
    word = token.lower()
    if word in ENGLISH_WORDS:
        return float(ENGLISH_WORDS[word])
    if re.fullmatch(r"[零一二两三四五六七八九十百千]+", token):
        return float(zh_numeral_value(token))
    return float(token.replace(",", "").rstrip("."))


def is_word(token: str) -> bool:
    """Whether a stated number is written as a word (``five``, ``三``) rather than digits."""
    return not re.search(r"\d", token)


def stated(text: str) -> list[tuple[int, str]]:
    """``(offset, token)`` of each shape and number in prose ``text``, in order, escapes left out."""
    text = NOT_OUTPUT.sub(lambda m: " " * len(m[0]), text)
    shapes = [(m.start(), m[0]) for m in SHAPE.finditer(text)]
    rest = SHAPE.sub(lambda m: " " * len(m[0]), text)
    return sorted(shapes + [(m.start(), m[0]) for m in _NUMBER.finditer(rest)])


def stated_numbers(text: str) -> list[str]:
    """Shapes and numbers stated in prose text, in order, escapes left out."""
    return [token for _, token in stated(text)]


# --- versions --------------------------------------------------------------------------------

_VERSION_MENTION = re.compile(NOT_OUTPUTS["a version"], re.M)
_VERSION = re.compile(r"\d+\.\d+(?:\.\d+)?")
LIBRARIES = {"torch": "torch", "pytorch": "torch", "transformers": "transformers", "trl": "trl",
             "python": "python", "material": "mkdocs-material", "mkdocs": "mkdocs",
             "numpy": "numpy"}  # fmt: skip


def stated_versions(text: str) -> list[tuple[str | None, str]]:
    """``(library, version)`` of each version ``text`` states, in the words the number check
    escapes as versions (``NOT_OUTPUTS``): ``TRL 1.16`` is ``("trl", "1.16")``; a version with
    no library before it (``from 5.10.1 on``, ``4.46.2 to 5.9.0``) has library None."""
    found = []
    for mention in _VERSION_MENTION.finditer(text):
        word = re.match(r"[A-Za-z]+", mention[0])
        library = LIBRARIES.get(word[0].lower()) if word else None
        found += [(library, version) for version in _VERSION.findall(mention[0])]
    return found


# --- which quantity a number is ----------------------------------------------------------------

_CJK = re.compile(r"[\u4e00-\u9fff]+")
_WORD = re.compile(r"[A-Za-z][A-Za-z_]{2,}")
_STOP = {
    "the", "and", "for", "with", "are", "its", "per", "that", "this", "from", "has", "have",
    "tensor", "torch", "true", "false", "size", "one", "all", "each", "not", "out", "into",
    "instead", "than", "got", "but", "pos", "possibly", "was", "were", "which", "there",
}  # fmt: skip
_ZH_FUNCTION = set("的了是在有和与或也都就而不把被个次")
_CLAUSE_END = re.compile(r"[。；;！？!?，：（）()|\n]|[,:.](?=\s|$)")
_PRINTED_NUMBER = re.compile(r"(?<![A-Za-z0-9_.\[])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")


def _stem(word: str) -> str:
    word = word.lower()
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def terms(text: str) -> set[str]:
    """The content words of a text: English stems, and the bigrams of each run of Chinese."""
    found = {_stem(w) for w in _WORD.findall(text)} - _STOP
    for run in _CJK.findall(text):
        run = "".join(c for c in run if c not in _ZH_FUNCTION)
        found |= {run[i : i + 2] for i in range(len(run) - 1)} if len(run) > 1 else {run} - {""}
    return found


def _unit_terms(after: str) -> set[str]:
    """The thing a number counts: the word right after it (``5 positions``, ``5 个位置``)."""
    after = after.lstrip(" 个")
    first = re.match(r"[A-Za-z_]+|[\u4e00-\u9fff]{1,2}", after)
    return terms(first[0]) if first else set()


@dataclass(frozen=True)
class Printed:
    """A number an output prints, with the words just before it on its line (its label)."""

    label: str
    value: float


def printed_values(output: str) -> list[Printed]:
    """Each number an output prints, labelled by the words just before it on its line.

    The label is what follows the last bracket, comma or bar before the number
    (``counted: 5, positions: 6`` labels 6 ``positions``); a number with no words of its own
    (an element of a printed list) takes the label of the one before it:
    ``per position: [10.658, 10.0378]`` labels both.
    """
    found = []
    for line in output.splitlines():
        label, start = "", 0
        for match in _PRINTED_NUMBER.finditer(line):
            words = _last_words(re.split(r"[(\[{|,，;]", line[start : match.start()])[-1])
            if terms(words):
                label = words
            elif line[start : match.start()].strip(" ,"):
                label = ""  # a bracket or a bar opens something the label does not name
            start = match.end()
            if label:
                found.append(Printed(label.strip(" :=|，："), value(match[0])))
    return found


def _last_words(text: str) -> str:
    """A label is its last three words (``but got padding length``: ``got padding length``),
    or its last four Chinese characters."""
    words = re.findall(r"[A-Za-z_][\w/]*|[\u4e00-\u9fff]+", text)
    if words and _CJK.fullmatch(words[-1]):
        return words[-1][-4:]
    return " ".join(words[-3:])


def clause_around(text: str, offset: int, token: str) -> tuple[str, str]:
    """The words of the clause around the number ``token`` at ``offset`` of ``text``, before
    and after it, up to the numbers next to it: in ``4096 tokens by 32,768 entries`` the
    entries are 32,768's."""
    starts = [m.end() for m in _CLAUSE_END.finditer(text, 0, offset)]
    begin = starts[-1] if starts else 0
    end = offset + len(token)
    end_match = _CLAUSE_END.search(text, end)
    finish = end_match.start() if end_match else len(text)
    numbers = [(o, o + len(t)) for o, t in stated(text[begin:finish])]
    before_ends = [begin + e for o, e in numbers if begin + e <= offset]
    after_starts = [begin + o for o, e in numbers if begin + o >= end]
    return text[max(before_ends, default=begin) : offset], text[
        end : min(after_starts, default=finish)
    ]


def names(label: str, before: str, after: str) -> bool:
    """Whether the clause around a number (the words ``before`` and ``after`` it) names a
    printed ``label``: they share a term other than the unit right after the number.

    The unit says what is counted, not which count: in ``计入损失的有 5 个位置`` the unit
    位置 is also in ``位置数: 6``; 计入 names ``计入: 5``.
    """
    shared = terms(label) & (terms(before) | terms(after))
    return bool(shared - (_unit_terms(after) - terms(before)))
