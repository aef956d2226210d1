# Everything runs from a local virtual environment that these rules create from a bare
# Python 3.11+ with pip and a C compiler.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# The installed state depends on the project metadata: editing it reinstalls.
DEPS := $(VENV)/.deps-installed
SOURCES := $(shell find engine -name '*.pyx' -o -name '*.pxd' -o -name '*.h') setup.py
BUILT := $(VENV)/.built
DEBUG_DIR := build/debug
HYPOTHESIS_PROFILE ?= ci
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: run test test-release test-debug build bench bench-peers clean

run: $(BUILT)
	$(BIN)/firesale run

test: test-release test-debug

test-release: $(BUILT)
	HYPOTHESIS_PROFILE=$(HYPOTHESIS_PROFILE) $(BIN)/pytest -q tests

# The same suite against a build with bounds checks and the engine's internal checks.
test-debug: $(DEBUG_DIR)/.built
	HYPOTHESIS_PROFILE=$(HYPOTHESIS_PROFILE) ENGINE_EXPECT_DEBUG=1 PYTHONPATH=$(DEBUG_DIR) \
		$(BIN)/pytest -q -p no:cacheprovider tests

build: $(BUILT)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(DEPS): pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "setuptools>=77" wheel "Cython>=3.0" "numpy>=1.26"
	$(PY) -m pip install -q --no-build-isolation -e ".[test,bench,plot,dask,progress]"
	touch $@

# setuptools and Cython rebuild only what is older than its sources, so a change to setup.py
# alone (compiler flags, Cython directives) forces both to redo everything.
FORCE_ALL = $(if $(filter setup.py,$?),1)

$(BUILT): $(DEPS) $(SOURCES)
	CYTHON_FORCE_REGEN=$(FORCE_ALL) $(PY) setup.py -q build_ext --inplace -j 2 $(if $(FORCE_ALL),--force)
	touch $@

$(DEBUG_DIR)/.built: $(DEPS) $(SOURCES) $(shell find engine -name '*.py')
	rm -rf $(DEBUG_DIR)
	ENGINE_DEBUG=1 CYTHON_FORCE_REGEN=$(FORCE_ALL) $(PY) setup.py -q build --build-base build/debug-tmp \
		--build-lib $(DEBUG_DIR) $(if $(FORCE_ALL),--force)
	touch $@

# BENCH_ROUNDS=10 runs the table ten times and ends with each figure's range over them.
BENCH_ROUNDS ?= 1
bench: $(BUILT)
	$(PY) bench/table.py --rounds $(BENCH_ROUNDS)

bench-peers: $(BUILT)
	$(PY) bench/peers/run.py

clean:
	rm -rf build $(VENV) engine/*.so engine/*.c engine/**/*.so engine/**/*.c bench/.data
