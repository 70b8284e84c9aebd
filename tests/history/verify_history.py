"""How transformers' causal-LM loss changed, read from the released wheels.

Downloads the transformers wheels named in ``RELEASES`` from the package index (once, into a
cache outside the repository), reads ``ForCausalLMLoss`` in ``transformers/loss/loss_utils.py``
and the code of ``transformers/trainer.py`` that counts ``num_items_in_batch``, and prints one
row per release. The loss page shows this table exactly as recorded in ``TABLE``.

    python tests/history/verify_history.py            # print the table
    python tests/history/verify_history.py --check    # fail if it differs from TABLE
    python tests/history/verify_history.py --update   # rewrite TABLE

Not part of the offline test suite (it needs the package index): ``make verify-history``.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "snippets" / "history" / "transformers_loss.txt"
SEED = Path(__file__).with_name("seed_ForCausalLMLoss.txt")
CACHE = Path(os.environ.get("LMLOSS_HISTORY_CACHE", Path.home() / ".cache" / "lmloss-history"))

# The release before and the first release of each change, and the pinned one.
RELEASES = (
    "4.46.1",
    "4.46.2",
    "4.48.3",
    "4.49.0",
    "4.50.0",
    "5.9.0",
    "5.10.1",
    "5.24.0",
)

HEADER = (
    "release  slices  pads    shift_   = old     num_items_in_batch",
    "         logits  labels  labels=  excerpt   counts -100 over",
)


def wheel(release: str) -> Path:
    """The wheel of ``transformers==release``, downloaded into the cache if it is not there."""
    path = CACHE / f"transformers-{release}-py3-none-any.whl"
    if not path.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                f"transformers=={release}",
                "-d",
                str(CACHE),
            ],
            check=True,
        )
    if not path.is_file():
        raise FileNotFoundError(f"pip download did not produce {path}")
    return path


def _function(source: str, name: str) -> tuple[ast.FunctionDef, str]:
    """The first top-level or nested function ``name``: its node and its source with comments."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node, ast.get_source_segment(source, node) or ""
    raise LookupError(f"no function {name!r}")


def loss_columns(loss_utils: str) -> list[str]:
    """Slices the logits / pads the labels / has shift_labels= / is the old excerpt (``SEED``)."""
    node, source = _function(loss_utils, "ForCausalLMLoss")
    code = ast.unparse(node)  # without comments, so that a comment cannot match
    params = [a.arg for a in node.args.args + node.args.kwonlyargs]
    seed = SEED.read_text(encoding="utf-8").strip()
    return [
        _yes("logits[..., :-1, :]" in code),
        _yes("nn.functional.pad(labels" in code),
        _yes("shift_labels" in params),
        _yes(source.strip() == seed),
    ]


def counted_over(trainer: str) -> str:
    """Which labels the Trainer counts for ``num_items_in_batch``, from its code."""
    for function in ast.walk(ast.parse(trainer)):
        if not isinstance(function, ast.FunctionDef):
            continue
        counts = [
            node
            for node in ast.walk(function)
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "num_items_in_batch" for t in node.targets)
            and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", None) == "sum"
        ]
        if counts:
            code = ast.unparse(function)  # without comments
            if "[..., 1:]" not in code:
                return "labels"
            if "shift_labels" in code:
                return "shift_labels or labels[..., 1:]"
            return "labels[..., 1:]"
    return "(not counted)"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def row(release: str) -> str:
    with zipfile.ZipFile(wheel(release)) as archive:
        loss_utils = archive.read("transformers/loss/loss_utils.py").decode()
        trainer = archive.read("transformers/trainer.py").decode()
    cells = [release, *loss_columns(loss_utils)]
    widths = (9, 8, 8, 9, 10)
    line = "".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
    return line + counted_over(trainer)


def table() -> str:
    return "\n".join([*HEADER, *(row(release) for release in RELEASES)]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--check", action="store_true", help=f"fail if it differs from {TABLE}")
    action.add_argument("--update", action="store_true", help=f"rewrite {TABLE}")
    args = parser.parse_args(argv)
    fresh = table()
    print(fresh, end="")
    if args.update:
        TABLE.parent.mkdir(parents=True, exist_ok=True)
        TABLE.write_text(fresh, encoding="utf-8")
        return 0
    if args.check:
        recorded = TABLE.read_text(encoding="utf-8") if TABLE.is_file() else ""
        if recorded != fresh:
            sys.stderr.writelines(
                difflib.unified_diff(
                    recorded.splitlines(keepends=True),
                    fresh.splitlines(keepends=True),
                    str(TABLE.relative_to(ROOT)),
                    "read from the wheels now",
                )
            )
            print(
                f"{TABLE.relative_to(ROOT)} differs from the wheels; review and run with --update",
                file=sys.stderr,
            )
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
