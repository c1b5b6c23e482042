# logpipe: `make up` starts everything locally, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install up down status test test-cluster unit lint bench clean asan

# The C hot path is compiled by the install, so a change to it re-installs too.
$(STAMP): pyproject.toml collector/_fastpath.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

up: install
	$(BIN)/logpipe stack up
	$(BIN)/logpipe stack services up

down: install
	-$(BIN)/logpipe stack services down
	$(BIN)/logpipe stack down

status: install
	$(BIN)/logpipe stack status

# pytest-xdist: three worker processes, one test file per worker at a time (a module's
# fixtures stay in one process); `make test PYTEST_WORKERS=` runs it in one process.
PYTEST_WORKERS ?= -n 3 --dist loadfile

# Browser tests need Debian's chromium, journald tests systemd-journal-remote, the TLS
# tests openssl; deploy tests need helm and the Compose and Kubernetes validators built
# from the Go module proxy (cached after the first run).
test: install
	bash tools/install-chromium.sh
	bash tools/install-journald.sh
	bash tools/install-openssl.sh
	bash tools/build-validators.sh
	$(BIN)/logpipe stack up
	bash tools/asan.sh
	$(BIN)/pytest -q -m "not cluster" $(PYTEST_WORKERS)

# The fault tests on a 3-broker Kafka and 3-node Elasticsearch (tests/cluster): started
# beside the single-node stack (own home, ports 29092.. and 29200..), stopped afterwards
# unless KEEP_CLUSTER=1. About 8 minutes; .ci/run runs it after `make test`.
test-cluster: install
	$(BIN)/pytest -q -m cluster tests/cluster

# The C fast path's differential tests under AddressSanitizer and UBSan (a temporary build).
asan: install
	bash tools/asan.sh

unit: install
	$(BIN)/pytest -q -m "not integration and not browser and not tools"

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: install
	bash tools/install-rsyslog.sh
	$(BIN)/logpipe stack up
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
