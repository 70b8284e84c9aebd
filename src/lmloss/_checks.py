"""Argument checks shared by the modules of lmloss; pure Python, so importing it is cheap."""

from __future__ import annotations

LANGS = ("en", "zh")
"""The languages of the site, for text and diagrams."""


def check_lang(lang: object) -> None:
    """Raise ``ValueError`` unless ``lang`` is one of ``LANGS``."""
    if lang not in LANGS:
        allowed = ", ".join(repr(code) for code in LANGS)
        raise ValueError(f"lang must be one of {allowed}; got {lang!r}")


def check_int(name: str, value: object) -> None:
    """Raise ``TypeError`` unless ``value`` is an int (``bool`` is not accepted)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
