"""Diagram of the targets a sequence split over ranks keeps, loses or gets wrong."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from lmloss._checks import check_lang
from lmloss.diagrams import _svg
from lmloss.loss import IGNORE_INDEX, shift_labels
from lmloss.parallel import shard_sequence

MAX_POSITIONS = 16
"""Longest sequence that is still legible in one row per rank."""

_MARGIN = 20
_LINE = 22
_CELL_W = 44
_CELL_H = 40
_GAP = 6
_ROW_GAP = 12
_PANEL_GAP = 34

_FILL = {
    "ok": ("#dcfce7", "#15803d"),
    "lost": ("#f3f4f6", "#6b7280"),
    "wrong": ("#fee2e2", "#b91c1c"),
    "end": ("#ffffff", "#9ca3af"),
}

_TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "title": "A sequence of {T} tokens over {W} ranks: the labels shifted inside each shard",
        "layouts": ("contiguous shards", "load-balanced (head-tail) shards"),
        "rank": "rank {r}",
        "legend": {
            "ok": "right target",
            "lost": "target lost at the shard's end",
            "wrong": "wrong target (right one below)",
            "end": "no next token",
        },
        "cell": "position {p}, token {i}",
        "desc": "Targets lost and wrong: contiguous {lost_c} and {wrong_c}, load-balanced "
        "{lost_b} and {wrong_b}. Shifting the labels before sharding keeps all {n}.",
    },
    "zh": {
        "title": "{T} 个词元的序列切分到 {W} 个 rank：在每个分片内移位标签",
        "layouts": ("连续切分", "负载均衡（首尾配对）切分"),
        "rank": "rank {r}",
        "legend": {
            "ok": "目标正确",
            "lost": "分片末尾的目标丢失",
            "wrong": "目标错误（下方为正确目标）",
            "end": "没有下一个词元",
        },
        "cell": "位置 {p}，词元 {i}",
        "desc": "连续切分：丢失 {lost_c} 个目标，错误 {wrong_c} 个。负载均衡：丢失 {lost_b} 个，"
        "错误 {wrong_b} 个。先移位再切分，{n} 个目标全部保留。",
    },
}


def shard_targets(
    ids: Sequence[int] | torch.Tensor, world_size: int, *, load_balanced: bool
) -> list[list[tuple[int, int, int, int]]]:
    """Per rank, ``(position, token, right target, target shifted in the shard)`` tuples.

    The right target comes from shifting the whole sequence, then sharding; the other from
    sharding, then shifting, both with [`lmloss.parallel.shard_sequence`][lmloss.parallel.shard_sequence].
    """
    tokens = torch.as_tensor(ids)
    positions = torch.arange(tokens.numel())
    right = shift_labels(tokens)
    ranks = []
    for rank in range(world_size):

        def mine(t: torch.Tensor, rank: int = rank) -> list[int]:
            return shard_sequence(t, world_size, rank, load_balanced=load_balanced).tolist()

        local = shift_labels(torch.tensor(mine(tokens))).tolist()
        ranks.append(list(zip(mine(positions), mine(tokens), mine(right), local, strict=True)))
    return ranks


def _kind(right: int, local: int) -> str:
    if right == local:
        return "end" if right == IGNORE_INDEX else "ok"
    return "lost" if local == IGNORE_INDEX else "wrong"


def shard_targets_svg(
    ids: Sequence[int] | torch.Tensor, world_size: int, *, lang: str = "en"
) -> str:
    """Draw which targets each rank keeps when it shifts its own shard of the labels.

    Two panels, contiguous and load-balanced shards, one row per rank and one cell per
    position it holds. A cell shows the token and the target the shard's own shift gives it:
    right, lost (``-100`` at the shard's end while the next token lives on another rank) or
    wrong (the token after the position in the shard is not the next token of the sequence).
    Every cell is one ``<g>`` with ``data-kind`` (``"ok"``, ``"lost"``, ``"wrong"`` or
    ``"end"``), ``data-layout``, ``data-rank``, ``data-position``, ``data-target`` (the right
    one) and ``data-local`` (the shard's own).

    Args:
        ids: The token ids of one sequence; its length divisible by ``2 * world_size``.
        world_size: The number of ranks.
        lang: ``"en"`` or ``"zh"``.

    Returns:
        A standalone SVG document; the same arguments give the same bytes.

    Raises:
        ValueError: If ``lang`` is unknown, or the sequence is empty, longer than
            ``MAX_POSITIONS`` or not divisible by ``2 * world_size``.

    Examples:
        >>> import xml.etree.ElementTree as ET
        >>> svg = shard_targets_svg(range(10, 18), 2)
        >>> kinds = [el.get("data-kind") for el in ET.fromstring(svg).iter()]
        >>> {kind: kinds.count(kind) for kind in ("ok", "lost", "wrong", "end")}
        {'ok': 11, 'lost': 2, 'wrong': 1, 'end': 2}
    """
    check_lang(lang)
    tokens = torch.as_tensor(list(ids) if not torch.is_tensor(ids) else ids).flatten()
    if not 1 <= tokens.numel() <= MAX_POSITIONS:
        raise ValueError(
            f"ids must have 1 to {MAX_POSITIONS} tokens to be drawn, got {tokens.numel()}"
        )
    layouts = [shard_targets(tokens, world_size, load_balanced=b) for b in (False, True)]
    return _draw(layouts, tokens.numel(), world_size, lang)


def _draw(
    layouts: list[list[list[tuple[int, int, int, int]]]], count: int, world_size: int, lang: str
) -> str:
    text = _TEXT[lang]
    size = _svg.TEXT_SIZE
    per_rank = count // world_size
    head_w = max(_svg.text_width(text["rank"].format(r=world_size), size) + 16, 64)
    grid_w = head_w + per_rank * _CELL_W + (per_rank - 1) * _GAP
    title = text["title"].format(T=count, W=world_size)
    legend = list(text["legend"].items())
    legend_w = sum(_svg.text_width(label, size) + 40 for _, label in legend)
    width = 2 * _MARGIN + max(grid_w, _svg.text_width(title, _svg.TITLE_SIZE), legend_w)
    panel_h = _LINE + world_size * (_CELL_H + 14 + _ROW_GAP)
    top = _MARGIN + _LINE + 14
    height = top + 2 * panel_h + _PANEL_GAP + _LINE + _MARGIN

    kinds = [[_kind(r, loc) for rank in ranks for _, _, r, loc in rank] for ranks in layouts]
    desc = text["desc"].format(
        lost_c=kinds[0].count("lost"),
        wrong_c=kinds[0].count("wrong"),
        lost_b=kinds[1].count("lost"),
        wrong_b=kinds[1].count("wrong"),
        n=count - 1,
    )
    rules = [
        (".v", "font-weight:600"),
        (".n", f"fill:{_svg.MUTED};font-size:11px"),
        (".x", f"fill:{_FILL['wrong'][1]};font-size:11px;font-weight:600"),
        (".lost rect", "stroke-dasharray:4 3"),
        (".end rect", "stroke-dasharray:2 3"),
    ] + [
        (f".{kind} rect", f"fill:{fill};stroke:{edge};stroke-width:1.5")
        for kind, (fill, edge) in _FILL.items()
    ]
    uid = "shards-" + _svg.digest(tuple(map(tuple, layouts[0][0])), count, world_size, lang)
    root = _svg.new_svg(width, height, lang=lang, uid=uid, title=title, desc=desc, rules=rules)
    _svg.add_text(root, _MARGIN, _MARGIN + 16, title, "h")
    for panel, (name, ranks) in enumerate(zip(text["layouts"], layouts, strict=True)):
        y0 = top + panel * (panel_h + _PANEL_GAP)
        _svg.add_text(root, _MARGIN, y0 + 14, name, "v")
        for rank, cells in enumerate(ranks):
            y = y0 + _LINE + rank * (_CELL_H + 14 + _ROW_GAP)
            _svg.add_text(root, _MARGIN, y + 25, text["rank"].format(r=rank), "m")
            for k, (position, token, right, local) in enumerate(cells):
                kind = _kind(right, local)
                x = _MARGIN + head_w + k * (_CELL_W + _GAP)
                group = _svg.sub(
                    root,
                    "g",
                    {
                        "class": kind,
                        "data-kind": kind,
                        "data-layout": ("contiguous", "balanced")[panel],
                        "data-rank": str(rank),
                        "data-position": str(position),
                        "data-target": str(right),
                        "data-local": str(local),
                    },
                )
                _svg.sub(group, "title", {}, text["cell"].format(p=position, i=token))
                _svg.sub(
                    group, "rect", {"x": x, "y": y, "width": _CELL_W, "height": _CELL_H, "rx": 4}
                )
                middle = x + _CELL_W / 2
                _svg.add_text(group, middle, y + 16, str(token), "v", "middle")
                _svg.add_text(group, middle, y + 33, f"→{local}", "n", "middle")
                if kind == "wrong":
                    _svg.add_text(group, middle, y + _CELL_H + 12, f"≠{right}", "x", "middle")
                else:
                    _svg.add_text(group, middle, y + _CELL_H + 12, f"t={position}", "n", "middle")
    legend_y = height - _MARGIN - 6
    x = _MARGIN
    for kind, label in legend:
        _svg.sub(
            root,
            "rect",
            {
                "x": x,
                "y": legend_y - 11,
                "width": 14,
                "height": 14,
                "rx": 3,
                "style": "fill:{};stroke:{}".format(*_FILL[kind]),
            },
        )
        _svg.add_text(root, x + 20, legend_y, label, "m")
        x += _svg.text_width(label, size) + 40
    return _svg.to_string(root)
