"""Helpers and diagrams for the causal-LM loss: the label shift, ``ignore_index`` and ``F.pad``."""

from lmloss.padding import pad_shape

__all__ = ["pad_shape"]
