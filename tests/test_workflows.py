"""The GitHub workflows, checked offline: GitHub's JSON schema and zizmor's security audits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"
BIN = Path(sys.executable).parent
# An unpinned action, a credential left in the checkout and a misspelt key: both tools must object.
BAD_WORKFLOW = """
name: bad
on: push
jobs:
  x:
    runs-on: ubuntu-24.04
    step:
      - uses: actions/checkout@v4
"""


def _schema_check(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
        capture_output=True,
        text=True,
    )


def _zizmor(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BIN / "zizmor", "--offline", "--no-progress", str(folder)], capture_output=True, text=True
    )


def _load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def test_workflows_match_githubs_schema():
    result = _schema_check(*sorted(WORKFLOWS.glob("*.yml")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing():
    result = _zizmor(WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_both_checks_reject_a_bad_workflow(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(BAD_WORKFLOW, encoding="utf-8")
    assert _schema_check(bad).returncode != 0
    fixed_keys = bad.read_text().replace("step:", "steps:")
    bad.write_text(fixed_keys, encoding="utf-8")
    audit = _zizmor(bad.parent)
    assert audit.returncode != 0 and "unpinned" in audit.stdout + audit.stderr


def test_ci_runs_the_readme_test_command():
    steps = _load("ci.yml")["jobs"]["test"]["steps"]
    assert "make test" in [step.get("run") for step in steps]
    assert _load("ci.yml")["permissions"] == {"contents": "read"}


def test_pages_builds_strictly_and_grants_write_only_to_the_deploy_job():
    pages = _load("pages.yml")
    assert pages["permissions"] == {}
    assert "make build" in [step.get("run") for step in pages["jobs"]["build"]["steps"]]
    assert pages["jobs"]["build"]["permissions"] == {"contents": "read", "pages": "read"}
    assert pages["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}


def test_the_ci_script_runs_make_test_only():
    script = (WORKFLOWS.parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line for line in script.splitlines() if line.strip() and not line.startswith("#")]
    assert commands[-1] == "make test", commands


def test_the_upstream_watch_runs_weekly_with_the_newest_releases():
    upstream = _load("upstream.yml")
    triggers = upstream[True]  # YAML 1.1 reads the key `on` as True
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert triggers["schedule"][0]["cron"].split()[2:] == ["*", "*", "1"]  # weekly
    assert upstream["permissions"] == {"contents": "read"}
    claims = " ".join(step.get("run", "") for step in upstream["jobs"]["claims"]["steps"])
    assert "--upgrade torch" in claims and "--upgrade transformers trl" in claims
    assert claims.index("--upgrade") < claims.index("tests/test_claims*.py")
    history = [step.get("run") for step in upstream["jobs"]["history"]["steps"]]
    assert "make verify-history" in history
    makefile = (WORKFLOWS.parents[1] / "Makefile").read_text(encoding="utf-8")
    assert "verify-history" not in makefile.split("\ntest:")[1].split("\n\n")[0]  # not in make test
