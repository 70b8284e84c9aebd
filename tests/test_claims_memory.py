"""The memory chapter's claims (docs/*/memory.md), checked against torch 2.13, transformers 5.24
and TRL 1.16. Each test is named after the claim it checks."""

from __future__ import annotations

import dataclasses
import inspect
import re

import pytest
import torch
import torch.nn.functional as F
from torch.nn import LinearCrossEntropyOptions
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.loss.loss_utils import ForCausalLMLoss
from trl.kernels import chunked_logprob
from trl.trainer import sft_trainer
from trl.trainer import utils as trl_utils

from snippet_sections import OUTPUTS, SNIPPETS, read_sections


def test_claim_the_arithmetic_uses_the_bytes_per_logit_measured_on_the_page():
    namespace: dict[str, object] = {}
    arithmetic = next(s for s in read_sections(SNIPPETS / "memory.py") if s.name == "arithmetic")
    exec(arithmetic.code, namespace)
    measured = (OUTPUTS / "memory" / "measure.txt").read_text()
    rows = re.findall(r"^(\w+)\s+(\d+|-)\s+(\d+)$", measured, re.MULTILINE)
    assumed = namespace["STAGES"]
    assert [s for s, _, _ in rows] == [s for s, _, _ in assumed]
    for (stage, peak, alive), (_, assumed_peak, assumed_alive) in zip(rows, assumed):
        assert int(alive) == assumed_alive, stage
        # A peak shown as "-" (the lm_head's product, which depends on the CPU's bf16 matmul)
        # is assumed to be the buffers the stage leaves alive.
        assert (assumed_alive if peak == "-" else int(peak)) == assumed_peak, stage


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
