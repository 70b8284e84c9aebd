"""The loss chapter's claims about torch and transformers, checked against the pinned versions.

Each test is named after the sentence of docs/*/loss.md it checks.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import re
import tempfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformers.loss import loss_utils
from transformers.loss.loss_utils import ForCausalLMLoss

from page_claims import assert_page_says

IGNORE = -100
ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "docs" / lang / "loss.md" for lang in ("en", "zh")]


def _batch(batch=2, length=6, vocab=11):
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(batch, length, vocab, generator=generator)
    labels = torch.randint(0, vocab, (batch, length), generator=generator)
    labels[-1, :2] = IGNORE
    return logits, labels


def test_claim_ForCausalLMLoss_returns_float32_for_bf16_logits_float64_for_a_float64_count():
    """loss.md #upcast: not "always float32": dividing by a float64 count promotes."""
    assert_page_says(
        "loss.md",
        "upcast",
        en="`ForCausalLMLoss` therefore returns float32, even for bf16 logits. (It returns float64 "
        "only when `num_items_in_batch` is a float64 tensor: the division promotes.)",
        zh="因此即使输入 bf16 的 logits，`ForCausalLMLoss` 也返回 float32（只有 `num_items_in_batch` "
        "是 float64 张量时，除法把结果提升为 float64）",
    )
    logits, labels = _batch()
    bf16 = logits.bfloat16()
    assert ForCausalLMLoss(bf16, labels, vocab_size=11).dtype == torch.float32
    for count, dtype in (
        (4, torch.float32),
        (torch.tensor(4), torch.float32),
        (torch.tensor(4.0, dtype=torch.float64), torch.float64),
    ):
        loss = ForCausalLMLoss(bf16, labels, vocab_size=11, num_items_in_batch=count)
        assert loss.dtype == dtype


def test_claim_cross_entropy_on_bf16_logits_returns_bf16():
    logits, labels = _batch()
    assert F.cross_entropy(logits.bfloat16().view(-1, 11), labels.view(-1)).dtype == torch.bfloat16


def test_claim_bf16_near_10_ignores_an_added_0_03_and_its_next_number_is_10_0625():
    ten = torch.tensor(10.0, dtype=torch.bfloat16)
    assert ten + 0.03 == ten
    assert torch.nextafter(ten, torch.tensor(11.0, dtype=torch.bfloat16)).item() == 10.0625


def test_claim_sliced_labels_are_contiguous_for_batch_1_and_not_for_batch_2():
    for batch, contiguous in ((1, True), (2, False)):
        labels = torch.zeros(batch, 6, dtype=torch.long)
        assert F.pad(labels, (0, 1), value=IGNORE)[..., 1:].is_contiguous() is contiguous


def test_claim_contiguous_copies_the_sliced_labels_of_batch_2_and_returns_those_of_batch_1():
    one, two = (
        F.pad(torch.zeros(b, 6, dtype=torch.long), (0, 1), value=IGNORE)[..., 1:] for b in (1, 2)
    )
    assert one.contiguous() is one
    assert two.contiguous().data_ptr() != two.data_ptr()


def test_claim_view_minus_1_fails_on_non_contiguous_labels():
    sliced = F.pad(torch.zeros(2, 6, dtype=torch.long), (0, 1), value=IGNORE)[..., 1:]
    with pytest.raises(
        RuntimeError, match="view size is not compatible with input tensor's size and stride"
    ):
        sliced.view(-1)


def test_claim_flattening_the_logits_is_a_view_not_a_copy():
    logits, _ = _batch()
    assert logits.float().view(-1, 11).data_ptr() == logits.data_ptr()


def test_claim_fixed_cross_entropy_sums_and_divides_by_num_items_in_batch():
    logits, labels = _batch()
    shifted = F.pad(labels, (0, 1), value=IGNORE)[..., 1:].reshape(-1)
    total = F.cross_entropy(logits.view(-1, 11), shifted, reduction="sum")
    actual = ForCausalLMLoss(logits, labels, vocab_size=11, num_items_in_batch=7)
    torch.testing.assert_close(actual, total / 7)
    assert 'reduction = "sum" if num_items_in_batch is not None else "mean"' in inspect.getsource(
        loss_utils.fixed_cross_entropy
    )


def test_claim_summing_micro_batch_losses_over_num_items_gives_the_full_batch_loss():
    logits, labels = _batch()
    full = ForCausalLMLoss(logits, labels, vocab_size=11)
    n = (labels[..., 1:] != IGNORE).sum()
    summed = sum(
        ForCausalLMLoss(logits[i : i + 1], labels[i : i + 1], vocab_size=11, num_items_in_batch=n)
        for i in range(2)
    )
    torch.testing.assert_close(summed, full)
    means = [ForCausalLMLoss(logits[i : i + 1], labels[i : i + 1], vocab_size=11) for i in range(2)]
    assert abs((means[0] + means[1]) / 2 - full) > 1e-3  # the pre-fix average differs


def test_claim_minus_100_is_the_default_ignore_index_of_cross_entropy():
    assert inspect.signature(F.cross_entropy).parameters["ignore_index"].default == -100
    assert torch.nn.CrossEntropyLoss().ignore_index == -100


def test_claim_the_4_48_logit_slice_gives_the_same_loss_and_copies_the_logits():
    logits, labels = _batch()
    sliced = logits[..., :-1, :].contiguous()
    old = F.cross_entropy(sliced.view(-1, 11), labels[..., 1:].reshape(-1))
    torch.testing.assert_close(old, ForCausalLMLoss(logits, labels, vocab_size=11))
    assert sliced.data_ptr() != logits.data_ptr() and sliced.nbytes == 2 * 5 * 11 * 4


def test_claim_all_labels_ignored_gives_nan_and_so_does_a_label_only_at_position_0():
    logits, _ = _batch(batch=1)
    nothing = torch.full((1, 6), IGNORE)
    assert ForCausalLMLoss(logits, nothing, vocab_size=11).isnan()
    nothing[0, 0] = 3
    assert ForCausalLMLoss(logits, nothing, vocab_size=11).isnan()
    assert ForCausalLMLoss(logits, nothing, vocab_size=11, num_items_in_batch=4).item() == 0.0


def test_claim_int32_labels_raise_expected_long_or_byte():
    logits, labels = _batch()
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Int"):
        ForCausalLMLoss(logits, labels.int(), vocab_size=11)


def test_claim_cross_entropy_takes_long_or_byte_labels_and_uint8_cannot_hold_minus_100():
    assert_page_says(
        "loss.md",
        "int32-labels",
        en="`F.cross_entropy` takes int64 (Long) or uint8 (Byte) labels",
        zh="`F.cross_entropy` 接受 int64（Long）或 uint8（Byte）标签",
    )
    logits, labels = _batch()
    flat = labels.clamp(min=0).view(-1)
    by_byte = F.cross_entropy(logits.view(-1, 11), flat.to(torch.uint8))
    torch.testing.assert_close(by_byte, F.cross_entropy(logits.view(-1, 11), flat))
    assert torch.tensor([IGNORE]).to(torch.uint8).item() != IGNORE  # -100 wraps around


def test_claim_the_labels_have_V_times_fewer_elements_than_the_logits():
    assert_page_says(
        "loss.md",
        "contiguous",
        en="The labels have `V` times fewer elements than the logits",
        zh="标签的元素个数只有 logits 的 1/V",
    )
    logits, labels = _batch()
    assert labels.numel() * logits.shape[-1] == logits.numel()


def test_claim_apart_from_the_upcast_the_5_24_path_only_views_the_logits():
    """For bf16 logits .float() is a copy; flattening that copy is a view of it."""
    assert_page_says(
        "loss.md",
        "history",
        en="the new path, apart from the upcast, only views them",
        zh="新做法除了升为 float32 之外只是创建视图",
    )
    logits, _ = _batch()
    bf16 = logits.bfloat16()
    upcast = bf16.float()
    assert upcast.data_ptr() != bf16.data_ptr()
    assert upcast.view(-1, 11).data_ptr() == upcast.data_ptr()
    assert logits.float().view(-1, 11).data_ptr() == logits.data_ptr()  # float32: no copy at all


def test_claim_torch_has_few_ops_for_uint16_32_64_and_causal_lm_loss_rejects_them():
    """loss.md #int32-labels: which dtypes lmloss.causal_lm_loss takes, and the facts behind
    leaving the others out. Round-2 review W1: the page gave torch's missing ``<`` as the
    cause of the error, though lmloss compares in int64 since round 1."""
    assert_page_says(
        "loss.md",
        "int32-labels",
        en="It leaves out uint16, uint32 and uint64, dtypes for which torch 2.13 implements few "
        "operations (not even `<`; and uint64's largest values do not fit int64): for those it "
        "raises a `TypeError` that lists the dtypes it accepts and says to convert with `.long()`",
        zh="它不接受 uint16、uint32 和 uint64：torch 2.13 为这三种类型实现的运算很少（连 `<` 都没有），"
        "uint64 最大的那些值也超出 int64 的范围。遇到这三种类型，它抛出 `TypeError`，"
        "信息里列出它接受的类型，并提示用 `.long()` 转换",
    )
    for dtype in (torch.uint16, torch.uint32, torch.uint64):
        largest = torch.tensor([torch.iinfo(dtype).max], dtype=dtype)
        assert (int(largest.long()) == torch.iinfo(dtype).max) is (dtype != torch.uint64)
    from lmloss import causal_lm_loss

    logits, labels = _batch()
    expected = ForCausalLMLoss(logits, labels, vocab_size=11)
    for dtype in (torch.int32, torch.int16, torch.int8):
        assert causal_lm_loss(logits, labels.to(dtype)) == expected
    unmasked = labels.clamp(min=0)
    assert causal_lm_loss(logits, unmasked.to(torch.uint8)) == ForCausalLMLoss(
        logits, unmasked, vocab_size=11
    )
    for dtype in (torch.uint16, torch.uint32, torch.uint64):
        with pytest.raises(NotImplementedError, match='"lt_cpu" not implemented'):
            _ = unmasked.to(dtype) < 0
        with pytest.raises(
            TypeError,
            match=rf"integer dtype \(int64, int32, int16, int8 or uint8: .*got {dtype}; "
            r"convert it with \.long\(\)",
        ):
            causal_lm_loss(logits, unmasked.to(dtype))


def test_claim_padding_labels_with_pad_token_id_raises_nothing_a_negative_pad_other_than_minus_100_does():
    """loss.md #label-out-of-range: only an out-of-range pad value raises."""
    assert_page_says(
        "loss.md",
        "label-out-of-range",
        en="the labels were padded with a negative value other than -100 (such as -1). Labels "
        "padded with the `pad_token_id` raise nothing: the id is in range, and the model trains "
        "on the padding",
        zh="或者用 -100 以外的负数（比如 -1）填充了标签。用 `pad_token_id` 填充标签则不会报错："
        "这个 id 在词表范围内，模型会在填充上训练",
    )
    logits, labels = _batch()
    padded = labels.clone()
    padded[0, -2:] = -1
    with pytest.raises(IndexError, match="Target -1 is out of bounds"):
        ForCausalLMLoss(logits, padded, vocab_size=11)
    pad_token_id = 0
    padded[0, -2:] = pad_token_id
    trained_on_padding = ForCausalLMLoss(logits, padded, vocab_size=11)
    assert trained_on_padding.isfinite()
    masked = padded.clone()
    masked[0, -2:] = IGNORE
    assert trained_on_padding != ForCausalLMLoss(logits, masked, vocab_size=11)


def test_claim_a_label_equal_to_the_vocabulary_size_raises_IndexError_on_cpu():
    logits, labels = _batch()
    labels[0, 3] = 11
    with pytest.raises(IndexError, match="Target 11 is out of bounds."):
        ForCausalLMLoss(logits, labels, vocab_size=11)


def test_claim_a_non_contiguous_shift_labels_fails_in_ForCausalLMLoss():
    assert_page_says(
        "loss.md",
        "non-contiguous-shift-labels",
        en="gets the error of [the `.contiguous()` step](#contiguous) where the tensor reaches the "
        "loss as the collator left it: on the CPU, where the Trainer's `.to(device)` returns the "
        "tensor itself, or when the collator builds it on the GPU. Copied to another device, a "
        "slice with gaps like this one comes out contiguous, so on a GPU the Trainer's copy "
        "hides the mistake",
        zh="张量原样到达损失函数时，就会遇到 [`.contiguous()` 那一步](#contiguous)的报错。"
        "这有两种情形：一是在 CPU 上，"
        "Trainer 的 `.to(device)` 直接返回原张量；二是数据整理器直接在 GPU 上构造它。"
        "像这样中间有空隙的切片，复制到另一个设备后是连续的，所以在 GPU 上，Trainer 的复制把这个错误藏了起来",
    )
    logits, labels = _batch()
    sliced = F.pad(labels, (0, 1), value=IGNORE)[..., 1:]
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        ForCausalLMLoss(logits, None, vocab_size=11, shift_labels=sliced)
    ForCausalLMLoss(logits, None, vocab_size=11, shift_labels=sliced.contiguous())
    assert sliced.to("cpu") is sliced  # no copy: still not contiguous
    assert sliced.to("meta").is_contiguous()  # a slice with gaps, copied: contiguous
    dense = torch.zeros(6, 2).T  # no gaps, transposed: a copy keeps its strides
    assert not dense.is_contiguous() and not dense.to("meta").is_contiguous()
    from transformers import Trainer, TrainingArguments

    with tempfile.TemporaryDirectory() as folder:
        args = TrainingArguments(output_dir=folder, report_to=[], use_cpu=True)
        trainer = Trainer(model=_tiny_llama(), args=args)
        assert trainer._prepare_input(sliced) is sliced
    assert "data.to(**kwargs)" in inspect.getsource(Trainer._prepare_input)


def test_claim_all_ignored_is_a_micro_batch_matter_one_empty_row_among_others_is_harmless():
    assert_page_says(
        "loss.md",
        "all-ignored",
        en="A micro-batch whose labels (what one loss call receives) are all `-100`",
        zh="如果一个微批次（即一次损失调用收到的那批标签）全是 `-100`",
    )
    assert_page_says(
        "loss.md",
        "all-ignored",
        en="One such row among rows with targets is harmless: the mean is over the whole batch",
        zh="这样的一行和有目标的行在同一个批次里则无妨：平均是对整个批次取的",
    )
    logits, labels = _batch()
    labels[0] = IGNORE
    assert ForCausalLMLoss(logits, labels, vocab_size=11).isfinite()
    assert ForCausalLMLoss(logits[:1], labels[:1], vocab_size=11).isnan()


def test_claim_shifting_twice_drops_each_rows_label_at_position_1_and_breaks_a_perfect_model():
    _, labels = _batch(vocab=11)
    once = F.pad(labels, (0, 1), value=IGNORE)[..., 1:]
    twice = F.pad(once, (0, 1), value=IGNORE)[..., 1:]
    lost = ((once != IGNORE).sum(1) - (twice != IGNORE).sum(1)).tolist()
    assert lost == (labels[:, 1] != IGNORE).long().tolist() == [1, 0]
    perfect = F.one_hot(once.clamp(min=0), 11).float() * 20
    assert ForCausalLMLoss(perfect, labels, vocab_size=11) < 1e-6
    assert ForCausalLMLoss(perfect, once.contiguous(), vocab_size=11) > 10


def test_claim_LlamaForCausalLM_passes_its_vocab_size_to_its_loss_function():
    from transformers.models.llama.modeling_llama import LlamaForCausalLM

    source = inspect.getsource(LlamaForCausalLM.forward)
    assert "self.loss_function(" in source and "vocab_size=self.config.vocab_size" in source


def test_claim_ForCausalLMLoss_ignores_minus_100_by_default():
    default = inspect.signature(ForCausalLMLoss).parameters["ignore_index"].default
    assert default == -100


def test_claim_to_on_the_device_the_labels_are_on_returns_the_same_tensor():
    _, labels = _batch()
    assert labels.to(labels.device) is labels


def test_claim_float_on_bf16_logits_is_a_copy_twice_their_size():
    logits, _ = _batch()
    bf16 = logits.bfloat16()
    upcast = bf16.float()
    assert upcast.data_ptr() != bf16.data_ptr() and upcast.nbytes == 2 * bf16.nbytes


def test_claim_sum_path_gives_0_when_other_micro_batches_have_targets_else_nan():
    logits, _ = _batch(batch=1)
    nothing = torch.full((1, 6), IGNORE)
    others = ForCausalLMLoss(logits, nothing, vocab_size=11, num_items_in_batch=torch.tensor(8))
    assert others.item() == 0.0
    assert ForCausalLMLoss(
        logits, nothing, vocab_size=11, num_items_in_batch=torch.tensor(0)
    ).isnan()


def test_claim_a_nan_loss_with_nothing_counted_has_a_zero_gradient():
    logits, _ = _batch(batch=1)
    logits.requires_grad_(True)
    nothing = torch.full((1, 6), IGNORE)
    nothing[0, 0] = 3  # only position 0, dropped by the shift
    loss = ForCausalLMLoss(logits, nothing, vocab_size=11)
    loss.backward()
    assert loss.isnan() and logits.grad.abs().sum().item() == 0.0


class _ScriptedLoss(torch.nn.Module):
    """Returns the next loss of a script, whatever the batch: the Trainer sees only the loss."""

    def __init__(self, losses):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(()))
        self.losses = iter(losses)

    def forward(self, x):
        return {"loss": self.weight * 0 + next(self.losses)}


def _logged_loss(losses, nan_filter=True):
    """The loss the Trainer logs for 2 steps of 2 micro-batches each, logged once."""
    from transformers import Trainer, TrainingArguments

    with tempfile.TemporaryDirectory() as folder:
        args = TrainingArguments(
            output_dir=folder,
            report_to=[],
            use_cpu=True,
            per_device_train_batch_size=1,
            gradient_accumulation_steps=2,
            max_steps=2,
            logging_steps=2,
            save_strategy="no",
            disable_tqdm=True,
            logging_nan_inf_filter=nan_filter,
        )
        trainer = Trainer(
            model=_ScriptedLoss(losses), args=args, train_dataset=[{"x": torch.zeros(())}] * 4
        )
        trainer.train()
    [logged] = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return logged


def test_claim_the_Trainer_logs_a_nan_as_too_high_or_too_low_and_as_0_when_all_were_nan():
    """M1 (round 2): the substitute is the loss summed since the last log over the steps since."""
    from transformers import TrainingArguments

    with tempfile.TemporaryDirectory() as folder:
        assert TrainingArguments(output_dir=folder, report_to=[]).logging_nan_inf_filter is True
    nan = float("nan")
    assert _logged_loss([4.0] * 4) == 4.0
    assert _logged_loss([4.0, 4.0, 4.0, nan]) > 4.0  # late between two logs: too high
    assert _logged_loss([nan, 4.0, 4.0, 4.0]) < 4.0  # early: too low
    assert _logged_loss([nan] * 4) == 0.0
    assert math.isnan(_logged_loss([nan, 4.0, 4.0, 4.0], nan_filter=False))
    assert_page_says(
        "loss.md",
        "all-ignored",
        en="it adds in its place the loss summed since the last log divided by the number of "
        "optimizer steps since then, the current one included. That stands for neither this "
        "micro-batch nor a step, so the logged loss comes out too high or too low, depending on "
        "where between two logs the `nan` falls. It is 0.0 when every micro-batch since the last "
        "log gave `nan`, as in a run whose labels are all `-100`.",
        zh="它把上次记录以来累计的损失除以这期间的优化步数（当前这一步也算在内），用得到的值顶替这个 `nan`。"
        "这个值既不代表这个微批次，也不代表一步，所以记录下来的损失可能偏高，也可能偏低，"
        "取决于 `nan` 落在两次记录之间的什么位置。"
        "如果上次记录以来每个微批次都是 `nan`（比如标签全是 `-100` 的一次训练），记录的就是 0.0。",
    )


def test_claim_causal_lm_loss_without_a_target_is_zero_in_the_dtype_of_the_division():
    import lmloss

    logits, nothing = torch.zeros(1, 3, 5, requires_grad=True), torch.full((1, 3), IGNORE)
    count = torch.tensor(4.0, dtype=torch.float64)
    zero = lmloss.causal_lm_loss(logits, nothing, num_items_in_batch=count)
    assert zero.item() == 0.0 and zero.dtype == torch.float64
    assert "returns ``0.0`` (float32," not in lmloss.causal_lm_loss.__doc__


def _tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=32,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
    )
    return LlamaForCausalLM(config).eval()


def test_claim_LlamaForCausalLM_returns_no_loss_when_given_only_shift_labels():
    model = _tiny_llama()
    ids = torch.randint(0, 32, (2, 7))
    shifted = F.pad(ids, (0, 1), value=IGNORE)[..., 1:].contiguous()
    with torch.no_grad():
        assert model(input_ids=ids, shift_labels=shifted).loss is None
        assert model(input_ids=ids, labels=ids).loss is not None


def test_claim_with_any_labels_given_the_model_uses_shift_labels_instead():
    model = _tiny_llama()
    ids = torch.randint(0, 32, (2, 7))
    masked = ids.clone()
    masked[0, :3] = IGNORE
    shifted = F.pad(masked, (0, 1), value=IGNORE)[..., 1:].contiguous()
    with torch.no_grad():
        wanted = model(input_ids=ids, labels=masked).loss
        both = model(input_ids=ids, labels=ids, shift_labels=shifted).loss
        unmasked = model(input_ids=ids, labels=ids).loss
    torch.testing.assert_close(both, wanted)
    assert abs(both - unmasked) > 1e-4  # the labels given were not used


def test_claim_position_t_holds_the_label_of_the_token_at_position_t_plus_1_counting_from_0():
    """loss.md #next-token: positions count from 0, so "t + 1" is a position, not an ordinal."""
    assert_page_says(
        "loss.md",
        "next-token",
        en="its prediction of the token at position *t* + 1",
        zh="表示它对位置 *t* + 1 上那个词元（即下一个词元）的预测",
    )
    from lmloss import shift_labels

    ids = torch.tensor([[40, 1842, 4950, 15607, 13, 2]])
    shifted = shift_labels(ids)
    assert [int(shifted[0, t]) for t in range(5)] == [int(ids[0, t + 1]) for t in range(5)]


def test_claim_the_Trainer_counts_num_items_in_batch_over_labels_1_colon_of_all_micro_batches():
    from transformers import Trainer, TrainingArguments

    with tempfile.TemporaryDirectory() as folder:
        args = TrainingArguments(output_dir=folder, report_to=[], use_cpu=True)
        trainer = Trainer(model=_tiny_llama(), args=args)
        micro_batches = [
            {"labels": torch.ones(2, 6, dtype=torch.long)},
            {"labels": torch.tensor([[IGNORE, 1, 2, IGNORE]])},
        ]
        counted = trainer._get_num_items_in_batch(micro_batches, torch.device("cpu"))
    assert counted.item() == 2 * 5 + 2  # position 0 of each row is left out


class _ListedArguments(torch.nn.Module):
    """A model whose forward lists its arguments: no **kwargs, as many custom models and wrappers."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embed = torch.nn.Embedding(8, 8)
        self.seen: list[dict] = []

    def forward(self, input_ids, labels):
        logits = self.embed(input_ids)
        return {"loss": ForCausalLMLoss(logits, labels, vocab_size=8)}


class _TakesKwargs(_ListedArguments):
    """The same model with **kwargs in forward; it records them and does not use them."""

    def forward(self, input_ids, labels, **kwargs):
        self.seen.append(kwargs)
        return super().forward(input_ids, labels)


def _trainer(model, folder, steps=2):
    from transformers import Trainer, TrainingArguments

    args = TrainingArguments(
        output_dir=folder, report_to=[], use_cpu=True, gradient_accumulation_steps=steps
    )
    trainer = Trainer(model=model, args=args)
    trainer.current_gradient_accumulation_steps = steps  # as the training loop sets it
    return trainer


_MICRO = {"input_ids": torch.tensor([[1, 2, 3, 4]]), "labels": torch.tensor([[1, 2, 3, 4]])}


def test_claim_the_Trainer_passes_num_items_in_batch_only_if_forward_takes_kwargs_else_divides():
    """loss.md #accumulation: the condition, and what the Trainer does otherwise."""
    assert_page_says(
        "loss.md",
        "accumulation",
        en="only if `model_accepts_loss_kwargs` is true",
        zh="条件是 `model_accepts_loss_kwargs` 为真",
    )
    assert_page_says(
        "loss.md",
        "accumulation",
        en="divides each micro-batch's loss by the number of accumulation steps",
        zh="把每个微批次的损失除以累积步数",
    )
    with tempfile.TemporaryDirectory() as folder:
        listed = _trainer(_ListedArguments(), folder)
        assert listed.model_accepts_loss_kwargs is False
        assert listed._get_num_items_in_batch([_MICRO, _MICRO], torch.device("cpu")) is None
        mean = listed.model(**_MICRO)["loss"].detach()
        torch.testing.assert_close(listed.training_step(listed.model, dict(_MICRO), None), mean / 2)

        kwargs = _trainer(_TakesKwargs(), folder)
        assert kwargs.model_accepts_loss_kwargs is True
        count = kwargs._get_num_items_in_batch([_MICRO, _MICRO], torch.device("cpu"))
        step = kwargs.training_step(kwargs.model, dict(_MICRO), count)
        assert kwargs.model.seen[-1] == {"num_items_in_batch": count}
        # This forward ignores the count, and the Trainer no longer divides: a whole mean per micro-batch.
        torch.testing.assert_close(step, kwargs.model(**_MICRO)["loss"].detach())


class _LogitsOnly(_ListedArguments):
    """A model that leaves the loss to the caller; its forward lists its arguments."""

    def forward(self, input_ids):
        return {"logits": self.embed(input_ids)}


def test_claim_with_a_compute_loss_func_the_Trainer_counts_and_hands_the_count_to_it():
    """loss.md #accumulation item 2: the count goes to compute_loss_func."""
    from transformers import Trainer, TrainingArguments

    assert_page_says(
        "loss.md",
        "accumulation",
        en="only if `model_accepts_loss_kwargs` is true: the model has an",
        zh="条件是 `model_accepts_loss_kwargs` 为真。",
    )
    assert_page_says(
        "loss.md",
        "accumulation",
        en="A `compute_loss_func` also gets the count.",
        zh="传了 `compute_loss_func` 时，该函数也会收到这个目标数。",
    )
    handed = []

    def loss_func(outputs, labels, num_items_in_batch=None):
        handed.append(num_items_in_batch)
        return ForCausalLMLoss(outputs["logits"], labels, vocab_size=8)

    with tempfile.TemporaryDirectory() as folder:
        args = TrainingArguments(output_dir=folder, report_to=[], use_cpu=True)
        trainer = Trainer(model=_LogitsOnly(), args=args, compute_loss_func=loss_func)
        assert trainer.model_accepts_loss_kwargs is False
        count = trainer._get_num_items_in_batch([_MICRO, _MICRO], torch.device("cpu"))
        assert int(count) == 2 * 4  # no ForCausalLMLoss loss_type: every label counted
        trainer.compute_loss(trainer.model, dict(_MICRO), num_items_in_batch=count)
    assert handed == [count]


def test_claim_a_forward_that_takes_kwargs_but_ignores_the_count_gets_its_mean_undivided():
    """The table's second row; the behaviour is checked by the test of the condition above."""
    assert_page_says(
        "loss.md",
        "accumulation",
        en="| `forward` takes `**kwargs` but does not hand the count to its loss | passed to "
        "`forward`, unused | its own mean | no | the sum of the means: too large by a factor "
        "equal to the number of accumulation steps |",
        zh="| `forward` 接收 `**kwargs`，却没有把目标数交给损失 | 传给 `forward`，但没有用上 | "
        "各自的平均值 | 否 | 平均值之和：是应有值的（累积步数）倍 |",
    )


def test_claim_with_a_compute_loss_func_forward_gets_the_count_too_and_nothing_is_divided():
    """M5: a compute_loss_func does not take the count away from a forward that accepts it."""
    from transformers import Trainer, TrainingArguments

    assert_page_says(
        "loss.md",
        "accumulation",
        en="| a `compute_loss_func` is given | passed to the function, and to `forward` too if the "
        "model takes loss keyword arguments | what the function returns | no |",
        zh="| 传了 `compute_loss_func` | 传给该函数；模型接收损失相关的关键字参数时，也传给 `forward` | "
        "该函数的返回值 | 否 |",
    )
    handed = []

    def loss_func(outputs, labels, num_items_in_batch=None):
        handed.append(num_items_in_batch)
        return ForCausalLMLoss(outputs["logits"], labels, 8, num_items_in_batch)

    class LogitsTakesKwargs(_ListedArguments):
        def forward(self, input_ids, **kwargs):
            self.seen.append(kwargs)
            return {"logits": self.embed(input_ids)}

    with tempfile.TemporaryDirectory() as folder:
        args = TrainingArguments(
            output_dir=folder, report_to=[], use_cpu=True, gradient_accumulation_steps=2
        )
        model = LogitsTakesKwargs()
        trainer = Trainer(model=model, args=args, compute_loss_func=loss_func)
        trainer.current_gradient_accumulation_steps = 2
        assert trainer.model_accepts_loss_kwargs is True
        count = trainer._get_num_items_in_batch([_MICRO, _MICRO], torch.device("cpu"))
        step = trainer.training_step(trainer.model, dict(_MICRO), count)
    assert handed == [count] and model.seen[-1] == {"num_items_in_batch": count}
    logits = model.embed(_MICRO["input_ids"])
    expected = ForCausalLMLoss(logits, _MICRO["labels"], 8, count).detach()
    torch.testing.assert_close(step, expected)  # the function's loss, not halved


def test_claim_with_several_processes_rows_1_2_and_4_are_multiplied_by_their_number(monkeypatch):
    """M2 (round 2): the table holds for one process; with N, the count's rows are scaled by N."""
    from transformers import Trainer, TrainingArguments

    assert_page_says(
        "loss.md",
        "accumulation",
        en="The table below gives the four cases for one process.",
        zh="下表列出只有一个进程时的四种情况。",
    )
    assert_page_says(
        "loss.md",
        "accumulation",
        en="With several processes, whenever the Trainer passes the count (the first, second and "
        "fourth rows), it also multiplies each process's loss by the number of processes divided "
        "by the tensor-parallel size",
        zh="有多个进程时，只要 Trainer 传了目标数（表中第一、二、四行），它还会把各进程的损失乘以"
        "（进程数 ÷ 张量并行规模）",
    )

    def mean_func(outputs, labels, num_items_in_batch=None):
        return ForCausalLMLoss(outputs["logits"], labels, vocab_size=8)  # ignores the count

    with tempfile.TemporaryDirectory() as folder:
        args = TrainingArguments(output_dir=folder, report_to=[], use_cpu=True)
        assert args.average_tokens_across_devices is True
        rows = {
            1: Trainer(model=_tiny_llama(), args=args),
            2: Trainer(model=_TakesKwargs(), args=args),
            3: Trainer(model=_ListedArguments(), args=args),
            4: Trainer(model=_LogitsOnly(), args=args, compute_loss_func=mean_func),
        }
        batch = {"input_ids": torch.tensor([[1, 2, 3, 4]]), "labels": torch.tensor([[1, 2, 3, 4]])}
        count = {
            row: t._get_num_items_in_batch([batch], torch.device("cpu")) for row, t in rows.items()
        }
        assert count[3] is None  # not counted, so nothing to scale

        def losses():
            with torch.no_grad():
                return {
                    row: t.compute_loss(t.model, dict(batch), num_items_in_batch=count[row])
                    for row, t in rows.items()
                }

        alone = losses()
        for trainer in rows.values():  # as if one of 2 data-parallel processes
            monkeypatch.setattr(type(trainer.accelerator), "num_processes", property(lambda _: 2))
        together = losses()
    for row in (1, 2, 4):
        torch.testing.assert_close(together[row], 2 * alone[row])
    torch.testing.assert_close(together[3], alone[3])


@pytest.mark.parametrize("declared", [True, False])
def test_claim_an_accepts_loss_kwargs_attribute_decides_before_the_signature(declared):
    model = _TakesKwargs() if not declared else _ListedArguments()
    model.accepts_loss_kwargs = declared
    with tempfile.TemporaryDirectory() as folder:
        assert _trainer(model, folder).model_accepts_loss_kwargs is declared
    assert_page_says(
        "loss.md",
        "accumulation",
        en="has an `accepts_loss_kwargs` attribute",
        zh="`accepts_loss_kwargs` 属性",
    )


def test_claim_LlamaForCausalLM_forward_takes_kwargs_so_the_Trainer_passes_the_count():
    with tempfile.TemporaryDirectory() as folder:
        assert _trainer(_tiny_llama(), folder).model_accepts_loss_kwargs is True


def test_claim_the_Trainer_counts_shift_labels_if_given_else_picks_the_rule_from_loss_type():
    """loss.md #accumulation item 3: the Trainer counts only a batch with labels; then
    shift_labels whatever the loss, else loss_type decides."""
    assert_page_says(
        "loss.md",
        "accumulation",
        en="In transformers 5.24 the Trainer counts only when the batch has `labels`; it then "
        "counts `shift_labels` whenever the batch has them too, whatever the loss. Otherwise it "
        "counts `labels[..., 1:]` when the model's `loss_type` maps to `ForCausalLMLoss` and the "
        "model is not an encoder–decoder, and all labels for other models",
        zh="在 transformers 5.24 里，Trainer 只在批次里有 `labels` 时才计数；这时批次里若还有 "
        "`shift_labels`，不论用的是什么损失，它都数 `shift_labels`。否则，模型的 `loss_type` 对应 "
        "`ForCausalLMLoss` 且模型不是编码器—解码器时数 `labels[..., 1:]`，其他模型数全部标签",
    )
    with tempfile.TemporaryDirectory() as folder:
        other = _trainer(_TakesKwargs(), folder)  # no loss_type: not ForCausalLMLoss
        shifted = {**_MICRO, "shift_labels": torch.tensor([[2, 3, 4, IGNORE]])}
        assert int(other._get_num_items_in_batch([shifted], torch.device("cpu"))) == 3
        no_labels = {"input_ids": _MICRO["input_ids"], "shift_labels": shifted["shift_labels"]}
        assert other._get_num_items_in_batch([no_labels], torch.device("cpu")) is None
        llama = _tiny_llama()
        assert llama.loss_type == "ForCausalLM"
        llama.loss_function = lambda *args, **kwargs: None  # the loss called: not ForCausalLMLoss
        assert _trainer(llama, folder)._loss_shifts_labels  # the rule follows loss_type
        llama.config.is_encoder_decoder = True
        assert not _trainer(llama, folder)._loss_shifts_labels


def test_claim_for_a_loss_other_than_ForCausalLMLoss_the_Trainer_counts_every_label():
    with tempfile.TemporaryDirectory() as folder:
        other = _trainer(_TakesKwargs(), folder)  # no loss_type: not ForCausalLMLoss
        llama = _trainer(_tiny_llama(), folder)
        micro = [_MICRO, _MICRO]
        assert int(other._get_num_items_in_batch(micro, torch.device("cpu"))) == 2 * 4
        assert int(llama._get_num_items_in_batch(micro, torch.device("cpu"))) == 2 * 3


def _verify_history():
    spec = importlib.util.spec_from_file_location(
        "verify_history", ROOT / "tests/history/verify_history.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_claim_the_history_tables_last_row_is_the_pinned_transformers():
    """Offline: the recorded table's pinned row is what the installed code says."""
    import transformers
    from transformers import trainer

    history = _verify_history()
    installed = [
        *history.loss_columns(inspect.getsource(loss_utils)),
        history.counted_over(inspect.getsource(trainer)),
    ]
    rows = history.TABLE.read_text(encoding="utf-8").splitlines()
    pinned = [r for r in rows if r.split()[0] == transformers.__version__]
    assert pinned and pinned[0].split(None, 5)[1:] == installed
    assert history.RELEASES[-1] == transformers.__version__
    for page in PAGES:
        assert '--8<-- "history/transformers_loss.txt"' in page.read_text(encoding="utf-8")


def test_claim_only_4_49_0_is_the_seeds_code_and_the_seed_has_its_two_lines():
    """M8: labels.to and the comment alone also match 4.48.3; F.pad with them is 4.49.0's."""
    assert_page_says(
        "loss.md",
        "for-causal-lm-loss",
        en="with `labels = labels.to(logits.device)` right after the upcast, `nn.functional.pad` "
        "shifting the labels and the comment `# Enable model parallelism`, you met an older "
        "release of it",
        zh="在升为 float32 之后紧跟着 `labels = labels.to(logits.device)`，用 `nn.functional.pad` "
        "移位标签，并带有 `# Enable model parallelism` 注释，那你见到的是它的旧版本",
    )
    history = _verify_history()
    rows = {
        r.split()[0]: r.split() for r in history.TABLE.read_text(encoding="utf-8").splitlines()[2:]
    }
    assert [release for release, cells in rows.items() if cells[4] == "yes"] == ["4.49.0"]
    seed = history.SEED.read_text(encoding="utf-8")
    assert "# Enable model parallelism" in seed
    lines = [line.strip() for line in seed.splitlines()]
    upcast = lines.index("logits = logits.float()")
    assert lines[upcast + 1] == "labels = labels.to(logits.device)"  # right after the upcast
    assert "labels = nn.functional.pad(labels, (0, 1), value=ignore_index)" in lines
    # the table: 4.48.3 and before slice the logits, 4.49.0 alone pads without shift_labels=
    pads_only = [r for r, cells in rows.items() if cells[1:4] == ["no", "yes", "no"]]
    assert pads_only == ["4.49.0"]


def test_claim_the_lines_quoted_in_text_blocks_are_in_the_pinned_ForCausalLMLoss():
    source = {line.strip() for line in inspect.getsource(ForCausalLMLoss).splitlines()}
    for page in PAGES:
        blocks = re.findall(r"^```text\n(.*?)^```", page.read_text(encoding="utf-8"), re.M | re.S)
        quoted = [
            line.strip()
            for block in blocks
            for line in block.splitlines()
            if line.strip() and "--8<--" not in line
        ]
        assert len(quoted) == 4, quoted
        assert all(line in source for line in quoted), quoted


def test_exercise_answers_are_what_the_libraries_compute():
    """The recorded answers of the page's exercises, recomputed here another way."""
    answers = (ROOT / "snippets/output/loss/exercises.txt").read_text(encoding="utf-8")
    from lmloss import count_loss_tokens, shift_labels

    labels = torch.tensor([[-100, -100, 7, 8, 9, -100]])
    shifted = shift_labels(labels)
    assert f"1. {shifted.tolist()}" in answers
    assert f"counted: {count_loss_tokens(labels)} | label 7 at t = 1" in answers
    assert shifted[0, 1] == 7
    # 2: the step's loss is the sum over its targets divided by their count.
    per_token = [2.0] * 6 + [6.0] * 2
    step = sum(per_token) / len(per_token)
    assert f"   sum {sum(per_token):.1f} / {len(per_token)} targets = {step:.1f}" in answers
    assert f"mean of means: {(2.0 + 6.0) / 2:.1f}" in answers
    bf16 = torch.empty(1, 1, 151_936, dtype=torch.bfloat16)
    size = 4 * 2048 * bf16.nbytes
    assert f"   bf16: {size / 1e9:.2f} GB, float32 copy: {2 * size / 1e9:.2f} GB" in answers
    # 4: before 5.10.1 every label counted; today's Trainer leaves position 0 out.
    from transformers import Trainer, TrainingArguments

    rows = torch.ones(2, 6, dtype=torch.long)
    with tempfile.TemporaryDirectory() as folder:
        trainer = Trainer(
            model=_tiny_llama(),
            args=TrainingArguments(output_dir=folder, report_to=[], use_cpu=True),
        )
        today = int(trainer._get_num_items_in_batch([{"labels": rows}], torch.device("cpu")))
    assert f"4. 4.46.2 to 5.9.0: {rows.numel()} | 5.10.1 on: {today}" in answers
    for page in PAGES:
        questions = page.read_text(encoding="utf-8").split("{ #exercises }")[1].split("???")[0]
        assert re.findall(r"^(\d)\. ", questions, re.M) == ["1", "2", "3", "4"]


def test_claim_the_count_is_summed_over_processes_under_average_tokens_across_devices_default():
    """loss.md #accumulation item 2; sft.md #several-processes runs it on several processes."""
    assert_page_says(
        "loss.md",
        "accumulation",
        en="With several processes and `average_tokens_across_devices=True`, the default, the "
        "count is summed over all of them",
        zh="多个进程时，如果 `average_tokens_across_devices=True`（默认值），目标数是所有进程之和",
    )
    from transformers import Trainer, TrainingArguments

    with tempfile.TemporaryDirectory() as folder:
        assert TrainingArguments(output_dir=folder, report_to=[]).average_tokens_across_devices
    source = inspect.getsource(Trainer._get_num_items_in_batch)
    assert "if self.args.average_tokens_across_devices:" in source
    assert "self.accelerator.gather(num_items_in_batch.to(device)).sum()" in source


def test_claim_the_old_logit_slice_copies_for_several_rows_and_nothing_for_one_row():
    """W2: with B = 1, logits[..., :-1, :] is already contiguous; .contiguous() copies nothing."""
    assert_page_says(
        "loss.md",
        "history",
        en="but for a batch of several rows the old slice is a copy of almost all of the logits",
        zh="但批次有多行时，旧的切片几乎复制了整份 logits",
    )
    assert_page_says(
        "loss.md",
        "history",
        en="With one row the slice is already contiguous, as the labels are in "
        "[Step 3](#contiguous), and the old path copies nothing either.",
        zh="只有一行时，切片本来就是连续的（和[第 3 步](#contiguous)里的标签一样），旧做法也不复制任何数据。",
    )
    for batch, copies in ((1, False), (2, True)):
        logits = torch.randn(batch, 6, 11)
        old = logits[..., :-1, :].contiguous()
        assert (old.data_ptr() != logits.data_ptr()) is copies


def test_claim_causal_lm_loss_takes_narrow_labels_whatever_the_vocabulary_size():
    """W1: uint8 ids of a byte-level vocabulary (V = 256), compared in int64."""
    from lmloss import causal_lm_loss

    assert_page_says(
        "loss.md",
        "int32-labels",
        en="`lmloss.causal_lm_loss` accepts int64, int32, int16, int8 and uint8 labels, whatever "
        "the vocabulary size (it compares them with `-100` and `V` in int64)",
        zh="`lmloss.causal_lm_loss` 接受 int64、int32、int16、int8 和 uint8 的标签，词表多大都可以"
        "（它用 int64 把标签和 `-100`、`V` 比较）",
    )
    assert torch.tensor([200], dtype=torch.uint8) >= 300  # why: 300 wraps to 44 in uint8
    logits = torch.randn(1, 4, 256)
    labels = torch.tensor([[1, 200, 156, 255]])
    expected = ForCausalLMLoss(logits, labels, vocab_size=256)
    torch.testing.assert_close(causal_lm_loss(logits, labels.to(torch.uint8)), expected)
    logits = torch.randn(1, 4, 300)
    labels = torch.tensor([[1, 50, 127, 3]])
    expected = ForCausalLMLoss(logits, labels, vocab_size=300)
    torch.testing.assert_close(causal_lm_loss(logits, labels.to(torch.int8)), expected)


def test_claim_ForCausalLMLoss_fails_on_uint8_labels_even_with_none_ignored():
    """M6: the pad with -100 fails first; only shift_labels= may be uint8."""
    assert_page_says(
        "loss.md",
        "int32-labels",
        en="But `ForCausalLMLoss` pads the labels with `-100`, which uint8 cannot hold, so it fails "
        "on uint8 labels even when none is ignored; only `shift_labels=` can be uint8.",
        zh="但 `ForCausalLMLoss` 要用 `-100` 填充标签，而 uint8 存不下 `-100`，所以即使没有被忽略的位置，"
        "uint8 标签也会出错；只有 `shift_labels=` 可以是 uint8。",
    )
    logits, labels = _batch()
    unmasked = labels.clamp(min=0)
    with pytest.raises(RuntimeError, match="cannot be converted to type uint8_t"):
        ForCausalLMLoss(logits, unmasked.to(torch.uint8), vocab_size=11)
    shifted = F.pad(unmasked, (0, 1), value=0)[..., 1:].contiguous()
    torch.testing.assert_close(
        ForCausalLMLoss(logits, None, vocab_size=11, shift_labels=shifted.to(torch.uint8)),
        ForCausalLMLoss(logits, None, vocab_size=11, shift_labels=shifted),
    )


def test_claim_the_count_divides_the_backpropagated_loss_so_the_gradients_scale_with_it():
    """M7: the count of 5.10.1 changes the gradient, not only the logged loss."""
    assert_page_says(
        "loss.md",
        "accumulation",
        en="When you upgrade from 5.9.0 or earlier to 5.10.1 or later, the loss of the same run "
        "changes slightly",
        zh="从 5.9.0 或更早的版本升级到 5.10.1 及以后，只要位置 0 上是词元（比如预训练数据的行），"
        "同一次训练的损失就会略有不同",
    )
    assert_page_says(
        "loss.md",
        "accumulation",
        en="This is the loss that is backpropagated, not only the logged one: the gradients scale "
        "with it.",
        zh="变的是反向传播的那个损失，不只是记录下来的数值：梯度也随之按比例变化。",
    )
    logits, labels = _batch()
    labels = labels.clamp(min=0)  # pretraining rows: a token at position 0
    grads = []
    for count in (labels.numel(), labels[..., 1:].numel()):  # 4.46.2-5.9.0, then 5.10.1
        leaf = logits.clone().requires_grad_()
        ForCausalLMLoss(leaf, labels, vocab_size=11, num_items_in_batch=count).backward()
        grads.append(leaf.grad)
    torch.testing.assert_close(grads[0] * labels.numel(), grads[1] * labels[..., 1:].numel())


def test_claim_the_history_tables_last_column_names_the_labels_counted_not_the_minus_100s():
    """M3 (round 2): the en header read "counts -100 over", the opposite of what is counted."""
    history = _verify_history()
    assert history.HEADERS["en"][1][5] == "counts labels ≠ -100 in"
    en_table = history.TABLES["en"].read_text(encoding="utf-8")
    assert en_table == history.render(history.recorded_cells(en_table), "en")
    assert en_table.splitlines()[-1].endswith("shift_labels or labels[..., 1:]")  # 5.24.0
    with tempfile.TemporaryDirectory() as folder:
        trainer = _trainer(_tiny_llama(), folder)
        labels = torch.tensor([[IGNORE, 1, IGNORE, 2, 3]])
        counted = trainer._get_num_items_in_batch([{"labels": labels}], torch.device("cpu"))
    assert int(counted) == int((labels[..., 1:] != IGNORE).sum()) == 3


def test_claim_both_history_tables_name_the_excerpt_column_and_no_page_claims_most_posts():
    """zh/en mismatch: the column is 'equal to the old excerpt' in both languages; the zh page
    no longer says that most articles quote it, which nothing here can check."""
    history = _verify_history()
    assert history.HEADERS["en"][0][4] + history.HEADERS["en"][1][4] == "= oldexcerpt"
    assert history.HEADERS["zh"][0][4] + history.HEADERS["zh"][1][4] == "= 旧摘录"
    zh_table = history.TABLES["zh"].read_text(encoding="utf-8")
    assert zh_table == history.render(
        history.recorded_cells(history.TABLES["en"].read_text(encoding="utf-8")), "zh"
    )
    assert_page_says(
        "loss.md",
        "history",
        en='"= old excerpt" says whether `ForCausalLMLoss` is, character for character, the older '
        "version described [above](#for-causal-lm-loss)",
        zh="“= 旧摘录”一列表示该版本的 `ForCausalLMLoss` 是否与[上文](#for-causal-lm-loss)所说的旧版本",
    )
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert "多数文章" not in text and "常被引用" not in text and "most posts" not in text
