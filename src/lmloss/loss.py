"""The causal-LM loss of transformers' ``ForCausalLMLoss``, with clear errors.

[`causal_lm_loss`][lmloss.causal_lm_loss] computes the same value as ``ForCausalLMLoss`` from
``transformers.loss.loss_utils`` (transformers 5.24), but checks its inputs first and says
what is wrong in terms of the arguments, before torch raises a less readable error (or, on
CUDA, a device-side assert). The checks only read the shapes and dtypes of the logits, never
their values, so they cost no memory; the labels are small and are checked value by value.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lmloss._checks import check_int

__all__ = ["causal_lm_loss", "count_loss_tokens", "shift_labels"]

IGNORE_INDEX = -100
"""The label value that ``F.cross_entropy`` skips by default, and so the loss too."""

INTEGER_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)
"""The dtypes taken for token ids and labels. torch's uint16, uint32 and uint64 are left out:
torch 2.13 implements few operations for them (not even ``<``), and uint64's largest values
do not fit int64; the error says to convert them with ``.long()``."""

INTEGER_DTYPE_NAMES = "int64, int32, int16, int8 or uint8"


def shift_labels(labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Shift ``labels`` one position to the left along the last dimension, ending in ``ignore_index``.

    This is the shift of ``ForCausalLMLoss``: ``F.pad(labels, (0, 1), value=ignore_index)``
    followed by ``[..., 1:]``, so that position *t* holds the label of token *t* + 1 and the
    last position, which has no next token, is ignored.

    Args:
        labels: Integer labels of shape ``(..., T)``, at least one dimension, of dtype int64,
            int32, int16, int8 or uint8.
        ignore_index: The value put at the last position.

    Returns:
        A new contiguous tensor with the shape, dtype and device of ``labels`` (the sliced
        view of a batch of several rows is not contiguous).

    Raises:
        TypeError: If ``labels`` is not an integer tensor or ``ignore_index`` is not an int.
        ValueError: If ``labels`` has no dimension, or ``ignore_index`` does not fit its dtype.

    Examples:
        >>> shift_labels(torch.tensor([[40, 1842, 4950, 15607, 13, 2]]))
        tensor([[ 1842,  4950, 15607,    13,     2,  -100]])
    """
    _check_unshifted(labels, ignore_index)
    info = torch.iinfo(labels.dtype)
    if not info.min <= ignore_index <= info.max:
        raise ValueError(
            f"ignore_index must fit the dtype of labels, got {ignore_index} for {labels.dtype} "
            f"(range [{info.min}, {info.max}]); convert the labels with labels.long()"
        )
    return F.pad(labels, (0, 1), value=ignore_index)[..., 1:].contiguous()


def count_loss_tokens(labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> int:
    """Count the positions that the loss averages over: labels after the shift that are not ignored.

    The first label of each row is never a target (no position predicts it), so it is not
    counted. This is the ``num_items_in_batch`` to pass when gradient accumulation sums the
    loss over several micro-batches: the sum of this count over all of them, and over the ranks
    under data parallelism ([`global_num_items`][lmloss.parallel.global_num_items]).

    Args:
        labels: Integer labels of shape ``(..., T)``, before the shift, of dtype int64, int32,
            int16, int8 or uint8.
        ignore_index: The label value that does not count.

    Returns:
        The number of counted positions, as an int.

    Raises:
        TypeError: If ``labels`` is not an integer tensor or ``ignore_index`` is not an int.
        ValueError: If ``labels`` has no dimension.

    Examples:
        >>> labels = torch.tensor([[-100, -100, 7, 8], [5, 6, -100, -100]])
        >>> count_loss_tokens(labels)
        3
    """
    _check_unshifted(labels, ignore_index)
    return int((_as_int64(labels[..., 1:]) != ignore_index).sum())


def causal_lm_loss(
    logits: torch.Tensor,
    labels: torch.Tensor | None,
    *,
    ignore_index: int = IGNORE_INDEX,
    num_items_in_batch: int | torch.Tensor | None = None,
    shift_labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """Return the mean negative log-likelihood of the next token, as transformers computes it.

    The value is that of ``ForCausalLMLoss(logits, labels, vocab_size=V, ...)`` in transformers
    5.24 whenever that is a finite number: the labels are shifted one position to the left (see
    [`shift_labels`][lmloss.shift_labels]), positions whose shifted label is ``ignore_index`` are skipped, and
    the negative log-probabilities of the others are averaged in float32. With
    ``num_items_in_batch`` their sum is divided by it instead (gradient accumulation).

    Unlike transformers, it:

    - returns ``0.0`` (with an all-zero gradient) when no position is counted,
      where transformers' mean gives ``nan``: a batch with no target adds nothing;
    - accepts labels of dtype int64, int32, int16, int8 or uint8 (transformers takes int64
      labels, and uint8 only as ``shift_labels``), and a non-contiguous ``shift_labels``;
    - upcasts half-precision logits with ``F.log_softmax(..., dtype=torch.float32)`` rather
      than ``.float()``: the same values and, for bf16 logits, the same float32 copy (torch
      converts first; only fp16 logits on CUDA or XPU are upcast inside the kernel);
    - raises ``TypeError``/``ValueError`` naming the argument before torch fails (labels of
      dtype uint16, uint32 or uint64 included, which it does not take).

    Args:
        logits: Floating-point logits of shape ``(..., T, V)``.
        labels: Integer labels of shape ``(..., T)``, not yet shifted; ``ignore_index`` marks
            the positions that do not count. Ignored (and may be ``None``) when
            ``shift_labels`` is given.
        ignore_index: The label value to skip.
        num_items_in_batch: If given, divide the summed loss by it instead of by the number of
            counted positions: an int, or a tensor of one element.
        shift_labels: Labels already shifted, of shape ``(..., T)``, used as they are.

    Returns:
        A scalar tensor on the device of ``logits``: float32, or float64 if num_items_in_batch
        is a float64 tensor (the division promotes, as in transformers).

    Raises:
        TypeError: If ``logits`` is not floating point, the labels do not have one of the
            dtypes above, or
            ``ignore_index`` or ``num_items_in_batch`` has the wrong type.
        ValueError: If the shapes do not match, or a label (other than ``ignore_index``) is
            outside ``[0, V)``: the message gives its position and value.

    Examples:
        >>> logits = torch.zeros(1, 4, 8)  # all equally likely: loss = log(8)
        >>> labels = torch.tensor([[5, 1, 7, -100]])
        >>> causal_lm_loss(logits, labels)
        tensor(2.0794)
        >>> causal_lm_loss(logits, torch.full((1, 4), -100))  # nothing to count
        tensor(0.)
        >>> causal_lm_loss(logits, torch.tensor([[5, 1, 8, 2]]))
        Traceback (most recent call last):
            ...
        ValueError: labels must be in [0, 8) (the vocabulary size, logits.shape[-1])
        or ignore_index=-100, got 8 at position (0, 2)
    """
    targets, name, offset = _checked_inputs(
        logits, labels, ignore_index, num_items_in_batch, shift_labels
    )
    vocab = logits.shape[-1]
    _check_label_values(targets, name, offset, vocab, ignore_index)
    if offset:  # shift_labels was not given: shift the labels here
        targets = F.pad(targets.long(), (0, 1), value=ignore_index)[..., 1:]
    targets = targets.reshape(-1).to(device=logits.device, dtype=torch.long)
    flat = logits.reshape(-1, vocab)
    if flat.dtype == torch.float32:
        total = F.cross_entropy(flat, targets, ignore_index=ignore_index, reduction="sum")
    else:  # float32 log-probabilities; torch copies to float32 first unless fp16 on CUDA/XPU
        log_probs = F.log_softmax(flat, dim=-1, dtype=torch.float32)
        total = F.nll_loss(log_probs, targets, ignore_index=ignore_index, reduction="sum")
    return _averaged(total, targets, ignore_index, num_items_in_batch)


def _averaged(
    total: torch.Tensor,
    targets: torch.Tensor,
    ignore_index: int,
    num_items_in_batch: int | torch.Tensor | None,
) -> torch.Tensor:
    """Divide the summed loss by the counted targets, or by ``num_items_in_batch`` if given."""
    counted = (targets != ignore_index).sum()
    if num_items_in_batch is None:
        divisor = counted
    elif torch.is_tensor(num_items_in_batch):
        divisor = num_items_in_batch.to(total.device).reshape(())
    else:
        divisor = torch.tensor(num_items_in_batch, device=total.device)
    # Nothing counted: the sum is 0; divide by 1 so that neither value nor gradient is nan.
    divisor = torch.where(counted > 0, divisor, torch.ones_like(divisor))
    return total / divisor


def _check_labels(labels: object, name: str) -> torch.Tensor:
    """``labels``, checked to be a tensor of integers (returned, as a tensor to type checkers)."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of integers, got {type(labels).__name__}")
    _check_integer_dtype(labels, name, f"token ids, with {IGNORE_INDEX} for ignored positions")
    return labels


def _check_integer_dtype(tensor: torch.Tensor, name: str, holding: str) -> None:
    """Raise ``TypeError`` unless ``tensor`` has one of ``INTEGER_DTYPES``; ``holding`` says what."""
    if tensor.dtype not in INTEGER_DTYPES:
        dtype = tensor.dtype
        integer = not (dtype.is_floating_point or dtype.is_complex or dtype == torch.bool)
        hint = "; convert it with .long()" if integer else ""  # a wide unsigned dtype
        raise TypeError(
            f"{name} must have an integer dtype ({INTEGER_DTYPE_NAMES}: {holding}), "
            f"got {dtype}{hint}"
        )


def _as_int64(labels: torch.Tensor) -> torch.Tensor:
    """``labels`` as int64, to compare with Python ints: torch casts the int to the tensor's
    dtype, where it wraps (-100 is 156 in uint8, 256 is 0). int64 labels are not copied."""
    return labels.long()


def _check_unshifted(labels: object, ignore_index: object) -> None:
    tensor = _check_labels(labels, "labels")
    check_int("ignore_index", ignore_index)
    if tensor.ndim == 0:
        raise ValueError("labels must have at least one dimension (..., T), got a 0-d tensor")


def _checked_inputs(
    logits: object,
    labels: object,
    ignore_index: object,
    num_items_in_batch: object,
    shifted: object,
) -> tuple[torch.Tensor, str, int]:
    """Check everything but label values; read only shapes and dtypes of ``logits``.

    Returns the labels to use, their argument name, and 1 if they still need the shift
    (their position 0 is never a target) or 0 if they are ``shift_labels``.
    """
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise TypeError(f"logits must have a floating-point dtype, got {logits.dtype}")
    if logits.ndim < 2:
        raise ValueError(
            f"logits must have shape (..., T, V), at least 2 dimensions, got {tuple(logits.shape)}"
        )
    if logits.shape[-1] == 0:
        raise ValueError(
            f"logits must have a vocabulary dimension V > 0, got shape {tuple(logits.shape)}"
        )
    expected = tuple(logits.shape[:-1])
    return _checked_targets(
        labels,
        ignore_index,
        num_items_in_batch,
        shifted,
        expected,
        f"logits without its last (vocabulary) dimension, {expected} for "
        f"logits of shape {tuple(logits.shape)}",
    )


def _checked_targets(
    labels: object,
    ignore_index: object,
    num_items_in_batch: object,
    shifted: object,
    expected: tuple[int, ...],
    expected_as: str,
) -> tuple[torch.Tensor, str, int]:
    """Check the arguments shared by the losses; the labels must have shape ``expected``.

    ``expected_as`` says where that shape comes from, for the error message.
    """
    check_int("ignore_index", ignore_index)
    if num_items_in_batch is not None:
        if torch.is_tensor(num_items_in_batch):
            if num_items_in_batch.numel() != 1:
                raise ValueError(
                    f"num_items_in_batch must be an int or a tensor of one element, got a "
                    f"tensor of shape {tuple(num_items_in_batch.shape)}"
                )
        elif isinstance(num_items_in_batch, bool) or not isinstance(num_items_in_batch, int):
            raise TypeError(
                f"num_items_in_batch must be an int or a tensor of one element, got "
                f"{type(num_items_in_batch).__name__}: {num_items_in_batch!r}"
            )
    if shifted is not None:
        targets, name, offset = shifted, "shift_labels", 0
    elif labels is None:
        raise TypeError("labels must be a tensor when shift_labels is not given, got None")
    else:
        targets, name, offset = labels, "labels", 1
    _check_labels(targets, name)
    assert isinstance(targets, torch.Tensor)
    if tuple(targets.shape) != expected:
        raise ValueError(f"{name} must have the shape of {expected_as}, got {tuple(targets.shape)}")
    return targets, name, offset


def _check_label_values(
    targets: torch.Tensor,
    name: str,
    offset: int,
    vocab: int,
    ignore_index: int,
    vocab_from: str = "logits.shape[-1]",
) -> None:
    # Position 0 of unshifted labels is never a target, so its value does not matter.
    used = _as_int64(targets[..., offset:])
    bad = (used != ignore_index) & ((used < 0) | (used >= vocab))
    if bool(bad.any()):
        position = [int(i) for i in bad.nonzero()[0]]
        value = int(used[tuple(position)])
        position[-1] += offset
        raise ValueError(
            f"{name} must be in [0, {vocab}) (the vocabulary size, {vocab_from}) or "
            f"ignore_index={ignore_index}, got {value} at position {tuple(position)}"
        )
