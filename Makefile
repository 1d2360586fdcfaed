# RAIDT — `make demo` and `make test` work on a fresh machine from a clean clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# the same package with the scoring core compiled by mypyc (see setup.py); rebuilt when a
# source file changes
CVENV  := .venv-compiled
CSTAMP := $(CVENV)/.installed
SOURCES := $(shell find src -name '*.py' -o -name '*.yaml' -o -name '*.j2')

.PHONY: demo test test-compiled compiled lint bench system-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(CSTAMP): pyproject.toml setup.py $(SOURCES)
	test -x $(CVENV)/bin/python || $(PYTHON) -m venv $(CVENV)
	$(CVENV)/bin/python -m pip install --quiet --upgrade pip 'setuptools>=77' wheel 'mypy>=1.10,<2'
	# dependencies first: mypyc type-checks the compiled modules against them
	$(CVENV)/bin/python -m pip install --quiet --no-build-isolation '.[dev]'
	rm -rf build
	RAIDT_COMPILE=1 $(CVENV)/bin/python -m pip install --quiet --no-build-isolation --force-reinstall --no-deps .
	rm -rf build
	touch $(CSTAMP)

compiled: $(CSTAMP)

system-deps:
	bash scripts/system-deps.sh

demo: $(STAMP) system-deps
	$(VENV)/bin/raidt demo

test: $(STAMP) system-deps
	bash scripts/test.sh

test-compiled: $(CSTAMP) system-deps
	RAIDT_TEST_PYTHON=$(CVENV)/bin/python RAIDT_EXPECT_COMPILED=1 bash scripts/test.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench setup.py
	$(VENV)/bin/ruff format --check src tests bench setup.py
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP) $(CSTAMP) system-deps
	$(PY) bench/ingest.py
	$(CVENV)/bin/python bench/scoring.py
	$(PY) bench/packs.py

clean:
	rm -rf $(VENV) $(CVENV) build .raidt-demo .pytest_cache .mypy_cache .ruff_cache
