# The two set-up commands: `make serve` starts the gateway, `make check` lints, type-checks and
# runs every test. Both create the virtual environment on first use, from requirements.lock:
# the exact versions the suite last passed with. `make lock` refreshes that file.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
NODE_CLIENTS := tests/node/node_modules/.package-lock.json
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: serve check lint test bench lock

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
	# `vidgate serve` runs as `python -OO` where this bytecode is there (cli/main.py).
	$(BIN)/python -m compileall -q -j0 -o 0 -o 2 $(VENV)/lib src
	touch $(STAMP)

# `make serve PORT=8011 HOST=0.0.0.0` binds elsewhere (or set VIDGATE_PORT / VIDGATE_HOST).
serve: $(STAMP)
	$(BIN)/vidgate serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

# The official Node.js clients the tests drive, from tests/node/package-lock.json.
$(NODE_CLIENTS): tests/node/package.json tests/node/package-lock.json
	npm ci --prefix tests/node --no-audit --no-fund --loglevel=error

# Debian's Chromium, which the web console's browser tests drive through Playwright.
$(CHROMIUM):
	$(SUDO) apt-get install -y -q chromium || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium)

test: $(STAMP) $(NODE_CLIENTS) $(CHROMIUM)
	$(BIN)/pytest

check: lint test

# Resolve pyproject.toml's ranges afresh in a scratch environment and pin the result.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install -q --upgrade pip
	.lock-venv/bin/python -m pip install -q -e '.[test]'
	printf '# Exact versions for `make`; refresh with `make lock`.\n' > $(LOCK)
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^vidgate' >> $(LOCK)
	rm -rf .lock-venv

bench: $(STAMP)
	$(BIN)/python bench/task_reads.py
	$(BIN)/python bench/submits.py
	$(BIN)/python bench/idle_rss.py
	$(BIN)/python bench/wait_detection.py
	$(BIN)/python bench/upstream_polling.py
	$(BIN)/python bench/polling_floor.py
	$(BIN)/python bench/upstream_callbacks.py
	$(BIN)/python bench/push.py
	$(BIN)/python bench/cross_node_wakeups.py
	$(BIN)/python bench/scale_simulation.py
