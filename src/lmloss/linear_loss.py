"""The causal-LM loss from the hidden states and the lm_head, without the (N, V) logits.

:func:`linear_causal_lm_loss` returns the value of transformers' ``ForCausalLMLoss`` on the
logits ``hidden @ weight.T (+ bias)`` but computes them a chunk of tokens at a time, so the
full logits never exist. :class:`_ChunkedHead` does the work in every dtype: in bfloat16 and
float16 it keeps transformers' arithmetic (half-precision logits upcast to float32), in
float32 and float64 it computes in the input's dtype. It computes the gradients inside
forward, one chunk at a time, into a single buffer per input, and backward only scales them
in place.

torch's own ``F.linear_cross_entropy(..., options=LinearCrossEntropyOptions())`` also chunks
and computes the gradients in forward, but with its default chunking its peak stayed 19.1x
below the full logits' on the benchmark's first case, short of the 20x this package aims for,
and it returns a bf16 loss for bf16 input where transformers returns float32;
``tests/benchmarks/loss_memory.py`` compares the two (its output is quoted in the README).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lmloss.loss import IGNORE_INDEX, _averaged, _check_label_values, _checked_targets

__all__ = ["linear_causal_lm_loss"]

_HALF = (torch.bfloat16, torch.float16)

MIN_CHUNK_ROWS = 256
"""Fewest tokens per chunk: the inner dimension of the weight gradient's product, which runs
at memory speed over the whole ``(V, H)`` buffer when it is much smaller."""


def linear_causal_lm_loss(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor | None,
    *,
    bias: torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
    num_items_in_batch: int | torch.Tensor | None = None,
    shift_labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """Return ``ForCausalLMLoss(hidden @ weight.T (+ bias), labels, ...)`` without the logits.

    The labels are shifted as in :func:`lmloss.causal_lm_loss`, positions whose shifted label
    is ``ignore_index`` are skipped, and the sum of the others' negative log-probabilities is
    divided by their number, or by ``num_items_in_batch`` if given. The logits of at most one
    chunk of tokens are alive at a time, so the extra memory is about that of ``hidden`` and
    the gradients, not ``N × V`` numbers. As with :func:`lmloss.causal_lm_loss`, a batch with
    no counted position gives ``0.0`` rather than ``nan``.

    Backward may run once: the gradients are computed in forward and consumed by backward.

    Args:
        hidden: Floating-point hidden states of shape ``(..., T, H)``: the last layer's output,
            the input of the lm_head.
        weight: The lm_head's weight, shape ``(V, H)``, same dtype and device as ``hidden``.
        labels: Integer labels of shape ``(..., T)``, not yet shifted. Ignored (and may be
            ``None``) when ``shift_labels`` is given.
        bias: The lm_head's bias, shape ``(V,)``, or ``None`` (Llama-style heads have none).
        ignore_index: The label value to skip.
        num_items_in_batch: If given, divide the summed loss by it instead of by the number of
            counted positions: an int, or a tensor of one element.
        shift_labels: Labels already shifted, of shape ``(..., T)``, used as they are.

    Returns:
        A float32 scalar tensor on the device of ``hidden``.

    Raises:
        TypeError: If a tensor has the wrong dtype (``hidden`` not floating point, ``weight``
            or ``bias`` of another dtype, labels not integers) or an option the wrong type.
        ValueError: If the shapes do not match, or a label (other than ``ignore_index``) is
            outside ``[0, V)``: the message gives its position and value.

    Examples:
        >>> import torch
        >>> hidden = torch.zeros(1, 4, 16)  # all logits 0: loss = log(V) = log(8)
        >>> weight = torch.randn(8, 16)
        >>> linear_causal_lm_loss(hidden, weight, torch.tensor([[5, 1, 7, -100]]))
        tensor(2.0794)
        >>> linear_causal_lm_loss(hidden, weight, torch.tensor([[5, 1, 8, 2]]))
        Traceback (most recent call last):
            ...
        ValueError: labels must be in [0, 8) (the vocabulary size, weight.shape[0])
        or ignore_index=-100, got 8 at position (0, 2)
    """
    _check_head(hidden, weight, bias)
    expected = tuple(hidden.shape[:-1])
    targets, name, offset = _checked_targets(
        labels,
        ignore_index,
        num_items_in_batch,
        shift_labels,
        expected,
        f"hidden without its last (hidden size) dimension, {expected} for hidden of shape "
        f"{tuple(hidden.shape)}",
    )
    vocab = weight.shape[0]
    _check_label_values(targets, name, offset, vocab, ignore_index, "weight.shape[0]")
    if offset:  # shift_labels was not given: shift the labels here
        targets = F.pad(targets.long(), (0, 1), value=ignore_index)[..., 1:]
    targets = targets.reshape(-1).to(device=hidden.device, dtype=torch.long)
    flat = hidden.reshape(-1, hidden.shape[-1])
    total = _ChunkedHead.apply(flat, weight, bias, targets, ignore_index)
    return _averaged(total, targets, ignore_index, num_items_in_batch)


def _check_head(hidden: object, weight: object, bias: object) -> None:
    """Check the hidden states and the lm_head by shape, dtype and device only."""
    if not isinstance(hidden, torch.Tensor):
        raise TypeError(f"hidden must be a torch.Tensor, got {type(hidden).__name__}")
    if not hidden.is_floating_point():
        raise TypeError(f"hidden must have a floating-point dtype, got {hidden.dtype}")
    if hidden.ndim < 2:
        raise ValueError(
            f"hidden must have shape (..., T, H), at least 2 dimensions, got {tuple(hidden.shape)}"
        )
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be a torch.Tensor, got {type(weight).__name__}")
    if weight.ndim != 2 or weight.shape[0] == 0 or weight.shape[1] != hidden.shape[-1]:
        raise ValueError(
            f"weight must have shape (V, H) with V > 0 and H = hidden.shape[-1] = "
            f"{hidden.shape[-1]}, got {tuple(weight.shape)}"
        )
    if bias is not None:
        if not isinstance(bias, torch.Tensor):
            raise TypeError(f"bias must be a torch.Tensor or None, got {type(bias).__name__}")
        if tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(
                f"bias must have shape (V,) = ({weight.shape[0]},), got {tuple(bias.shape)}"
            )
    for name, tensor in (("weight", weight), ("bias", bias)):
        if tensor is None:
            continue
        if tensor.dtype != hidden.dtype:
            raise TypeError(
                f"{name} must have the dtype of hidden, {hidden.dtype}, got {tensor.dtype}"
            )
        if tensor.device != hidden.device:
            raise ValueError(
                f"{name} must be on the device of hidden, {hidden.device}, got {tensor.device}"
            )


def _chunk_rows(tokens: int, hidden_size: int, vocab: int) -> int:
    """Tokens per chunk: a chunk's logits about as many numbers as ``hidden`` holds."""
    rows = -(-tokens * hidden_size // vocab)
    return max(1, min(tokens, max(rows, MIN_CHUNK_ROWS)))


class _ChunkedHead(torch.autograd.Function):
    """Summed cross-entropy of ``hidden @ weight.T + bias``, chunk by chunk, as a float32 scalar.

    Each chunk does what transformers does for the whole batch: logits from the lm_head,
    upcast to float32 when they are half precision, log-softmax. The gradient of the logits
    (softmax minus one-hot, zero on ignored rows) goes back to the input's dtype, as autograd
    does through ``.float()``. The gradients are computed in forward and the chunk's logits
    freed; ``weight``'s and ``bias``'s are accumulated over the chunks in place, in float32
    for half-precision inputs.
    """

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, ignore_index):  # noqa: D102
        need_hidden, need_weight, need_bias = ctx.needs_input_grad[:3]
        compute = torch.float32 if hidden.dtype in _HALF else hidden.dtype

        def buffer(like):
            return torch.zeros(like.shape, dtype=compute, device=like.device)

        grad_hidden = torch.empty_like(hidden) if need_hidden else None
        grad_weight = buffer(weight) if need_weight else None
        grad_bias = buffer(bias) if need_bias else None
        total = torch.zeros((), dtype=compute, device=hidden.device)
        step = _chunk_rows(hidden.shape[0], hidden.shape[1], weight.shape[0])
        for start in range(0, hidden.shape[0], step):
            rows = slice(start, start + step)
            # a function call per chunk: its logits are freed before the next chunk's exist
            total += _chunk_loss(
                hidden[rows],
                weight,
                bias,
                targets[rows],
                ignore_index,
                compute,
                None if grad_hidden is None else grad_hidden[rows],
                grad_weight,
                grad_bias,
            )
        ctx.grads = grad_hidden, grad_weight, grad_bias
        ctx.dtype = hidden.dtype
        return total.float()

    @staticmethod
    def backward(ctx, grad_total):  # noqa: D102
        if ctx.grads is None:
            raise RuntimeError(
                "linear_causal_lm_loss computes its gradients in forward and hands them over "
                "once: call backward on its result only once"
            )
        grads, ctx.grads = ctx.grads, None  # freed as soon as autograd has taken them
        scaled = [
            None if grad is None else grad.mul_(grad_total.to(grad.dtype)).to(ctx.dtype)
            for grad in grads
        ]
        return (*scaled, None, None)


def _chunk_loss(
    chunk: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    target: torch.Tensor,
    ignore_index: int,
    compute: torch.dtype,
    grad_hidden: torch.Tensor | None,
    grad_weight: torch.Tensor | None,
    grad_bias: torch.Tensor | None,
) -> torch.Tensor:
    """One chunk's summed loss; writes its rows of ``grad_hidden``, adds to the others."""
    counted = target != ignore_index
    target = target.masked_fill(~counted, 0)  # any index; those rows count 0
    logits = F.linear(chunk, weight, bias).to(compute)
    picked = logits.gather(1, target[:, None]).squeeze(1)
    # logsumexp by hand, in place: torch.logsumexp would allocate a chunk-sized temporary,
    # and the exponentials are the softmax the gradient needs anyway
    top = logits.amax(1, keepdim=True)
    exp = logits.sub_(top).exp_()
    norm = exp.sum(1)
    loss = ((top.squeeze(1) + norm.log() - picked) * counted).sum()
    if grad_hidden is None and grad_weight is None and grad_bias is None:
        return loss
    grad = exp.div_(norm[:, None])  # softmax
    grad.scatter_add_(1, target[:, None], -counted[:, None].to(compute))
    grad.mul_(counted[:, None])
    if grad_bias is not None:
        grad_bias += grad.sum(0)
    grad = grad.to(chunk.dtype)
    if grad_hidden is not None:
        torch.mm(grad, weight, out=grad_hidden)
    if grad_weight is not None and grad_weight.dtype == chunk.dtype:
        grad_weight.addmm_(grad.T, chunk)  # no (V, H) temporary
    elif grad_weight is not None:
        grad_weight += (grad.T @ chunk).to(grad_weight.dtype)
    return loss
