# Every target installs what it needs into the project-local virtual environment .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo ui bench clean-data clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The whole test suite; tests that cross HTTP start the emulator on 127.0.0.1 themselves.
test: install
	$(BIN)/python -m pytest

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
