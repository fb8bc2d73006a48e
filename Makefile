# mesos-py developer and CI entry points. Run `make help` for the list.

VENV ?= .venv
PYTHON ?= python3
AGENTS ?= 2
MASTERS ?= 3
PYTEST_ARGS ?=

BIN := $(VENV)/bin
MACHINES := $(BIN)/python -m tools.machines
# Touched once the venv is fully set up; rebuilt only when one of its inputs changes.
STAMP := $(VENV)/.mesos-py-bootstrap
BOOTSTRAP_INPUTS := pyproject.toml scripts/install-system-deps.sh scripts/install-pymesos.sh

# Lint only the trees that exist: empty directories are not tracked by git, so a fresh
# clone may not have bench/ yet.
LINT_PATHS := $(wildcard mesos_py tests bench tools)
BENCHMARKS := $(sort $(wildcard bench/*.py))

# Exits non-zero (with a message) unless $(1) is Python 3.11 or newer.
define require_python311
$(1) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	echo "error: mesos-py needs Python 3.11+, but '$(1)' is: $$($(1) --version 2>&1)" >&2; \
	echo "       pass another interpreter, e.g. make PYTHON=python3.11" >&2; \
	exit 1; }
endef

.PHONY: help venv lint unit integration unit-and-integration infra-test test local bench clean \
	machines cluster cluster-down

help:
	@echo "make venv         create $(VENV) with mesos-py, test tools, pymesos and system deps"
	@echo "make lint         ruff check"
	@echo "make unit         pytest tests/unit"
	@echo "make integration  pytest tests/integration"
	@echo "make test         lint, unit+integration, then infra-test (what CI runs)"
	@echo "make infra-test   local machines, site.yml twice, tests/infra, machines down (root)"
	@echo "make cluster      local machines (MASTERS=$(MASTERS), AGENTS=$(AGENTS)) + site.yml (root)"
	@echo "make cluster-down remove the local machines, their bridge and inventory (root)"
	@echo "make local        run a local cluster in the foreground (AGENTS=$(AGENTS))"
	@echo "make bench        run every bench/*.py"
	@echo "make clean        remove the venv, caches and build output"
	@echo "Variables: VENV=$(VENV) PYTHON=$(PYTHON) AGENTS=$(AGENTS) MASTERS=$(MASTERS) PYTEST_ARGS=$(PYTEST_ARGS)"

venv: $(STAMP)

$(STAMP): $(BOOTSTRAP_INPUTS)
	@$(call require_python311,$(PYTHON))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(call require_python311,$(BIN)/python)
	$(BIN)/python -m pip install --quiet --upgrade pip wheel setuptools
	@if [ "$$(id -u)" -eq 0 ]; then \
		scripts/install-system-deps.sh; \
	else \
		scripts/install-system-deps.sh --check || \
			echo "warning: not root, so system packages were not installed; tests needing them will fail or skip"; \
	fi
	$(BIN)/python -m pip install --quiet -e '.[test]'
	scripts/install-pymesos.sh $(VENV)
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit $(PYTEST_ARGS)

integration: $(STAMP)
	$(BIN)/pytest -q tests/integration $(PYTEST_ARGS)

# Every test but tests/infra, which needs the deployed local cluster (infra-test).
unit-and-integration: $(STAMP)
	$(BIN)/pytest -q tests --ignore=tests/infra $(PYTEST_ARGS)

# The machines are removed at the end even on failure (scripts/infra-test.sh).
infra-test: $(STAMP)
	VENV=$(VENV) MASTERS=$(MASTERS) AGENTS=$(AGENTS) PYTEST_ARGS='$(PYTEST_ARGS)' \
		scripts/infra-test.sh

test: lint unit-and-integration infra-test

machines: $(STAMP)
	$(MACHINES) up --masters $(MASTERS) --agents $(AGENTS)

cluster: machines
	$(BIN)/ansible-playbook -i inventory/local site.yml </dev/null
	@echo "mesos-py cluster up (ssh: $(MACHINES) ssh NAME):"
	@$(MACHINES) status

cluster-down: $(STAMP)
	$(MACHINES) down

local: $(STAMP)
	$(BIN)/mesos-py local --agents $(AGENTS)

bench: $(STAMP)
	@if [ -z "$(BENCHMARKS)" ]; then echo "no bench/*.py yet"; fi
	@set -e; for script in $(BENCHMARKS); do \
		echo "== $$script"; \
		$(BIN)/python $$script; \
	done

clean:
	@if [ -n "$$(ls -A .cache/machines/run 2>/dev/null)" ]; then \
		echo "error: local machines are up (their roots are under .cache): make cluster-down first" >&2; \
		exit 1; fi
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache .hypothesis build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
