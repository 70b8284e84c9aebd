"""Diagram of one SFT row: which tokens are prompt, response or padding, and their labels."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from lmloss._checks import check_lang
from lmloss.diagrams import _svg
from lmloss.loss import IGNORE_INDEX
from lmloss.loss import shift_labels as _shift_labels
from lmloss.sft import collate, labels_from_mask

MAX_POSITIONS = 16
"""Longest row that is still legible."""

_MARGIN = 20
_LINE = 22
_CELL_H = 40
_GAP = 6
_ROW_GAP = 34
_SWATCH = 14

_COLOURS = {
    "prompt": ("#e0e7ff", "#4338ca"),
    "response": ("#dcfce7", "#15803d"),
    "pad": ("#f3f4f6", "#9ca3af"),
    "label": ("#fef9c3", "#a16207"),
    "ignored": ("#f9fafb", "#9ca3af"),
}

_TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "title": "SFT labels: only the response counts in the loss",
        "rows": ("tokens", "labels", "shifted labels"),
        "kinds": {"prompt": "prompt", "response": "response (EOS included)", "pad": "padding"},
        "count": "{name}: {n}",
        "counted": "{n} of {T} positions count in the loss: logits[t] predicts the shifted label "
        "at t",
        "arrows": "arrows: the shift moves each label one position to the left",
        "desc": "{T} positions: {p} prompt, {r} response and {d} padding tokens. Tokens: "
        "{tokens}. Labels: {labels}. Shifted labels: {shifted}. {n} positions count in the loss.",
        "sep": ", ",
    },
    "zh": {
        "title": "SFT 的标签：只有回复计入损失",
        "rows": ("词元", "标签", "移位后的标签"),
        "kinds": {"prompt": "提示", "response": "回复（含 EOS）", "pad": "填充"},
        "count": "{name}：{n} 个",
        "counted": "共 {T} 个位置，{n} 个计入损失：logits[t] 预测位置 t 的移位后标签",
        "arrows": "箭头：移位把每个标签向左移动一位",
        "desc": "共 {T} 个位置：提示 {p} 个、回复 {r} 个、填充 {d} 个词元。词元：{tokens}。"
        "标签：{labels}。移位后的标签：{shifted}。{n} 个位置计入损失。",
        "sep": "，",
    },
}


def _ints(values: Sequence[int] | torch.Tensor) -> list[int]:
    return [int(v) for v in (values.flatten().tolist() if torch.is_tensor(values) else values)]


def sft_svg(
    tokens: Sequence[str],
    input_ids: Sequence[int] | torch.Tensor,
    labels: Sequence[int] | torch.Tensor,
    attention_mask: Sequence[int] | torch.Tensor | None = None,
    *,
    ignore_index: int = IGNORE_INDEX,
    lang: str = "en",
) -> str:
    """Draw one row of an SFT batch: prompt, response and padding tokens, and their labels.

    Three rows of cells, one column per position: the tokens, their labels, and the labels
    after the shift of [`lmloss.shift_labels`][lmloss.shift_labels] (what ``logits[t]`` is scored against),
    with an arrow from each label to its shifted place. A token is *padding* where
    ``attention_mask`` is 0, *response* where its label is not ``ignore_index`` and *prompt*
    otherwise; so the picture is read off the real tensors a collator returns.

    Every token is exactly one SVG element (a ``<g>``) with ``data-kind`` ``"prompt"``,
    ``"response"`` or ``"pad"``, ``data-index`` and ``data-id``; every label cell is one ``<g>``
    with ``data-kind`` ``"label"`` or ``"ignored"``, ``data-row`` (``"labels"`` or
    ``"shifted"``), ``data-index`` and ``data-id`` (its value).

    Args:
        tokens: The text of each token.
        input_ids: The token ids of the row.
        labels: The labels of the row, before the shift.
        attention_mask: 1 for real tokens, 0 for padding; all ones by default.
        ignore_index: The label value the loss skips.
        lang: Language of the title, row names and notes: ``"en"`` or ``"zh"``.

    Returns:
        A standalone SVG document that references nothing external and draws its own light
        card, so it reads the same in light and dark page themes. The same arguments give the
        same bytes.

    Raises:
        ValueError: If ``lang`` is unknown, the lengths differ, or there are no tokens or more
            than ``MAX_POSITIONS``.

    Examples:
        >>> import xml.etree.ElementTree as ET
        >>> svg = sft_svg(["Q", "A", "<eos>", "<pad>"], [7, 8, 2, 2],
        ...               [-100, 8, 2, -100], [1, 1, 1, 0])
        >>> cells = [el for el in ET.fromstring(svg).iter() if el.get("data-kind")]
        >>> [el.get("data-kind") for el in cells if el.get("data-row") is None]
        ['prompt', 'response', 'response', 'pad']
    """
    check_lang(lang)
    texts = [str(token) for token in tokens]
    ids, raw = _ints(input_ids), _ints(labels)
    mask = [1] * len(ids) if attention_mask is None else _ints(attention_mask)
    if not len(texts) == len(ids) == len(raw) == len(mask):
        raise ValueError(
            "tokens, input_ids, labels and attention_mask must have one entry per position, got "
            f"{len(texts)}, {len(ids)}, {len(raw)} and {len(mask)}"
        )
    if not 1 <= len(ids) <= MAX_POSITIONS:
        raise ValueError(
            f"tokens must have 1 to {MAX_POSITIONS} positions to be drawn, got {len(ids)}"
        )
    kinds = [
        "pad" if m == 0 else "prompt" if y == ignore_index else "response"
        for m, y in zip(mask, raw)
    ]
    shifted = _shift_labels(torch.tensor([raw]), ignore_index)[0].tolist()
    return _draw(texts, ids, kinds, (raw, shifted), ignore_index, lang)


def sft_batch_svg(
    examples: Sequence[tuple[Sequence[str], Sequence[str]]],
    vocab: Mapping[str, int],
    pad_token: str,
    *,
    row: int,
    lang: str = "en",
) -> str:
    """Collate ``(prompt, response)`` token pairs with [`lmloss.sft.collate`][lmloss.sft.collate], draw one row.

    Each example is tokenized with ``vocab``, labelled with [`lmloss.sft.labels_from_mask`][lmloss.sft.labels_from_mask]
    (prompt masked, response kept) and padded on the right with ``pad_token``; row ``row`` of
    the batch is drawn by [`sft_svg`][lmloss.diagrams.sft_svg], padding tokens shown by their text.

    Examples:
        >>> import xml.etree.ElementTree as ET
        >>> vocab = {"<eos>": 2, "Q": 7, "A": 8, "longer": 9}
        >>> examples = [(["Q"], ["A", "<eos>"]), (["Q", "longer"], ["A", "<eos>"])]
        >>> svg = sft_batch_svg(examples, vocab, "<eos>", row=0)
        >>> tokens = [el for el in ET.fromstring(svg).iter()
        ...           if el.get("data-id") and el.get("data-row") is None]
        >>> pairs = [(el.get("data-kind"), el.get("data-id")) for el in tokens]
        >>> pairs
        [('prompt', '7'), ('response', '8'), ('response', '2'), ('pad', '2')]
    """
    examples_ids: list[dict[str, Any]] = []
    for prompt, response in examples:
        ids = [vocab[token] for token in (*prompt, *response)]
        mask = [0] * len(prompt) + [1] * len(response)
        examples_ids.append({"input_ids": ids, "labels": labels_from_mask(ids, mask)})
    batch = collate(examples_ids, pad_token_id=vocab[pad_token])
    names = {token_id: token for token, token_id in vocab.items()}
    row_ids = batch["input_ids"][row]
    return sft_svg(
        [names[int(i)] for i in row_ids],
        row_ids,
        batch["labels"][row],
        batch["attention_mask"][row],
        lang=lang,
    )


def _column_widths(
    texts: list[str], ids: list[int], rows: tuple[list[int], list[int]]
) -> list[float]:
    size = _svg.TEXT_SIZE
    return [
        max(
            48.0,
            14
            + max(
                _svg.text_width(s, size)
                for s in (texts[t], str(ids[t]), str(rows[0][t]), str(rows[1][t]))
            ),
        )
        for t in range(len(ids))
    ]


def _box(
    parent: ET.Element,
    attrs: dict[str, str],
    x: float,
    y: float,
    width: float,
    lines: tuple[str, ...],
) -> None:
    group = _svg.sub(parent, "g", attrs)
    _svg.sub(group, "rect", {"x": x, "y": y, "width": width, "height": _CELL_H, "rx": 4})
    baselines = (25,) if len(lines) == 1 else (17, 33)
    for line, dy, cls in zip(lines, baselines, ("v", "n")):
        _svg.add_text(group, x + width / 2, y + dy, line, cls, "middle")


def _draw(
    texts: list[str],
    ids: list[int],
    kinds: list[str],
    rows: tuple[list[int], list[int]],
    ignore: int,
    lang: str,
) -> str:
    text = _TEXT[lang]
    size = _svg.TEXT_SIZE
    count = len(ids)
    widths = _column_widths(texts, ids, rows)
    xs = [sum(widths[:t]) + t * _GAP for t in range(count)]
    head_w = max(_svg.text_width(name, size) for name in text["rows"]) + 16
    counted = sum(y != ignore for y in rows[1])
    legend = [
        text["count"].format(name=text["kinds"][k], n=kinds.count(k))
        for k in ("prompt", "response", "pad")
    ]
    legend_w = sum(_SWATCH + 8 + _svg.text_width(item, size) + 24 for item in legend)
    notes = [text["counted"].format(n=counted, T=count), text["arrows"]]
    width = 2 * _MARGIN + max(
        [head_w + xs[-1] + widths[-1], legend_w, _svg.text_width(text["title"], _svg.TITLE_SIZE)]
        + [_svg.text_width(note, size) for note in notes]
    )
    top = _MARGIN + 2 * _LINE + 26  # below the title, the legend and the "t = …" header
    rows_y = [top + row * (_CELL_H + _ROW_GAP) for row in range(3)]
    notes_top = rows_y[2] + _CELL_H + 14
    height = notes_top + _LINE * len(notes) + _MARGIN - 4

    sep = text["sep"]
    desc = text["desc"].format(
        T=count,
        n=counted,
        p=kinds.count("prompt"),
        r=kinds.count("response"),
        d=kinds.count("pad"),
        tokens=sep.join(f"{s} ({i})" for s, i in zip(texts, ids)),
        labels=sep.join(map(str, rows[0])),
        shifted=sep.join(map(str, rows[1])),
    )
    rules = [
        (".v", "font-weight:600"),
        (".n", f"fill:{_svg.MUTED};font-size:11px"),
        (".ax", f"fill:{_svg.MUTED};stroke:{_svg.MUTED};stroke-width:1.2"),
        (".ax.off", "opacity:.35"),
        (".pad rect,.ignored rect", "stroke-dasharray:4 3"),
    ] + [
        (f".{kind} rect", f"fill:{fill};stroke:{edge};stroke-width:1.5")
        for kind, (fill, edge) in _COLOURS.items()
    ]
    uid = "sft-" + _svg.digest(tuple(texts), tuple(ids), tuple(kinds), tuple(rows[0]), lang)
    root = _svg.new_svg(
        width, height, lang=lang, uid=uid, title=text["title"], desc=desc, rules=rules
    )
    _svg.add_text(root, _MARGIN, _MARGIN + 16, text["title"], "h")
    x: float = _MARGIN
    for kind, item in zip(("prompt", "response", "pad"), legend):
        swatch = _svg.sub(root, "g", {"class": kind})
        _svg.sub(
            swatch,
            "rect",
            {"x": x, "y": _MARGIN + _LINE + 6, "width": _SWATCH, "height": _SWATCH, "rx": 3},
        )
        _svg.add_text(root, x + _SWATCH + 8, _MARGIN + _LINE + 18, item, "m")
        x += _SWATCH + 8 + _svg.text_width(item, size) + 24
    for row, name in enumerate(text["rows"]):
        _svg.add_text(root, _MARGIN, rows_y[row] + 25, name, "m")

    left = _MARGIN + head_w
    for t in range(count):
        x, w = left + xs[t], widths[t]
        _svg.add_text(root, x + w / 2, top - 8, f"t = {t}", "n", "middle")
        _box(
            root,
            {
                "class": kinds[t],
                "data-kind": kinds[t],
                "data-index": str(t),
                "data-id": str(ids[t]),
            },
            x,
            rows_y[0],
            w,
            (texts[t], str(ids[t])),
        )
        for row, name in ((1, "labels"), (2, "shifted")):
            value = rows[row - 1][t]
            kind = "ignored" if value == ignore else "label"
            _box(
                root,
                {
                    "class": kind,
                    "data-kind": kind,
                    "data-row": name,
                    "data-index": str(t),
                    "data-id": str(value),
                },
                x,
                rows_y[row],
                w,
                (str(value),),
            )
        if t:  # the label at t moves to t - 1
            cls = "ax" if rows[0][t] != ignore else "ax off"
            _svg.add_arrow(
                root,
                (x + w / 2, rows_y[1] + _CELL_H + 2),
                (left + xs[t - 1] + widths[t - 1] / 2, rows_y[2] - 2),
                cls,
            )
    for row, note in enumerate(notes):
        _svg.add_text(root, _MARGIN, notes_top + row * _LINE + 13, note, "m")
    return _svg.to_string(root)
