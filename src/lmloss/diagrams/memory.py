"""Diagram of the buffers alive at each stage of transformers' loss, from a measurement."""

from __future__ import annotations

import re
from typing import Any

from lmloss._checks import check_lang
from lmloss.diagrams import _svg

# Buffers alive at the peak of each stage, bytes per logit: bf16 logits, the float32 copy of
# the upcast, the float32 log-softmax saved by F.cross_entropy, the float32 gradients. In the
# last stage the caller has dropped the logits before backward, as the Trainer does.
BUFFERS = {
    "lm_head": (("logits", 2),),
    "loss": (("logits", 2), ("copy", 4), ("log_softmax", 4)),
    "backward, logits kept": (("logits", 2), ("log_softmax", 4), ("grads", 8)),
    "backward, logits freed": (("log_softmax", 4), ("grads", 8)),
}
# What a measured peak may hold beyond its buffers: the gradients of the hidden states and of
# the weight, which grow with (N + V) x H rather than with N x V.
_SLACK = 0.5

_COLOURS = {"logits": "#c7d2fe", "copy": "#fde68a", "log_softmax": "#bbf7d0", "grads": "#fecaca"}
_TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "title": "Bytes per logit alive at each stage (measured)",
        "stages": {
            "lm_head": "lm_head",
            "loss": "loss (forward)",
            "backward, logits kept": "backward, logits kept",
            "backward, logits freed": "backward, logits freed",
        },
        "buffers": {
            "logits": "bf16 logits",
            "copy": "float32 copy",
            "log_softmax": "float32 log-softmax",
            "grads": "float32 gradients",
        },
        "peak": "peak {peak} B",
        "alive": "alive after: {alive} B",
        "desc": "Measured peak and alive-after bytes per logit: {rows}.",
    },
    "zh": {
        "title": "各阶段每个 logit 占用的字节数（实测）",
        "stages": {
            "lm_head": "lm_head",
            "loss": "损失（前向）",
            "backward, logits kept": "反向（保留 logits）",
            "backward, logits freed": "反向（释放 logits）",
        },
        "buffers": {
            "logits": "bf16 logits",
            "copy": "float32 副本",
            "log_softmax": "float32 log-softmax",
            "grads": "float32 梯度",
        },
        "peak": "峰值 {peak} B",
        "alive": "结束后存活 {alive} B",
        "desc": "实测的峰值和结束后存活的字节数（每个 logit）：{rows}。",
    },
}
_ROW = re.compile(r"^(\w[\w, ]*?)\s+(\d+\.\d)\s+(\d+\.\d)\s*$", re.MULTILINE)
_LEFT, _SCALE, _BAR, _GAP, _TOP = 190, 36, 30, 26, 44


def memory_stages_svg(measured: str, *, lang: str = "en") -> str:
    """Draw the buffers alive at the peak of each stage, from the page's measured output.

    Args:
        measured: The text the page's measurement prints: one line per stage, its name, its
            peak and what is alive after it, in bytes per logit with one decimal
            (``"loss   10.0   6.0"``).
        lang: Language of the labels: ``"en"`` or ``"zh"``.

    Returns:
        A standalone SVG document; each buffer is one ``<rect>`` with ``data-stage`` and
        ``data-buffer``, each stage's "alive after" mark one ``<line>`` with ``data-alive``;
        a legend names the buffers.

    Raises:
        ValueError: If ``lang`` is unknown, a stage is missing, or a measured peak is not the
            sum of the buffers that stage is known to hold, give or take less than 0.5 B/logit
            (the gradients of the hidden states and of the weight).

    Examples:
        >>> measured = '''lm_head 2.0 2.0
        ... loss 10.0 6.0
        ... backward, logits kept 14.1 2.1
        ... backward, logits freed 12.1 0.1'''
        >>> memory_stages_svg(measured).count("data-buffer=")
        9
        >>> memory_stages_svg(measured.replace("10.0", "12.0"))
        Traceback (most recent call last):
            ...
        ValueError: the measured peak of 'loss', 12.0 B/logit, is not the sum of its
        buffers {'logits': 2, 'copy': 4, 'log_softmax': 4}
    """
    check_lang(lang)
    text = _TEXT[lang]
    rows = {m[1]: (float(m[2]), float(m[3])) for m in _ROW.finditer(measured)}
    if set(rows) != set(BUFFERS):
        raise ValueError(f"measured must have one line per stage {list(BUFFERS)}, got {list(rows)}")
    for stage, buffers in BUFFERS.items():
        peak = rows[stage][0]
        if not 0 <= peak - sum(size for _, size in buffers) < _SLACK:
            raise ValueError(
                f"the measured peak of {stage!r}, {peak} B/logit, is not the sum of its buffers "
                f"{dict(buffers)}"
            )
    width = _LEFT + 14 * _SCALE + 150
    height = _TOP + len(BUFFERS) * (_BAR + _GAP) + 40
    desc = text["desc"].format(rows=", ".join(f"{s} {p}/{a}" for s, (p, a) in rows.items()))
    root = _svg.new_svg(
        width,
        height,
        lang=lang,
        uid="memory-" + _svg.digest(measured, lang),
        title=text["title"],
        desc=desc,
        rules=[(".b", "stroke:#57606a;stroke-width:0.5"), (".a", "stroke:#b91c1c;stroke-width:2")],
    )
    _svg.add_text(root, 16, 26, text["title"], "h")
    for i, (stage, buffers) in enumerate(BUFFERS.items()):
        y = _TOP + i * (_BAR + _GAP)
        _svg.add_text(root, 16, y + _BAR / 2 + 4, text["stages"][stage])
        x: float = _LEFT
        for name, size in buffers:
            _svg.sub(
                root,
                "rect",
                {
                    "class": "b",
                    "x": x,
                    "y": y,
                    "width": size * _SCALE,
                    "height": _BAR,
                    "fill": _COLOURS[name],
                    "data-stage": stage,
                    "data-buffer": name,
                },
            )
            _svg.add_text(root, x + size * _SCALE / 2, y + _BAR / 2 + 4, str(size), anchor="middle")
            x += size * _SCALE
        peak, alive = rows[stage]
        _svg.add_text(root, x + 8, y + 12, text["peak"].format(peak=peak), "m")
        _svg.add_text(root, x + 8, y + 27, text["alive"].format(alive=alive), "m")
        _svg.sub(
            root,
            "line",
            {
                "class": "a",
                "x1": _LEFT + alive * _SCALE,
                "y1": y - 3,
                "x2": _LEFT + alive * _SCALE,
                "y2": y + _BAR + 3,
                "data-alive": alive,
            },
        )
    x = 16.0
    y = height - 18
    for name, colour in _COLOURS.items():  # the legend
        _svg.sub(
            root,
            "rect",
            {"class": "b", "x": x, "y": y - 11, "width": 14, "height": 14, "fill": colour},
        )
        label = text["buffers"][name]
        _svg.add_text(root, x + 20, y, label)
        x += 20 + _svg.text_width(label, _svg.TEXT_SIZE) + 18
    return _svg.to_string(root)
