# The two Quickstart targets: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test test-realtime lint typecheck pytest docs install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -e '.[dev]'
	touch $@

# Sphinx and numpydoc only: the reference imports the core and never jax, ray or pandas.
$(VENV)/.installed-docs: $(VENV)/.installed
	$(PIP) install -e '.[docs]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/alpaserve demo

lint: install-dev
	$(BIN)/ruff check .

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev
	$(BIN)/python -m pytest

test: lint typecheck pytest

# Just the real-time fidelity checks (runtime vs simulator; also part of `make test`), with
# the reason for any skip: they skip only when no attempt saw a steady host.
test-realtime: install-dev
	$(BIN)/python -m pytest -rs tests/test_runtime_fidelity.py

# The HTML API reference, built from the docstrings; any Sphinx warning fails the build.
docs: $(VENV)/.installed-docs
	$(BIN)/python -m sphinx -b html -W --keep-going -j 1 docs docs/_build/html
	@echo "API reference: docs/_build/html/index.html"

clean:
	rm -rf $(VENV) build docs/_build *.egg-info .pytest_cache .mypy_cache .ruff_cache
