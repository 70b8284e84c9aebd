"""A plain-language account of an ``F.pad`` call, dimension by dimension, in English or Chinese.

Like ``lmloss.padding``, it works on shapes alone and does not import torch itself (the lmloss
package does, for its other helpers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lmloss._checks import check_lang
from lmloss.padding import pad_shape

_TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "head": "F.pad(x, {pad}, mode={mode!r}) on shape {shape}: {summary}.",
        "summary": [
            "the empty tuple pads nothing",
            "1 pair pads the last dimension",
            "{n} pairs pad the last {n} dimensions, last dimension first",
        ],
        "line": "- pad[{a}:{b}] = ({left}, {right}) → dim {neg} (dim {pos}{last}): "
        "{start}, {end}; size {size} → {result}",
        "last": ", the last",
        "add": "adds {n} at the {side}",
        "crop": "crops {n} at the {side}",
        "none": "nothing at the {side}",
        "sides": ("start", "end"),
        "kept": "- dim {neg} (dim {pos}): not reached, keeps size {size}",
        "result": "Result: {shape} → {result}.",
        "overlap": "Note: pad[{a}:{b}] wraps {wrapped} values but cropping keeps {kept}; the "
        "shape is right, but torch copies between overlapping parts of its output, so the "
        "values depend on the order of the copy and may be memory it never wrote.",
    },
    "zh": {
        "head": "F.pad(x, {pad}, mode={mode!r}) 作用于形状 {shape}：{summary}。",
        "summary": [
            "空元组不填充任何维度",
            "1 个数对，填充最后一维",
            "{n} 个数对，从最后一维起由后往前填充最后 {n} 个维度",
        ],
        "line": "- pad[{a}:{b}] = ({left}, {right}) → dim {neg}（dim {pos}{last}）："
        "{start}，{end}；长度 {size} → {result}",
        "last": "，最后一维",
        "add": "{side}补 {n} 个",
        "crop": "{side}裁掉 {n} 个",
        "none": "{side}不补",
        "sides": ("开头", "末尾"),
        "kept": "- dim {neg}（dim {pos}）：填充元组没有涉及，长度保持 {size}",
        "result": "结果：{shape} → {result}。",
        "overlap": "注意：pad[{a}:{b}] 要循环 {wrapped} 个值，裁剪后却只留下 {kept} 个；形状没有错，"
        "但 torch 会在输出中相互重叠的部分之间复制，结果取决于复制的顺序，还可能是从未写入的内存。",
    },
}


def _plural(forms: list[str], n: int) -> str:
    return forms[min(n, 2)].format(n=n)


def _side(text: dict, amount: int, side: int) -> str:
    name = text["sides"][side]
    if amount > 0:
        return text["add"].format(n=amount, side=name)
    if amount < 0:
        return text["crop"].format(n=-amount, side=name)
    return text["none"].format(side=name)


def explain_pad(
    shape: Sequence[int], pad: Sequence[int], mode: str = "constant", lang: str = "en"
) -> str:
    """Explain, dimension by dimension, what ``F.pad(x, pad, mode=mode)`` does to ``shape``.

    The padding tuple is read as torch reads it: ``(left, right)`` pairs, the first pair for
    the last dimension, the next for the one before, and so on. Each line names the slice of
    ``pad`` that forms the pair, the dimension it pads (negative and positive index), what it
    adds (or, for a negative entry, crops) at the start and the end, and the resulting size.
    Dimensions the tuple does not reach are listed as kept. In ``"circular"`` mode a note follows
    when a pair wraps more values than its cropping keeps: torch returns a tensor of the right
    shape whose values depend on the order of its copy and may be memory it never wrote, so do
    not use them. The sizes are those of [`lmloss.pad_shape`][lmloss.pad_shape], which
    validates the arguments first.

    Args:
        shape: The input shape, such as a tuple or a ``torch.Size``.
        pad: The padding tuple, as ``F.pad`` takes it.
        mode: ``"constant"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
        lang: ``"en"`` for English or ``"zh"`` for Simplified Chinese.

    Returns:
        Several lines of text: a summary, one line per dimension from the last one backwards,
        and the resulting shape.

    Raises:
        ValueError: If ``lang`` is not ``"en"`` or ``"zh"``, or from [`lmloss.pad_shape`][lmloss.pad_shape]
            if ``F.pad`` would reject the arguments.
        TypeError: From [`lmloss.pad_shape`][lmloss.pad_shape], for arguments of the wrong type.

    Examples:
        >>> print(explain_pad((1, 2, 2), (1, 1, 0, 1, 1, 0)))
        F.pad(x, (1, 1, 0, 1, 1, 0), mode='constant') on shape (1, 2, 2):
        3 pairs pad the last 3 dimensions, last dimension first.
        - pad[0:2] = (1, 1) → dim -1 (dim 2, the last): adds 1 at the start,
          adds 1 at the end; size 2 → 4
        - pad[2:4] = (0, 1) → dim -2 (dim 1): nothing at the start,
          adds 1 at the end; size 2 → 3
        - pad[4:6] = (1, 0) → dim -3 (dim 0): adds 1 at the start,
          nothing at the end; size 1 → 2
        Result: (1, 2, 2) → (2, 3, 4).
        >>> print(explain_pad((2, 5), (-1, 2), lang="zh").splitlines()[-1])
        结果：(2, 5) → (2, 6)。
    """
    check_lang(lang)
    result = pad_shape(shape, pad, mode)
    sizes = tuple(int(size) for size in shape)
    entries = tuple(int(entry) for entry in pad)
    text = _TEXT[lang]
    rank, pairs = len(sizes), len(entries) // 2
    lines = [
        text["head"].format(
            pad=entries, mode=mode, shape=sizes, summary=_plural(text["summary"], pairs)
        )
    ]
    for pair in range(pairs):
        left, right = entries[2 * pair : 2 * pair + 2]
        pos = rank - 1 - pair
        lines.append(
            text["line"].format(
                a=2 * pair,
                b=2 * pair + 2,
                left=left,
                right=right,
                neg=-1 - pair,
                pos=pos,
                last=text["last"] if pair == 0 else "",
                start=_side(text, left, 0),
                end=_side(text, right, 1),
                size=sizes[pos],
                result=result[pos],
            )
        )
    for pos in range(rank - 1 - pairs, -1, -1):
        lines.append(text["kept"].format(neg=pos - rank, pos=pos, size=sizes[pos]))
    lines.append(text["result"].format(shape=sizes, result=result))
    if mode == "circular" and 0 not in result:  # an empty output reads no memory
        lines.extend(_overlap_notes(text, sizes, entries))
    return "\n".join(lines)


def _overlap_notes(text: dict, sizes: tuple[int, ...], entries: tuple[int, ...]) -> list[str]:
    # pad_shape lets these through, as torch does (cases 7 and 8 of the edge-cases page).
    notes = []
    for pair in range(len(entries) // 2):
        left, right = entries[2 * pair : 2 * pair + 2]
        wrapped, kept = max(left, right), sizes[-1 - pair] + min(left, right, 0)
        if kept < wrapped:
            notes.append(
                text["overlap"].format(a=2 * pair, b=2 * pair + 2, wrapped=wrapped, kept=kept)
            )
    return notes
