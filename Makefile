# Two commands matter: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
# Where `make run` serves, and what the commands it prints call: make run PORT=8001. HOST is
# taken from the command line only (make run HOST=0.0.0.0), never from the environment, where
# some shells (tcsh) keep the machine's name under that name.
HOST = 127.0.0.1
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: run test lint typecheck pytest coverage-pure install install-dev bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

$(STAMP_RUN): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(STAMP_DEV): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@ $(STAMP_RUN)

install: $(STAMP_RUN)
install-dev: $(STAMP_DEV)

run: $(STAMP_RUN)
	$(BIN)/carebook migrate
	$(BIN)/carebook demo --host $(HOST) --port $(PORT)
	$(BIN)/carebook serve --host $(HOST) --port $(PORT)

lint: $(STAMP_DEV)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

pytest: $(STAMP_DEV)
	$(BIN)/pytest

# The pure modules (time, intervals, rules, the slot engine) are covered line and branch by their
# own unit and property tests, as encode's libraries do.
PURE := carebook.core.time carebook.core.availability.intervals \
	carebook.core.availability.rules carebook.core.availability.slots
coverage-pure: $(STAMP_DEV)
	$(BIN)/pytest -q tests/test_time.py tests/availability/test_engine.py \
		$(foreach m,$(PURE),--cov=$(m)) --cov-branch --cov-report=term-missing \
		--cov-fail-under=100

test: lint typecheck coverage-pure pytest

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
