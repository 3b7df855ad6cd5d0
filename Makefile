VENV := .venv
PYTHON := $(VENV)/bin/python
SYSTEM_PYTHON ?= python3

.PHONY: run test lint install binary smoke-test bench screenshots clean

$(VENV)/.installed: pyproject.toml
	$(SYSTEM_PYTHON) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet '.[test]'
	touch $@

$(VENV)/.binary-installed: $(VENV)/.installed
	$(PYTHON) -m pip install --quiet '.[binary]'
	touch $@

$(VENV)/.lint-installed: $(VENV)/.installed
	$(PYTHON) -m pip install --quiet '.[lint]'
	touch $@

install: $(VENV)/.installed

run: install  ## serve on http://localhost:8080 (SQLite under ./data/)
	$(PYTHON) main.py

test: install  ## the whole suite; DATABASE_URL=postgresql://… runs it on PostgreSQL
	$(PYTHON) -m pytest -q

lint: $(VENV)/.lint-installed  ## ruff, mypy and hadolint, at the versions pinned in pyproject.toml
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint deploy/docker/Dockerfile runtime/Dockerfile

# nicegui-pack runs `python -m PyInstaller` with whatever `python` is first on PATH: put the venv's first.
# static/, the migrations (peewee's runner loads them from disk by path) and Swagger UI's files (for /docs) travel
# inside the binary.
binary: $(VENV)/.binary-installed  ## one executable for Linux x86-64: dist/agenthost
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/nicegui-pack --onefile --noconfirm --name agenthost \
		--add-data 'static:static' --add-data 'models/migrations:models/migrations' \
		--add-data "$$($(PYTHON) -c 'import os, swagger_ui_bundle; print(os.path.dirname(swagger_ui_bundle.__file__))'):swagger_ui_bundle" \
		main.py
	@ls -l dist/agenthost

smoke-test: binary  ## start the binary on a fresh data dir, wait for /healthz, create a user, stop it
	bash deploy/smoke-test-binary.sh

bench: install  ## the benchmark table (bench/README in the main README); also writes bench/results.json
	$(PYTHON) -m bench

screenshots: install  ## refresh docs/screenshots/ from the browser test
	AGENTHOST_SCREENSHOTS=docs/screenshots $(PYTHON) -m pytest -q -m browser

clean:
	rm -rf $(VENV) build dist *.egg-info *.spec
