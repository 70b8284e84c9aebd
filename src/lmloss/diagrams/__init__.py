"""SVG diagrams for the documentation, drawn from real PyTorch results."""

from lmloss.diagrams.memory import memory_stages_svg
from lmloss.diagrams.pad import pad_svg
from lmloss.diagrams.pairs import pad_pairs_svg
from lmloss.diagrams.sft import sft_batch_svg, sft_svg
from lmloss.diagrams.shift import shift_svg

__all__ = ["memory_stages_svg", "pad_pairs_svg", "pad_svg", "sft_batch_svg", "sft_svg", "shift_svg"]
