# Two commands on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench sample-data clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gaitwatch run --config sample_data/gaitwatch.toml

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy flows ingest transforms warehouse reports synth

bench: $(STAMP)
	$(BIN)/python bench/backfill.py

sample-data: $(STAMP)
	$(BIN)/python -m synth.generate --out sample_data --seed 42

clean:
	rm -rf $(VENV) out
