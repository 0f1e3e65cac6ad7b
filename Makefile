# Two entry points (see README):
#   make repro  -> create/refresh .venv, print the plan (stages to run, expected time of each on this
#                  machine), then `dvc repro` (profile from params.yaml, default mini), recording stage times
#   make test   -> create/refresh .venv, then the test suite
#   make lab    -> create/refresh .venv, then JupyterLab on notebooks/ (the .py notebooks open as notebooks)
# The venv is (re)installed only when pyproject.toml changes.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: repro test lab env clean-env

env: $(STAMP)

$(STAMP): pyproject.toml .jupyter/overrides.json
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "beyondfid needs Python 3.11 (found %s); set PYTHON=/path/to/python3.11" % sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,paper]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (beyondfid)" >/dev/null
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp .jupyter/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	touch $(STAMP)

repro: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m beyondfid.zoo.plan --run

lab: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/

test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

clean-env:
	rm -rf $(VENV)
