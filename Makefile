# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/outreach demo

test: $(STAMP)
	$(BIN)/ruff check outreach tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q -rs --durations=15 -n auto

lint: $(STAMP)
	$(BIN)/ruff check outreach tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/send.py

# the team app's three main pages (and the campaign page), and a `content new` press release at phone and
# desktop width (`content preview --screenshot`), from the browser tests
screenshots: $(STAMP)
	OUTREACH_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/web/test_app_browser.py tests/studio/test_screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
