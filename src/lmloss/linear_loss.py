"""The causal-LM loss from the hidden states and the lm_head, without the (N, V) logits.

[`linear_causal_lm_loss`][lmloss.linear_causal_lm_loss] returns the value of transformers'
``ForCausalLMLoss`` on the logits ``hidden @ weight.T (+ bias)`` but computes them a chunk of
tokens at a time, so the full logits never exist. ``_ChunkedHead`` does the work in every
dtype: in bfloat16 and float16 it keeps transformers' arithmetic (half-precision logits upcast
to float32, their gradient rounded back to half precision; float16 under a loss scale loses
small gradient entries the standard path keeps), in float32 and float64 it computes in the
input's dtype (under autocast, float32 input's logits in autocast's dtype, as ``F.linear``
computes them; its gradient products stay float32). Under
``torch.no_grad()`` it computes the loss alone. It computes the gradients inside forward, one
chunk at a time, into a single buffer per input that needs one, and backward scales them in
place (and casts a float32 buffer of half-precision input to that dtype, into a new tensor).
Each chunk takes three products with the lm_head (its logits, its rows of ``hidden``'s
gradient, its part of ``weight``'s), as the standard path does for all tokens at once.

For half-precision input the weight's gradient is summed over the chunks in a half-precision
buffer by default, which rounds every entry once per chunk; so the chunks are few (at most
``MAX_HALF_CHUNKS``) and large, each keeping its logits in half precision.
``accum_dtype=torch.float32`` sums it in a float32 buffer instead, from float32 products.

torch's own ``F.linear_cross_entropy(..., options=LinearCrossEntropyOptions())`` also chunks
and computes the gradients in forward, but returns a bf16 loss for bf16 input where
transformers returns float32. ``tests/benchmarks/loss_memory.py`` measures the peak memory,
time and (in bf16) the weight gradient's error of both against the full logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lmloss.loss import IGNORE_INDEX, _averaged, _check_label_values, _checked_targets

__all__ = ["linear_causal_lm_loss"]

_HALF = (torch.bfloat16, torch.float16)

MIN_CHUNK_ROWS = 256
"""Fewest tokens per chunk (or all of them). A chunk's tokens are the inner dimension of the
product that adds its part to the weight's gradient, which runs at memory speed over the
whole ``(V, H)`` buffer when that dimension is much smaller than ``H``."""

MAX_HALF_CHUNKS = 16
"""Most chunks of tokens in bfloat16 and float16. Each adds its part of the weight's gradient
to a half-precision buffer, one rounding of every entry; the error this adds grows with their
number (``tests/test_linear_loss.py`` bounds it at this many)."""


def linear_causal_lm_loss(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor | None,
    *,
    bias: torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
    num_items_in_batch: int | torch.Tensor | None = None,
    shift_labels: torch.Tensor | None = None,
    accum_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Return ``ForCausalLMLoss(hidden @ weight.T (+ bias), labels, ...)`` without the logits.

    The labels are shifted as in [`lmloss.causal_lm_loss`][lmloss.causal_lm_loss], positions
    whose shifted label
    is ``ignore_index`` are skipped, and the sum of the others' negative log-probabilities is
    divided by their number, or by ``num_items_in_batch`` if given. The logits of one chunk of
    tokens are alive at a time, so the extra memory is about that of the gradients and one
    chunk, not ``N × V`` numbers. A chunk has at least ``MIN_CHUNK_ROWS`` tokens (or all of
    them). In float32 and float64 its logits take about as many bytes as ``hidden`` (more
    when ``MIN_CHUNK_ROWS`` asks for more rows, and half again under autocast, whose
    half-precision logits are copied to float32); in
    bfloat16 and float16 a chunk has at least ``H / 2`` tokens, so that its half-precision
    logits take at least half the bytes of ``weight``, and more tokens when that would make
    more than ``MAX_HALF_CHUNKS`` chunks. As with
    [`lmloss.causal_lm_loss`][lmloss.causal_lm_loss], a batch with no counted position gives
    ``0.0`` rather than ``nan``.

    The gradients are the standard path's up to rounding: in bfloat16 and float16 the weight's
    gradient is summed over the chunks (see ``accum_dtype``). Backward may run once: the
    gradients are computed in forward and consumed by backward.

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
        accum_dtype: ``None`` or ``torch.float32``: the dtype of the buffer the gradient of
            ``weight`` is summed in over the chunks. ``None`` keeps the weight's dtype: in half
            precision every entry is then rounded once per chunk, so the error grows with the
            number of chunks. ``torch.float32`` sums float32 products of the logits' unrounded
            gradient, about the standard path's error or less (that path rounds the gradient
            first), at
            the cost of float32 products and a float32
            buffer (twice the half-precision gradient, three times while backward casts it).
            Against float64, the weight gradient's error with ``None`` was 1.5x the standard
            path's over 4 chunks, 1.9x over 8 and 2.6x over 16 in ``tests/test_linear_loss.py``
            (which bounds it at 3x), and stays within 1.1x with ``torch.float32``;
            ``tests/benchmarks/loss_memory.py`` prints it with memory and time. With float32
            or float64 input both are the same.

    Returns:
        A float32 scalar tensor on the device of ``hidden``.

    Raises:
        TypeError: If a tensor has the wrong dtype (``hidden`` not floating point, ``weight``
            or ``bias`` of another dtype, labels not integers) or an option the wrong type.
        ValueError: If the shapes do not match, a label (other than ``ignore_index``) is
            outside ``[0, V)`` (the message gives its position and value), or ``accum_dtype``
            is a dtype other than ``torch.float32``.

    Examples:
        >>> hidden = torch.zeros(1, 4, 16)  # all logits 0: loss = log(V) = log(8)
        >>> weight = torch.randn(8, 16)
        >>> linear_causal_lm_loss(hidden, weight, torch.tensor([[5, 1, 7, -100]]))
        tensor(2.0794)
    """
    _check_head(hidden, weight, bias)
    _check_accum_dtype(accum_dtype)
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
    one = torch.ones((), dtype=torch.float32, device=hidden.device)
    scale = _averaged(one, targets, ignore_index, num_items_in_batch)  # 1 / the divisor
    grads = torch.is_grad_enabled()  # under torch.no_grad() (evaluation): the loss alone
    return _ChunkedHead.apply(flat, weight, bias, targets, ignore_index, accum_dtype, scale, grads)


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


def _check_accum_dtype(accum_dtype: object) -> None:
    """Check that ``accum_dtype`` is ``None`` or ``torch.float32``."""
    if accum_dtype is not None and not isinstance(accum_dtype, torch.dtype):
        raise TypeError(
            f"accum_dtype must be a torch.dtype or None, got {type(accum_dtype).__name__}"
        )
    if accum_dtype not in (None, torch.float32):
        raise ValueError(f"accum_dtype must be None or torch.float32, got {accum_dtype}")


def _chunk_size(length: int, other: int, numbers: int) -> int:
    """Rows of a ``(length, other)`` block of logits cut into chunks of about ``numbers``.

    At least ``MIN_CHUNK_ROWS`` rows (or all of them), so that no product gets too thin.
    """
    return max(1, min(length, max(-(-numbers // other), MIN_CHUNK_ROWS)))


class _ChunkedHead(torch.autograd.Function):
    """Summed cross-entropy of ``hidden @ weight.T + bias`` times ``scale``, as a float32 scalar.

    Each chunk does what transformers does for the whole batch: logits from the lm_head,
    upcast to float32 when they are half precision, log-softmax. The gradient of the logits
    (softmax minus one-hot, zero on ignored rows) goes back to the input's dtype, as autograd
    does through ``.float()``.

    The gradients are computed in forward into one buffer per input that needs one. A chunk
    of tokens gives whole rows of ``hidden``'s gradient (a product over the whole vocabulary)
    but only a part of every entry of ``weight``'s, a sum over the tokens, added to the
    buffer. In float32 and float64 a chunk's logits, in the dtype they are computed in, take
    about as many bytes as ``hidden``. In half precision each addition to a half-precision
    buffer rounds every entry, so the chunks are fewer and larger: the chunk's logits stay in
    half precision, the float32 work runs over blocks of their columns, and the gradient is
    written back into the logits' memory (``_half_chunk``).

    ``scale`` (1 over the divisor of the mean) is known in forward, so the gradient of the
    logits is scaled in float32 before it is rounded, as in the standard path; backward then
    multiplies the buffers in place by the incoming gradient (1 for ``loss.backward()``, other
    numbers when the loss is scaled before backward), taken as a Python number: torch
    multiplies a half-precision tensor by it in float32 on every device, where a 0-dim CUDA
    tensor would first be cast to the buffers' dtype (1/3 to bf16 is 0.2 % off). Each entry
    is then rounded once more only when that number is not a power of two. Under an fp16 loss
    scale (GradScaler) this is worse than the standard path: the logits' gradient was rounded to
    fp16 in forward, before the scale was known, so its small entries are lost.
    """

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, ignore_index, accum_dtype, scale, grads):  # noqa: D102
        # forward always runs with grad mode off: whether the caller wants gradients is read
        # from the flag apply() was called under
        need_hidden, need_weight, need_bias = (need and grads for need in ctx.needs_input_grad[:3])
        half = hidden.dtype in _HALF
        compute = torch.float32 if half else hidden.dtype
        kept = torch.promote_types(hidden.dtype, accum_dtype or hidden.dtype)  # buffers' dtype

        def buffer(like, dtype):
            return torch.zeros(like.shape, dtype=dtype, device=like.device)

        grad_hidden = torch.empty_like(hidden) if need_hidden else None
        grad_weight = buffer(weight, kept) if need_weight else None
        # the bias's gradient is V numbers: summed in float32 at least, whatever accum_dtype
        grad_bias = buffer(bias, compute) if need_bias else None
        total = torch.zeros((), dtype=compute, device=hidden.device)
        scale = scale.to(compute)
        tokens, (vocab, width) = hidden.shape[0], weight.shape
        if half:  # few, large chunks: the weight's gradient is rounded once per chunk
            rows = max(-(-width // 2), -(-tokens // MAX_HALF_CHUNKS), MIN_CHUNK_ROWS)
            step, chunk = min(tokens, rows), _half_chunk
        else:
            numbers = hidden.numel() * hidden.element_size() // compute.itemsize
            step, chunk = _chunk_size(tokens, vocab, numbers), _token_chunk
        for start in range(0, tokens, step):
            rows = slice(start, start + step)
            # a function call per chunk: its logits are freed before the next chunk's exist
            total += chunk(
                hidden[rows],
                weight,
                bias,
                targets[rows],
                ignore_index,
                scale,
                None if grad_hidden is None else grad_hidden[rows],
                grad_weight,
                grad_bias,
            )
        ctx.grads = grad_hidden, grad_weight, grad_bias
        ctx.dtype = hidden.dtype
        return (total * scale).float()

    @staticmethod
    def backward(ctx, grad_total):  # noqa: D102
        if ctx.grads is None:
            raise RuntimeError(
                "linear_causal_lm_loss computes its gradients in forward and hands them over "
                "once: call backward on its result only once"
            )
        grads, ctx.grads = ctx.grads, None  # freed as soon as autograd has taken them
        # A Python number, not the 0-dim tensor: a CUDA kernel casts a 0-dim device tensor to
        # the buffer's dtype before multiplying (1/3 in bf16 is 0.2 % off), while a Python
        # number is applied in float32 on every device. The buffer stays bf16, with no copy;
        # the cost is one device sync per backward.
        by = grad_total.item()
        scaled = [None if grad is None else grad.mul_(by).to(ctx.dtype) for grad in grads]
        return (*scaled, None, None, None, None, None)


def _token_chunk(
    chunk: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    target: torch.Tensor,
    ignore_index: int,
    scale: torch.Tensor,
    grad_hidden: torch.Tensor | None,
    grad_weight: torch.Tensor | None,
    grad_bias: torch.Tensor | None,
) -> torch.Tensor:
    """One chunk of float32 or float64 tokens' summed loss; writes its rows of ``grad_hidden``,
    adds its parts of ``grad_weight`` and ``grad_bias``."""
    counted = target != ignore_index
    target = target.masked_fill(~counted, 0)  # any index; those rows count 0
    compute = scale.dtype
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
    grad.mul_(counted[:, None] * scale)
    if grad_bias is not None:
        grad_bias += grad.sum(0)
    if grad_weight is not None:  # a float32 or float64 buffer: the product in its dtype
        grad_weight.addmm_(grad.T, chunk.to(compute))  # no (V, H) temporary
    if grad_hidden is not None:
        torch.mm(grad.to(chunk.dtype), weight, out=grad_hidden)
    return loss


def _half_chunk(
    chunk: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    target: torch.Tensor,
    ignore_index: int,
    scale: torch.Tensor,
    grad_hidden: torch.Tensor | None,
    grad_weight: torch.Tensor | None,
    grad_bias: torch.Tensor | None,
) -> torch.Tensor:
    """One chunk of bf16 or fp16 tokens' summed loss, computed as transformers computes it.

    The chunk's logits stay in the input's dtype, one ``(n, V)`` tensor; the float32 work
    (the upcast, the softmax, its gradient) runs over blocks of their columns, and each block's
    gradient is rounded back into the logits' own memory, as autograd rounds the gradient of
    ``.float()``. That tensor then gives the chunk's rows of ``grad_hidden`` with one product
    and its part of ``grad_weight`` with another, added to the buffer.
    """
    counted = target != ignore_index
    target = target.masked_fill(~counted, 0)  # any index; those rows count 0
    logits = F.linear(chunk, weight, bias)
    compute = scale.dtype
    picked = logits.gather(1, target[:, None]).squeeze(1).to(compute)
    top = logits.amax(1).to(compute)  # a maximum is exact in any dtype
    blocks = _column_blocks(logits)
    norm = torch.zeros_like(top)
    for columns in blocks:
        norm += logits[:, columns].to(compute).sub_(top[:, None]).exp_().sum(1)
    logsumexp = top + norm.log()
    loss = ((logsumexp - picked) * counted).sum()
    if grad_hidden is None and grad_weight is None and grad_bias is None:
        return loss
    row_scale = (counted * scale)[:, None]
    # a float32 buffer gets float32 products of the unrounded gradient, as in float32 input
    wide = chunk.to(compute) if grad_weight is not None and grad_weight.dtype == compute else None
    for columns in blocks:
        grad = logits[:, columns].to(compute).sub_(logsumexp[:, None]).exp_()  # softmax
        inside = counted & (target >= columns.start) & (target < columns.stop)
        rows = inside.nonzero().squeeze(1)
        grad[rows, target[rows] - columns.start] -= 1
        grad.mul_(row_scale)
        if grad_weight is not None and wide is not None:
            grad_weight[columns].addmm_(grad.T, wide)
        logits[:, columns] = grad  # rounded to the input's dtype, in place
    grad = logits
    if grad_bias is not None:
        grad_bias += grad.sum(0, dtype=grad_bias.dtype)
    if grad_weight is not None and wide is None:
        grad_weight.addmm_(grad.T, chunk)  # rounded once per chunk
    if grad_hidden is not None:
        torch.mm(grad, weight, out=grad_hidden)
    return loss


FLOAT_BLOCK = 1 << 21
"""Numbers in one float32 block of a half-precision chunk's logits (8 MiB): small next to the
chunk, large enough that the per-block work is not dominated by its overhead."""


def _column_blocks(logits: torch.Tensor) -> list[slice]:
    """Slices of the columns of ``logits`` of about ``FLOAT_BLOCK`` numbers each."""
    rows, columns = logits.shape
    width = max(1, FLOAT_BLOCK // max(rows, 1))
    return [slice(start, min(start + width, columns)) for start in range(0, columns, width)]
