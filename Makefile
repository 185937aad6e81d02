# Two commands: `make demo` and `make test`. Each sets up the virtual environment first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO := .demo

.PHONY: install test lint typecheck unit demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Foreshock needs Python 3.11+"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy src

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

# The simulator live, feeding the real pipeline over HTTP: incidents print here as faults
# arrive, and the UI is at the printed sign-in link. Ctrl-C stops it.
demo: $(STAMP)
	$(BIN)/foreshock demo --gpus 1024

bench: $(STAMP)
	$(BIN)/foreshock bench topology
	$(BIN)/foreshock bench sim
	$(BIN)/foreshock bench rca

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache
