"""SVG diagrams for the documentation, drawn from real PyTorch results."""

from lmloss.diagrams.pad import pad_svg

__all__ = ["pad_svg"]
