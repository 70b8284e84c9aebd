"""The output shape of ``torch.nn.functional.pad``, computed by arithmetic on the shape.

``pad_shape`` reproduces the shape arithmetic and the validation rules of torch 2.13 in pure
Python, so that docs and callers can predict (and explain) a padded shape without creating a
tensor. This module does not import torch itself (the lmloss package does, for its other
helpers, so ``import lmloss.padding`` still loads torch).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import NamedTuple

_MODES = ("constant", "reflect", "replicate", "circular")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1  # the range of torch's int64 sizes and entries


class _PaddedDim(NamedTuple):
    """One dimension reached by the padding tuple."""

    dim: int  # negative, like the "dim -1" users read in torch's docs
    size: int
    left: int
    right: int

    @property
    def result(self) -> int:
        return self.size + self.left + self.right

    def describe(self) -> str:
        return f"({self.left}, {self.right}) on dim {self.dim} of size {self.size}"


def pad_shape(shape: Sequence[int], pad: Sequence[int], mode: str = "constant") -> tuple[int, ...]:
    """Return the shape of ``F.pad(torch.empty(shape), pad, mode=mode)`` as torch 2.13 computes it.

    A padding tuple of length 2k pads the last k dimensions, starting with the last one: each
    ``(left, right)`` pair adds ``left`` entries before and ``right`` entries after its
    dimension, which becomes ``size + left + right``; a negative entry crops instead. The
    dimensions the tuple does not reach keep their size. ``pad`` must have an even length of at
    most twice the number of dimensions. The modes add their own rules:

    - ``"constant"`` works for any number of dimensions (even 0 with an empty ``pad``), but the
      negative entries of a pair may not crop more than the whole dimension.
    - ``"reflect"``, ``"replicate"`` and ``"circular"`` only pad 1, 2 or 3 dimensions (``pad``
      of length 2, 4 or 6) behind one channel dimension and an optional batch dimension: 2D or
      3D shapes for length 2, 3D or 4D for length 4, 4D or 5D for length 6. No padded
      dimension may become negative.
    - ``"reflect"`` and ``"replicate"`` need non-empty input dimensions (only the batch
      dimension may be 0) and must leave at least one padded dimension non-empty;
      ``"reflect"`` also needs every entry to be smaller than its dimension.
    - ``"circular"`` wraps around at most once, so every entry is at most its dimension.

    ??? note "Rare cases: circular quirks, bools, int64"
        Two quirks of torch's copy-based circular padding reject pairs that crop one side and
        pad the other: cropping past the far end is rejected unless torch's wrap-around
        slicing happens to keep a fitting number of values, and so is wrapping more values
        than the cropping leaves (unless it leaves none) when every output dimension before
        the padded one has size 1.

        Entries are read as torch's argument parser reads them: every entry of ``shape`` and
        ``pad`` must fit ``int64``, and a ``bool`` in the first position of ``shape`` or
        ``pad`` is rejected (as ``torch.empty`` and ``F.pad`` reject it), while a later
        ``bool`` counts as an int (``True`` is 1). Memory is not checked: a shape too large
        to allocate is still returned.

    Args:
        shape: The input shape: a sequence of non-negative ints, such as a tuple or a
            ``torch.Size``.
        pad: The padding tuple: a tuple or list of ints, as ``F.pad`` requires.
        mode: ``"constant"``, ``"reflect"``, ``"replicate"`` or ``"circular"`` (case-sensitive).

    Returns:
        The padded shape, as a tuple of ints.

    Raises:
        TypeError: If ``shape``, ``pad`` or ``mode`` has the wrong type, or an entry of
            ``shape`` or ``pad`` is not an int.
        ValueError: If ``F.pad`` would raise for these arguments (an entry or a padded size
            beyond ``int64`` included), if ``shape`` has a negative size, or if a padded size
            would be negative (torch 2.13's reflect kernel returns
            such a broken tensor for a 4D shape with an empty batch instead of raising). The
            message names the argument, the rule and the offending values.

    Examples:
        A pair per dimension, starting with the last one:

        >>> pad_shape((1, 2, 2), (1, 1, 0, 1, 1, 0))
        (2, 3, 4)

        Negative entries crop:

        >>> pad_shape((1, 2, 5), (-1, -2))
        (1, 2, 2)

        Reflect padding mirrors the values next to the edge, so each entry must be smaller than
        its dimension:

        >>> pad_shape((1, 2, 3), (2, 2), mode="reflect")
        (1, 2, 7)
        >>> pad_shape((1, 2, 3), (3, 1), mode="reflect")
        Traceback (most recent call last):
            ...
        ValueError: pad must be smaller than the padded dimension in reflect mode,
        got (3, 1) on dim -1 of size 3
    """
    sizes = _checked_shape(shape)
    entries = _checked_pad(pad)
    _check_mode(mode)
    padded = _padded_dims(sizes, entries)
    result = _apply(sizes, padded)
    if mode == "constant":
        _check_constant_crops(padded)
    else:
        _check_kernel_rank(sizes, entries, mode)
        if mode == "circular":
            _check_circular(padded, result)
        else:
            _check_reflect_or_replicate(sizes, padded, result, mode)
    return result


def _checked_shape(shape: object) -> tuple[int, ...]:
    if not isinstance(shape, Sequence):
        raise TypeError(
            f"shape must be a sequence of ints such as a tuple or torch.Size, "
            f"got {type(shape).__name__}: {shape!r}"
        )
    sizes = _as_ints(shape, "shape", "torch.empty")
    for index, size in enumerate(sizes):
        if size < 0:
            raise ValueError(
                f"shape must not contain negative sizes, got {size} at index {index}: {sizes}"
            )
    return sizes


def _checked_pad(pad: object) -> tuple[int, ...]:
    # F.pad's argument parser only takes a tuple (torch.Size included) or a list.
    if not isinstance(pad, (tuple, list)):
        raise TypeError(
            f"pad must be a tuple or list of ints, as F.pad requires, "
            f"got {type(pad).__name__}: {pad!r}"
        )
    return _as_ints(pad, "pad", "F.pad")


def _as_ints(container: Sequence[object], argument: str, parser: str) -> tuple[int, ...]:
    # torch's parser decides "a tuple of ints" from element 0, where a bool (an int subclass)
    # fails; later bools pass as ints.
    if len(container) and isinstance(container[0], bool):
        raise TypeError(
            f"{argument} must not have a bool in the first position ({parser}'s parser rejects "
            f"it there, and reads a later bool as an int), got {tuple(container)}"
        )
    ints = tuple(
        _as_int(value, argument, index, container) for index, value in enumerate(container)
    )
    for index, value in enumerate(ints):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(
                f"{argument} must contain ints that fit int64 ({_INT64_MIN} to {_INT64_MAX}), "
                f"as {parser} requires, got {value} at index {index}: {ints}"
            )
    return ints


def _as_int(value: object, argument: str, index: int, container: Sequence[object]) -> int:
    # operator.index accepts what torch accepts as an int: int, numpy ints, 0-d int tensors.
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"{argument} must contain ints, got {type(value).__name__} at index {index}: "
            f"{tuple(container)}"
        ) from None


def _check_mode(mode: object) -> None:
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a str, got {type(mode).__name__}: {mode!r}")
    if mode not in _MODES:
        expected = ", ".join(repr(known) for known in _MODES)
        raise ValueError(f"mode must be one of {expected} (case-sensitive), got {mode!r}")


def _padded_dims(sizes: tuple[int, ...], pad: tuple[int, ...]) -> list[_PaddedDim]:
    if len(pad) % 2:
        raise ValueError(
            f"pad must have an even number of entries (a (left, right) pair per dimension), "
            f"got {len(pad)}: {pad}"
        )
    if len(pad) > 2 * len(sizes):
        raise ValueError(
            f"pad must have at most 2 entries per dimension of shape ({2 * len(sizes)} here), "
            f"got {len(pad)} for shape {sizes}: {pad}"
        )
    return [
        _PaddedDim(-1 - pair, sizes[-1 - pair], left=pad[2 * pair], right=pad[2 * pair + 1])
        for pair in range(len(pad) // 2)
    ]


def _apply(sizes: tuple[int, ...], padded: list[_PaddedDim]) -> tuple[int, ...]:
    result = list(sizes)
    for dim in padded:
        # torch adds in int64, so a larger sum wraps around to a negative size and fails.
        if dim.result > _INT64_MAX:
            raise ValueError(
                f"pad must not make a dimension larger than int64 holds ({_INT64_MAX}), "
                f"got {dim.describe()}, which gives {dim.result}"
            )
        result[dim.dim] = dim.result
    return tuple(result)


def _check_constant_crops(padded: list[_PaddedDim]) -> None:
    # torch crops (narrows) by each negative entry before it pads by the positive ones, so
    # (-4, 2) on a dimension of size 3 fails although its result size, 1, is valid.
    for dim in padded:
        removed = -min(dim.left, 0) - min(dim.right, 0)
        if removed > dim.size:
            raise ValueError(
                f"pad must not crop more than the whole dimension, "
                f"got {dim.describe()}, which removes {removed}"
            )


def _check_kernel_rank(sizes: tuple[int, ...], pad: tuple[int, ...], mode: str) -> None:
    # The non-constant modes are 1D, 2D and 3D kernels over (batch, channel, *padded) inputs.
    padded_count = len(pad) // 2
    if padded_count not in (1, 2, 3) or len(sizes) not in (padded_count + 1, padded_count + 2):
        raise ValueError(
            f"pad must have 2 entries for a 2D or 3D shape, 4 for 3D or 4D, or 6 for 4D or 5D "
            f"in {mode} mode, got {len(pad)} for the {len(sizes)}D shape {sizes}: {pad}"
        )


def _check_no_negative_result(padded: list[_PaddedDim]) -> None:
    for dim in padded:
        if dim.result < 0:
            raise ValueError(
                f"pad must not make a dimension negative, got {dim.describe()}, "
                f"which gives {dim.result}"
            )


def _check_reflect_or_replicate(
    sizes: tuple[int, ...], padded: list[_PaddedDim], result: tuple[int, ...], mode: str
) -> None:
    has_batch_dim = len(sizes) == len(padded) + 2
    if 0 in sizes[1:] or (sizes[0] == 0 and not has_batch_dim):
        raise ValueError(
            f"shape must have non-empty dimensions in {mode} mode, except dim 0 of a "
            f"{len(padded) + 2}D (batched) shape, got {sizes}"
        )
    if mode == "reflect":
        for dim in padded:
            if dim.left >= dim.size or dim.right >= dim.size:
                raise ValueError(
                    f"pad must be smaller than the padded dimension in reflect mode, "
                    f"got {dim.describe()}"
                )
    _check_no_negative_result(padded)
    if all(dim.result == 0 for dim in padded):
        raise ValueError(
            f"pad must leave at least one padded dimension non-empty in {mode} mode, "
            f"got {_pairs(padded)} for shape {sizes}, which gives {result}"
        )


def _check_circular(padded: list[_PaddedDim], result: tuple[int, ...]) -> None:
    for dim in padded:
        if dim.left > dim.size or dim.right > dim.size:
            raise ValueError(
                f"pad must be at most the padded dimension in circular mode "
                f"(it wraps around at most once), got {dim.describe()}"
            )
    _check_no_negative_result(padded)
    # torch first copies the input into the output's interior through two slices; when a crop
    # reaches past the far end, the slices' negative bounds wrap (Python-style) and their
    # lengths can disagree. A single kept value still broadcasts.
    for dim in padded:
        interior = _slice_length(dim.result, max(dim.left, 0), dim.result - max(dim.right, 0))
        kept = _slice_length(dim.size, max(-dim.left, 0), dim.size - max(-dim.right, 0))
        if kept not in (interior, 1):
            raise ValueError(
                f"pad must not crop past the far end of a dimension in circular mode (torch only "
                f"tolerates it when its wrap-around slicing keeps as many values as there are "
                f"output slots, or 1), got {dim.describe()}: {kept} kept input values for "
                f"{interior} output slots"
            )
    # torch then copies the wrapped values from one part of its output to another. When one side
    # crops, leaving fewer values than the other side wraps, source and target overlap; torch
    # detects that (and raises) only when both are contiguous, i.e. every output dimension
    # before the padded one has size 1, and the output is not empty.
    if math.prod(result) == 0:
        return
    for dim in padded:
        wrapped = max(dim.left, dim.right)
        kept = dim.size + min(dim.left, dim.right, 0)
        outer_size = math.prod(result[: len(result) + dim.dim])
        if outer_size == 1 and 0 < kept < wrapped:
            raise ValueError(
                f"pad must not wrap more values than cropping leaves in circular mode when every "
                f"output dimension before the padded one has size 1 (torch would copy between "
                f"overlapping parts of its output), got {dim.describe()}: {kept} values kept, "
                f"{wrapped} wrapped, output shape {result}"
            )


def _slice_length(size: int, start: int, stop: int) -> int:
    # Tensor.slice resolves and clamps its bounds exactly like a Python slice.
    return len(range(size)[start:stop])


def _pairs(padded: list[_PaddedDim]) -> tuple[int, ...]:
    return tuple(entry for dim in padded for entry in (dim.left, dim.right))
