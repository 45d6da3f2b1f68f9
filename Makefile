# The two commands of the quick start. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: analysis test setup clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch 2.14.1 with torchvision 0.29.1 is the pair pip resolves from the local wheel cache.
	$(PY) -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
	$(PY) -m pip install -q -e ".[dev,metrics]"
	touch $@

setup: $(VENV)/.installed

analysis: setup
	$(PY) run_analysis.py

test: setup
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) *.egg-info
