# Two entry points for a fresh machine: `make run` (the app on the shipped default checkpoint)
# and `make test` (the whole suite, browser tests included). Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)
CHROMIUM := /usr/bin/chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup run test test-fast browser bench clean

setup: $(STAMP)

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@

# Debian's Chromium drives the browser tests (Playwright's own browser download is not used).
browser:
	@[ -x $(CHROMIUM) ] || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }

run: setup
	$(BIN)/streamlit run vae_explorer/app.py

test: setup browser
	$(BIN)/python -m pytest -q -rs

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not e2e"

bench: setup
	$(BIN)/python bench/train_speed.py
	$(BIN)/python bench/explorer_latency.py

clean:
	rm -rf $(VENV) .pytest_cache
