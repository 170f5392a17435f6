# The two commands of the README:
#   make demo   set everything up on a fresh machine and run voice -> emotion -> music
#   make test   set up (with the test extras), check the code (make lint) and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch; pip finds it before a bare requirement could pull a CUDA build.
TORCH ?= torch==2.13.0

.PHONY: demo test lint model setup setup-test clean

demo: setup
	$(BIN)/moodplayer demo

test: setup-test lint
	$(BIN)/python -m pytest -n auto

# Rebuild the shipped model with the shipped command (about 10 min on 2 cores). A developer's step:
# `moodplayer train` without --out adds a model version under the user's home and never writes it.
RAVDESS ?= ../shared/data/ravdess-16k
model: setup
	$(BIN)/moodplayer train $(RAVDESS) --folds 5 --adapt neutral:4 --adapt history:20 --baseline \
		--out models/emotion-lstm.safetensors

# Style, formatting, the import rules of CONTRIBUTING (import-linter) and types (mypy, the core).
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check moodplayer tests bench setup.py
	$(BIN)/ruff format --check --quiet moodplayer tests bench setup.py
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

setup: $(VENV)/.installed
	@bash scripts/install-system-deps.sh

setup-test: $(VENV)/.installed-dev
	@bash scripts/install-system-deps.sh --test

# Bytecode for every installed module is written even where PYTHONDONTWRITEBYTECODE is set (pip then
# writes none): without it each start of moodplayer compiles torch anew, 1.7 s instead of 0.9 s, and
# so does each scan worker. Torch's test helpers for newer Pythons are left out (they do not compile
# here); should another such file appear, `-` keeps it from stopping the set-up. Then librosa's numba
# kernels are compiled and cached once, by one process (see moodplayer/numba_kernels.py).
$(VENV)/.installed: pyproject.toml
	@bash scripts/install-system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e .
	-$(BIN)/python -m compileall -qq -j 0 -x 'torch/testing/_internal/py3' $(VENV)/lib moodplayer
	$(BIN)/python -c "from moodplayer.music.mood_features import feature_names; feature_names()"
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e ".[dev]"
	-$(BIN)/python -m compileall -qq -j 0 -x 'torch/testing/_internal/py3' $(VENV)/lib
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info
