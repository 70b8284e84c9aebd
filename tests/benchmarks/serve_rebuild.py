"""Times the rebuild `mkdocs serve` does after one page is edited (both languages).

Usage: .venv/bin/python tests/benchmarks/serve_rebuild.py [EDITS]
Serves a copy of the site's sources (the working tree is not touched), edits one page EDITS
times, and reports the time from each save to the server's "Reloading browsers" line.
Budget (issue 6): under 3 s on a 2-core machine.
"""

from __future__ import annotations

import os
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUDGET_SECONDS = 3.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _lines(stream, sink: queue.Queue) -> None:
    for line in stream:
        sink.put((time.perf_counter(), line))


def _wait_for(lines: queue.Queue, text: str, timeout: float = 120) -> float:
    deadline = time.perf_counter() + timeout
    while True:
        stamp, line = lines.get(timeout=max(0.1, deadline - time.perf_counter()))
        if text in line:
            return stamp


def main() -> None:
    edits = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp)
        for name in ("mkdocs.yml", "docs", "snippets"):
            source = ROOT / name
            (shutil.copytree if source.is_dir() else shutil.copy)(source, copy / name)
        page = copy / "docs" / "en" / "pad-basics.md"
        server = subprocess.Popen(
            [sys.executable, "-m", "mkdocs", "serve", "--dev-addr", f"127.0.0.1:{_free_port()}"],
            cwd=copy,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        )
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_lines, args=(server.stdout, lines), daemon=True).start()
        try:
            _wait_for(lines, "Serving on")
            times = []
            for n in range(edits):
                time.sleep(1)  # let the file watcher settle between edits
                saved = time.perf_counter()
                page.write_text(
                    page.read_text(encoding="utf-8") + f"\nEdit {n}.\n", encoding="utf-8"
                )
                times.append(_wait_for(lines, "Reloading browsers") - saved)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"rebuild under mkdocs serve after editing one page, {edits} edits on {os.cpu_count()} cores: "
        f"median {statistics.median(times):.2f} s, min {min(times):.2f} s, max {max(times):.2f} s "
        f"(budget {BUDGET_SECONDS:.0f} s)"
    )


if __name__ == "__main__":
    main()
