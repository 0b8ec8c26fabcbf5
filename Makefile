# Two commands for a fresh machine: `make lab` opens the course, `make test` runs every test.
#   make lab                  install the course into .venv, open your copies (my-notebooks/) in JupyterLab
#   make test                 install the test tools on top, run every test
#   make fresh NB=03_stride   a new copy of one notebook in my-notebooks/ (yours kept as 03_stride.bak.ipynb);
#                             `make fresh` alone re-copies all of them the same way
#   make images               regenerate images/
#   make lint                 ruff check, ruff format --check, mypy (CI: `make lint TOOLS=` in its own venv)
# Another interpreter for the venv: `make lab PYTHON=python3.12` (Python >= 3.11).
# Extra JupyterLab options: `make lab LAB_ARGS="--ip=0.0.0.0 --no-browser"` (e.g. in a container).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LAB_ARGS ?=
# root (Docker, cloud VMs): JupyterLab refuses to start without --allow-root
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

# the course only (requirements.txt): what `make lab` needs
$(VENV)/course.stamp: requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "no $(PYTHON) here; the course needs Python >= 3.11: make lab PYTHON=python3.12" >&2; exit 1; }
	@$(PYTHON) tools/check_python.py
	@# a venv left by an older Python (an earlier failed install) cannot be upgraded in place
	@if [ -x $(PY) ] && ! $(PY) tools/check_python.py 2>/dev/null; then rm -rf $(VENV); fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

# the test tools on top (requirements-test.txt: pytest, nbval, playwright, ...)
$(VENV)/test.stamp: requirements-test.txt $(VENV)/course.stamp
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

lab: $(VENV)/course.stamp
	$(PY) tools/sync_notebooks.py
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=my-notebooks $(ALLOW_ROOT) $(LAB_ARGS)

fresh: $(VENV)/course.stamp
	$(PY) tools/sync_notebooks.py --fresh $(or $(NB),all)

# the kernel's inline backend stores the figures nbval compares; an inherited MPLBACKEND=Agg drops them
unexport MPLBACKEND
test: $(VENV)/test.stamp
	$(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -n 2 --dist loadscope

TOOLS ?= $(VENV)/bin/
lint: $(if $(TOOLS),$(VENV)/test.stamp)
	$(TOOLS)ruff check .
	$(TOOLS)ruff format --check .
	$(TOOLS)mypy

images: $(VENV)/course.stamp
	$(PY) -m cnnlib.course.images images/

.PHONY: lab fresh test lint images
