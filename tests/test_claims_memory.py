"""The memory chapter's claims (docs/*/memory.md), checked against torch 2.13, transformers 5.24
and TRL 1.16. Each test is named after the claim it checks; a test that backs a sentence of the
page also checks that both pages still say it, in its section (``assert_page_says``)."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import io
import re

import pytest
import torch
import torch.nn.functional as F
from torch._decomp import decompositions
from torch.distributed._tools.mem_tracker import MemTracker
from torch.nn import LinearCrossEntropyOptions
from torch.utils._python_dispatch import TorchDispatchMode
from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments
from transformers.loss.loss_utils import ForCausalLMLoss
from transformers.modeling_layers import GradientCheckpointingLayer
from trl.kernels import chunked_logprob
from trl.trainer import sft_trainer
from trl.trainer import utils as trl_utils

import lmloss
from page_claims import assert_page_says
from snippet_sections import OUTPUTS, ROOT, SNIPPETS, read_sections

PAGES = {lang: ROOT / "docs" / lang / "memory.md" for lang in ("en", "zh")}


def _peak_bytes(run, *inputs: torch.Tensor) -> int:
    """Peak of the tensor bytes torch's own MemTracker counts while ``run`` runs, above the
    ``inputs`` (registered first, or a view of one would count as new): tensors, not the
    allocator's view of them, so the figure is the same on every machine."""
    tracker = MemTracker()
    tracker.track_external(*inputs)
    with tracker:
        run()
    peak = sum(snapshot["Total"] for snapshot in tracker.get_tracker_snapshot("peak").values())
    return peak - sum(t.untyped_storage().nbytes() for t in inputs)


def _tiny_llama(vocab_size=32, **config):
    torch.manual_seed(0)
    return LlamaForCausalLM(
        LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            **config,
        )
    )


# --- what the loss keeps -------------------------------------------------------------------------


def test_claim_the_backward_peak_is_14_bytes_per_logit_with_the_logits_kept_and_12_without():
    n, h, v = 512, 8, 2000
    hidden = torch.randn(1, n, h, dtype=torch.bfloat16, requires_grad=True)
    weight = torch.randn(v, h, dtype=torch.bfloat16, requires_grad=True)
    labels = torch.randint(0, v, (1, n))

    def kept():  # a training loop that holds the model's outputs through backward
        logits = F.linear(hidden, weight)
        ForCausalLMLoss(logits, labels, v).backward()

    def freed():  # the logits die with the loss call, as in the Trainer
        ForCausalLMLoss(F.linear(hidden, weight), labels, v).backward()

    peaks = [_peak_bytes(run, hidden, weight, labels) / (n * v) for run in (kept, freed)]
    assert [round(peak) for peak in peaks] == [14, 12]
    assert_page_says(
        "memory.md",
        "measured",
        en="the backward peak is 12 bytes per logit; a caller that keeps `outputs.logits` alive through backward adds their 2 bytes, 14 in all",
        zh="反向传播的峰值是每个 logit 12 字节；调用方如果在反向传播时还拿着 `outputs.logits`，再加上它们的 2 字节，共 14 字节",
    )


def test_claim_the_Trainer_keeps_only_the_loss_through_backward():
    """compute_loss returns the outputs only when asked; training_step does not ask."""
    compute = inspect.getsource(Trainer.compute_loss)
    assert "return (loss, outputs) if return_outputs else loss" in compute
    step = inspect.getsource(Trainer.training_step)
    assert "loss = self.compute_loss(model, inputs, num_items_in_batch=num_items_in_batch)" in step
    assert "return_outputs" not in step
    assert_page_says(
        "memory.md",
        "measured",
        en="the Trainer's `compute_loss` returns only the loss to `training_step`",
        zh="Trainer 的 `compute_loss` 只把损失交给 `training_step`",
    )


def test_claim_the_arithmetic_of_the_Trainer_case_is_the_recorded_H200_figure():
    """The page scales its measured bytes per logit to N = 32768, V = 128256; the Trainer-like
    case must be what the H200 recorded for the full logits at that size."""
    arithmetic = (OUTPUTS / "memory" / "arithmetic.txt").read_text(encoding="utf-8")
    computed = re.search(r"^backward, logits freed\s+12 B\s+([\d.]+)$", arithmetic, re.M)[1]
    recorded = (SNIPPETS / "recorded" / "gpu_loss_memory.txt").read_text(encoding="utf-8")
    row = re.search(r"^\s+32,768\s+([\d.]+)\s+([\d.]+)", recorded, re.M)
    assert computed == row[1] == row[2] == f"{32768 * 128256 * 12 / 2**30:.2f}"


def test_claim_the_pages_counter_agrees_with_torchs_MemTracker():
    """The snippet's LiveBytes and torch's MemTracker count the same peak."""
    namespace: dict[str, object] = {"__name__": "__snippet__"}
    measure = next(s for s in read_sections(SNIPPETS / "memory.py") if s.name == "measure")
    with contextlib.redirect_stdout(io.StringIO()):
        exec(measure.code, namespace)
    logits = torch.randn(1, 300, 1000).bfloat16().requires_grad_()
    labels = torch.randint(0, 1000, (1, 300))

    def run():
        ForCausalLMLoss(logits, labels, 1000).backward()

    with namespace["LiveBytes"]() as counter:
        run()
    logits.grad = None
    assert counter.peak == _peak_bytes(run, logits, labels) > 0


# --- the upcast ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_claim_log_softmax_with_dtype_float32_copies_half_precision_logits_first_on_cpu(dtype):
    """ATen's log_softmax(x, dim, dtype) skips the copy only for fp16 on CUDA/XPU
    (``half_to_float``); everywhere else it converts first, so the peak is that of .float()."""
    logits = torch.randn(256, 1000).to(dtype)
    inside = _peak_bytes(lambda: F.log_softmax(logits, -1, dtype=torch.float32), logits)
    explicit = _peak_bytes(lambda: F.log_softmax(logits.float(), -1), logits)
    assert inside == explicit == 2 * logits.numel() * 4  # the copy and the output

    class Ops(TorchDispatchMode):
        seen: list = []

        def __torch_dispatch__(self, op, types, args=(), kwargs=None):
            self.seen.append((op, args[1:]))
            return op(*args, **(kwargs or {}))

    with Ops() as ops:
        F.log_softmax(logits, -1, dtype=torch.float32)
    assert [op for op, _ in ops.seen] == [
        torch.ops.aten._to_copy.default,
        torch.ops.aten._log_softmax.default,
    ]
    assert ops.seen[1][1] == (-1, False)  # half_to_float=False: the input is already float32


def test_claim_torchs_decomposition_takes_half_to_float_for_fp16_only():
    decompositions._log_softmax(torch.zeros(2, 3, dtype=torch.half), -1, True)
    with pytest.raises(AssertionError, match="expected torch.half"):
        decompositions._log_softmax(torch.zeros(2, 3, dtype=torch.bfloat16), -1, True)


def test_claim_causal_lm_loss_makes_the_same_float32_copy_as_ForCausalLMLoss_for_bf16():
    logits = torch.randn(1, 256, 1000).bfloat16()
    labels = torch.randint(0, 1000, (1, 256))
    ours = _peak_bytes(lambda: lmloss.causal_lm_loss(logits, labels), logits, labels)
    theirs = _peak_bytes(lambda: ForCausalLMLoss(logits, labels, 1000), logits, labels)
    assert abs(ours - theirs) < logits.numel()  # equal but for the labels' few bytes
    assert ours >= 2 * logits.numel() * 4
    docstring = inspect.getdoc(lmloss.causal_lm_loss)
    assert "one copy of the logits less" not in docstring
    assert "the same float32 copy" in " ".join(docstring.split())
    assert_page_says(
        "memory.md",
        "upcast",
        en="For bf16 logits, `F.log_softmax(..., dtype=torch.float32)` makes the same float32 copy first",
        zh="对 bf16 的 logits，`F.log_softmax(..., dtype=torch.float32)` 同样先做一份 float32 副本",
    )


def test_claim_nll_loss_in_bf16_rounds_its_sum():
    same = torch.full((65536, 1), -12.4375, dtype=torch.bfloat16)
    mean = F.nll_loss(same, torch.zeros(65536, dtype=torch.long))
    assert mean.dtype == torch.bfloat16 and mean.item() == 12.0625


def test_claim_ForCausalLMLoss_first_upcasts_the_logits_to_a_float32_copy():
    source = inspect.getsource(ForCausalLMLoss)
    body = source[source.index(") -> torch.Tensor:") :]
    first = [
        line.strip()
        for line in body.splitlines()[1:]
        if line.strip() and not line.strip().startswith("#")
    ][0]
    assert first == "logits = logits.float()"
    assert "precision" in body  # the reason its comment gives
    logits = torch.zeros(1, 3, 5, dtype=torch.bfloat16)
    assert ForCausalLMLoss(logits, torch.tensor([[1, 2, 3]]), 5).dtype == torch.float32


@pytest.mark.parametrize("keep, expected", [(0, 6), (1, 1)])
def test_claim_logits_to_keep_cuts_the_hidden_states_before_the_lm_head(keep, expected):
    config = LlamaConfig(
        vocab_size=32,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
    )
    model = LlamaForCausalLM(config).eval()
    seen = []
    model.lm_head.register_forward_hook(lambda module, args, out: seen.append(args[0].shape))
    with torch.no_grad():
        out = model(torch.zeros(2, 6, dtype=torch.long), logits_to_keep=keep)
    assert seen == [torch.Size([2, expected, 16])]
    assert out.logits.shape == (2, expected, 32)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target": torch.tensor([1, 2, 3], dtype=torch.uint8)},
        {"label_smoothing": 0.1},
        {"reduction": "mean", "linear_weight": torch.randn(5, 2, 4)},
    ],
)
def test_claim_linear_cross_entropy_falls_back_with_only_a_warning(kwargs):
    args = {
        "input": torch.randn(3, 4),
        "linear_weight": torch.randn(5, 4),
        "target": torch.tensor([1, 2, 3]),
    }
    args.update(kwargs)
    if args["linear_weight"].ndim == 3:
        args["target"] = torch.zeros(3, 2, dtype=torch.long)
    with pytest.warns(UserWarning, match="options`` ignored"):
        loss = F.linear_cross_entropy(**args, options=LinearCrossEntropyOptions())
    assert torch.isfinite(loss).all()


def test_claim_linear_cross_entropy_chunks_only_with_options():
    x, w, t = torch.randn(3, 4, requires_grad=True), torch.randn(5, 4), torch.tensor([1, 2, 3])
    reference = F.linear_cross_entropy(x, w, t)
    chunked = F.linear_cross_entropy(x, w, t, options=LinearCrossEntropyOptions())
    assert "chunked" not in type(reference.grad_fn).__name__
    assert "linear_cross_entropy_batch_chunked" in type(chunked.grad_fn).__name__


def test_claim_linear_cross_entropy_sums_bf16_input_in_bf16():
    x, w = torch.randn(64, 8).bfloat16(), torch.randn(100, 8).bfloat16()
    t = torch.randint(0, 100, (64,))
    loss = F.linear_cross_entropy(x, w, t, reduction="sum", options=LinearCrossEntropyOptions())
    assert loss.dtype == torch.bfloat16


def test_claim_trl_sft_trainer_adds_a_fused_lm_head_tiled_4096_tokens_by_32768_entries():
    assert "add_fused_lm_head(" in inspect.getsource(sft_trainer.SFTTrainer.__init__)
    assert chunked_logprob.TOKEN_CHUNK_SIZE == 4096
    assert trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE == 32768
    assert "fused_lm_head=True" in inspect.getsource(sft_trainer.SFTTrainer.compute_loss)


def test_claim_trl_fused_lm_head_recomputes_each_tile_in_backward():
    backward = inspect.getsource(chunked_logprob.ChunkedLogProbFunction.backward)
    assert "torch.mm(hidden_chunk, w_chunk.t(), out=tile)" in backward


def test_claim_trl_fused_lm_head_returns_log_probabilities_and_the_loss_not_logits():
    fields = [f.name for f in dataclasses.fields(trl_utils.FusedCausalLMOutput)]
    assert {"loss", "log_probs"} <= set(fields) and "logits" not in fields


def test_claim_trl_scores_only_labelled_positions_on_gpu_only():
    assert not chunked_logprob._use_triton(torch.device("cpu"))
    # "with Triton on CUDA or XPU", as the page says
    assert 'device.type in ("cuda", "xpu")' in inspect.getsource(chunked_logprob._use_triton)
    assert "_TRITON_AVAILABLE and" in inspect.getsource(chunked_logprob._use_triton)
    source = inspect.getsource(trl_utils.add_fused_lm_head)
    assert "compact = _use_triton(hidden_states.device)" in source
    assert "hidden_states[mask] if compact" in source


def test_claim_generate_passes_logits_to_keep_1_when_the_model_accepts_it():
    from transformers.generation import utils as generation_utils

    source = inspect.getsource(generation_utils)
    assert 'model_kwargs["logits_to_keep"] = 1' in source
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=32,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
        )
    )
    assert model._supports_logits_to_keep()


# --- what to do ----------------------------------------------------------------------------------


def test_claim_a_boolean_logits_to_keep_with_shift_labels_gives_the_same_loss_and_gradients():
    model = _tiny_llama()
    ids = torch.randint(0, 32, (2, 9))
    labels = ids.clone()
    labels[0, :5] = labels[1, :3] = -100
    shifted = lmloss.shift_labels(labels)
    counted = shifted != -100
    full = model(ids, labels=labels)
    full_grads = torch.autograd.grad(full.loss, model.lm_head.weight)
    only = model(ids, labels=labels, shift_labels=shifted[counted], logits_to_keep=counted)
    only_grads = torch.autograd.grad(only.loss, model.lm_head.weight)
    assert only.logits.shape == (int(counted.sum()), 32)
    torch.testing.assert_close(only.loss, full.loss)
    torch.testing.assert_close(only_grads, full_grads)
    source = inspect.getsource(LlamaForCausalLM.forward)
    assert (
        "self.loss_function(logits=logits, labels=labels, vocab_size=self.config.vocab_size, **kwargs)"
        in source
    )
    assert_page_says(
        "memory.md",
        "logits-to-keep",
        en="`logits_to_keep` also takes a boolean mask of shape `(B, T)`",
        zh="`logits_to_keep` 也接受形状为 `(B, T)` 的布尔掩码",
    )


def test_claim_use_liger_kernel_makes_the_Trainer_apply_liger_kernel_to_the_model():
    from transformers.integrations import liger

    assert TrainingArguments.__dataclass_fields__["use_liger_kernel"].default is False
    source = inspect.getsource(Trainer.train)  # when training starts
    assert "apply_liger_kernel(self.model, self.args.liger_kernel_config)" in source
    with pytest.raises(ImportError, match="liger-kernel"):  # not installed here
        liger.apply_liger_kernel(_tiny_llama(), None)
    assert_page_says(
        "memory.md",
        "fused-kernels",
        en="`TrainingArguments(use_liger_kernel=True)` makes the Trainer patch the model with Liger-Kernel",
        zh="`TrainingArguments(use_liger_kernel=True)` 让 Trainer 用 Liger-Kernel 改写模型",
    )


def test_claim_trl_sft_trainer_builds_the_full_logits_only_for_a_custom_loss_or_label_smoothing():
    source = inspect.getsource(sft_trainer.SFTTrainer.compute_loss)
    # Two training branches build the full logits; the third call is under no_grad, for
    # return_outputs (evaluation's metrics).
    assert source.count("model(**logits_inputs)") == 3
    assert "with torch.no_grad():\n                outputs = model(**logits_inputs)" in source
    assert "if self.compute_loss_func is not None:" in source
    assert 'elif self.label_smoother is not None and self.args.loss_type == "nll":' in source
    init = inspect.getsource(sft_trainer.SFTTrainer.__init__)
    assert '"fused_linear_cross_entropy": False' in init  # Liger's own head is turned off
    assert_page_says(
        "memory.md",
        "fused-kernels",
        en="TRL 1.16's `SFTTrainer` computes the loss through its fused head by default",
        zh="TRL 1.16 的 `SFTTrainer` 默认就用融合的 `lm_head` 计算损失",
    )
    assert_page_says(
        "memory.md",
        "fused-kernels",
        en='or label smoothing (with `loss_type="nll"`), and in one extra forward without gradients when evaluation asks for the outputs',
        zh='使用标签平滑（`loss_type="nll"` 时）才构造完整的 logits；评估需要模型输出时（`compute_metrics`），它还会额外做一次不求梯度的前向',
    )


def test_claim_gradient_checkpointing_leaves_the_lm_head_and_the_loss_outside():
    model = _tiny_llama(vocab_size=4000)
    model.activation_checkpointing_enable()  # formerly gradient_checkpointing_enable
    model.train()
    assert all(isinstance(layer, GradientCheckpointingLayer) for layer in model.model.layers)
    assert not isinstance(model.lm_head, GradientCheckpointingLayer)
    ids = torch.randint(0, 4000, (1, 256))
    weights = list(model.parameters())

    def step():
        model(ids, labels=ids).loss.backward()

    peak = _peak_bytes(step, ids, *weights, *(p.grad for p in weights if p.grad is not None))
    assert peak >= 12 * 256 * 4000  # the float32 log-softmax and its two gradients
    assert_page_says(
        "memory.md",
        "fused-kernels",
        en="Activation checkpointing does not lower this peak",
        zh="激活检查点（activation checkpointing）降不下这个峰值",
    )


def test_claim_linear_causal_lm_loss_keeps_no_weight_gradient_for_a_frozen_head():
    hidden = torch.randn(1, 64, 8, requires_grad=True)
    weight = torch.randn(50, 8)  # requires_grad=False, as a frozen lm_head
    labels = torch.randint(0, 50, (1, 64))
    lmloss.linear_causal_lm_loss(hidden, weight, labels).backward()
    assert weight.grad is None
    expected = hidden.detach().requires_grad_()
    ForCausalLMLoss(expected @ weight.T, labels, 50).backward()
    torch.testing.assert_close(hidden.grad, expected.grad)


# --- lmloss's own function, and its recorded CPU figures -------------------------------------


class _MatmulFlops(TorchDispatchMode):
    """Multiply-adds of every matrix product, counted at the dispatcher (F.linear reaches it
    as ``mm`` or ``addmm``)."""

    PRODUCTS = {
        torch.ops.aten.mm.default: (0, 1),
        torch.ops.aten.mm.out: (0, 1),
        torch.ops.aten.addmm.default: (1, 2),
        torch.ops.aten.addmm_.default: (1, 2),
        torch.ops.aten.addmm.out: (1, 2),
    }

    def __init__(self):
        super().__init__()
        self.multiply_adds = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in self.PRODUCTS:
            left, right = (args[i] for i in self.PRODUCTS[func])
            self.multiply_adds += left.shape[0] * left.shape[1] * right.shape[1]
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize(
    "dtype, accum_dtype",
    [
        (torch.bfloat16, None),
        (torch.float16, None),
        (torch.bfloat16, torch.float32),
        (torch.float32, None),
    ],
)
def test_claim_linear_causal_lm_loss_does_the_standard_paths_three_lm_head_products(
    dtype, accum_dtype
):
    """Forward and backward together: three products of the lm_head's size (N x H x V
    multiply-adds each), as the standard path, whatever the dtype and accum_dtype."""
    tokens, width, vocab = 600, 8, 50
    hidden = torch.randn(1, tokens, width, dtype=dtype, requires_grad=True)
    weight = torch.randn(vocab, width, dtype=dtype, requires_grad=True)
    labels = torch.randint(0, vocab, (1, tokens))
    with _MatmulFlops() as ours:
        lmloss.linear_causal_lm_loss(hidden, weight, labels, accum_dtype=accum_dtype).backward()
    with _MatmulFlops() as standard:
        ForCausalLMLoss(F.linear(hidden, weight), labels, vocab).backward()
    assert ours.multiply_adds == standard.multiply_adds == 3 * tokens * width * vocab
    assert_page_says(
        "memory.md",
        "chunking",
        en="No matmul is computed twice: three `lm_head`-sized matmuls, as in the standard path.",
        zh="没有哪次矩阵乘法要算两遍：和标准路径一样做三次 `lm_head` 大小的矩阵乘法。",
    )


@pytest.mark.parametrize(
    "tokens, width, chunks",
    [
        (8192, 2048, 8),  # the recorded CPU case: chunks of H/2 = 1024 tokens
        (2100, 1024, 5),  # four of 512 tokens, the last of 52
        (8192, 64, 16),  # H/2 would make 256 chunks: 16 of 512 tokens instead
        (300, 4096, 1),  # fewer tokens than H/2: one chunk
    ],
)
def test_claim_half_precision_chunks_have_at_least_h_over_2_tokens_and_are_at_most_16(
    tokens, width, chunks, monkeypatch
):
    """Counted without running the products: the chunk function is replaced by a counter."""
    from lmloss import linear_loss

    calls = []
    monkeypatch.setattr(
        linear_loss, "_half_chunk", lambda chunk, *rest: calls.append(len(chunk)) or chunk.sum()
    )
    hidden = torch.zeros(1, tokens, width, dtype=torch.bfloat16)
    weight = torch.zeros(3, width, dtype=torch.bfloat16)
    with torch.no_grad():
        lmloss.linear_causal_lm_loss(hidden, weight, torch.zeros(1, tokens, dtype=torch.long))
    assert len(calls) == chunks
    assert min(calls[:-1] or calls) >= min(tokens, width // 2)
    assert_page_says(
        "memory.md",
        "chunking",
        en="at least H/2 tokens each (the last may have fewer), and never more than 16 chunks.",
        zh="每块至少 H/2 个词元（最后一块可以少一些），而且最多分 16 块。",
    )


CPU_RECORD = SNIPPETS / "recorded" / "cpu_loss_memory.txt"
_CPU_METHODS = {
    "standard": "standard",
    "lmloss": "lmloss",
    "lmloss-f32": "lmloss accum_dtype=float32",
}


def cpu_bf16_excerpt(recorded: str) -> str:
    """What the page shows of the recorded CPU benchmark: its header (up to the first blank
    line), and the bf16 case's memory and weight gradient error for the standard path and
    lmloss's two options, and their times as multiples of the standard path's (the header
    says why only those ratios are shown)."""
    header = recorded.split("\n\n")[0]
    case = re.search(
        r"^CPU bfloat16, (N=\d+, H=\d+, V=\d+): .*gradients (\d+) MiB;", recorded, re.M
    )
    lines = [header, "", f"bf16, {case[1]}; the gradients: {case[2]} MiB", ""]
    lines.append(f"{'':26}{'peak RSS':>10}{'live':>10}{'grad error':>12}{'time':>7}")
    for method, label in _CPU_METHODS.items():
        row = re.search(
            rf"^\s*{re.escape(method)}: .*\((\d+\.\d+x)\), extra peak RSS\s+(\d+) MiB .*"
            r"live tensors\s+(\d+) MiB, weight grad error (\S+),",
            recorded[case.end() :],
            re.M,
        )
        lines.append(f"{label:26}{row[2] + ' MiB':>10}{row[3] + ' MiB':>10}{row[4]:>12}{row[1]:>7}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_pages_cpu_figures_are_the_recorded_files(lang):
    """The block on the page is the recorded file's header and bf16 figures: replacing the
    file (another run) fails this until the page shows the new figures."""
    page = PAGES[lang].read_text(encoding="utf-8")
    block = re.search(r'```text title="[^"]*CPU[^"]*"\n(.*?)```', page, re.S)
    assert block, f"{lang}: no recorded CPU block"
    assert block[1] == cpu_bf16_excerpt(CPU_RECORD.read_text(encoding="utf-8"))


def test_claim_nll_loss_rounds_its_bf16_sum_on_the_cpu_only():
    """The bf16 summation drift is a CPU figure: CUDA's nll_loss_forward_reduce_cuda_kernel_2d
    accumulates in float32 (read in PyTorch's source; no GPU runs these tests)."""
    same = torch.full((65536, 1), -12.4375, dtype=torch.bfloat16)
    assert F.nll_loss(same, torch.zeros(65536, dtype=torch.long)).item() == 12.0625
    assert same.mean().item() == -12.4375  # a float32-accumulated mean is exact
    assert_page_says(
        "memory.md",
        "upcast",
        en="On the CPU the mean is also rounded as it is summed",
        zh="在 CPU 上，平均值在求和过程中也被舍入",
    )
    assert_page_says(
        "memory.md",
        "upcast",
        en="On random logits, on the CPU, the bf16 loss is 12.375",
        zh="在 CPU 上用随机 logits",
    )


def test_claim_the_checkpoint_column_is_12_bytes_per_logit_of_a_chunk_above_the_floor():
    """checkpoint(N) = 12 B × 4096 × V + the gradients (V × H + N × H bf16), as recorded."""
    recorded = (SNIPPETS / "recorded" / "gpu_loss_memory.txt").read_text(encoding="utf-8")
    vocab, hidden_size, chunk, gib = 128256, 4096, 4096, 2**30
    for tokens in (8192, 32768, 65536):
        row = re.search(rf"^\s+{tokens:,}\s+[\d.]+\s+[\d.]+\s+([\d.]+)", recorded, re.M)
        floor = 2 * (vocab + tokens) * hidden_size
        for per_logit, fits in ((12, True), (10, False)):
            estimate = (per_logit * chunk * vocab + floor) / gib
            assert (abs(estimate - float(row[1])) < 0.1) is fits, (tokens, per_logit, estimate)
    assert_page_says(
        "memory.md",
        "fused-kernels",
        en="still reaches the 12-byte backward peak measured above",
        zh="仍要达到上文测得的反向传播峰值，每个 logit 12 字节",
    )


def test_claim_under_an_fp16_loss_scale_lmloss_rounds_before_the_scale_is_known():
    """GradScaler multiplies the loss by 65536 before backward; the standard path scales the
    logits' gradient in float32 before rounding it to fp16, lmloss rounded it in forward."""
    torch.manual_seed(0)
    hidden64 = torch.randn(2048, 64, dtype=torch.float64)
    weight64 = torch.randn(4000, 64, dtype=torch.float64) / 64**0.5
    labels = torch.randint(0, 4000, (1, 2048))

    def weight_grad_error(run):
        hidden = hidden64.half().requires_grad_()
        weight = weight64.half().requires_grad_()
        (run(hidden, weight) * 65536).backward()
        reference = weight64.clone().requires_grad_()
        ForCausalLMLoss((hidden64 @ reference.T)[None], labels, vocab_size=4000).backward()
        exact = reference.grad * 65536
        return float((weight.grad.double() - exact).norm() / exact.norm())

    standard = weight_grad_error(
        lambda h, w: ForCausalLMLoss(F.linear(h, w)[None], labels, vocab_size=4000)
    )
    ours = weight_grad_error(lambda h, w: lmloss.linear_causal_lm_loss(h[None], w, labels))
    assert ours > 3 * standard, (ours, standard)
    assert_page_says(
        "memory.md",
        "fused-kernels",
        en="When the hidden states and the `lm_head` weight are fp16 tensors themselves (a frozen "
        "fp16 base model with LoRA, say) and the loss is scaled (the `GradScaler` of `fp16=True`), "
        "this does not hold: the logits' gradient is rounded to fp16 in forward, before the scale "
        "is known",
        zh="如果隐藏状态和 `lm_head` 的权重本身就是 fp16 张量（例如在 fp16 的冻结基座模型上做 LoRA），"
        "又对损失做了缩放（`fp16=True` 的 `GradScaler`），这一点就不成立：logits 的梯度在前向里就舍入成了 "
        "fp16，那时还不知道缩放系数",
    )


def test_claim_the_chunks_follow_autocast_and_no_grad_as_the_pages_say():
    """tests/test_linear_loss.py runs both (the standard path's loss under autocast; no buffer
    under no_grad); here the sentences that say so."""
    assert_page_says(
        "memory.md",
        "chunking",
        en="for float32 input under autocast, the logits in autocast's dtype, as the standard "
        "path's `lm_head` computes them, while the two gradient products stay float32: more "
        "accurate than the standard path's",
        zh="float32 的输入开启 autocast 时，logits 和标准路径的 `lm_head` 一样按 autocast 的类型计算，"
        "求梯度的乘法则仍是 float32 的：比标准路径更精确",
    )
    assert_page_says(
        "memory.md",
        "chunking",
        en="and none under `torch.no_grad()` (as in evaluation)",
        zh="在 `torch.no_grad()` 下（例如评估时）一个也不算",
    )


def test_claim_under_autocast_float32_inputs_get_float32_gradient_products():
    """Round-1 review of the rebuilt page, M3: only the logits follow autocast; the gradients
    are float32 products, more accurate than the standard path's bf16 ones."""
    torch.manual_seed(0)
    hidden, weight = torch.randn(512, 64), torch.randn(1000, 64) / 8
    labels = torch.randint(0, 1000, (1, 512))
    exact = weight.double().requires_grad_()
    ForCausalLMLoss(F.linear(hidden.double(), exact)[None], labels, 1000).backward()

    def error(loss_of):
        w = weight.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss_of(w).backward()
        assert w.grad.dtype == torch.float32
        return float((w.grad.double() - exact.grad).norm() / exact.grad.norm())

    ours = error(lambda w: lmloss.linear_causal_lm_loss(hidden[None], w, labels))
    standard = error(lambda w: ForCausalLMLoss(F.linear(hidden, w)[None], labels, 1000))
    assert ours < standard / 2, (ours, standard)


def test_claim_an_all_ignored_step_gives_nan_with_num_items_0_as_the_trainer_passes_it():
    """Round-1 review W2: with num_items_in_batch=0 ForCausalLMLoss divides 0 by 0."""
    logits = torch.randn(1, 4, 8)
    labels = torch.full((1, 4), -100)
    hidden, weight = torch.randn(1, 4, 3), torch.randn(8, 3)
    for count, nan in ((None, True), (0, True), (torch.tensor(0), True), (5, False)):
        standard = ForCausalLMLoss(logits, labels, 8, num_items_in_batch=count)
        assert bool(standard.isnan()) is nan
        assert lmloss.linear_causal_lm_loss(hidden, weight, labels, num_items_in_batch=count) == 0
    assert_page_says(
        "memory.md",
        "proof",
        en="returns 0.0 where `ForCausalLMLoss` returns nan: without `num_items_in_batch`, and "
        "with `num_items_in_batch=0`, which the Trainer passes when no position of the whole "
        "step counts; with a positive `num_items_in_batch` both give 0.0.",
        zh="传 `num_items_in_batch=0` 时也如此（整个训练步里没有一个位置计入损失时，Trainer 传的就是 0）；"
        "传正数时两者都是 0.0。",
    )


def test_claim_the_bf16_peak_above_the_gradients_grows_with_n_only_past_the_chunk_cap():
    """Round-1 review W1: chunks of max(H/2, N/16, MIN_CHUNK_ROWS) tokens; with H = 64 the
    chunk is 256 tokens up to N = 16 x 256 = 4096, then N/16."""
    width, vocab = 64, 1000

    def above_gradients(tokens):
        hidden = torch.randn(1, tokens, width, dtype=torch.bfloat16, requires_grad=True)
        weight = torch.randn(vocab, width, dtype=torch.bfloat16, requires_grad=True)
        labels = torch.randint(0, vocab, (1, tokens))

        def run():
            lmloss.linear_causal_lm_loss(hidden, weight, labels).backward()

        return _peak_bytes(run, hidden, weight, labels) - 2 * (tokens + vocab) * width

    below, at, past, far = (above_gradients(n) for n in (1024, 4096, 8192, 16384))
    per_token = 3 * 2 * vocab  # a token's bf16 logits and its float32 copy (one block here)
    # one chunk of 256 tokens either way; what grows is per-token bookkeeping (labels, targets)
    assert abs(at - below) < 0.05 * 256 * per_token, (below, at)
    assert past - at == pytest.approx((512 - 256) * per_token, rel=0.1)  # chunks of N/16
    assert far - past == pytest.approx((1024 - 512) * per_token, rel=0.1)
    assert_page_says(
        "memory.md",
        "chunking",
        en="until N/16 exceeds the other two, the chunk does not grow with N; beyond, one chunk is "
        "a sixteenth of the bf16 logits, and grows with N × V",
        zh="在 N/16 超过前两者之前，这块 logits 不随 N 增长；之后一块就是 bf16 logits 的十六分之一，随 N × V 增长",
    )


@pytest.mark.parametrize("dtype", [torch.int32, torch.int16, torch.int8])
def test_claim_linear_cross_entropy_falls_back_then_raises_for_targets_not_int64_or_uint8(dtype):
    """Round-1 review M5: with options, a narrow signed target warns (the fallback) and then
    the reference path raises; uint8 runs."""
    x, w = torch.randn(6, 4), torch.randn(10, 4)
    targets = torch.tensor([1, 2, 3, 4, 5, 6])
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="Long or Byte"):
        F.linear_cross_entropy(x, w, targets.to(dtype), options=LinearCrossEntropyOptions())
    with pytest.warns(UserWarning):
        F.linear_cross_entropy(x, w, targets.to(torch.uint8), options=LinearCrossEntropyOptions())
    probabilities = torch.softmax(torch.randn(6, 10), dim=1)  # round-2 review W2: these run
    with pytest.warns(UserWarning):
        F.linear_cross_entropy(x, w, probabilities, options=LinearCrossEntropyOptions())
    assert_page_says(
        "memory.md",
        "summary",
        en="it falls back with a warning for the other conditions listed above, and then raises "
        "for integer targets other than int64 and uint8",
        zh="传了选项而不满足上文其他条件时退回并发出警告，整数目标不是 int64 或 uint8 时随后报错",
    )
