# Two entry points: `make run` (the main job on bundled defaults) and `make test` (lint, types, tests).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The oracle extra (torch + transformers) is installed only where a CPU torch wheel lies on disk,
# so that a clean machine never pulls a multi-GB CUDA build; the oracle tests skip without it.
TORCH_CPU_WHEEL := $(firstword $(wildcard /opt/wheels/torch-2.13.0+cpu-*.whl))

.PHONY: run test install install-test lint typecheck unit bench crossval outside clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
ifneq ($(TORCH_CPU_WHEEL),)
	-$(BIN)/pip install --quiet '$(TORCH_CPU_WHEEL)' 'transformers>=4.56,<6'
endif

run: install
	$(BIN)/modelchip run

lint:
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck:
	$(BIN)/mypy src

unit:
	$(BIN)/pytest

test: install-test lint typecheck unit

bench: install
	$(BIN)/python benchmarks/run_all.py

crossval: install
	$(BIN)/python benchmarks/crossval.py

outside: install
	$(BIN)/python benchmarks/outside_check.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
