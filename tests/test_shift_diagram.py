"""``lmloss.diagrams.shift_svg``: every cell checked against the real ``shift_labels`` result."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
import torch

from lmloss import shift_labels
from lmloss.diagrams import shift_svg

SEED_TOKENS = ("I", "love", "beautiful", "flower", ".", "<eos>")
SEED_IDS = (40, 1842, 4950, 15607, 13, 2)


def cells(svg: str, kind: str) -> list[ET.Element]:
    return [el for el in ET.fromstring(svg).iter() if el.get("data-kind") == kind]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("labels", [None, (-100, -100, 4950, 15607, 13, -100)])
def test_cells_match_the_real_shift(lang, labels):
    svg = shift_svg(SEED_TOKENS, SEED_IDS, labels, lang=lang)
    raw = torch.tensor([labels if labels is not None else SEED_IDS])
    shifted = shift_labels(raw)[0].tolist()
    inputs = cells(svg, "input")
    assert [int(c.get("data-id")) for c in inputs] == list(SEED_IDS)
    assert [int(c.get("data-index")) for c in cells(svg, "logits")] == list(range(6))
    counted = {int(c.get("data-index")): int(c.get("data-id")) for c in cells(svg, "label")}
    ignored = {int(c.get("data-index")): int(c.get("data-id")) for c in cells(svg, "ignored")}
    assert counted == {t: y for t, y in enumerate(shifted) if y != -100}
    assert ignored == {t: -100 for t, y in enumerate(shifted) if y == -100}
    assert 5 in ignored  # the last position is always ignored


def test_seed_counts_5_labels_and_ignores_the_last():
    svg = shift_svg(SEED_TOKENS, SEED_IDS)
    assert len(cells(svg, "label")) == 5
    assert [c.get("data-index") for c in cells(svg, "ignored")] == ["5"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_deterministic_small_self_contained_and_in_its_language(lang):
    svg = shift_svg(SEED_TOKENS, SEED_IDS, lang=lang)
    assert svg == shift_svg(SEED_TOKENS, SEED_IDS, lang=lang)
    assert len(svg.encode()) < 30_000
    assert "href" not in svg and "url(" not in svg and "<script" not in svg
    root = ET.fromstring(svg)
    title = root.find("{http://www.w3.org/2000/svg}title").text
    assert bool(re.search(r"[\u4e00-\u9fff]", title)) == (lang == "zh")
    # Its own light card, so it reads the same on a dark page.
    assert root.find("{http://www.w3.org/2000/svg}rect").get("class") == "bg"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == lang


@pytest.mark.parametrize(
    "args, message",
    [
        ((("a", "b"), (1,)), r"one entry per position, got 2, 1 and 1"),
        (((), ()), r"1 to 12 positions"),
        ((tuple("abcdefghijklm"), tuple(range(13))), r"1 to 12 positions to be drawn, got 13"),
    ],
)
def test_bad_arguments_are_explained(args, message):
    with pytest.raises(ValueError, match=message):
        shift_svg(*args)


def test_unknown_language_is_rejected():
    with pytest.raises(ValueError, match="lang must be one of"):
        shift_svg(SEED_TOKENS, SEED_IDS, lang="fr")


def test_chinese_rows_say_logits_as_chinese_engineers_do():
    """对数几率 is the statistics term for log-odds; the zh diagram writes logits."""
    svg = shift_svg(SEED_TOKENS, SEED_IDS, lang="zh")
    texts = [el.text for el in ET.fromstring(svg).iter() if el.text]
    assert "对数几率" not in svg
    assert {"输入", "logits", "移位后的标签"} <= set(texts)
