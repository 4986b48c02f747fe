PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
API_PORT ?= 8000
AWS_PORT ?= 5000

.PHONY: install test lint fmt run bench clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

test: install
	$(PY) -m pytest -q -n 2  # two workers: each test has its own moto, ports and temp dirs

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

fmt: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

run: install
	API_PORT=$(API_PORT) AWS_PORT=$(AWS_PORT) $(PY) -m devstack

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) .local .pytest_cache
