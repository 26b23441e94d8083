# fraud_brain: `make run` sets up and runs the main job on data/sample/; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup bench sample clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/fraud-brain run data/sample

test: $(STAMP) browser
	$(BIN)/python -m pytest

# Debian's Chromium drives the console's browser test (playwright uses it; it downloads no browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "chromium is not installed: the console's browser test will be skipped"; fi; }

bench: $(STAMP)
	for b in simulate features scoring rules actions api durable_ingest; do $(BIN)/python -m benchmarks.$$b || exit 1; done

sample: $(STAMP)
	$(BIN)/fraud-brain simulate --out data/sample --preset sample

clean:
	rm -rf $(VENV) out
