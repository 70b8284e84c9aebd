"""Plants content errors in a copy of the site and prints which of them the tests catch.

Usage: .venv/bin/python tests/benchmarks/mutations.py [KIND ...]

Each mutation replaces one piece of page text (found by searching for it, so that a page
rewritten since is skipped and reported, not mis-planted) in a temporary copy of the tree,
runs only the test modules that read that kind of content, and counts it caught when a test
fails that did not fail on the unmutated copy. The kinds are issue 16's: a changed number, an
inverted claim, a version, one language changed alone, a diagram's alt text, a nav title.
Exits 1 if a planted error is missed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The modules that read each kind of content (the claim modules are picked by page).
MODULES = {
    "number": ["tests/test_prose.py", "tests/test_sections_agree.py"],
    "claim": [],
    "version": ["tests/test_prose.py", "tests/test_sections_agree.py"],
    "one language": ["tests/test_sections_agree.py", "tests/test_parity.py"],
    "diagram": ["tests/test_diagram_text.py"],
    "nav": ["tests/test_nav.py"],
}
CLAIMS = {
    "loss.md": "tests/test_claims_loss.py",
    "pad-edge-cases.md": "tests/test_claims_pad.py",
    "parallel.md": "tests/test_claims_parallel.py",
    "sft.md": "tests/test_claims_sft.py",
}

# (kind, file, text on the page, the error planted in its place)
MUTATIONS = [
    ("number", "docs/zh/loss.md", "计入损失的有 5 个位置", "计入损失的有 6 个位置"),
    ("number", "docs/en/loss.md", "Five positions count", "Six positions count"),
    ("number", "docs/zh/loss.md", "计入损失的有 5 个位置", "计入损失的有六个位置"),
    ("number", "docs/en/loss.md", "gives 9 instead of 8", "gives 10 instead of 8"),
    ("number", "docs/en/parallel.md", "rank 0 has 7 targets", "rank 0 has 6 targets"),
    ("number", "docs/zh/loss.md", "第 6 个标签", "第 5 个标签"),
    ("number", "docs/en/loss.md", "the sixth label", "the fifth label"),
    ("claim", "docs/en/loss.md", "apart from the upcast, only views them",
     "apart from the upcast, copies them"),
    ("claim", "docs/zh/loss.md", "新做法除了上转之外只是创建视图", "新做法除了上转之外会复制它们"),
    ("claim", "docs/en/pad-edge-cases.md", "The range is checked before the fraction is dropped",
     "The range is checked after the fraction is dropped"),
    ("claim", "docs/zh/pad-edge-cases.md", "范围检查在丢掉小数部分之前进行",
     "范围检查在丢掉小数部分之后进行"),
    ("claim", "docs/en/parallel.md", "pairs a token with a **wrong** target",
     "pairs a token with the **right** target"),
    ("claim", "docs/zh/parallel.md", "给词元配上**错误**的目标", "给词元配上**正确**的目标"),
    ("version", "docs/zh/sft.md", "TRL 1.16 收录", "TRL 1.15 收录"),
    ("version", "docs/en/sft.md", "transformers 5.24", "transformers 5.23"),
    ("version", "docs/en/loss.md", "again from 5.10.1", "again from 5.10.0"),
    ("version", "docs/zh/loss.md", "从 5.10.1 起", "从 5.11.0 起"),
    ("version", "docs/zh/pad-basics.md", "torch 2.13", "torch 2.12"),
    ("one language", "docs/zh/loss.md", "隐藏层维度 64", "隐藏层维度 32"),
    ("one language", "docs/zh/loss.md", "得到 9.713930", "得到 9.748666"),
    ("one language", "docs/en/parallel.md", "rank 0 has 7 targets and rank 1 only 2",
     "rank 0 has 7 targets and rank 1 only 1"),
    ("one language", "docs/zh/api.md", "有三个函数", "有四个函数"),
    ("one language", "docs/zh/api.md", "- `pack`：", "- `unpack`："),
    ("diagram", "docs/en/pad-modes.md", "from 2 to 4](diagrams", "from 2 to 5](diagrams"),
    ("diagram", "docs/zh/pad-modes.md", "(1, 2, 2) 用 (1, 1) 填充为 (1, 2, 4)",
     "(1, 2, 2) 用 (1, 1) 填充为 (1, 2, 5)"),
    ("diagram", "docs/en/pad-edge-cases.md", "1 and 2 are wrapped to the right",
     "1 and 2 are wrapped to the left"),
    ("diagram", "docs/zh/pad-edge-cases.md", "1 和 2 循环到右边", "1 和 2 循环到左边"),
    ("diagram", "docs/en/pad-modes.md", "2, 3 on the left and 0, 1 on the right",
     "0, 1 on the left and 2, 3 on the right"),
    ("diagram", "docs/zh/pad-modes.md", "左边 0、0，右边 3、3", "左边 3、3，右边 0、0"),
    ("diagram", "docs/en/parallel.md", "load-balanced shards lose 1 and get 1 wrong",
     "load-balanced shards lose 2 and get 1 wrong"),
    ("diagram", "docs/zh/parallel.md", "配错 1 个目标](diagrams", "配错 2 个目标](diagrams"),
    ("nav", "mkdocs.yml", "损失逐行解析: The loss, line by line",
     "损失逐行解析: The loss, step by step"),
    ("nav", "mkdocs.yml", "F.pad 详解: F.pad in depth", "F.pad 详解: F.pad, all modes"),
    ("nav", "mkdocs.yml", "  - 多进程下的损失: parallel.md", "  - 多卡上的损失: parallel.md"),
    ("nav", "docs/zh/memory.md", "# 损失的内存", "# 损失的显存"),
]  # fmt: skip


def failing(copy: Path, modules: list[str]) -> set[str]:
    """The ids of the tests of ``modules`` that fail in ``copy``."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", *modules],
        cwd=copy, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return {line.split()[1] for line in run.stdout.splitlines() if line.startswith("FAILED")}


def modules_for(kind: str, file: str) -> list[str]:
    return MODULES[kind] + ([CLAIMS[Path(file).name]] if kind == "claim" else [])


def main(kinds: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not kinds or m[0] in kinds]
    ignored = shutil.ignore_patterns(".venv", ".git", "site", ".cache", "__pycache__", ".*_cache")
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "site"
        shutil.copytree(ROOT, copy, ignore=ignored)
        os.symlink(ROOT / ".venv", copy / ".venv")
        baseline: dict[tuple[str, ...], set[str]] = {}
        rows = []
        for kind, file, old, new in chosen:
            path = copy / file
            text = path.read_text(encoding="utf-8")
            if old not in text:
                rows.append((kind, file, new, "skipped (text gone)", ""))
                continue
            modules = modules_for(kind, file)
            if tuple(modules) not in baseline:
                baseline[tuple(modules)] = failing(copy, modules)
            path.write_text(text.replace(old, new, 1), encoding="utf-8")
            try:
                caught = sorted(failing(copy, modules) - baseline[tuple(modules)])
            finally:
                path.write_text(text, encoding="utf-8")
            first = caught[0].partition("::")[2][:60] if caught else ""
            rows.append((kind, file, new, "caught" if caught else "MISSED", first))
            print(f"{kind:12} {rows[-1][3]:8} {file:26} {new[:44]!r:48} {first}", flush=True)
    print()
    tally: Counter[tuple[str, str]] = Counter((r[0], r[3].split()[0]) for r in rows)
    print(f"{'kind':12} caught / planted (skipped)")
    for kind in dict.fromkeys(r[0] for r in rows):
        planted = tally[kind, "caught"] + tally[kind, "MISSED"]
        print(f"{kind:12} {tally[kind, 'caught']} / {planted} ({tally[kind, 'skipped']})")
    total = sum(tally[k, "caught"] for k in MODULES), sum(tally[k, "MISSED"] for k in MODULES)
    print(f"{'all':12} {total[0]} / {sum(total)}")
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
