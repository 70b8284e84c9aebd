"""Each notebook runs top to bottom, and the outputs it stores are the ones it produces.

A reader downloads a notebook and runs it where only PyPI packages are installed, so each one is
executed in a kernel that cannot import ``lmloss``.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from snippet_source import code_tokens

DOCS = Path(__file__).resolve().parents[1] / "docs"
NOTEBOOKS = sorted(DOCS.glob("*/**/*.ipynb"))


def _outputs(cell) -> list[tuple[str, str]]:
    """What a reader sees of a code cell's outputs, as comparable text.

    Adjacent pieces of one stream are joined, as a notebook viewer shows them: the kernel
    sends a cell's printing in as many pieces as it happens to flush.
    """
    seen: list[tuple[str, str]] = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            if seen and seen[-1][0] == output["name"]:
                seen[-1] = (output["name"], seen[-1][1] + output["text"])
            else:
                seen.append((output["name"], output["text"]))
        elif output["output_type"] in ("execute_result", "display_data"):
            seen.append(("text/plain", output["data"].get("text/plain", "")))
        else:  # an error: a notebook on the site must not raise
            seen.append(("error", f"{output['ename']}: {output['evalue']}"))
    return seen


# Imported by the kernel at start-up (``sitecustomize``): ``import lmloss`` fails there as it
# would in a fresh environment, wherever lmloss is installed (editable, or on PYTHONPATH).
_HIDE_LMLOSS = textwrap.dedent("""
    import sys


    class HideLmloss:
        def find_spec(self, name, path=None, target=None):
            if name == "lmloss" or name.startswith("lmloss."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None


    sys.meta_path.insert(0, HideLmloss())
""")


@pytest.fixture(scope="session")
def kernel_env(tmp_path_factory) -> dict[str, str]:
    """The environment of a kernel without ``lmloss``."""
    folder = tmp_path_factory.mktemp("no-lmloss")
    (folder / "sitecustomize.py").write_text(_HIDE_LMLOSS, encoding="utf-8")
    # tqdm warns on import when ipywidgets is missing, as in a fresh environment: not our output.
    return {**os.environ, "PYTHONPATH": str(folder), "PYTHONWARNINGS": "ignore:IProgress not found"}


def _execute(path: Path, env: dict[str, str]):
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute(env=env)
    return notebook


def test_the_kernel_cannot_import_lmloss(kernel_env):
    probe = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "try:\n    import lmloss\nexcept ModuleNotFoundError as error:\n    print(error)"
            )
        ]
    )
    NotebookClient(probe, timeout=60, kernel_name="python3").execute(env=kernel_env)
    assert _outputs(probe.cells[0]) == [("stdout", "No module named 'lmloss'\n")]


def test_a_stream_sent_in_pieces_reads_as_one():
    """sft.ipynb's cell 4 arrives in one piece or two, from run to run."""
    pieces = [("stdout", "a\n"), ("stdout", "b\n"), ("stderr", "warning\n"), ("stdout", "c\n")]
    cell = nbformat.v4.new_code_cell(
        outputs=[nbformat.v4.new_output("stream", name=n, text=t) for n, t in pieces]
    )
    assert _outputs(cell) == [("stdout", "a\nb\n"), ("stderr", "warning\n"), ("stdout", "c\n")]


def test_there_are_notebooks_in_both_languages():
    langs = {p.relative_to(DOCS).parts[0] for p in NOTEBOOKS}
    assert langs == {"zh", "en"}, NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(DOCS)))
def test_stored_outputs_match_a_fresh_run(path, request, kernel_env):
    stored = nbformat.read(path, as_version=4)
    fresh = _execute(path, kernel_env)
    if request.config.getoption("--update-outputs"):
        for cell in fresh.cells:
            cell.get("metadata", {}).pop("execution", None)
        nbformat.write(fresh, path)
        return
    for number, (old, new) in enumerate(zip(stored.cells, fresh.cells), 1):
        if old.cell_type == "code":
            assert not any(kind == "error" for kind, _ in _outputs(new)), f"cell {number} raised"
            assert _outputs(old) == _outputs(new), (
                f"{path.name} cell {number}: stored outputs differ from a fresh run; "
                "run `make update-outputs` and review the diff"
            )


def _code_without_comments(path: Path) -> list[list[tuple[int, str]]]:
    """Each code cell's tokens without comments and string literals: the Chinese notebook may
    translate those (its printed labels), nothing else."""
    notebook = nbformat.read(path, as_version=4)
    return [code_tokens(cell.source) for cell in notebook.cells if cell.cell_type == "code"]


@pytest.mark.parametrize(
    "path",
    [p for p in NOTEBOOKS if p.relative_to(DOCS).parts[0] == "zh"],
    ids=lambda p: str(p.relative_to(DOCS / "zh")),
)
def test_both_languages_run_the_same_code(path):
    twin = DOCS / "en" / path.relative_to(DOCS / "zh")
    assert twin.is_file(), f"{twin} is missing"
    assert _code_without_comments(path) == _code_without_comments(twin)
