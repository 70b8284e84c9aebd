"""Diagram of ``F.pad``: which output elements are input and which are padding."""

from __future__ import annotations

import dataclasses
import itertools
import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from lmloss._checks import check_lang
from lmloss.diagrams import _svg
from lmloss.padding import pad_shape

MAX_ELEMENTS = 256
"""Largest input or output tensor (in elements) that is still legible."""
MAX_EXTENT = 32
"""Longest input or output dimension that is still legible."""

_FACE = 26
_PITCH = 32
_VALUE_SIZE = 12
# Slices are spaced further apart than a cube is deep so that each slice
# reads as its own layer; (x, y) per step of dim 0, up and to the right.
_SLICE = (48.0, -36.0)
_DEPTH = (16.0, -12.0)
_GAP = 10
_MARGIN = 20
_LINE = 22

_INPUT = {"front": "#2563eb", "top": "#60a5fa", "side": "#1e40af", "edge": "#1e3a8a"}
# (fill, edge) per padded dimension counted from the end: dim -1, dim -2, dim -3, so that a
# colour means the same dimension whatever the rank (the pairs diagrams and the explorer use
# them too). The edges are dark enough (>= 4.5:1 on the white card) to carry the shape alone.
_PAD_COLOURS = (("#10b981", "#047857"), ("#ec4899", "#be185d"), ("#f59e0b", "#b45309"))


def _pad_class(dim: int, rank: int) -> str:
    """The CSS class of padding added by ``dim`` (counted from 0) of a rank-``rank`` tensor:
    ``neg1`` for dim -1, whatever the rank.

    >>> _pad_class(2, 3), _pad_class(1, 2), _pad_class(0, 3)
    ('neg1', 'neg1', 'neg3')
    """
    return f"neg{rank - dim}"


_TEXT = {
    "en": {
        "title": "F.pad padding: shape {inp} → {out}",
        "dim": "dim {d} = dim {neg}",
        "dim_last": "dim {d} = dim {neg} (last)",
        "amounts": "{dim}: {left} left, {right} right, {before} → {after}",
        "not_reached": "{dim}: not reached, keeps size {before}",
        "input": "input {inp}: {count} (solid)",
        "input_cropped": "input {inp}: {count}, {kept} kept (solid), {cropped} cropped "
        "(grey, struck out)",
        "padding": "padding: {count} (light, dashed), coloured by the dim that added it, "
        "outermost first",
        "slice": "slice {k}",
        "directions": "left/right = start/end of a dim; arrows point to increasing index",
        "view3": "Drawn in 3-D: dim 0 (= dim -3) is depth, its slices side by side with "
        "index 0 in front; dim 1 (= dim -2) rows; dim 2 (= dim -1) columns.",
        "view2": "dim 0 (= dim -2) is rows, dim 1 (= dim -1) columns.",
        "view1": "One row.",
        "desc": "{call} turns shape {inp} into {out}. {view} Input: {count_in} (solid). "
        "Padding: {count_pad} (light, dashed), coloured by the dimension that added them. "
        "{amounts}.",
        "sep": "; ",
    },
    "zh": {
        "title": "F.pad 填充：形状 {inp} → {out}",
        "dim": "dim {d} = dim {neg}",
        "dim_last": "dim {d} = dim {neg}（最后一维）",
        "amounts": "{dim}：左 {left}，右 {right}，{before} → {after}",
        "not_reached": "{dim}：填充元组没有涉及，长度保持 {before}",
        "input": "输入 {inp}：{count}（实心）",
        "input_cropped": "输入 {inp}：{count}，留下 {kept} 个（实心），裁掉 {cropped} 个（灰色，划掉）",
        "padding": "填充：{count}（浅色虚线），颜色表示由哪一维的填充产生；"
        "同属几维的角上元素按最靠前的一维着色",
        "slice": "第 {k} 层",
        "directions": "左/右 = 该维度的开头/末尾；箭头指向索引增大的方向",
        "view3": "三维视图：dim 0（dim -3）是深度，各层分开排列，索引 0 在最前；"
        "dim 1（dim -2）是行；dim 2（dim -1）是列。",
        "view2": "dim 0（dim -2）是行，dim 1（dim -1）是列。",
        "view1": "单行。",
        "desc": "{call} 把形状 {inp} 变为 {out}。{view}输入：{count_in}（实心）。"
        "填充：{count_pad}（浅色虚线），按添加它们的维度着色。{amounts}。",
        "sep": "；",
    },
}


@dataclass(frozen=True)
class _Cell:
    index: tuple[int, ...]
    dim: int | None
    """Dimension whose padding created the cell (outermost wins); ``None`` for input."""
    src: int | None
    """Flat index of the input element the cell holds; ``None`` if it holds the fill value."""
    value: str | None = None
    """The element of the padded tensor, as drawn; ``None`` when values are not drawn."""


@dataclass(frozen=True)
class _Grid:
    """Cell width, column pitch and offset between slices of dim 0.

    With values, cells widen to fit the widest one. In 3-D the slices stand apart, rising to
    the right, so that no cube or value hides behind another.
    """

    face: float = _FACE
    pitch: float = _PITCH
    slice: tuple[float, float] = _SLICE

    @classmethod
    def fitting(cls, cells: list[_Cell], out_shape: tuple[int, ...]) -> _Grid:
        drawn = [c.value for c in cells if c.value is not None]
        if not drawn and len(out_shape) < 3:
            return cls()
        widest = max((_svg.text_width(v, _VALUE_SIZE) for v in drawn), default=0)
        face = max(_FACE, math.ceil(widest + 8))
        # Cubes also leave room for their side face, which would cover the next cell.
        pitch = face + _PITCH - _FACE + (_DEPTH[0] if len(out_shape) == 3 else 0)
        # Slices of dim 0 stand apart, each to the right of and above the one before, so
        # that no cube hides another: the input is in plain sight in every slice.
        return cls(face, pitch, (out_shape[-1] * pitch + 2 * _DEPTH[0], _DEPTH[1] * 2))


def pad_svg(
    shape: Sequence[int],
    pad: Sequence[int],
    mode: str = "constant",
    lang: str = "en",
    *,
    values: Any = None,
    value: float | None = None,
) -> str:
    """Draw which elements of ``F.pad(x, pad, mode)`` are input and which are padding.

    The picture comes from real PyTorch results: an index tensor of ``shape``
    is padded with ``mode="constant"`` to find where the input lands, and with
    ``mode`` to find which input element each padded cell copies. Rank 1 is a
    row, rank 2 a grid (dim 0 rows, dim 1 columns), and rank 3 is drawn in 3-D
    as cubes (dim 0 depth, its slices apart and rising to the right with index 0
    in front, so no cube hides another, each labelled ``slice 0``, ``slice 1``, ...;
    dim 1 rows, dim 2 columns). Input
    elements are solid blue; padding is light and dashed, coloured by the
    outermost dimension whose padding added it, one colour per dimension counted
    from the end (dim -1 is green, dim -2 pink, dim -3 amber, whatever the rank). Arrows name each dimension
    both ways (``dim 2 = dim -1``) and
    a legend gives each one's left/right amounts and size before → after.

    Every tensor element is exactly one SVG element with ``data-kind="input"``
    or ``data-kind="pad"`` and ``data-index`` (its output index, comma
    separated). Input elements that negative entries crop are drawn where they would have
    been, outside the output, grey and struck out; they are not elements of the result, so they
    carry ``data-cropped`` (their flat input index) instead of ``data-kind``, and the legend
    counts them. Padding also carries ``data-dim``. ``data-src`` is the flat
    index into the input of the element a cell holds: input cells always
    carry it (their own index); padding carries it in the non-constant modes,
    where it is the element copied, and not in ``"constant"``, where it holds
    the fill value.

    With ``values``, each cell also shows its element of the real result of
    ``F.pad(torch.as_tensor(values), pad, mode, value)`` and carries it as
    ``data-value``; cells widen to fit the longest value.

    Args:
        shape: Input shape, rank 1 to 3.
        pad: Padding as for ``F.pad``: (left, right) pairs from the last
            dimension backwards.
        mode: ``F.pad`` mode: ``"constant"``, ``"reflect"``, ``"replicate"``
            or ``"circular"``.
        lang: Language of the title, description and labels: ``"en"`` or
            ``"zh"``.
        values: The input tensor (or nested list) whose padded elements are
            drawn, of shape ``shape``; ``True`` for ``torch.arange`` in that
            shape; ``None`` (the default) draws no values.
        value: The fill value passed to ``F.pad`` (only meaningful with
            ``values``); torch rejects a non-zero value in the other modes.

    Returns:
        A standalone SVG document (no XML declaration) that references nothing
        external and draws its own light background, so it reads the same in
        light and dark page themes. The same arguments give the same bytes.

    Raises:
        ValueError: If ``lang`` is not ``"en"`` or ``"zh"``, ``shape`` does not
            have 1 to 3 dimensions, the input or output has more than
            ``MAX_ELEMENTS`` elements or a dimension longer than
            ``MAX_EXTENT``, the output is empty, or a non-constant mode
            crops so much that torch would copy from memory it never wrote
            (every element of a dim cropped; circular wrapping more values
            than the crop keeps), or ``values`` does not have shape ``shape``.
        RuntimeError: From ``F.pad``, for a ``value`` it rejects.
        TypeError: Propagated from [`lmloss.padding.pad_shape`][lmloss.pad_shape], which
            also raises ``ValueError`` for invalid ``shape``, ``pad`` or
            ``mode``.

    Examples:
        >>> import xml.etree.ElementTree as ET
        >>> root = ET.fromstring(pad_svg((1, 2, 2), (1, 1, 0, 1, 1, 0)))
        >>> kinds = [el.get("data-kind") for el in root.iter()]
        >>> kinds.count("input"), kinds.count("pad")
        (4, 20)
        >>> root.find("{http://www.w3.org/2000/svg}title").text
        'F.pad padding: shape (1, 2, 2) → (2, 3, 4)'
    """
    check_lang(lang)
    out_shape = tuple(pad_shape(shape, pad, mode))
    in_shape = tuple(int(n) for n in shape)
    pads = tuple(int(p) for p in pad)
    if not 1 <= len(in_shape) <= 3:
        raise ValueError(
            f"shape must have 1, 2 or 3 dimensions to be drawn; got {len(in_shape)}: {in_shape}"
        )
    for name, dims in (("input", in_shape), ("output", out_shape)):
        if math.prod(dims) > MAX_ELEMENTS or max(dims) > MAX_EXTENT:
            raise ValueError(
                f"too many elements to draw legibly: the {name} shape {dims} has "
                f"{math.prod(dims)} elements and a longest dimension of {max(dims)}; "
                f"at most {MAX_ELEMENTS} elements and {MAX_EXTENT} per dimension"
            )
    if math.prod(out_shape) == 0:
        raise ValueError(f"nothing to draw: the output shape {out_shape} has no elements")
    if mode != "constant":
        _check_copyable(in_shape, pads, mode)
    cells = _cells(in_shape, out_shape, pads, mode)
    if values is not None:
        cells = _with_values(cells, _input_tensor(values, in_shape), pads, mode, value)
    cropped = _cropped(in_shape, out_shape, pads, values) if min(pads, default=0) < 0 else []
    return _draw(in_shape, out_shape, pads, mode, lang, cells, value, cropped)


def _input_tensor(values: Any, shape: tuple[int, ...]) -> torch.Tensor:
    if values is True:
        return torch.arange(math.prod(shape)).reshape(shape)
    tensor = torch.as_tensor(values)
    if tuple(tensor.shape) != shape:
        raise ValueError(
            f"values must have the shape being padded, {shape}; got {tuple(tensor.shape)}"
        )
    return tensor


def _format_value(element: bool | int | float) -> str:
    """Format one tensor element as the diagrams draw it: ints as is, floats in short form.

    >>> _format_value(-100), _format_value(0.5), _format_value(2.0), _format_value(True)
    ('-100', '0.5', '2', 'True')
    """
    if isinstance(element, float):
        return f"{element:g}"
    return str(element)


def _with_values(
    cells: list[_Cell],
    tensor: torch.Tensor,
    pads: tuple[int, ...],
    mode: str,
    value: float | None,
) -> list[_Cell]:
    padded = F.pad(tensor, pads, mode=mode, value=value).flatten().tolist()
    return [
        dataclasses.replace(cell, value=_format_value(element))
        for cell, element in zip(cells, padded, strict=True)
    ]


def _pairs(rank: int, pads: tuple[int, ...]) -> list[tuple[int, int]]:
    """Return (left, right) per dimension, dim 0 first; ``pad`` starts at the last dim."""
    pairs = [(pads[i], pads[i + 1]) for i in range(0, len(pads), 2)]
    pairs += [(0, 0)] * (rank - len(pairs))
    return pairs[::-1]


def _check_copyable(in_shape: tuple[int, ...], pads: tuple[int, ...], mode: str) -> None:
    """Reject crops that leave a copying mode too little to copy.

    torch accepts these, but fills some output cells from memory it never
    wrote, so their ``data-src`` would be garbage and differ from run to run.
    """
    for d, ((left, right), n) in enumerate(zip(_pairs(len(in_shape), pads), in_shape)):
        kept = n + min(left, 0) + min(right, 0)
        if kept < 1:
            raise ValueError(
                f"cannot draw {mode} padding that crops away every input element of dim {d}: "
                f"pad ({left}, {right}) on size {n}"
            )
        if mode == "circular" and max(left, right) > kept:
            raise ValueError(
                f"cannot draw circular padding that wraps more values than cropping leaves in "
                f"dim {d}: pad ({left}, {right}) on size {n} keeps {kept}"
            )


def _cells(
    in_shape: tuple[int, ...], out_shape: tuple[int, ...], pads: tuple[int, ...], mode: str
) -> list[_Cell]:
    index = torch.arange(math.prod(in_shape)).reshape(in_shape)
    # -1 cannot be a flat index, so it marks the cells no input element landed in.
    placed = F.pad(index, pads, mode="constant", value=-1).flatten().tolist()
    copied = placed if mode == "constant" else F.pad(index, pads, mode=mode).flatten().tolist()
    # Where the input lands along each dim; negative padding crops, so clip.
    spans = [
        (max(left, 0), min(left + n, out))
        for (left, _), n, out in zip(_pairs(len(in_shape), pads), in_shape, out_shape)
    ]
    cells = []
    for idx, where, src in zip(
        itertools.product(*map(range, out_shape)), placed, copied, strict=True
    ):
        if where >= 0:
            cells.append(_Cell(idx, None, where))
            continue
        dim = next(d for d, (lo, hi) in enumerate(spans) if not lo <= idx[d] < hi)
        cells.append(_Cell(idx, dim, None if mode == "constant" else src))
    return cells


def _cropped(
    in_shape: tuple[int, ...], out_shape: tuple[int, ...], pads: tuple[int, ...], values: Any
) -> list[_Cell]:
    """The input elements that negative entries crop, at the output index they would have had.

    They lie outside the output (an index below 0 or past its end), so the drawing can show them
    beside it, struck out, instead of leaving the crop invisible.
    """
    lefts = [left for left, _ in _pairs(len(in_shape), pads)]
    flat = None if values is None else _input_tensor(values, in_shape).flatten().tolist()
    cells = []
    for src, idx in enumerate(itertools.product(*map(range, in_shape))):
        where = tuple(i + left for i, left in zip(idx, lefts))
        if not all(0 <= w < n for w, n in zip(where, out_shape)):
            value = None if flat is None else _format_value(flat[src])
            cells.append(_Cell(where, None, src, value))
    return cells


def _signed(n: int) -> str:
    return f"+{n}" if n >= 0 else f"−{-n}"


def _count(n: int, lang: str) -> str:
    if lang == "zh":
        return f"{n} 个元素"
    return f"{n} element" if n == 1 else f"{n} elements"


def _rules(rank: int) -> list[tuple[str, str]]:
    rules = [
        (".i", f"fill:{_INPUT['front']};stroke:{_INPUT['edge']};stroke-linejoin:round"),
        (".i .t", f"fill:{_INPUT['top']}"),
        (".i .s", f"fill:{_INPUT['side']}"),
        # Nearly clear, so input cubes behind padding stay visible through it.
        (".p", "fill-opacity:.12;stroke-dasharray:3 2;stroke-linejoin:round"),
        (".p .t", "fill-opacity:.2"),
        (".p .s", "fill-opacity:.28"),
        (".ax", f"fill:{_svg.MUTED};stroke:{_svg.MUTED};stroke-width:1.5"),
    ]
    for k, (fill, edge) in enumerate(_PAD_COLOURS[:rank], start=1):
        rules.append((f".neg{k}", f"fill:{fill};stroke:{edge}"))
    return rules


def _cell_attrs(cell: _Cell, rank: int) -> dict[str, str]:
    if cell.dim is None:
        attrs = {"class": "i", "data-kind": "input"}
    else:
        cls = _pad_class(cell.dim, rank)
        attrs = {"class": f"p {cls}", "data-kind": "pad", "data-dim": str(cell.dim)}
    attrs["data-index"] = ",".join(map(str, cell.index))
    if cell.src is not None:
        attrs["data-src"] = str(cell.src)
    if cell.value is not None:
        attrs["data-value"] = cell.value
    return attrs


def _add_value(group: ET.Element, cell: _Cell, x: float, y: float, grid: _Grid) -> None:
    """Write the cell's value centred on its front face at ``(x, y)``."""
    if cell.value is not None:
        _svg.add_text(group, x + grid.face / 2, y + _FACE / 2 + 4, cell.value, "n", "middle")


def _add_cells(parent: ET.Element, cells: list[_Cell], rank: int, grid: _Grid) -> None:
    if rank < 3:
        for cell in cells:
            row, col = cell.index if rank == 2 else (0, *cell.index)
            left, top_y = col * grid.pitch, row * _PITCH
            box = {"x": left, "y": top_y, "width": grid.face, "height": _FACE}
            if cell.value is None:
                _svg.sub(parent, "rect", {**_cell_attrs(cell, rank), **box})
            else:
                group = _svg.sub(parent, "g", _cell_attrs(cell, rank))
                _svg.sub(group, "rect", box)
                _add_value(group, cell, left, top_y, grid)
        return
    dx, dy = _DEPTH
    # Painter's order for a viewer in front, above and to the right: back
    # slices first, then bottom rows, then left columns.
    for cell in sorted(cells, key=lambda c: (-c.index[0], -c.index[1], c.index[2])):
        depth, row, col = cell.index
        x = col * grid.pitch + depth * grid.slice[0]
        y = row * _PITCH + depth * grid.slice[1]
        x2, y2 = x + grid.face, y + _FACE
        group = _svg.sub(parent, "g", _cell_attrs(cell, rank))
        _svg.sub(group, "path", {"d": _svg.path_d([(x, y), (x2, y), (x2, y2), (x, y2)])})
        top = [(x, y), (x2, y), (x2 + dx, y + dy), (x + dx, y + dy)]
        _svg.sub(group, "path", {"class": "t", "d": _svg.path_d(top)})
        side = [(x2, y), (x2 + dx, y + dy), (x2 + dx, y2 + dy), (x2, y2)]
        _svg.sub(group, "path", {"class": "s", "d": _svg.path_d(side)})
        _add_value(group, cell, x, y, grid)


def _front(index: tuple[int, ...], rank: int, grid: _Grid) -> tuple[float, float]:
    """Top-left corner of the front face of the cell at ``index`` (which may lie outside the
    output), as ``_add_cells`` places it."""
    depth, row, col = (0,) * (3 - rank) + tuple(index)
    return col * grid.pitch + depth * grid.slice[0], row * _PITCH + depth * grid.slice[1]


@dataclass(frozen=True)
class _Arrow:
    start: tuple[float, float]
    end: tuple[float, float]
    label_at: tuple[float, float]
    anchor: str
    label: str


def _arrows(
    out_shape: tuple[int, ...], text: dict[str, str], grid: _Grid, left_edge: float = 0.0
) -> list[_Arrow]:
    """Place one arrow per dimension, in the local frame of ``_add_cells``.

    ``left_edge`` is the leftmost drawn x (below 0 when cropped cells stand left of the
    output): the row arrow goes left of it, so that it crosses no cell.
    """
    rank = len(out_shape)
    depth, rows, cols = (1,) * (3 - rank) + out_shape
    right = (cols - 1) * grid.pitch + grid.face
    bottom = (rows - 1) * _PITCH + _FACE
    name = [text["dim"].format(d=d, neg=d - rank) for d in range(rank)]
    arrows = [
        _Arrow(
            (0, bottom + _GAP),
            (right, bottom + _GAP),
            (right / 2, bottom + _GAP + 18),
            "middle",
            name[-1],
        )
    ]
    if rank >= 2:
        arrows.append(
            _Arrow(
                (left_edge - _GAP, 0),
                (left_edge - _GAP, bottom),
                (left_edge - _GAP - 6, bottom / 2 + 4),
                "end",
                name[-2],
            )
        )
    if rank == 3:
        # Slices stand apart: the depth arrow ends beside the last one; a single slice still
        # gets a short one.
        steps, (sx, sy) = (depth - 1, grid.slice) if depth > 1 else (1, _SLICE)
        start = (right + _GAP, bottom)
        end = (start[0] + steps * sx, start[1] + steps * sy)
        arrows.append(_Arrow(start, end, (end[0] + 6, end[1] + 4), "start", name[0]))
    return arrows


def _slice_labels(depth: int, text: dict[str, str], grid: _Grid) -> list[tuple[float, float, str]]:
    """A label above each slice of dim 0 (``slice 0``, ``slice 1``, ...), the layers the page's
    text names: (x, baseline y, text) in the local frame of ``_add_cells``."""
    return [
        (k * grid.slice[0], k * grid.slice[1] + _DEPTH[1] - 6, text["slice"].format(k=k))
        for k in range(depth)
    ]


def _draw(
    in_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    pads: tuple[int, ...],
    mode: str,
    lang: str,
    cells: list[_Cell],
    value: float | None,
    cropped: list[_Cell],
) -> str:
    text = _TEXT[lang]
    rank = len(out_shape)
    size = _svg.TEXT_SIZE
    grid = _Grid.fitting(cells + cropped, out_shape)
    ghosts = [(cell, *_front(cell.index, rank, grid)) for cell in cropped]

    # Bounding box of cells, arrows and arrow labels in the local frame, where
    # the front face of the first output cell of slice 0 is at the origin.
    depth, rows, cols = (1,) * (3 - rank) + out_shape
    arrows = _arrows(out_shape, text, grid, min([0.0] + [x for _, x, _ in ghosts]))
    slices = _slice_labels(depth, text, grid) if rank == 3 else []
    x_min = min(
        [0.0]
        + [x for _, x, _ in ghosts]
        + [a.label_at[0] - _svg.text_width(a.label, size) for a in arrows if a.anchor == "end"]
    )
    x_max = max(
        [
            (cols - 1) * grid.pitch
            + grid.face
            + (depth - 1) * grid.slice[0]
            + (_DEPTH[0] if rank == 3 else 0)
        ]
        + [a.label_at[0] + _svg.text_width(a.label, size) for a in arrows if a.anchor == "start"]
        + [x + grid.face for _, x, _ in ghosts]
        + [x + _svg.text_width(label, size) for x, _, label in slices]
    )
    y_min = min(
        [(depth - 1) * grid.slice[1] + (_DEPTH[1] if rank == 3 else 0)]
        + [y - size for _, y, _ in slices]
        + [a.label_at[1] - size for a in arrows]
        + [y for _, _, y in ghosts]
    )
    y_max = max([a.label_at[1] + 4 for a in arrows] + [y + _FACE for _, _, y in ghosts])

    inp, out = str(in_shape), str(out_shape)
    n_in = sum(cell.dim is None for cell in cells)
    n_pad = len(cells) - n_in
    # The words of explain_pad for a dim in front of those the tuple reaches.
    amounts = [
        text["amounts" if d >= rank - len(pads) // 2 else "not_reached"].format(
            dim=text["dim_last" if d == rank - 1 else "dim"].format(d=d, neg=d - rank),
            left=_signed(left),
            right=_signed(right),
            before=in_shape[d],
            after=out_shape[d],
        )
        for d, (left, right) in enumerate(_pairs(rank, pads))
    ]
    call = f'F.pad(x, {pads}, mode="{mode}"' + ("" if value is None else f", value={value}") + ")"
    title = text["title"].format(inp=inp, out=out)
    padded_dims = {cell.dim for cell in cells}
    # A swatch only for colours that occur: a dim with no padding (or only
    # cropping) still gets its line, without a key to nothing.
    if cropped:
        line = text["input_cropped"].format(
            inp=inp, count=_count(math.prod(in_shape), lang), kept=n_in, cropped=len(cropped)
        )
    else:
        line = text["input"].format(inp=inp, count=_count(n_in, lang))
    legend = [("i", line)]
    legend += [
        (f"p {_pad_class(d, rank)}" if d in padded_dims else "", line)
        for d, line in enumerate(amounts)
    ]
    notes = [text["padding"].format(count=_count(n_pad, lang)), text["directions"]]

    drawing_top = _MARGIN + 3 * _LINE
    legend_top = drawing_top + (y_max - y_min) + 8
    height = legend_top + _LINE * (len(legend) + len(notes)) + _MARGIN - 4
    content = max(
        [x_max - x_min, _svg.text_width(title, _svg.TITLE_SIZE), _svg.text_width(call, size)]
        + [22 + _svg.text_width(line, size) for _, line in legend]
        + [_svg.text_width(note, size) for note in notes]
    )
    width = content + 2 * _MARGIN

    desc = text["desc"].format(
        call=call,
        inp=inp,
        out=out,
        view=text[f"view{rank}"],
        count_in=_count(n_in, lang),
        count_pad=_count(n_pad, lang),
        amounts=text["sep"].join(amounts),
    )
    drawn = [cell.value for cell in cells if cell.value is not None]
    uid = "pad-" + _svg.digest(in_shape, pads, mode, lang, *([drawn, value] if drawn else []))
    rules = _rules(rank)
    if cropped:
        # Cropped input: a grey outline, struck out, so the crop shows where it happened.
        rules.append((".c", f"fill:none;stroke:{_svg.MUTED};stroke-dasharray:2 2"))
        rules.append((".c .n", f"fill:{_svg.MUTED};stroke:none"))
    if any(cell.value is not None for cell in cells):
        rules += [
            # Padding cells are nearly clear and dashed: their values must not inherit that.
            (".n", f"font-size:{_VALUE_SIZE}px;fill-opacity:1;stroke:none"),
            (".i .n", "fill:#ffffff"),
        ]
    root = _svg.new_svg(width, height, lang=lang, uid=uid, title=title, desc=desc, rules=rules)
    _svg.add_text(root, _MARGIN, _MARGIN + 16, title, "h")
    _svg.add_text(root, _MARGIN, _MARGIN + 16 + _LINE, call, "m")

    shift_x = _MARGIN + (content - (x_max - x_min)) / 2 - x_min
    shift_y = drawing_top - y_min
    drawing = _svg.sub(
        root, "g", {"transform": f"translate({_svg.fmt(shift_x)} {_svg.fmt(shift_y)})"}
    )
    _add_cells(drawing, cells, rank, grid)
    for cell, x, y in ghosts:
        # Not an element of the result, so no data-kind: data-cropped is its flat input index.
        attrs = {"class": "c", "data-cropped": str(cell.src)}
        if cell.value is not None:
            attrs["data-value"] = cell.value
        group = _svg.sub(drawing, "g", attrs)
        _svg.sub(group, "rect", {"x": x, "y": y, "width": grid.face, "height": _FACE})
        _svg.sub(group, "path", {"d": _svg.path_d([(x, y + _FACE), (x + grid.face, y)])})
        _add_value(group, cell, x, y, grid)
    for x, y, label in slices:
        _svg.add_text(drawing, x, y, label, "m")
    for arrow in arrows:
        _svg.add_arrow(drawing, arrow.start, arrow.end, "ax")
        _svg.add_text(drawing, *arrow.label_at, arrow.label, anchor=arrow.anchor)

    for row, (cls, line) in enumerate(legend):
        y = legend_top + row * _LINE
        if cls:
            _svg.sub(
                root, "rect", {"class": cls, "x": _MARGIN, "y": y + 1, "width": 14, "height": 14}
            )
        _svg.add_text(root, _MARGIN + 22, y + 13, line)
    for row, note in enumerate(notes, start=len(legend)):
        _svg.add_text(root, _MARGIN, legend_top + row * _LINE + 13, note, "m")
    return _svg.to_string(root)
