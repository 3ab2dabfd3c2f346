# Skillport — the two commands a new user needs are `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
CLAUDE_CODE_VERSION ?= 2.1.332
INSPECTOR_VERSION ?= 2.12.0
CONFORMANCE_VERSION ?= 0.2.0-alpha.12
NODE22_VERSION ?= 22
export NO_MKDOCS_2_WARNING := 1

.PHONY: demo test lint bench install tools build clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ".[dev]"
	touch $@

# External checkers run by the tests (Claude Code, MCP Inspector, the MCP conformance suite and the
# Node 22 it needs). When the npm registry cannot be reached the tests that need them skip with a
# message saying so.
tools: .tools/.installed .tools/scanner/.installed

# The security scanner (Cisco's AI skill scanner) in its own virtualenv: its pinned dependencies
# (anthropic, litellm, fastapi, …) never enter the product's environment. Builds call it as a process
# with its static analyzers only. Without it builds still run and say "not scanned".
SCANNER_VERSION ?= 2.3.2
.tools/scanner/.installed: Makefile
	@mkdir -p .tools
	@if $(PYTHON) -m venv .tools/scanner && .tools/scanner/bin/pip install -q \
	    cisco-ai-skill-scanner==$(SCANNER_VERSION); then \
	  touch $@; \
	else echo "warning: PyPI unreachable; the security scanner is not installed: builds will say 'not scanned' and the scanner tests will be skipped"; fi

.tools/.installed: Makefile
	@mkdir -p .tools
	@if npm install --prefix .tools --no-audit --no-fund --silent \
	    @anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION) @modelcontextprotocol/inspector@$(INSPECTOR_VERSION) \
	    @modelcontextprotocol/conformance@$(CONFORMANCE_VERSION) node@$(NODE22_VERSION); then \
	  touch $@; \
	else echo "warning: npm registry unreachable; Claude Code, MCP Inspector and MCP conformance checks will be skipped"; fi

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
