# Centralino: `make run` brings the PBX up, `make test` runs the test suite.
# Needs only Python 3.11+, make and a C compiler; everything else is installed here.

PYTHON ?= python3
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run install test lint format typecheck test-deps bench clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check 'uv>=0.5'

# uv installs every workspace package (editable) from uv.lock; the shared library's build
# hook generates the gRPC stubs from proto/ on the way.
install: $(UV)
	$(UV) sync --frozen --all-packages --all-extras

run: install
	$(BIN)/centralino up --demo

test-deps:
	./scripts/install-test-deps.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: install test-deps lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
