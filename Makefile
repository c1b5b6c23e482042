# logpipe: `make up` starts everything locally, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install up down status test unit lint bench clean

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

# Browser tests need Debian's chromium, journald tests systemd-journal-remote, the TLS
# tests openssl; deploy tests need helm and the Compose and Kubernetes validators built
# from the Go module proxy (cached after the first run).
test: install
	bash tools/install-chromium.sh
	bash tools/install-journald.sh
	bash tools/install-openssl.sh
	bash tools/build-validators.sh
	$(BIN)/logpipe stack up
	$(BIN)/pytest -q

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
