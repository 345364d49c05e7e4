# d1core: the two commands that matter are `make sim` and `make test`; `make help` lists the rest.
VENV    ?= .venv
STAMP   := $(VENV)/.d1core-setup
D1CORE  := $(VENV)/bin/d1core
PYTEST  := $(VENV)/bin/pytest
JOBS    ?= auto
TX      ?=
BLOCKS  ?=

.DEFAULT_GOAL := help
.PHONY: help setup sim test check lint synth bench coverage clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml sim/setup_env.sh
	sh sim/setup_env.sh $(VENV)
	@touch $@

setup: $(STAMP) ## create .venv and install what is missing (pip packages, Debian iverilog and g++)

sim: $(STAMP) ## run the default demo simulation, checked against the reference model
	$(D1CORE) sim

# TX="SPEC ...": one pytest-xdist worker per --tx spec (other machines, docs/verification.md)
# instead of JOBS local ones; the tests are pyproject.toml's testpaths, collected by each worker.
test: $(STAMP) ## run the regression on Verilator and Icarus but the bench-marked tests (xdist)
	$(PYTEST) $(if $(strip $(TX)),$(addprefix --tx ,$(TX)),-n $(JOBS)) --dist loadgroup \
		--no-loadscope-reorder --durations=30 -m "not bench"

check: $(STAMP) ## the fast tier (tests/check.py): every block on both simulators (budget 5 min)
	$(PYTEST) -n $(JOBS) --dist loadgroup --no-loadscope-reorder --durations=15 -m check

lint: $(STAMP) ## Verilator --lint-only on every generated top, ruff on the Python
	$(VENV)/bin/ruff check hw verif sim tests
	$(D1CORE) lint

synth: $(STAMP) ## synthesize every block with Yosys; writes docs/results.md and build/synth.json
	$(D1CORE) synth $(BLOCKS)

bench: $(STAMP) ## measure simulation speed and block throughput; writes docs/results.md
	$(D1CORE) bench

coverage: $(STAMP) ## line and toggle coverage of the blocks' tests; writes docs/coverage.md
	$(D1CORE) coverage $(BLOCKS)

clean: ## remove build products (keeps .venv; `rm -rf .venv` for a full reset)
	rm -rf build .pytest_cache
	find . -name __pycache__ -type d -not -path './.venv/*' -prune -exec rm -rf {} +
