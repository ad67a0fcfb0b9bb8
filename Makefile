# Two commands on a fresh machine:  `make book` (set up, build the book)  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= cpu
SEED ?= 0
PYTEST_ARGS ?=

.PHONY: install system-deps node-deps book test lint format clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[book,test]"
	touch $@

install: $(VENV)/.installed

system-deps:
	bash scripts/system-deps.sh

node-deps:
	bash scripts/system-deps.sh node

book: install node-deps
	$(VENV)/bin/sepgan book --profile $(PROFILE) --seed $(SEED)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: install system-deps lint
	$(PY) -m pytest -n 2 --durations=15 $(PYTEST_ARGS)

clean:
	rm -rf _build .pytest_cache .ruff_cache web/node_modules
