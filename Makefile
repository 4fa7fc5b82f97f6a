# The README's two commands: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU wheel for laptops and CI; on a GPU cluster install your CUDA build of torch first (README).
TORCH ?= torch==2.13.0
CORES ?= all

.PHONY: setup run report test lint format clean report-screenshot

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

run: setup
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/python -m repgeom verify results
	$(BIN)/snakemake --report results/report.html
	$(BIN)/python -m repgeom headline results
	$(BIN)/python -m repgeom claims results

# results/report.html as headless Chromium renders it, opened at the first experiment's overview
# (EXPERIMENT=name for another); needs chromium (Debian: apt-get install chromium)
EXPERIMENT ?=
report-screenshot: setup
	$(BIN)/python -m repgeom.screenshot results/report.html -o results/report.png \
		$(if $(EXPERIMENT),--experiment $(EXPERIMENT))

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check src tests workflow benchmarks
	$(BIN)/ruff format --check src tests workflow benchmarks
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint

format: setup
	$(BIN)/ruff format src tests workflow benchmarks
	$(BIN)/ruff check --fix src tests workflow benchmarks
	$(BIN)/snakefmt Snakefile workflow/rules

clean:
	rm -rf results .snakemake
