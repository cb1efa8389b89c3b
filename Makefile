# Two commands on a fresh machine: `make bench` and `make test`. Both set up .venv when missing.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
TRTBENCH := $(VENV)/bin/trtbench
STAMP := $(VENV)/.installed

.PHONY: setup test test-fast bench lint constraints clean

setup: $(STAMP)

# Installs the exact versions in constraints.txt (refresh them with `make constraints`).
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q

# Everything but the tests marked slow (real exports and timings).
test-fast: setup
	$(PY) -m pytest -q -m "not slow"

# The main job on whatever this machine has: TensorRT on a GPU, else the fastest CPU engine for each
# precision this machine runs natively (FP32, BF16 where the CPU has it, INT8; FP16 where native).
# The default set fits a 2-core CPU in minutes; `make bench BENCH_MODELS=--all` does the whole page.
BENCH_MODELS ?= ResNet50 ResNet50_vd
BENCH_ARGS ?= --precision native --batch 1,4,8,32 --verify

bench: setup
	$(TRTBENCH) doctor
	$(TRTBENCH) export $(BENCH_MODELS)
	$(TRTBENCH) run $(BENCH_MODELS) $(BENCH_ARGS)
	$(TRTBENCH) report --markdown --reference

# mypy reads its settings (files, Python version, untyped modules) from pyproject.toml.
lint: setup
	$(VENV)/bin/ruff check trtbench tests scripts
	$(VENV)/bin/mypy

# The newest versions pyproject.toml allows, installed into a throwaway venv and frozen into
# constraints.txt. Then run `make test` (it reinstalls .venv from the new file) before committing it.
constraints:
	@set -eu; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade pip; \
	"$$tmp/venv/bin/python" -m pip install --quiet '.[dev]'; \
	{ echo '# Exact versions of every package the test suite passed with; `make setup` installs with -c constraints.txt.'; \
	  echo '# Refresh: `make constraints` (newest .[dev] into a throwaway venv, frozen here), then `make test`.'; \
	  "$$tmp/venv/bin/python" -m pip freeze --exclude-editable | grep -viE '^(#|-e |trtbench( |==|@))'; \
	} > "$$tmp/constraints.txt"; \
	mv "$$tmp/constraints.txt" constraints.txt; \
	echo "constraints.txt refreshed; now run: make test"

clean:
	find models engines results -mindepth 1 ! -name .gitkeep -delete
	rm -rf .pytest_cache .ruff_cache .mypy_cache build *.egg-info
