VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install browser test demo lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Headless Chromium opens the HTML reports in tests (Debian's package; about a minute to install).
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

test: $(STAMP) browser
	$(PY) -m pytest -q -n auto --dist loadfile

demo: $(STAMP)
	$(VENV)/bin/nnmap inspect zoo:resnet8
	$(VENV)/bin/nnmap verify zoo:resnet8 --inputs 20
	$(VENV)/bin/nnmap run zoo:resnet8 --target host --inputs 20
	$(VENV)/bin/nnmap run zoo:kws --target gemmini --baseline host-only --inputs 5

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache
