# Two commands on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test fuzz lint bench sample-data clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gaitwatch run --config sample_data/gaitwatch.toml

# Deterministic: hypothesis runs from the fixed-seed profile registered in tests/conftest.py.
test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Open-ended fuzzing of ingest for FUZZ_SECONDS (new inputs every run; the seed is printed).
FUZZ_SECONDS ?= 120
fuzz: $(STAMP)
	$(BIN)/python bench/fuzz_long.py --seconds $(FUZZ_SECONDS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy flows ingest transforms warehouse reports synth

bench: $(STAMP)
	$(BIN)/python bench/backfill.py

sample-data: $(STAMP)
	$(BIN)/python -m synth.generate --out sample_data --seed 42

clean:
	rm -rf $(VENV) out
