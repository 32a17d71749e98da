# The two commands of the README: `make run` and `make test`. Everything else is a helper of theirs.
#
#   make run    .venv + package + front-end assets, `kehu setup --demo-customers 2000`, serve on HOST:PORT
#   make test   the same plus test dependencies, then ruff and the whole pytest suite
#
# Variables: PYTHON (python3.11+), HOST, PORT, WORKERS, DEMO_CUSTOMERS, PYTEST_ARGS, and the app's own
# environment (DATABASE_URL, KEHU_DATA_DIR, ...; see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?=
DEMO_CUSTOMERS ?= 2000
PYTEST_ARGS ?=
NPM ?= npm

# Front-end libraries come from npm. Be tolerant: without package.json there is nothing to install,
# without a lock file `npm install` writes one, and without npm we only warn (pages still work
# except for the vendored scripts).
ifneq ($(wildcard package-lock.json),)
NODE_STAMP := node_modules/.package-lock.json
NODE_INSTALL := $(NPM) ci --no-audit --no-fund --loglevel=error
NODE_INPUTS := package.json package-lock.json
else ifneq ($(wildcard package.json),)
NODE_STAMP := node_modules/.package-lock.json
NODE_INSTALL := $(NPM) install --no-audit --no-fund --loglevel=error
NODE_INPUTS := package.json
endif

.PHONY: run test install install-test assets lint check-python clean

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Kehu needs Python 3.11 or newer (set PYTHON=python3.11)")'

$(BIN)/python: | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

ifdef NODE_STAMP
$(NODE_STAMP): $(NODE_INPUTS)
	@if command -v $(NPM) >/dev/null 2>&1; then \
		$(NODE_INSTALL) && touch $@; \
	else \
		echo "warning: npm not found; front-end libraries (htmx) are not installed" >&2; \
	fi
assets: $(NODE_STAMP)
else
assets:
	@true
endif

install: $(STAMP) assets

install-test: $(TEST_STAMP) assets

run: install
	$(BIN)/kehu setup --demo-customers $(DEMO_CUSTOMERS)
	@echo "Kehu: http://$(HOST):$(PORT)/  (管理员 admin；演示账号 sales01 / manager1 / marketing1，密码 kehu-demo)"
	exec $(BIN)/kehu serve --bind $(HOST):$(PORT) $(if $(WORKERS),--workers $(WORKERS))

test: install-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) node_modules build dist
