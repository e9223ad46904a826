# JIT Explorer — `make demo` serves the app, `make test` runs everything (installing what is missing).
PY ?= python3
VENV := .venv
PYTHON := $(VENV)/bin/python
PIP := $(PYTHON) -m pip
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install lint browser demo test bench screenshots clean

install: $(STAMP)

# The pinned requirements (incl. dev tools), then the package itself, editable, with its extras
# (pyproject.toml pins the same versions; setuptools comes from requirements-dev.txt, so no build isolation).
$(STAMP): pyproject.toml requirements.txt requirements-dev.txt
	@test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PIP) install --disable-pip-version-check -q -r requirements-dev.txt
	$(PIP) install --disable-pip-version-check -q --no-build-isolation -e ".[app,onnx]"
	@touch $(STAMP)

# ruff (style, bugs, imports) and mypy (types); settings in pyproject.toml
lint: install
	$(PYTHON) -m ruff check .
	$(PYTHON) -m mypy

# Debian's chromium drives the browser tests (playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null; }
	@command -v chromium >/dev/null 2>&1 && echo "browser: $$(chromium --version 2>/dev/null)"

demo: install
	$(PYTHON) -m app

test: install lint browser
	JIT_EXPLORER_OFFLINE=1 HF_HUB_OFFLINE=1 $(PYTHON) -m pytest

bench: install
	$(PYTHON) benchmarks/blog_table.py

# README pictures, made from the running app
screenshots: install browser
	JIT_EXPLORER_OFFLINE=1 HF_HUB_OFFLINE=1 $(PYTHON) scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache
