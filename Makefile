# Two commands: `make demo` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8080
HOST ?= 127.0.0.1

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.runtime
	$(BIN)/frontdesk demo --host $(HOST) --port $(PORT)

lint: $(VENV)/.test
	$(BIN)/ruff check .

typecheck: $(VENV)/.test
	$(BIN)/mypy

pytest: $(VENV)/.test
	$(BIN)/pytest -q -ra

test: lint typecheck pytest

bench: $(VENV)/.runtime
	$(BIN)/python -m web.bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
