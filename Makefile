# Costream: `make run` serves on http://127.0.0.1:8080, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# package:command pairs
APT_PACKAGES := chromium:chromium redis-server:redis-server iproute2:ip util-linux:unshare \
	nginx:nginx libnginx-mod-rtmp:libnginx-mod-rtmp postgresql:initdb
PYTEST_ARGS ?=

.PHONY: run test lint system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when pyproject.toml (or package.json) changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

$(VENV)/.installed-npm: $(wildcard package.json package-lock.json) | $(BIN)/python
	if [ -f package.json ]; then npm ci; fi
	touch $@

run: $(VENV)/.installed-run $(VENV)/.installed-npm
	$(BIN)/costream serve

# Debian packages the suite needs (Chromium for e2e, Redis for multi-process tests,
# PostgreSQL's binaries for the tests on PostgreSQL, ip/unshare for the loopback-only
# network namespace). Machines run as root. The tests start their own PostgreSQL cluster
# inside the namespace (tests/helpers/postgres.py): a server on the host's 127.0.0.1:5432
# is out of reach there, so only the binaries are needed, never a running service.
system-deps:
	@missing=""; \
	for pair in $(APT_PACKAGES); do \
		pkg=$${pair%%:*}; cmd=$${pair#*:}; \
		command -v $$cmd >/dev/null 2>&1 || dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

# The suite runs in a private network namespace with only loopback up, so tests and
# Chromium cannot reach anything but 127.0.0.1. pytest's exit status is make's.
test: system-deps $(VENV)/.installed-test $(VENV)/.installed-npm
	unshare -n sh -c 'ip link set lo up && exec $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)'

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
