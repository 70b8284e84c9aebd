"""``lmloss.sft`` and ``lmloss.diagrams.sft_svg`` against transformers 5.24 and TRL 1.16."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import DataCollatorWithFlattening
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling as TRLCollator

from lmloss import shift_labels
from lmloss.diagrams import sft_batch_svg, sft_svg
from lmloss.sft import _checked_examples, collate, labels_from_mask, pack

IGNORE = -100
FAST = settings(derandomize=True, max_examples=60, deadline=None)


@st.composite
def examples(draw, min_length: int = 0):
    """Examples of 0-7 tokens whose labels mask a random subset, ids drawn from a tiny vocabulary.

    Ids 0-4 include the padding id the tests use (2), so labels equal to it occur.
    """
    batch = []
    for _ in range(draw(st.integers(1, 4))):
        ids = draw(st.lists(st.integers(0, 9), min_size=min_length, max_size=7))
        mask = draw(st.lists(st.booleans(), min_size=len(ids), max_size=len(ids)))
        batch.append({"input_ids": ids, "labels": [i if m else IGNORE for i, m in zip(ids, mask)]})
    return batch


@FAST
@given(examples())
def test_pack_equals_transformers_DataCollatorWithFlattening(batch):
    if not any(e["input_ids"] for e in batch):
        with pytest.raises(ValueError, match="at least one non-empty sequence"):
            pack(batch)
        return
    expected = DataCollatorWithFlattening(return_position_ids=True, separator_id=IGNORE)(
        batch, return_tensors="pt"
    )
    packed = pack(batch)
    assert packed.keys() == expected.keys()
    for key, tensor in expected.items():
        assert packed[key].dtype == tensor.dtype == torch.int64
        assert torch.equal(packed[key], tensor), key


@FAST
@given(examples(min_length=1))
def test_collate_gives_the_batch_of_TRLs_collator(batch):
    expected = TRLCollator(pad_token_id=2)(batch)
    collated = collate(batch, pad_token_id=2)
    assert collated.keys() == expected.keys()
    for key, tensor in expected.items():
        assert torch.equal(collated[key], tensor), key


def test_collate_pads_labels_by_position_not_by_id():
    # The padding id is 2 and so is the EOS at the end of each example.
    batch = collate(
        [
            {"input_ids": [7, 8, 2], "labels": [IGNORE, 8, 2]},
            {"input_ids": [9, 2], "labels": [IGNORE, 2]},
        ],
        pad_token_id=2,
    )
    assert batch["input_ids"].tolist() == [[7, 8, 2], [9, 2, 2]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["labels"].tolist() == [[IGNORE, 8, 2], [IGNORE, 2, IGNORE]]


def test_labels_default_to_input_ids_and_tensors_of_any_int_dtype_work():
    ids = torch.tensor([5, 6, 7], dtype=torch.int32)
    assert collate([{"input_ids": ids}], pad_token_id=0)["labels"].tolist() == [[5, 6, 7]]
    assert pack([{"input_ids": ids}])["labels"].dtype == torch.int64


def test_checks_do_not_copy_tensors():
    ids = torch.arange(100_000)
    labels = ids.clone()
    ((checked_ids, checked_labels),) = _checked_examples([{"input_ids": ids, "labels": labels}])
    assert checked_ids is ids and checked_labels is labels


@pytest.mark.parametrize(
    ("mask", "expected"),
    [
        ([0, 1, 1], [IGNORE, 6, 7]),
        ([True, False, True], [5, IGNORE, 7]),
        (torch.tensor([1, 1, 0], dtype=torch.uint8), [5, 6, IGNORE]),
    ],
)
def test_labels_from_mask_keeps_ids_where_the_mask_is_true(mask, expected):
    labels = labels_from_mask(torch.tensor([5, 6, 7]), mask)
    assert labels.tolist() == expected and labels.dtype == torch.int64


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: collate([], 0),
            ValueError,
            "examples must hold at least one example, got an empty batch",
        ),
        (
            lambda: pack([]),
            ValueError,
            "examples must hold at least one example, got an empty batch",
        ),
        (
            lambda: collate({"input_ids": [1]}, 0),
            TypeError,
            "examples must be a sequence of mappings with 'input_ids' and 'labels', got dict",
        ),
        (
            lambda: collate([{"input_ids": [1, 2]}, {"input_ids": [1, 2, 3], "labels": [1, 2]}], 0),
            ValueError,
            "examples[1]: input_ids and labels must have the same length, got 3 "
            "input_ids and 2 labels",
        ),
        (
            lambda: pack([{"input_ids": [1], "labels": [1, 2]}]),
            ValueError,
            "examples[0]: input_ids and labels must have the same length, got 1 input_ids and 2 labels",
        ),
        (
            lambda: collate([{"labels": [1]}], 0),
            ValueError,
            "examples[0] must be a mapping with 'input_ids' (and 'labels'), got ['labels']",
        ),
        (
            lambda: collate([[1, 2]], 0),
            ValueError,
            "examples[0] must be a mapping with 'input_ids' (and 'labels'), got list",
        ),
        (
            lambda: collate([{"input_ids": [1.0, 2.0]}], 0),
            TypeError,
            "examples[0]['input_ids'] must have an integer dtype (int64, int32, int16, int8 or uint8: "
            "token ids), got torch.float32",
        ),
        (
            lambda: pack([{"input_ids": [1], "labels": torch.tensor([True])}]),
            TypeError,
            "examples[0]['labels'] must have an integer dtype (int64, int32, int16, int8 or uint8: "
            "token ids), got torch.bool",
        ),
        (
            lambda: collate([{"input_ids": ["a", "b"]}], 0),
            TypeError,
            "examples[0]['input_ids'] must be a sequence of ints, got ['a', 'b']",
        ),
        (
            lambda: collate([{"input_ids": "ab"}], 0),
            TypeError,
            "examples[0]['input_ids'] must be a sequence of ints or a tensor, got str",
        ),
        (
            lambda: collate([{"input_ids": [[1, 2]]}], 0),
            ValueError,
            "examples[0]['input_ids'] must be one-dimensional, got shape (1, 2)",
        ),
        (
            lambda: collate([{"input_ids": [1]}], "0"),
            TypeError,
            "pad_token_id must be an int, got str: '0'",
        ),
        (
            lambda: collate([{"input_ids": [1]}], True),
            TypeError,
            "pad_token_id must be an int, got bool: True",
        ),
        (
            lambda: pack([{"input_ids": [1]}], ignore_index=-100.0),
            TypeError,
            "ignore_index must be an int, got float: -100.0",
        ),
        (
            lambda: pack([{"input_ids": []}, {"input_ids": torch.tensor([], dtype=torch.long)}]),
            ValueError,
            "examples must contain at least one non-empty sequence, got only empty ones",
        ),
        (
            lambda: labels_from_mask([5, 6, 7], [1, 0]),
            ValueError,
            "loss_mask must have the shape of input_ids, (3,), got (2,)",
        ),
        (
            lambda: labels_from_mask([5, 6], [1, 2]),
            ValueError,
            "loss_mask must hold only 0 and 1, got [2]",
        ),
        (
            lambda: labels_from_mask([5, 6], [0.0, 1.0]),
            TypeError,
            "loss_mask must hold booleans or the integers 0 and 1 (dtype bool, int64, int32, int16, "
            "int8 or uint8), got torch.float32",
        ),
        (
            lambda: labels_from_mask([5.0, 6.0], [0, 1]),
            TypeError,
            "input_ids must have an integer dtype (int64, int32, int16, int8 or uint8: token ids), "
            "got torch.float32",
        ),
    ],
    ids=lambda value: "" if callable(value) or isinstance(value, type) else value[:40],
)
def test_bad_input_is_named_in_the_message(call, error, message):
    with pytest.raises(error) as raised:
        call()
    assert str(raised.value).startswith(message)


# The example of the page's diagram (docs/_hooks/site_diagrams.py): the padding token is <eos>.
VOCAB = {"<eos>": 2, "User:": 10, "2+2": 13, "?": 14, "Assistant:": 15, "4": 17, "It": 16, "is": 12}
PAIRS = (
    (("User:", "2+2", "?", "Assistant:"), ("4", "<eos>")),
    (("User:", "2+2", "?", "Assistant:"), ("It", "is", "4", "<eos>")),
)
SVG = "{http://www.w3.org/2000/svg}"


def _cells(svg: str) -> list[ET.Element]:
    return [el for el in ET.fromstring(svg).iter() if el.get("data-kind")]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_sft_diagram_draws_each_token_and_label_from_the_collated_tensors(lang):
    svg = sft_batch_svg(PAIRS, VOCAB, "<eos>", row=0, lang=lang)
    assert len(svg.encode()) < 30_000
    ids = [VOCAB[t] for pair in PAIRS[0] for t in pair]
    batch = collate(
        [
            {"input_ids": ids, "labels": labels_from_mask(ids, [0] * 4 + [1] * 2)},
            {"input_ids": [0] * 8},
        ],
        pad_token_id=2,
    )
    cells = _cells(svg)
    tokens = [el for el in cells if el.get("data-row") is None]
    assert [el.get("data-kind") for el in tokens] == ["prompt"] * 4 + ["response"] * 2 + ["pad"] * 2
    assert [int(el.get("data-id")) for el in tokens] == batch["input_ids"][0].tolist()
    for row, expected in (
        ("labels", batch["labels"][0]),
        ("shifted", shift_labels(batch["labels"])[0]),
    ):
        drawn = [el for el in cells if el.get("data-row") == row]
        assert [int(el.get("data-id")) for el in drawn] == expected.tolist()
        assert [el.get("data-kind") for el in drawn] == [
            "ignored" if y == IGNORE else "label" for y in expected.tolist()
        ]
    assert all(el.tag == SVG + "g" for el in cells)
    assert all(not any(c.get("data-kind") for c in list(el.iter())[1:]) for el in cells)


def test_sft_diagram_is_in_the_page_language_and_byte_stable_across_processes():
    en, zh = (sft_batch_svg(PAIRS, VOCAB, "<eos>", row=0, lang=lang) for lang in ("en", "zh"))

    def visible(svg: str) -> str:
        shown = {SVG + "text", SVG + "title", SVG + "desc"}
        return " ".join(el.text for el in ET.fromstring(svg).iter() if el.tag in shown)

    assert all(word in visible(zh) for word in ("提示", "回复", "填充", "标签", "移位"))
    assert not any(word in visible(zh) for word in ("prompt", "response", "padding", "labels"))
    assert all(word in visible(en) for word in ("prompt", "response", "padding", "labels"))
    script = (
        "import sys; from lmloss.diagrams import sft_batch_svg; sys.stdout.write("
        f"sft_batch_svg({PAIRS!r}, {VOCAB!r}, '<eos>', row=0, lang='zh'))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        check=True,
        text=True,
        encoding="utf-8",
    ).stdout
    assert out == zh


def test_sft_diagram_rejects_unequal_lengths():
    with pytest.raises(ValueError, match="one entry per position, got 2, 2, 1 and 2"):
        sft_svg(["a", "b"], [1, 2], [1], [1, 1])


WIDE_UNSIGNED = (torch.uint16, torch.uint32, torch.uint64)
ACCEPTED = r"int64, int32, int16, int8 or uint8"


@pytest.mark.parametrize("dtype", WIDE_UNSIGNED, ids=str)
@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("input_ids", lambda t: labels_from_mask(t, [1, 1, 0])),
        ("loss_mask", lambda t: labels_from_mask([5, 6, 7], t)),
        (r"examples\[0\]\['input_ids'\]", lambda t: collate([{"input_ids": t}], pad_token_id=0)),
        (r"examples\[0\]\['labels'\]", lambda t: pack([{"input_ids": [5, 6, 7], "labels": t}])),
    ],
    ids=["labels_from_mask-input_ids", "labels_from_mask-loss_mask", "collate", "pack"],
)
def test_ids_and_masks_of_uint16_32_64_raise_a_type_error_with_the_accepted_dtypes(
    name, call, dtype
):
    """The same dtype rule as the loss."""
    with pytest.raises(TypeError, match=rf"^{name} must .*{ACCEPTED}.*got {dtype}"):
        call(torch.tensor([1, 1, 0]).to(dtype))


def test_the_module_docstring_says_which_values_the_checks_read():
    """labels_from_mask reads the mask's values (a host sync on GPU), so "lengths only" is false."""
    import lmloss.sft

    doc = " ".join(lmloss.sft.__doc__.split())
    assert "lengths and dtypes only" not in doc
    assert "labels_from_mask also reads the values of loss_mask" in doc.replace("``", "")
    with pytest.raises(RuntimeError, match="meta tensors"):  # it reads values: meta has none
        labels_from_mask(torch.tensor([1, 2], device="meta"), torch.tensor([1, 0], device="meta"))
