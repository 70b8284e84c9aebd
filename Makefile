# `make serve` and `make test` are the two commands of the README's Quick start: each sets up
# .venv from the lock file the first time (and again only when the lock or pyproject changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := .ci/requirements.lock
READY := $(VENV)/.ready
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet
# The lock pins torch's CPU build (+cpu), which only PyTorch's own index serves: torch alone is
# installed from there first (the lock's other packages come from PyPI, which then finds torch
# already installed and asks no index for it).
TORCH_INDEX := https://download.pytorch.org/whl/cpu
# Material 9.8 prints an end-of-life banner on every build; the README says what it means.
export NO_MKDOCS_2_WARNING := 1

.PHONY: serve build test page update-outputs verify-history bench lock clean

# --dirty: an edit rebuilds the edited page only (docs/_hooks/site_preview.py); restart it after
# editing mkdocs.yml or a snippet, which dirty builds do not carry to the other pages.
serve: $(READY)
	$(BIN)/mkdocs serve --dirty --dev-addr 127.0.0.1:8000

build: $(READY)
	$(BIN)/mkdocs build --strict --site-dir site

# On every core: how the tests are shared out, and the one site build all workers share, are
# in tests/docs_plugin.py.
XDIST := -n auto

test: $(READY)
	$(BIN)/pytest $(XDIST)

# A writer's loop: every check of one page in both languages (PAGE is its name in docs/en/):
# its code and outputs, notebook, claims, prose numbers, parity, nav, glossary, diagrams and
# their alt text, typography, and a strict build of the site. `make page PAGE=loss`
# (The checks of the built site's links, weights and scripts run in `make test`.)
PAGE_TESTS := tests/test_snippets.py tests/test_notebooks.py tests/test_prose.py \
	tests/test_parity.py tests/test_includes.py tests/test_nav.py tests/test_mode_diagrams.py \
	tests/test_typography.py tests/test_quoted_code.py \
	tests/test_site.py::test_strict_build_prints_no_warning
page: $(READY)
	@test -n "$(PAGE)" || { echo "usage: make page PAGE=loss (a file name in docs/en/, no .md)"; exit 2; }
	$(BIN)/pytest $(XDIST) -q --page $(PAGE) $(PAGE_TESTS) \
		$(wildcard docs/en/$(PAGE).md docs/zh/$(PAGE).md \
			tests/test_claims_$(firstword $(subst -, ,$(PAGE))).py)

# Re-record the outputs that snippets and notebooks print; review the diff before committing.
update-outputs: $(READY)
	$(BIN)/pytest tests/test_snippets.py tests/test_notebooks.py --update-outputs

$(READY): $(LOCK) pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "lmloss needs Python 3.11 or newer; run with PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --no-deps --extra-index-url $(TORCH_INDEX) "$$(grep '^torch==' $(LOCK))"
	$(PIP) install --no-deps --requirement $(LOCK)
	$(PIP) install --no-deps --no-build-isolation --editable .
	$(BIN)/python -m pip check
	touch $@

# Read the loss history from the released transformers wheels (needs the package index, so it is
# not part of `make test`); fails if snippets/history/transformers_loss.txt, which the loss page
# shows, differs. `$(BIN)/python tests/history/verify_history.py --update` rewrites it.
verify-history: $(READY)
	$(BIN)/python tests/history/verify_history.py --check

# Time a cold strict build of the whole site and a rebuild under `make serve` after a one-page
# edit, each against its goal (the README quotes the output).
bench: $(READY)
	$(BIN)/python tests/benchmarks/build_time.py; build=$$?; \
	$(BIN)/python tests/benchmarks/serve_rebuild.py && exit $$build

# Resolve pyproject.toml's dev dependencies afresh and pin every package in the lock file.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet 'torch==2.13.0' --editable '.[dev]'
	{ echo "# Written by 'make lock' from pyproject.toml: every package, pinned. Do not edit."; \
	  .lock-venv/bin/python -m pip freeze --all --exclude-editable; } > $(LOCK)
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) site .pytest_cache .hypothesis .cache
