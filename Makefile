# Two commands on a fresh machine: `make bench` and `make test`. Both set up .venv when missing.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
TRTBENCH := $(VENV)/bin/trtbench

# What this machine gets: with an NVIDIA driver, the TensorRT extra whose CUDA major it runs
# (R525-R579: tensorrt-cu12, cuda-python 12.x; R580 and newer: tensorrt-cu13, cuda-python 13.x);
# without one, the CPU set. `make -n setup` shows the choice and the pip line before anything is
# installed; TRTBENCH_CUDA=12|13|none overrides the driver. The rules: trtbench/measure/gpu.py (CUDA_EXTRAS).
GPU_STACK := $(shell TRTBENCH_CUDA='$(TRTBENCH_CUDA)' $(PYTHON) scripts/gpu_stack.py)
ifeq ($(firstword $(GPU_STACK)),error)
$(error $(wordlist 2,100,$(GPU_STACK)))
endif
GPU_EXTRA := $(filter tensorrt-cu%,$(firstword $(GPU_STACK)))
SETUP_WHY := $(or $(wordlist 2,100,$(GPU_STACK)),the CPU set ($(PYTHON) scripts/gpu_stack.py gave no answer))
CUDA_MAJOR := $(or $(patsubst tensorrt-cu%,%,$(GPU_EXTRA)),13)
OTHER_MAJOR := $(if $(filter 12,$(CUDA_MAJOR)),13,12)
# The CUDA packages are pinned per major, so the dev set never pulls the GPU stack to another major.
CONSTRAINTS := -c constraints.txt -c constraints-cu$(CUDA_MAJOR).txt
comma := ,
EXTRAS := dev$(if $(GPU_EXTRA),$(comma)$(GPU_EXTRA))
# PyPI's tensorrt-cuNN-libs is a placeholder that fetches NVIDIA's wheel from https://pypi.nvidia.com
# while pip installs it: where that index cannot be reached, the install stops there.
GPU_INSTALL_FAILED := make setup: installing trtbench[$(GPU_EXTRA)] failed (the message of pip is above). \
The TensorRT libraries come from https://pypi.nvidia.com: make it reachable, or name a mirror of it with \
PIP_EXTRA_INDEX_URL=URL make setup; TRTBENCH_CUDA=none make setup installs the CPU set
# One stamp per choice: a new driver or TRTBENCH_CUDA installs again.
STAMP := $(VENV)/.installed-$(or $(GPU_EXTRA),cpu)

.PHONY: setup test test-fast bench lint constraints clean

setup: $(STAMP)

# Installs the exact versions in the constraints files (refresh them with `make constraints`). Both
# TensorRT extras provide the module `tensorrt`: switching majors removes the other one's first.
$(STAMP): pyproject.toml constraints.txt constraints-cu$(CUDA_MAJOR).txt
	@echo 'make setup: $(SETUP_WHY)'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(if $(GPU_EXTRA),$(PY) -m pip uninstall --quiet --yes tensorrt tensorrt-cu$(OTHER_MAJOR) tensorrt-cu$(OTHER_MAJOR)-bindings tensorrt-cu$(OTHER_MAJOR)-libs 2>/dev/null || true)
	$(PY) -m pip install --quiet $(CONSTRAINTS) -e '.[$(EXTRAS)]'$(if $(GPU_EXTRA), || { echo '$(GPU_INSTALL_FAILED)' >&2; exit 1; })
	rm -f $(VENV)/.installed*
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
# The page's tables are medians: make bench asks for the median's support only (11 samples; `trtbench run`
# asks for 50,90 by default, which times ResNet50's FP32 batch 32 for about a minute on a 2-core CPU).
BENCH_ARGS ?= --precision native --batch 1,4,8,32 --verify --percentiles 50

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
# constraints.txt (all but the CUDA packages), then each CUDA major's set resolved by pip and written
# to constraints-cu12.txt and constraints-cu13.txt (scripts/check_gpu_stack.py). Then run `make test`
# (it reinstalls .venv from the new files) before committing them.
constraints:
	@set -eu; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade pip; \
	"$$tmp/venv/bin/python" -m pip install --quiet '.[dev]'; \
	{ echo '# Exact versions of every package the test suite passed with, shared by every CUDA major; `make setup`'; \
	  echo '# installs with -c constraints.txt -c constraints-cuNN.txt (cu12 or cu13: the CUDA packages, per major).'; \
	  echo '# Refresh: `make constraints` (newest .[dev] into a throwaway venv, frozen here), then `make test`.'; \
	  "$$tmp/venv/bin/python" -m pip freeze --exclude-editable \
	    | grep -viE '^(#|-e |trtbench( |==|@)|cuda-python==|cuda-bindings==|cuda-core==)'; \
	} > "$$tmp/constraints.txt"; \
	mv "$$tmp/constraints.txt" constraints.txt; \
	"$$tmp/venv/bin/python" scripts/check_gpu_stack.py 12 13 --write; \
	echo "constraints.txt, constraints-cu12.txt and constraints-cu13.txt refreshed; now run: make test"

clean:
	find models engines results -mindepth 1 ! -name .gitkeep -delete
	rm -rf .pytest_cache .ruff_cache .mypy_cache build *.egg-info
