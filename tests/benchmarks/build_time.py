"""Times a cold, strict build of the whole site (both languages), as `make build` runs it.

Usage: .venv/bin/python tests/benchmarks/build_time.py [RUNS]
Each run is a new process building into an empty folder, so nothing is cached between runs.
Budget (issue 2): under 10 s on a 2-core machine once .venv exists.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUDGET_SECONDS = 10.0


def cold_build_seconds() -> float:
    with tempfile.TemporaryDirectory() as site:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", site],
            cwd=ROOT,
            check=True,
            capture_output=True,
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        )
        return time.perf_counter() - start


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    times = [cold_build_seconds() for _ in range(runs)]
    print(
        f"cold strict build, {runs} runs on {os.cpu_count()} cores: "
        f"median {statistics.median(times):.2f} s, min {min(times):.2f} s, max {max(times):.2f} s "
        f"(budget {BUDGET_SECONDS:.0f} s)"
    )


if __name__ == "__main__":
    main()
