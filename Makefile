# riskgen: `make demo` runs the main job end to end, `make test` runs the tests. Both set up .venv from the lock.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP_INSTALL := $(BIN)/python -m pip install -q --disable-pip-version-check

export RISKGEN_HOME ?= $(CURDIR)/workspace
export PREFECT_HOME ?= $(RISKGEN_HOME)/prefect

.PHONY: demo test test-fast check bench lock clean

$(STAMP): requirements-pip.lock requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --require-hashes -r requirements-pip.lock
	$(PIP_INSTALL) --require-hashes -r requirements.lock
	$(PIP_INSTALL) --no-deps -e .
	@touch $@

demo: $(STAMP)
	$(BIN)/riskgen demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -ra

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -ra -m "not slow"

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# Re-pin after editing pyproject.toml dependencies (needs `uv` on the PATH).
lock:
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) workspace .pytest_cache .mypy_cache .ruff_cache
