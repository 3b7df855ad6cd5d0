VENV := .venv
PYTHON := $(VENV)/bin/python
SYSTEM_PYTHON ?= python3

.PHONY: run test install screenshots clean

$(VENV)/.installed: pyproject.toml
	$(SYSTEM_PYTHON) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet '.[test]'
	touch $@

install: $(VENV)/.installed

run: install  ## serve on http://localhost:8080 (SQLite under ./data/)
	$(PYTHON) main.py

test: install  ## the whole suite; DATABASE_URL=postgresql://… runs it on PostgreSQL
	$(PYTHON) -m pytest -q

screenshots: install  ## refresh docs/screenshots/ from the browser test
	AGENTHOST_SCREENSHOTS=docs/screenshots $(PYTHON) -m pytest -q -m browser

clean:
	rm -rf $(VENV) build *.egg-info
