# The two set-up commands: `make serve` starts the gateway, `make check` lints, type-checks and
# runs every test. Both create the virtual environment on first use.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve check lint test bench

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/vidgate serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

test: $(STAMP)
	$(BIN)/pytest

check: lint test

bench: $(STAMP)
	$(BIN)/python bench/task_reads.py
	$(BIN)/python bench/submits.py
	$(BIN)/python bench/wait_detection.py
	$(BIN)/python bench/upstream_polling.py
	$(BIN)/python bench/push.py
