"""How transformers' causal-LM loss changed, read from the released wheels.

Downloads the transformers wheels named in ``RELEASES`` from the package index (once, into a
cache outside the repository), reads ``ForCausalLMLoss`` in ``transformers/loss/loss_utils.py``
and the code of ``transformers/trainer.py`` that counts ``num_items_in_batch``, and prints one
row per release. The loss page shows this table exactly as recorded in ``TABLE``; the Chinese
page shows ``TABLES["zh"]``, the same rows with Chinese column labels and cells.

    python tests/history/verify_history.py            # print the table
    python tests/history/verify_history.py --check    # fail if a recorded table differs
    python tests/history/verify_history.py --update   # rewrite both tables

Not part of the offline test suite (it needs the package index): ``make verify-history``.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import os
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "snippets" / "history" / "transformers_loss.txt"
# The page of each language shows its own table; the hook picks <name>.zh.txt on Chinese pages.
TABLES = {"en": TABLE, "zh": TABLE.with_suffix(".zh.txt")}
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

WIDTHS = (9, 8, 8, 9, 10)  # display columns of every cell but the last
HEADERS = {
    "en": (
        ("release", "slices", "pads", "shift_", "= old", "num_items_in_batch"),
        ("", "logits", "labels", "labels=", "excerpt", "counts labels ≠ -100 in"),
    ),
    "zh": (
        ("版本", "切片", "填充", "shift_", "= 旧", "num_items_in_batch"),
        ("", "logits", "标签", "labels=", "摘录", "数的是哪些标签"),
    ),
}
# The Chinese of each cell text that is not code or a version.
CHINESE_CELLS = {"yes": "是", "no": "否", " or ": " 或 ", "(not counted)": "（不统计）"}


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


def cells(release: str) -> list[str]:
    """The cells of ``release``'s row, in English."""
    with zipfile.ZipFile(wheel(release)) as archive:
        loss_utils = archive.read("transformers/loss/loss_utils.py").decode()
        trainer = archive.read("transformers/trainer.py").decode()
    return [release, *loss_columns(loss_utils), counted_over(trainer)]


def recorded_cells(table_text: str) -> list[list[str]]:
    """The rows of a recorded English table, as ``cells`` returned them."""
    return [line.split(None, len(WIDTHS)) for line in table_text.splitlines()[len(HEADERS["en"]) :]]


def _columns(text: str) -> int:
    """Display columns: a CJK character takes two, as in a code block."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _line(row: list[str] | tuple[str, ...]) -> str:
    padded = [cell + " " * (width - _columns(cell)) for cell, width in zip(row, WIDTHS)]
    return ("".join(padded) + row[-1]).rstrip()


def _localised(cell: str, lang: str) -> str:
    if lang == "zh":
        for english, chinese in CHINESE_CELLS.items():
            cell = chinese if cell == english.strip() else cell.replace(english, chinese)
    return cell


def render(rows: list[list[str]], lang: str) -> str:
    """The table of ``rows`` (English cells) as the ``lang`` page shows it."""
    lines = [_line(header) for header in HEADERS[lang]]
    lines += [_line([_localised(cell, lang) for cell in row]) for row in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--check", action="store_true", help="fail if a recorded table differs")
    action.add_argument("--update", action="store_true", help="rewrite both recorded tables")
    args = parser.parse_args(argv)
    rows = [cells(release) for release in RELEASES]
    print(render(rows, "en"), end="")
    differs = False
    for lang, path in TABLES.items():
        fresh = render(rows, lang)
        if args.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(fresh, encoding="utf-8")
            continue
        recorded = path.read_text(encoding="utf-8") if path.is_file() else ""
        if args.check and recorded != fresh:
            differs = True
            sys.stderr.writelines(
                difflib.unified_diff(
                    recorded.splitlines(keepends=True),
                    fresh.splitlines(keepends=True),
                    str(path.relative_to(ROOT)),
                    "read from the wheels now",
                )
            )
            print(
                f"{path.relative_to(ROOT)} differs from the wheels; review and run with --update",
                file=sys.stderr,
            )
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
