# RAIDT — `make demo` and `make test` work on a fresh machine from a clean clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench system-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-deps:
	bash scripts/system-deps.sh

demo: $(STAMP) system-deps
	$(VENV)/bin/raidt demo

test: $(STAMP) system-deps
	bash scripts/test.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP) system-deps
	$(PY) bench/ingest.py
	$(PY) bench/scoring.py
	$(PY) bench/packs.py

clean:
	rm -rf $(VENV) build .raidt-demo .pytest_cache .mypy_cache .ruff_cache
