# fraud_brain: `make run` sets up and runs the main job on data/sample/; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup bench sample clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/fraud-brain run data/sample

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.simulate
	$(BIN)/python -m benchmarks.features

sample: $(STAMP)
	$(BIN)/fraud-brain simulate --out data/sample --preset sample

clean:
	rm -rf $(VENV) out
