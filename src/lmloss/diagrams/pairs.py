"""Diagram of how ``F.pad`` reads its padding tuple: which pair pads which dimension."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from lmloss._checks import check_lang
from lmloss.diagrams import _svg
from lmloss.diagrams.pad import _PAD_COLOURS, _pad_class
from lmloss.explain import explain_pad
from lmloss.padding import pad_shape

_ENTRY = 34
_PAIR_GAP = 4
_GROUP_GAP = 22
_DIM = 64
_DIM_GAP = 40
_BOX = 28
_MARGIN = 20
_LINE = 20
_NOTE_WIDTH = 560
"""Widest row of the text under the drawing: longer lines wrap, so that the diagram fits the
page's column at 1280 px without shrinking its text."""

_TEXT = {
    "en": {
        "title": "{heading}: {subject}",
        "heading": "Which pair pads which dimension",
        "subject": "{pad} on shape {shape}",
        "pad": "pad",
        "shape": "shape",
        "dim": "dim {neg} (dim {pos})",
        "kept": "{size} (kept)",
        "desc": "The padding tuple {pad} is read in (left, right) pairs; the first pair pads "
        "the last dimension of {shape}, the next pair the one before. Result: {result}.",
    },
    "zh": {
        "title": "{heading}：{subject}",
        "heading": "填充元组的每个数对作用于哪一维",
        "subject": "{pad} 作用于形状 {shape}",
        "pad": "填充元组",
        "shape": "形状",
        "dim": "dim {neg}（dim {pos}）",
        "kept": "{size}（不变）",
        "desc": "填充元组 {pad} 按 (左, 右) 两两成对读取：第一个数对填充 {shape} 的最后一维，"
        "下一个数对填充它前面的一维。结果：{result}。",
    },
}


def pad_pairs_svg(
    shape: Sequence[int], pad: Sequence[int], mode: str = "constant", lang: str = "en"
) -> str:
    """Draw the padding tuple above the shape, with an arrow from each pair to its dimension.

    The entries of ``pad`` are drawn in pairs, each pair in the colour of the dimension it
    pads (the colours of [`lmloss.diagrams.pad_svg`][lmloss.diagrams.pad_svg]); below, every dimension of ``shape``
    shows its size and the sum ``size + left + right`` that gives its new size. The arrows
    cross because the first pair belongs to the last dimension. The text under the drawing is
    [`lmloss.explain_pad`][lmloss.explain_pad]'s account of the call, its long lines wrapped
    (one ``<text>`` per line, one ``<tspan>`` per row) so that the diagram fits a page's column.

    Each pair is an SVG element with ``data-kind="pair"``, ``data-pair`` (its position in the
    tuple), ``data-dim`` (the dimension it pads, counted from 0) and ``data-entries``; each
    dimension is one with ``data-kind="dim"``, ``data-dim``, ``data-size`` and
    ``data-result``.

    Args:
        shape: Input shape, rank 1 to 3.
        pad: Padding tuple, as for ``F.pad``.
        mode: ``F.pad`` mode, used to validate and in the text.
        lang: ``"en"`` or ``"zh"``.

    Returns:
        A standalone SVG document that draws its own light card; the same arguments give the
        same bytes.

    Raises:
        ValueError: If ``lang`` is not ``"en"`` or ``"zh"``, or ``shape`` does not have 1 to
            3 dimensions; and from [`lmloss.pad_shape`][lmloss.pad_shape] for arguments ``F.pad`` rejects.
        TypeError: From [`lmloss.pad_shape`][lmloss.pad_shape].

    Examples:
        >>> import xml.etree.ElementTree as ET
        >>> root = ET.fromstring(pad_pairs_svg((1, 2, 2), (1, 1, 0, 1, 1, 0)))
        >>> pairs = [el for el in root.iter() if el.get("data-kind") == "pair"]
        >>> [(el.get("data-pair"), el.get("data-dim")) for el in pairs]
        [('0', '2'), ('1', '1'), ('2', '0')]
    """
    check_lang(lang)
    result = pad_shape(shape, pad, mode)
    sizes = tuple(int(n) for n in shape)
    entries = tuple(int(p) for p in pad)
    if not 1 <= len(sizes) <= 3:
        raise ValueError(
            f"shape must have 1, 2 or 3 dimensions to be drawn; got {len(sizes)}: {sizes}"
        )
    text = _TEXT[lang]
    rank, pairs = len(sizes), len(entries) // 2
    size = _svg.TEXT_SIZE
    heading = text["heading"]
    subject = text["subject"].format(pad=entries, shape=sizes)
    title = text["title"].format(heading=heading, subject=subject)
    notes = [_wrap(line, size) for line in explain_pad(sizes, entries, mode, lang).splitlines()]

    pair_width = 2 * _ENTRY + _PAIR_GAP
    tuple_width = pairs * pair_width + max(pairs - 1, 0) * _GROUP_GAP
    shape_width = rank * _DIM + (rank - 1) * _DIM_GAP
    label_width = max(_svg.text_width(text[k], size) for k in ("pad", "shape")) + 12
    drawing = label_width + max(tuple_width, shape_width)
    content = max(
        [drawing, _svg.text_width(heading, _svg.TITLE_SIZE), _svg.text_width(subject, size)]
        + [_svg.text_width(row, size) for rows in notes for row in rows]
    )
    width = content + 2 * _MARGIN
    tuple_y = _MARGIN + 44 + _LINE
    shape_y = tuple_y + _BOX + 90
    notes_y = shape_y + _BOX + 64
    height = notes_y + _LINE * sum(map(len, notes)) + _MARGIN - 6
    left = _MARGIN + (content - drawing) / 2 + label_width
    tuple_x = left + (max(tuple_width, shape_width) - tuple_width) / 2
    shape_x = left + (max(tuple_width, shape_width) - shape_width) / 2

    rules = [
        (".e", f"fill:{_svg.CARD};stroke:{_svg.MUTED}"),
        (".k", f"fill:#f6f8fa;stroke:{_svg.CARD_EDGE}"),
        (".ax", "fill:none;stroke-width:1.5"),
    ]
    for k, (fill, edge) in enumerate(_PAD_COLOURS[:rank], start=1):
        rules += [
            (f".neg{k} .e", f"fill:{fill};fill-opacity:.2;stroke:{edge}"),
            (f".neg{k} .ax", f"fill:{edge};stroke:{edge}"),
        ]
    uid = "pairs-" + _svg.digest(sizes, entries, mode, lang)
    desc = text["desc"].format(pad=entries, shape=sizes, result=result)
    root = _svg.new_svg(width, height, lang=lang, uid=uid, title=title, desc=desc, rules=rules)
    _svg.add_text(root, _MARGIN, _MARGIN + 16, heading, "h")
    _svg.add_text(root, _MARGIN, _MARGIN + 16 + _LINE + 2, subject, "m")
    _svg.add_text(root, left - 12, tuple_y + 19, text["pad"], "m", "end")
    _svg.add_text(root, left - 12, shape_y + 19, text["shape"], "m", "end")

    def dim_centre(pos: int) -> float:
        return shape_x + pos * (_DIM + _DIM_GAP) + _DIM / 2

    for pair in range(pairs):
        pos = rank - 1 - pair
        x = tuple_x + pair * (pair_width + _GROUP_GAP)
        group = _svg.sub(
            root,
            "g",
            {
                "class": _pad_class(pos, rank),
                "data-kind": "pair",
                "data-pair": str(pair),
                "data-dim": str(pos),
                "data-entries": f"{entries[2 * pair]},{entries[2 * pair + 1]}",
            },
        )
        for side in range(2):
            ex = x + side * (_ENTRY + _PAIR_GAP)
            _svg.sub(
                group,
                "rect",
                {"class": "e", "x": ex, "y": tuple_y, "width": _ENTRY, "height": _BOX, "rx": 4},
            )
            _svg.add_text(
                group, ex + _ENTRY / 2, tuple_y + 19, str(entries[2 * pair + side]), anchor="middle"
            )
        centre = x + pair_width / 2
        _svg.add_text(
            group, centre, tuple_y + _BOX + 16, f"pad[{2 * pair}:{2 * pair + 2}]", "m", "middle"
        )
        _svg.add_arrow(group, (centre, tuple_y + _BOX + 24), (dim_centre(pos), shape_y - 4), "ax")

    for pos in range(rank):
        pair = rank - 1 - pos
        reached = pair < pairs
        group = _svg.sub(
            root,
            "g",
            {
                "class": _pad_class(pos, rank) if reached else "",
                "data-kind": "dim",
                "data-dim": str(pos),
                "data-size": str(sizes[pos]),
                "data-result": str(result[pos]),
            },
        )
        x = dim_centre(pos) - _DIM / 2
        _svg.sub(
            group,
            "rect",
            {
                "class": "e" if reached else "k",
                "x": x,
                "y": shape_y,
                "width": _DIM,
                "height": _BOX,
                "rx": 4,
            },
        )
        _svg.add_text(group, x + _DIM / 2, shape_y + 19, str(sizes[pos]), anchor="middle")
        _svg.add_text(
            group,
            x + _DIM / 2,
            shape_y + _BOX + 18,
            text["dim"].format(neg=pos - rank, pos=pos),
            "m",
            "middle",
        )
        if reached:
            left_pad, right_pad = entries[2 * pair : 2 * pair + 2]
            formula = f"{sizes[pos]} {_term(left_pad)} {_term(right_pad)} = {result[pos]}"
        else:
            formula = text["kept"].format(size=sizes[pos])
        _svg.add_text(group, x + _DIM / 2, shape_y + _BOX + 38, formula, anchor="middle")

    row = 0
    for k, rows in enumerate(notes):
        # One <text> per line of the account, one <tspan> per row it wraps to.
        y = notes_y + row * _LINE + 13
        line = _svg.sub(root, "text", {"x": _MARGIN, "y": y, **({} if k else {"class": "m"})})
        for i, part in enumerate(rows):
            at = {"x": _MARGIN + (_svg.text_width("- ", size) if i else 0), "dy": _LINE if i else 0}
            _svg.sub(line, "tspan", at, part)
        row += len(rows)
    return _svg.to_string(root)


def _wrap(line: str, size: float) -> list[str]:
    """Split ``line`` into rows of at most ``_NOTE_WIDTH`` that join back into ``line``.

    A row ends after a space between two non-CJK characters or after Chinese punctuation, never
    inside brackets, so a tuple and a number with its measure word (``3 个``) stay whole.

    >>> _wrap("(1, 1) pads dim -1", 13)
    ['(1, 1) pads dim -1']
    >>> [len(row) for row in _wrap("word " * 30, 13)]
    [70, 70, 10]
    >>> [row[-4:] for row in _wrap("开头补 1 个，末尾补 1 个；" * 6, 13)]
    ['1 个；', '1 个；']
    """
    pieces, start, depth = [], 0, 0
    for i, ch in enumerate(line):
        depth += (ch in "([（") - (ch in ")]）")
        between_latin = ch == " " and not _wide(line[i - 1 : i]) and not _wide(line[i + 1 : i + 2])
        if depth == 0 and (between_latin or ch in "，；："):
            pieces.append(line[start : i + 1])
            start = i + 1
    pieces.append(line[start:])
    rows = [""]
    for piece in pieces:
        if rows[-1] and _svg.text_width(rows[-1] + piece.rstrip(), size) > _NOTE_WIDTH:
            rows.append("")
        rows[-1] += piece
    return rows


def _wide(text: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in "WF" for ch in text)


def _term(n: int) -> str:
    return f"+ {n}" if n >= 0 else f"− {-n}"
