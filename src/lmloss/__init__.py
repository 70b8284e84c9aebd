"""Helpers and diagrams for the causal-LM loss: the label shift, ``ignore_index`` and ``F.pad``."""

from lmloss import (
    chat,  # chat templates: lmloss.chat.assistant_mask, .template_behaviours
    sft,  # SFT labels: lmloss.sft.labels_from_mask, .collate, .pack
)
from lmloss.explain import explain_pad
from lmloss.linear_loss import linear_causal_lm_loss
from lmloss.loss import causal_lm_loss, count_loss_tokens, shift_labels
from lmloss.padding import pad_shape

__all__ = [
    "causal_lm_loss",
    "chat",
    "count_loss_tokens",
    "explain_pad",
    "linear_causal_lm_loss",
    "pad_shape",
    "sft",
    "shift_labels",
]
