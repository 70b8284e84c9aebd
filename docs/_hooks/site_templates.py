"""Keeps the theme's compiled templates between builds, in the build cache's folder.

Jinja compiles every Material template in each language build, about a second per build.
Its ``FileSystemBytecodeCache`` stores the compiled code beside a checksum of the template's
source and Jinja's own bytecode version, and compiles again when either differs, so an
edited template or another Jinja is never served from the cache.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jinja2
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files

sys.path.insert(0, str(Path(__file__).parent))
from build_cache import CACHE  # noqa: E402


def on_env(env: jinja2.Environment, config: MkDocsConfig, files: Files) -> jinja2.Environment:
    folder = CACHE / "templates"
    folder.mkdir(parents=True, exist_ok=True)
    env.bytecode_cache = jinja2.FileSystemBytecodeCache(str(folder))
    return env
