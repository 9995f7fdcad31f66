# ParIndex developer commands. Every target bootstraps .venv itself, so on a fresh machine with
# Python 3.11+ `make run` and `make test` are the only two commands needed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.PHONY: help venv run test test-browser test-office office test-services lint typecheck check messages clean

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.parindex-installed
PYTHON_CANDIDATES := python3.13 python3.12 python3.11 python3
HOST_PORT := 127.0.0.1:8000

# Tests that need outside services, a browser or Debian packages (LibreOffice, Poppler); `make test` leaves
# them out, CI (.ci/run) installs what they need and runs them.
SERVICE_MARKERS := not postgres and not redis and not worker and not browser and not libreoffice

# `make test-services`: the whole suite, browser tests included (as CI runs it), on the PostgreSQL and
# Redis that run on this machine. An empty marker expression selects every test.
SERVICES_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/parindex_dev
SERVICES_REDIS_URL ?= redis://127.0.0.1:6379/14
SERVICES_MARKERS :=

help:
	@echo "make run            demo app on SQLite at http://$(HOST_PORT)/ (admin at /admin/)"
	@echo "make test           test suite on SQLite with eager Celery (no services needed)"
	@echo "make test-browser   browser tests only (headless Chromium from Debian's chromium package)"
	@echo "make office         install LibreOffice Writer/Calc, Poppler, Liberation Serif 2 when missing (PDF annexes)"
	@echo "make test-office    the tests marked libreoffice (PDF annexes, real workbooks), browser tests apart"
	@echo "make test-services  whole suite, browser tests included, on PostgreSQL + Redis + a real Celery worker"
	@echo "make lint           ruff check, ruff format --check and the type check"
	@echo "make typecheck      mypy over the services, selectors and results engine"
	@echo "make check          makemigrations --check and manage.py check"
	@echo "make messages       merge locale/fragments and compile the Vietnamese catalogue"
	@echo "make clean          remove caches and build output (keeps .venv and var/db.sqlite3)"

# Create .venv with the first Python >= 3.11 found, then (re)install the project whenever
# pyproject.toml differs from what was last installed (its hash is kept in the stamp file).
venv:
	@if ! $(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1; then \
	  found=""; \
	  for candidate in $(PYTHON_CANDIDATES); do \
	    if $$candidate -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1; then \
	      found=$$candidate; break; \
	    fi; \
	  done; \
	  if [ -z "$$found" ]; then \
	    echo "ParIndex needs Python 3.11 or newer; none of $(PYTHON_CANDIDATES) is." >&2; \
	    echo "Install Python 3.11+ (e.g. apt-get install python3.11 python3.11-venv) and retry." >&2; \
	    exit 1; \
	  fi; \
	  echo "Creating $(VENV) with $$found ($$($$found -c 'import sys; print(sys.version.split()[0])'))"; \
	  $$found -m venv --clear $(VENV); \
	  rm -f $(STAMP); \
	fi
	@want=$$($(PY) -c 'import hashlib, sys; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())'); \
	if [ "$$(cat $(STAMP) 2>/dev/null)" != "$$want" ]; then \
	  echo "Installing ParIndex and its dependencies into $(VENV) (pyproject.toml changed)"; \
	  $(PY) -m pip install --disable-pip-version-check -q -e ".[dev]"; \
	  echo "$$want" > $(STAMP); \
	fi

run: export DJANGO_DEBUG := 1
run: venv
	$(PY) manage.py migrate --no-input
	$(PY) manage.py load_demo
	@echo "ParIndex: http://$(HOST_PORT)/  (admin: http://$(HOST_PORT)/admin/)"
	$(PY) manage.py runserver $(HOST_PORT)

# Exit code 5 means pytest collected nothing; that is not a failure of the code.
define PYTEST
rc=0; $(VENV)/bin/pytest $(1) || rc=$$?; \
if [ $$rc -eq 5 ]; then echo "pytest: no tests were selected"; rc=0; fi; exit $$rc
endef

test: venv
	env -u DATABASE_URL -u REDIS_URL -u PARINDEX_REQUIRE_SERVICES -u PARINDEX_TEST_DB_NAME -u DJANGO_SETTINGS_MODULE \
	  bash -c '$(call PYTEST,-m "$(SERVICE_MARKERS)" $(PYTEST_ARGS))'

# `make test-browser`: only the browser tests (headless Chromium, Debian's `chromium` package at
# /usr/bin/chromium: `apt-get install -y chromium`), on SQLite. Screenshots: test-artifacts/screenshots/.
test-browser: venv
	env -u DATABASE_URL -u REDIS_URL -u PARINDEX_REQUIRE_SERVICES -u PARINDEX_TEST_DB_NAME -u DJANGO_SETTINGS_MODULE \
	  bash -c '$(call PYTEST,-m browser $(PYTEST_ARGS))'

# `make office`: the Debian packages the PDF annexes need on this machine (`make run` writes the Word
# annexes without them and refuses the PDF with what to install) and the tests marked `libreoffice`:
# libreoffice-writer-nogui, libreoffice-calc-nogui, poppler-utils, fonts-liberation2 (apt-get; sudo
# when not root). `make test-office` runs those tests on SQLite, browser tests apart.
office:
	bash scripts/office_packages.sh --install

test-office: venv office
	env -u DATABASE_URL -u REDIS_URL -u PARINDEX_REQUIRE_SERVICES -u PARINDEX_TEST_DB_NAME -u DJANGO_SETTINGS_MODULE \
	  bash -c '$(call PYTEST,-m "libreoffice and not browser" $(PYTEST_ARGS))'

test-services: venv
	env -u DJANGO_SETTINGS_MODULE DATABASE_URL=$(SERVICES_DATABASE_URL) REDIS_URL=$(SERVICES_REDIS_URL) \
	  PARINDEX_REQUIRE_SERVICES=1 \
	  bash -c '$(call PYTEST,-m "$(SERVICES_MARKERS)" $(PYTEST_ARGS))'

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

typecheck: venv
	$(VENV)/bin/mypy

check: export DJANGO_DEBUG := 1
check: venv
	env -u DATABASE_URL -u REDIS_URL $(PY) manage.py makemigrations --check --dry-run
	env -u DATABASE_URL -u REDIS_URL $(PY) manage.py check

messages:
	bash scripts/compile_messages.sh

clean:
	rm -rf .pytest_cache .ruff_cache staticfiles build *.egg-info var/test-media
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
