"""Diagram of next-token prediction: which logits are scored against which shifted label."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

import torch

from lmloss._checks import check_lang
from lmloss.diagrams import _svg
from lmloss.loss import IGNORE_INDEX
from lmloss.loss import shift_labels as _shift_labels

MAX_POSITIONS = 12
"""Longest sequence that is still legible in one row."""

_MARGIN = 20
_LINE = 22
_CELL_H = 40
_GAP = 8
_ROW_GAP = 30

_FILL = {
    "input": ("#dbeafe", "#1e40af"),
    "logits": ("#ede9fe", "#6d28d9"),
    "label": ("#dcfce7", "#15803d"),
    "ignored": ("#f3f4f6", "#6b7280"),
}

_ROWS: dict[str, tuple[str, str, str]] = {
    "en": ("inputs", "logits", "shifted labels"),
    "zh": ("输入", "logits", "移位后的标签"),
}

_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Next-token prediction: logits[t] is scored against the label of token t + 1",
        "ignored": "ignored",
        "counted": "solid line: cross-entropy of logits[t] against the label below it, {n} counted",
        "skipped": "dashed line: the label is {ignore}, the loss skips it ({k} ignored)",
        "shift": "the labels are the inputs moved one position left; "
        "the last position has no next token",
        "desc": "{T} positions. Inputs: {inputs}. Shifted labels: {labels}. The logits at "
        "position t are scored against the shifted label at t; {n} positions count, and the loss "
        "ignores {k}, whose label is {ignore}.",
        "sep": ", ",
    },
    "zh": {
        "title": "下一个词元预测：logits[t] 与词元 t + 1 的标签比较",
        "ignored": "忽略",
        "counted": "实线：logits[t] 与下方标签计算交叉熵，共 {n} 个位置计入损失",
        "skipped": "虚线：标签为 {ignore}，不计入损失（{k} 个位置）",
        "shift": "标签是输入左移一位的结果；最后一个位置没有下一个词元",
        "desc": "共 {T} 个位置。输入：{inputs}。移位后的标签：{labels}。位置 t 的 logits 与位置 t "
        "移位后的标签计算交叉熵；{n} 个位置计入损失，{k} 个位置的标签为 {ignore}，被忽略。",
        "sep": "，",
    },
}


def shift_svg(
    tokens: Sequence[str],
    input_ids: Sequence[int] | torch.Tensor,
    labels: Sequence[int] | torch.Tensor | None = None,
    *,
    ignore_index: int = IGNORE_INDEX,
    lang: str = "en",
) -> str:
    """Draw one sequence's next-token prediction: inputs, logits and shifted labels.

    Three rows of cells, one column per position *t*: the input token, the logits the model
    outputs there, and the label they are scored against, taken from the real result of
    [`lmloss.shift_labels`][lmloss.shift_labels] (so ``labels`` shifted one position left, ending in
    ``ignore_index``). A solid line joins the logits to a label that counts; a dashed line and
    a grey cell mark a label equal to ``ignore_index``, which the loss skips.

    Every cell is exactly one SVG element (a ``<g>``) with ``data-kind`` ``"input"``,
    ``"logits"``, ``"label"`` or ``"ignored"``, ``data-index`` (its position) and, for inputs
    and labels, ``data-id`` (the token id, or ``ignore_index``).

    Args:
        tokens: The text of each input token, as shown in the cells.
        input_ids: The token ids, one per token.
        labels: The labels before the shift, one per token; the ``input_ids`` by default (as in
            pretraining). Use ``ignore_index`` to mask positions.
        ignore_index: The label value the loss skips.
        lang: Language of the title, row names and notes: ``"en"`` or ``"zh"``.

    Returns:
        A standalone SVG document (no XML declaration) that references nothing external and
        draws its own light card, so it reads the same in light and dark page themes. The same
        arguments give the same bytes.

    Raises:
        ValueError: If ``lang`` is unknown, the lengths differ, or there are no tokens or more
            than ``MAX_POSITIONS``.

    Examples:
        >>> import xml.etree.ElementTree as ET
        >>> svg = shift_svg(["I", "love", "flowers", "<eos>"], [40, 1842, 12, 2])
        >>> kinds = [el.get("data-kind") for el in ET.fromstring(svg).iter()]
        >>> tuple(kinds.count(k) for k in ("input", "logits", "label", "ignored"))
        (4, 4, 3, 1)
    """
    check_lang(lang)
    ids = [
        int(i) for i in (input_ids.flatten().tolist() if torch.is_tensor(input_ids) else input_ids)
    ]
    texts = [str(token) for token in tokens]
    raw = (
        ids
        if labels is None
        else [int(i) for i in (labels.flatten().tolist() if torch.is_tensor(labels) else labels)]
    )
    if not len(texts) == len(ids) == len(raw):
        raise ValueError(
            f"tokens, input_ids and labels must have one entry per position, got "
            f"{len(texts)}, {len(ids)} and {len(raw)}"
        )
    if not 1 <= len(ids) <= MAX_POSITIONS:
        raise ValueError(
            f"tokens must have 1 to {MAX_POSITIONS} positions to be drawn, got {len(ids)}"
        )
    shifted = _shift_labels(torch.tensor([raw]), ignore_index)[0].tolist()
    return _draw(texts, ids, shifted, ignore_index, lang)


def _cell(
    parent: ET.Element,
    kind: str,
    t: int,
    box: tuple[float, float, float],
    lines: Sequence[str],
    token_id: int | None,
) -> None:
    x, y, width = box
    attrs = {"class": kind, "data-kind": kind, "data-index": str(t)}
    if token_id is not None:
        attrs["data-id"] = str(token_id)
    group = _svg.sub(parent, "g", attrs)
    _svg.sub(group, "rect", {"x": x, "y": y, "width": width, "height": _CELL_H, "rx": 4})
    if len(lines) == 1:
        _svg.add_text(group, x + width / 2, y + 25, lines[0], "v", "middle")
    else:
        _svg.add_text(group, x + width / 2, y + 17, lines[0], "v", "middle")
        _svg.add_text(group, x + width / 2, y + 33, lines[1], "n", "middle")


def _draw(texts: list[str], ids: list[int], shifted: list[int], ignore: int, lang: str) -> str:
    text = _TEXT[lang]
    size = _svg.TEXT_SIZE
    count = len(ids)
    vocab = dict(zip(ids, texts, strict=True))
    label_lines = [
        (str(y), text["ignored"]) if y == ignore else (vocab.get(y, "?"), str(y)) for y in shifted
    ]
    widest = max(
        [_svg.text_width(s, size) for s in texts + [f"logits[{count - 1}]"]]
        + [_svg.text_width(line, size) for pair in label_lines for line in pair]
    )
    cell_w = max(64.0, widest + 16)
    head_w = max(_svg.text_width(name, size) for name in _ROWS[lang]) + 16
    counted = sum(y != ignore for y in shifted)
    notes = [
        text["counted"].format(n=counted),
        text["skipped"].format(ignore=ignore, k=count - counted),
        text["shift"],
    ]
    call = f"shift_labels = F.pad(labels, (0, 1), value={ignore})[..., 1:]"
    grid_w = head_w + count * cell_w + (count - 1) * _GAP
    width = 2 * _MARGIN + max(
        [grid_w, _svg.text_width(text["title"], _svg.TITLE_SIZE), _svg.text_width(call, size)]
        + [_svg.text_width(note, size) for note in notes]
    )
    top = _MARGIN + 2 * _LINE + 18  # below title, call line and the "t = …" header
    rows_y = [top + row * (_CELL_H + _ROW_GAP) for row in range(3)]
    notes_top = rows_y[2] + _CELL_H + 16
    height = notes_top + _LINE * len(notes) + _MARGIN - 4

    sep = text["sep"]
    desc = text["desc"].format(
        T=count,
        n=counted,
        k=count - counted,
        ignore=ignore,
        inputs=sep.join(f"{s} ({i})" for s, i in zip(texts, ids, strict=True)),
        labels=sep.join(str(y) for y in shifted),
    )
    rules = [
        (".v", "font-weight:600"),
        (".n", f"fill:{_svg.MUTED};font-size:11px"),
        (".ax", f"fill:{_svg.MUTED};stroke:{_svg.MUTED};stroke-width:1.2"),
        (".ok", f"stroke:{_svg.INK};stroke-width:2"),
        (".no", f"stroke:{_FILL['ignored'][1]};stroke-width:1.5;stroke-dasharray:4 3"),
        (".ignored rect", "stroke-dasharray:4 3"),
    ] + [
        (f".{kind} rect", f"fill:{fill};stroke:{edge};stroke-width:1.5")
        for kind, (fill, edge) in _FILL.items()
    ]
    uid = "shift-" + _svg.digest(tuple(texts), tuple(ids), tuple(shifted), lang)
    root = _svg.new_svg(
        width, height, lang=lang, uid=uid, title=text["title"], desc=desc, rules=rules
    )
    _svg.add_text(root, _MARGIN, _MARGIN + 16, text["title"], "h")
    _svg.add_text(root, _MARGIN, _MARGIN + 16 + _LINE, call, "m")
    for row, name in enumerate(_ROWS[lang]):
        _svg.add_text(root, _MARGIN, rows_y[row] + 25, name, "m")

    for t in range(count):
        x = _MARGIN + head_w + t * (cell_w + _GAP)
        middle = x + cell_w / 2
        _svg.add_text(root, middle, top - 8, f"t = {t}", "n", "middle")
        _cell(root, "input", t, (x, rows_y[0], cell_w), (texts[t], str(ids[t])), ids[t])
        _svg.add_arrow(root, (middle, rows_y[0] + _CELL_H + 2), (middle, rows_y[1] - 2), "ax")
        _cell(root, "logits", t, (x, rows_y[1], cell_w), (f"logits[{t}]",), None)
        kind = "ignored" if shifted[t] == ignore else "label"
        link = {
            "class": "ok" if kind == "label" else "no",
            "d": f"M{_svg.fmt(middle)} {_svg.fmt(rows_y[1] + _CELL_H)} V{_svg.fmt(rows_y[2])}",
        }
        _svg.sub(root, "path", link)
        _cell(root, kind, t, (x, rows_y[2], cell_w), label_lines[t], shifted[t])
    for row, note in enumerate(notes):
        _svg.add_text(root, _MARGIN, notes_top + row * _LINE + 13, note, "m")
    return _svg.to_string(root)
