"""Building blocks shared by the SVG diagrams.

The diagrams are embedded in the MkDocs pages with ``<img>``, so page CSS
cannot reach inside them: each one draws its own light card, sets its own
colours and fonts, and references nothing outside itself (no ``href``, no
``url(...)``, no web fonts). Output must be byte-for-byte reproducible, so
every number goes through ``fmt`` and ids come from ``digest``.
"""

from __future__ import annotations

import hashlib
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence

INK = "#1f2328"
MUTED = "#57606a"
CARD = "#ffffff"
CARD_EDGE = "#d0d7de"

TEXT_SIZE = 13
TITLE_SIZE = 16

_LATIN_FONTS = ("system-ui", "-apple-system", '"Segoe UI"', "Roboto", '"Helvetica Neue"', "Arial")
_CJK_FONTS = (
    '"Noto Sans CJK SC"',
    '"Source Han Sans SC"',
    '"PingFang SC"',
    '"Hiragino Sans GB"',
    '"Microsoft YaHei"',
)

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

Attrs = Mapping[str, str | int | float]


def fmt(value: float) -> str:
    """Format a coordinate with at most two decimals and no trailing zeros.

    >>> fmt(26.0), fmt(-9.75), fmt(1 / 3), fmt(-0.001)
    ('26', '-9.75', '0.33', '0')
    """
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def digest(*parts: object) -> str:
    """Return a short stable hex digest of ``parts`` (``hash()`` is salted per process)."""
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:8]


def text_width(text: str, size: float) -> float:
    """Estimate the rendered width of ``text``; generous, so layouts never clip.

    There are no font metrics at build time, so wide (CJK) characters count
    as one em and everything else as 0.6 em.
    """
    wide = sum(unicodedata.east_asian_width(ch) in "WF" for ch in text)
    return (wide + 0.6 * (len(text) - wide)) * size


def font_family(lang: str) -> str:
    """Return a CSS font stack that can show ``lang``, ending in ``sans-serif``.

    Chinese lists the CJK families first so that Latin runs inside Chinese
    text use the same face and Han glyphs get the Simplified Chinese forms.
    """
    families = _CJK_FONTS + _LATIN_FONTS if lang == "zh" else _LATIN_FONTS + _CJK_FONTS
    return ",".join((*families, "sans-serif"))


def sub(parent: ET.Element, tag: str, attrs: Attrs, text: str | None = None) -> ET.Element:
    """Append a child element, formatting numeric attribute values with ``fmt``."""
    child = ET.SubElement(
        parent, tag, {k: v if isinstance(v, str) else fmt(v) for k, v in attrs.items()}
    )
    child.text = text
    return child


def add_text(
    parent: ET.Element,
    x: float,
    y: float,
    text: str,
    cls: str | None = None,
    anchor: str | None = None,
) -> ET.Element:
    """Append a ``<text>`` at baseline ``(x, y)``."""
    attrs: dict[str, str | float] = {"x": x, "y": y}
    if cls:
        attrs["class"] = cls
    if anchor:
        attrs["text-anchor"] = anchor
    return sub(parent, "text", attrs, text)


def path_d(points: Sequence[tuple[float, float]]) -> str:
    """Return the ``d`` of a closed polygon through ``points``."""
    head, *rest = points
    return "M" + " L".join(f"{fmt(x)} {fmt(y)}" for x, y in (head, *rest)) + "Z"


def add_arrow(
    parent: ET.Element, start: tuple[float, float], end: tuple[float, float], cls: str
) -> ET.Element:
    """Append an arrow from ``start`` to ``end`` as one path.

    The head is drawn as geometry rather than an SVG marker because markers
    are referenced with ``url(#...)``, which the diagrams avoid altogether.
    """
    (x1, y1), (x2, y2) = start, end
    length = ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    back_x, back_y = x2 - 7 * ux, y2 - 7 * uy
    left = (back_x - 3.5 * uy, back_y + 3.5 * ux)
    right = (back_x + 3.5 * uy, back_y - 3.5 * ux)
    shaft = f"M{fmt(x1)} {fmt(y1)} L{fmt(back_x)} {fmt(back_y)}"
    return sub(parent, "path", {"class": cls, "d": shaft + path_d([(x2, y2), left, right])})


def css(rules: Iterable[tuple[str, str]]) -> str:
    """Join ``(selector, declarations)`` pairs into a stylesheet, in the given order."""
    return "".join(f"{selector}{{{body}}}" for selector, body in rules)


def new_svg(
    width: float,
    height: float,
    *,
    lang: str,
    uid: str,
    title: str,
    desc: str,
    rules: Iterable[tuple[str, str]],
) -> ET.Element:
    """Create an accessible ``<svg>`` root with title, description, style and card.

    ``uid`` prefixes the ids that ``aria-labelledby`` points to, so it must
    differ between diagrams that can share a page.
    """
    root = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "width": fmt(width),
            "height": fmt(height),
            "viewBox": f"0 0 {fmt(width)} {fmt(height)}",
            "role": "img",
            "aria-labelledby": f"{uid}-title {uid}-desc",
            _XML_LANG: lang,
        },
    )
    sub(root, "title", {"id": f"{uid}-title"}, title)
    sub(root, "desc", {"id": f"{uid}-desc"}, desc)
    base = (
        ("svg", f"font-family:{font_family(lang)};font-size:{TEXT_SIZE}px"),
        ("text", f"fill:{INK}"),
        (".h", f"font-size:{TITLE_SIZE}px;font-weight:600"),
        (".m", f"fill:{MUTED}"),
        (".bg", f"fill:{CARD};stroke:{CARD_EDGE}"),
    )
    sub(root, "style", {}, css((*base, *rules)))
    sub(
        root,
        "rect",
        {"class": "bg", "x": 0.5, "y": 0.5, "width": width - 1, "height": height - 1, "rx": 8},
    )
    return root


def to_string(root: ET.Element) -> str:
    """Serialize without an XML declaration, indented, ending in a newline."""
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="unicode") + "\n"
