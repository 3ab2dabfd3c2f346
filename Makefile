# Skillport — the two commands a new user needs are `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
CLAUDE_CODE_VERSION ?= 2.1.332
INSPECTOR_VERSION ?= 2.12.0
export NO_MKDOCS_2_WARNING := 1

.PHONY: demo test lint bench install tools build clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ".[dev]"
	touch $@

# External checkers run by the tests (Claude Code, MCP Inspector). When the npm registry cannot be
# reached the tests that need them skip with a message saying so.
tools: .tools/.installed

.tools/.installed:
	@mkdir -p .tools
	@if npm install --prefix .tools --no-audit --no-fund --silent \
	    @anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION) @modelcontextprotocol/inspector@$(INSPECTOR_VERSION); then \
	  touch $@; \
	else echo "warning: npm registry unreachable; Claude Code and MCP Inspector checks will be skipped"; fi

demo: install
	$(PY) -m proxy.demo $(if $(PORT),--port $(PORT))

build: install
	$(VENV)/bin/skillport build examples/marketplace --out site --dev

test: install tools
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check builder proxy tests benchmarks
	$(VENV)/bin/mypy

bench: install
	$(PY) benchmarks/run_all.py

clean:
	rm -rf site .pytest_cache .mypy_cache .ruff_cache artifacts
