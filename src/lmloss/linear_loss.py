"""The causal-LM loss from the hidden states and the lm_head, without the (N, V) logits.

[`linear_causal_lm_loss`][lmloss.linear_causal_lm_loss] returns the value of transformers'
``ForCausalLMLoss`` on the logits ``hidden @ weight.T (+ bias)`` but computes them a chunk at
a time, so the full logits never exist. ``_ChunkedHead`` does the work in every dtype: in
bfloat16 and float16 it keeps transformers' arithmetic in forward (half-precision logits upcast
to float32; float16 under a loss scale loses small gradient entries the standard path keeps), in float32 and float64 it computes in the input's dtype (float32 input under
autocast in autocast's dtype, as ``F.linear`` does). Under ``torch.no_grad()`` it computes the loss alone. It computes the gradients
inside forward, one chunk at a time, into a single buffer per input that needs one, and
backward scales them in place (and casts a float32 buffer of half-precision input to that
dtype, into a new tensor). For half-precision input the weight's gradient is not
summed over chunks of tokens in half precision, which would round it once per chunk: by
default a second pass over chunks of the vocabulary writes each of its rows with one
product, and ``accum_dtype=torch.float32`` sums it in a float32 buffer instead.

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
"""Fewest tokens per chunk, and words per chunk of the vocabulary. A chunk's tokens are the
inner dimension of the product that adds it to a float32 or float64 weight gradient, which
runs at memory speed over the whole ``(V, H)`` buffer when it is much smaller."""


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
    divided by their number, or by ``num_items_in_batch`` if given. The logits of at most one
    chunk are alive at a time (a chunk of tokens, or in half precision's second pass a chunk of
    the vocabulary for all tokens, of about the same size, and at least ``MIN_CHUNK_ROWS``
    rows), so the extra memory is about that of ``hidden`` and the gradients, not ``N × V``
    numbers (for few tokens and a large vocabulary, the floor of ``MIN_CHUNK_ROWS`` rows can
    make a chunk larger than ``hidden``). As with
    [`lmloss.causal_lm_loss`][lmloss.causal_lm_loss], a batch with no counted position gives
    ``0.0`` rather than ``nan``.

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
        accum_dtype: ``None`` or ``torch.float32``: the dtype of the buffers the gradients of
            ``weight`` and ``bias`` are computed in. ``None``: the weight's dtype. For
            half-precision input each row of the weight's gradient is then one product over
            all tokens, rounded once as in the standard path, which costs a second pass that
            computes the logits again, a chunk of the vocabulary at a time. ``torch.float32``:
            a float32 buffer of the weight's shape (twice its half-precision gradient; backward
            casts it into a new one while it is alive, three times that gradient's bytes), summed over chunks of tokens from the float32 gradient of the logits:
            one pass, but a float32 product per chunk. With float32 or float64 input both
            options are the same. ``tests/test_linear_loss.py`` checks that the weight
            gradient's error against float64 stays within 1.1x of the standard path's over 64
            chunks with either; ``tests/benchmarks/loss_memory.py`` prints it, with memory and
            time, for both.

    Returns:
        A float32 scalar tensor on the device of ``hidden``.

    Raises:
        TypeError: If a tensor has the wrong dtype (``hidden`` not floating point, ``weight``
            or ``bias`` of another dtype, labels not integers) or an option the wrong type.
        ValueError: If the shapes do not match, a label (other than ``ignore_index``) is
            outside ``[0, V)`` (the message gives its position and value), or ``accum_dtype``
            is a dtype other than ``torch.float32``.

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
    does through ``.float()``. A chunk's logits, in the dtype they are computed in, take about
    as many bytes as ``hidden`` (more if ``MIN_CHUNK_ROWS`` asks for more).

    The gradients are computed in forward into one buffer per input that needs one. A chunk
    of tokens gives whole rows of ``hidden``'s gradient (a product over the whole vocabulary)
    but only a part of every entry of ``weight``'s, a sum over the tokens. With buffers of at
    least float32 (float32 or float64 input, or ``accum_dtype=torch.float32``) those parts are
    added up chunk after chunk. Half-precision buffers would round each partial sum, so for
    them a second pass over chunks of the vocabulary recomputes those logits for all tokens,
    softmax from the first pass's logsumexp, and writes each row of the weight's gradient with
    one product over all tokens: rounded once, as in the standard path, at the cost of
    computing the logits twice.

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
        compute = torch.float32 if hidden.dtype in _HALF else hidden.dtype
        kept = torch.promote_types(hidden.dtype, accum_dtype or hidden.dtype)  # buffers' dtype
        by_vocabulary = kept in _HALF and (need_weight or need_bias)
        numbers = hidden.numel() * hidden.element_size() // compute.itemsize

        def buffer(like, dtype):
            return torch.zeros(like.shape, dtype=dtype, device=like.device)

        grad_hidden = torch.empty_like(hidden) if need_hidden else None
        grad_weight = buffer(weight, kept) if need_weight else None
        grad_bias = buffer(bias, kept) if need_bias else None
        logsumexp = (
            torch.empty(hidden.shape[0], dtype=compute, device=hidden.device)
            if by_vocabulary
            else None
        )
        total = torch.zeros((), dtype=compute, device=hidden.device)
        scale = scale.to(compute)
        tokens, vocab = hidden.shape[0], weight.shape[0]
        step = _chunk_size(tokens, vocab, numbers)
        for start in range(0, tokens, step):
            rows = slice(start, start + step)
            # a function call per chunk: its logits are freed before the next chunk's exist
            total += _token_chunk(
                hidden[rows],
                weight,
                bias,
                targets[rows],
                ignore_index,
                scale,
                None if grad_hidden is None else grad_hidden[rows],
                None if by_vocabulary else grad_weight,
                None if by_vocabulary else grad_bias,
                None if logsumexp is None else logsumexp[rows],
            )
        if by_vocabulary:
            step = _chunk_size(vocab, tokens, numbers)
            for start in range(0, vocab, step):
                columns = slice(start, start + step)
                _vocabulary_chunk(
                    hidden,
                    weight[columns],
                    None if bias is None else bias[columns],
                    targets - start,
                    (targets != ignore_index) * scale,
                    logsumexp,
                    None if grad_weight is None else grad_weight[columns],
                    None if grad_bias is None else grad_bias[columns],
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
    logsumexp: torch.Tensor | None,
) -> torch.Tensor:
    """One chunk of tokens' summed loss; writes its rows of ``grad_hidden`` and ``logsumexp``,
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
    if logsumexp is not None:
        torch.add(top.squeeze(1), norm.log(), out=logsumexp)
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


def _vocabulary_chunk(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    target: torch.Tensor,
    row_scale: torch.Tensor,
    logsumexp: torch.Tensor,
    grad_weight: torch.Tensor | None,
    grad_bias: torch.Tensor | None,
) -> None:
    """Write the rows of ``grad_weight`` and ``grad_bias`` of one chunk of the vocabulary.

    ``target`` counts from the chunk's first word; ``row_scale`` is per token, 0 where it is
    not counted; ``logsumexp`` is per token, over the whole vocabulary.
    """
    logits = F.linear(hidden, weight, bias).to(logsumexp.dtype)
    grad = logits.sub_(logsumexp[:, None]).exp_()  # softmax, this chunk's columns
    hit = ((row_scale != 0) & (target >= 0) & (target < weight.shape[0])).nonzero().squeeze(1)
    grad.index_put_((hit, target[hit]), torch.tensor(-1.0, dtype=grad.dtype), accumulate=True)
    grad.mul_(row_scale[:, None])
    if grad_bias is not None:
        grad_bias.copy_(grad.sum(0))
    if grad_weight is not None:
        torch.mm(grad.to(hidden.dtype).T, hidden, out=grad_weight)
