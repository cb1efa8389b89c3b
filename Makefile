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

# The main job on whatever this machine has (TensorRT on a GPU, else ONNX Runtime on the CPU).
# The default set fits a 2-core CPU in minutes; `make bench BENCH_MODELS=--all` does the whole page.
BENCH_MODELS ?= ResNet50 ResNet50_vd
BENCH_ARGS ?= --precision fp16,fp32 --batch 1,4,8,32

bench: setup
	$(TRTBENCH) doctor
	$(TRTBENCH) export $(BENCH_MODELS)
	$(TRTBENCH) run $(BENCH_MODELS) $(BENCH_ARGS)
	$(TRTBENCH) report --markdown --reference

lint: setup
	$(VENV)/bin/ruff check trtbench tests scripts

clean:
	find models engines results -mindepth 1 ! -name .gitkeep -delete
	rm -rf .pytest_cache .ruff_cache build *.egg-info
