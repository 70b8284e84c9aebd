"""What one `mkdocs serve --dirty` keeps from one rebuild to the next.

An ordinary module, imported by ``site_preview.py``: MkDocs loads the hooks afresh for each
rebuild, but a module they import stays loaded while the server runs.
"""

from __future__ import annotations

# Set once, when the server starts (the on_startup event).
dirty = False
# Cross-reference targets (autorefs) as the build of each language last saw them, when it
# resolved its pages' references: language → identifier → URLs, primary and secondary, as
# mkdocs-autorefs maps them.
primary_urls: dict[str, dict[str, list[str]]] = {}
secondary_urls: dict[str, dict[str, list[str]]] = {}
