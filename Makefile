# brainalign developer tasks. `make demo` and `make test` work on a fresh machine:
# each creates .venv and installs what it needs first (CPU torch, then the package).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export OMP_NUM_THREADS ?= 2
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export MPLBACKEND := Agg

.PHONY: install demo test docs tutorials bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@# headless Chromium lets the HTML-report test load the page for real; as root it is
	@# installed from Debian's packages, otherwise that one test skips and says why
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null) \
		|| echo "note: could not install chromium; the HTML report browser test will be skipped"; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# the CPU wheel first, so nothing below pulls a multi-GB CUDA build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test,demo,docs]"
	touch $@

demo: install
	$(BIN)/brainalign demo

test: install
	$(BIN)/python -m pytest -q

docs: install
	BRAINALIGN_FAST=1 $(BIN)/sphinx-build -q -W --keep-going -b html docs docs/_build/html

tutorials: install
	for t in tutorials/plot_*.py; do BRAINALIGN_FAST=1 $(BIN)/python $$t || exit 1; done

bench: install
	$(BIN)/python benchmarks/bench_features.py
	$(BIN)/python benchmarks/bench_ridge.py
	$(BIN)/python benchmarks/bench_video.py

clean:
	rm -rf docs/_build docs/auto_tutorials demo_results .pytest_cache
