# Every target installs what it needs into the project-local virtual environment .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-ui check-spark demo ui bench clean-data clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The whole test suite; tests that cross HTTP start the emulator on 127.0.0.1 themselves.
test: install
	$(BIN)/python -m pytest

# The browser test of the Dagster UI: Playwright drives Debian's chromium (CHROMIUM overrides
# the path). Install the browser first with `apt-get install chromium`; .ci/run does that.
test-ui: install
	$(BIN)/python -m pip install --quiet -e '.[test,ui]'
	$(BIN)/python -m pytest -m ui authy_assets_tests/ui

# Reads a fresh export with PySpark (needs Java 17+); not part of CI.
check-spark: install
	$(BIN)/python -m pip install --quiet -e '.[spark]'
	$(BIN)/python -m authy_assets_tests.check_spark

# Emulator on a free loopback port, `authy-assets run` against it, emulator stopped.
demo: install
	$(BIN)/python -m authy_assets.local demo

# Emulator plus `dagster dev` on the same instance as the demo (.dagster_home).
ui: install
	$(BIN)/python -m authy_assets.local ui

bench: install
	$(BIN)/python -m benchmarks.run

# Removes every output and the quota ledger of the default data directory.
clean-data:
	rm -rf data/state data/raw data/phones data/exports .dagster_home

clean: clean-data
	rm -rf $(VENV) *.egg-info
