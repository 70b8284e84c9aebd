"""Labels for supervised fine-tuning: masking prompts, padding a batch, packing sequences.

Three small functions build the ``labels`` an SFT trainer feeds to a causal language model,
with ``ignore_index`` (``-100``) wherever a position must not count in the loss:
[`labels_from_mask`][lmloss.sft.labels_from_mask] (prompts), [`collate`][lmloss.sft.collate]
(padding) and [`pack`][lmloss.sft.pack] (packing); each docstring says how.

The checks read lengths and dtypes; ``labels_from_mask`` also reads the values of ``loss_mask``
to check that they are 0 and 1 (one pass over the mask, a host sync on a GPU). A tensor given
as input is not copied to be checked. Ids, labels and integer masks may have dtype int64, int32,
int16, int8 or uint8, as in the loss; uint16, uint32 and uint64 raise ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from lmloss._checks import check_int
from lmloss.chat import assistant_mask as assistant_mask  # the chat mask, public here too
from lmloss.loss import IGNORE_INDEX, INTEGER_DTYPE_NAMES, INTEGER_DTYPES, _check_integer_dtype

__all__ = ["collate", "labels_from_mask", "pack"]

Ids = Sequence[int] | torch.Tensor
Example = Mapping[str, Ids]


def labels_from_mask(
    input_ids: Ids,
    loss_mask: Sequence[int] | Sequence[bool] | torch.Tensor,
    ignore_index: int = IGNORE_INDEX,
) -> torch.Tensor:
    """Return the labels that train only where ``loss_mask`` is true.

    The label is the token id where the mask is true (or 1) and ``ignore_index`` where it is
    false (or 0): the loss then skips the prompt and keeps the response. The mask is typically
    the ``assistant_masks`` returned by ``apply_chat_template(...,
    return_assistant_tokens_mask=True)``, or ``[0] * len(prompt) + [1] * len(response)``.

    Args:
        input_ids: Token ids, a sequence of ints or an integer tensor of any shape.
        loss_mask: Same shape as ``input_ids``: booleans, or integers 0 and 1.
        ignore_index: The label of the positions the loss skips.

    Returns:
        A new int64 tensor of the shape of ``input_ids``.

    Raises:
        TypeError: If ``input_ids`` are not integers, ``loss_mask`` is not boolean or integer,
            or ``ignore_index`` is not an int.
        ValueError: If the shapes differ, or ``loss_mask`` holds a value other than 0 and 1.

    Examples:
        >>> labels_from_mask([5, 6, 7, 8, 2], [0, 0, 1, 1, 1])
        tensor([-100, -100,    7,    8,    2])
        >>> labels_from_mask([5, 6, 7], [1, 0])
        Traceback (most recent call last):
            ...
        ValueError: loss_mask must have the shape of input_ids, (3,), got (2,)
    """
    check_int("ignore_index", ignore_index)
    ids = _as_ids(input_ids, "input_ids", any_rank=True)
    mask = _as_tensor(loss_mask, "loss_mask")
    if mask.dtype != torch.bool and mask.dtype not in INTEGER_DTYPES:
        raise TypeError(
            f"loss_mask must hold booleans or the integers 0 and 1 (dtype bool, "
            f"{INTEGER_DTYPE_NAMES}), got {mask.dtype}"
        )
    if mask.shape != ids.shape:
        raise ValueError(
            f"loss_mask must have the shape of input_ids, {tuple(ids.shape)}, got {tuple(mask.shape)}"
        )
    if mask.dtype != torch.bool:
        if bool(((mask != 0) & (mask != 1)).any()):
            bad = sorted({int(v) for v in mask[(mask != 0) & (mask != 1)].unique()[:3]})
            raise ValueError(f"loss_mask must hold only 0 and 1, got {bad}")
        mask = mask == 1
    return torch.where(mask, ids.long(), ignore_index)


def collate(
    examples: Sequence[Example], pad_token_id: int, ignore_index: int = IGNORE_INDEX
) -> dict[str, torch.Tensor]:
    """Pad examples on the right into one batch for a causal language model.

    Each example holds ``input_ids`` and ``labels`` of the same length (``labels`` default to
    the ``input_ids`` when missing, as in transformers' ``DataCollatorWithFlattening`` and TRL's
    collator; transformers' ``DataCollatorForLanguageModeling`` overwrites given labels with ones
    rebuilt from ``input_ids`` when they all have the same length, and raises ``ValueError`` when
    they do not). The batch is as long as the longest example; shorter rows are filled on the
    right with ``pad_token_id`` in ``input_ids``, 0 in ``attention_mask`` and ``ignore_index`` in
    ``labels``.

    Padding labels are chosen by *position*, never by comparing ids with ``pad_token_id``:
    when the padding token is also the end-of-sequence token, masking every id equal to it
    would mask the real end of each example too, and the model would never learn to stop.

    Args:
        examples: Mappings with ``input_ids`` and optionally ``labels``: one-dimensional
            integer sequences or tensors, an example's ``input_ids`` and ``labels`` of equal
            length.
        pad_token_id: The id written into the padded positions of ``input_ids``.
        ignore_index: The label of the padded positions.

    Returns:
        ``input_ids``, ``attention_mask`` and ``labels``: int64 tensors of shape ``(B, T_max)``.

    Raises:
        TypeError: If an id, ``pad_token_id`` or ``ignore_index`` is not an integer.
        ValueError: If there are no examples, an example lacks ``input_ids``, or its
            ``input_ids`` and ``labels`` differ in length (the message says which example).

    Examples:
        >>> batch = collate(
        ...     [{"input_ids": [5, 6, 7, 2], "labels": [-100, -100, 7, 2]},
        ...      {"input_ids": [8, 2], "labels": [-100, 2]}],
        ...     pad_token_id=2,  # the padding token is the EOS token, id 2
        ... )
        >>> batch["labels"]  # the real EOS (2) is kept, the padding is -100
        tensor([[-100, -100,    7,    2],
                [-100,    2, -100, -100]])
    """
    check_int("pad_token_id", pad_token_id)
    check_int("ignore_index", ignore_index)
    rows = _checked_examples(examples)
    length = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), length), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), length), dtype=torch.long)
    labels = torch.full((len(rows), length), ignore_index, dtype=torch.long)
    for row, (ids, targets) in enumerate(rows):
        input_ids[row, : len(ids)] = ids
        attention_mask[row, : len(ids)] = 1
        labels[row, : len(ids)] = targets
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def pack(examples: Sequence[Example], ignore_index: int = IGNORE_INDEX) -> dict[str, torch.Tensor]:
    """Concatenate examples into one row, for packed (padding-free) training.

    The result has no padding at all. ``position_ids`` restart at 0 at the start of each
    example, so each gets the positions it would have alone. With ``sdpa`` or ``eager``
    attention, transformers also reads where one sequence ends from them, but only when the
    model gets no ``attention_mask`` and no cache (``use_cache=False``); the first label
    of each example is ``ignore_index``, because after the shift the position before it (the
    last token of the previous example) would otherwise be scored on predicting it across the
    boundary. When every example has ``labels`` or none has, the output equals that of
    transformers' ``DataCollatorWithFlattening(return_position_ids=True,
    separator_id=ignore_index)``, which also skips empty examples. In a mixed batch they differ:
    transformers decides from the first example alone whether labels are given, so it then
    ignores the later examples' ``labels`` or raises ``KeyError``.

    Args:
        examples: Mappings with ``input_ids`` and optionally ``labels`` (default: the
            ``input_ids``), one-dimensional integer sequences or tensors, an example's
            ``input_ids`` and ``labels`` of equal length.
        ignore_index: The label put at the first position of every example.

    Returns:
        ``input_ids``, ``position_ids`` and ``labels``: int64 tensors of shape ``(1, total)``,
        ``total`` being the sum of the example lengths.

    Raises:
        TypeError: If an id or ``ignore_index`` is not an integer.
        ValueError: If there are no examples or all are empty, an example lacks
            ``input_ids``, or its ``input_ids`` and ``labels`` differ in length.

    Examples:
        >>> packed = pack([{"input_ids": [5, 6, 7]}, {"input_ids": [8, 9]}])
        >>> for name, t in packed.items():
        ...     print(f"{name:12}", t.tolist())
        input_ids    [[5, 6, 7, 8, 9]]
        position_ids [[0, 1, 2, 0, 1]]
        labels       [[-100, 6, 7, -100, 9]]
    """
    check_int("ignore_index", ignore_index)
    rows = [(ids, targets) for ids, targets in _checked_examples(examples) if len(ids)]
    if not rows:
        raise ValueError(
            "examples must contain at least one non-empty sequence, got only empty ones"
        )
    input_ids = torch.cat([ids for ids, _ in rows]).long()
    labels = torch.cat([targets for _, targets in rows]).long()
    position_ids = torch.cat([torch.arange(len(ids)) for ids, _ in rows])
    labels[position_ids == 0] = ignore_index
    return {
        "input_ids": input_ids[None],
        "position_ids": position_ids[None],
        "labels": labels[None],
    }


def _as_tensor(values: object, name: str) -> torch.Tensor:
    """A tensor of ``values``; a tensor is returned as it is, without a copy."""
    if isinstance(values, torch.Tensor):
        return values
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(
            f"{name} must be a sequence of ints or a tensor, got {type(values).__name__}"
        )
    if len(values) == 0:
        return torch.empty(0, dtype=torch.long)  # as_tensor([]) would be float32
    try:
        return torch.as_tensor(values)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"{name} must be a sequence of ints, got {values!r:.60}: {error}") from None


def _as_ids(values: object, name: str, *, any_rank: bool = False) -> torch.Tensor:
    ids = _as_tensor(values, name)
    _check_integer_dtype(ids, name, "token ids")
    if not any_rank and ids.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {tuple(ids.shape)}")
    return ids


def _checked_examples(examples: object) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each example's ``(input_ids, labels)`` as 1-D integer tensors, checked."""
    if isinstance(examples, Mapping) or not isinstance(examples, Sequence):
        raise TypeError(
            f"examples must be a sequence of mappings with 'input_ids' and 'labels', got "
            f"{type(examples).__name__}"
        )
    if not examples:
        raise ValueError("examples must hold at least one example, got an empty batch")
    rows = []
    for i, example in enumerate(examples):
        if not isinstance(example, Mapping) or "input_ids" not in example:
            got = sorted(example) if isinstance(example, Mapping) else type(example).__name__
            raise ValueError(
                f"examples[{i}] must be a mapping with 'input_ids' (and 'labels'), got {got}"
            )
        ids = _as_ids(example["input_ids"], f"examples[{i}]['input_ids']")
        targets = (
            ids
            if example.get("labels") is None
            else _as_ids(example["labels"], f"examples[{i}]['labels']")
        )
        if len(targets) != len(ids):
            raise ValueError(
                f"examples[{i}]: input_ids and labels must have the same length, got "
                f"{len(ids)} input_ids and {len(targets)} labels"
            )
        rows.append((ids, targets))
    return rows
