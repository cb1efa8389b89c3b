# Two commands on a fresh machine: `make bench` and `make test`. Both set up .venv when missing.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
TRTBENCH := $(VENV)/bin/trtbench
STAMP := $(VENV)/.installed

.PHONY: setup test bench lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q

bench: setup
	$(TRTBENCH) export --all
	$(TRTBENCH) models

lint: setup
	$(VENV)/bin/ruff check trtbench tests

clean:
	find models engines results -mindepth 1 ! -name .gitkeep -delete
	rm -rf .pytest_cache .ruff_cache build *.egg-info
