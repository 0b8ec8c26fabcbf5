# Two commands for a fresh machine: `make lab` opens the course, `make test` runs every test.
VENV := .venv
PY := $(VENV)/bin/python

$(VENV)/installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

lab: $(VENV)/installed
	$(VENV)/bin/jupyter lab notebooks/

test: $(VENV)/installed
	$(PY) -m pytest --nbval --nbval-current-env -n 2 --dist loadscope

images: $(VENV)/installed
	$(PY) -m cnnlib.course.images images/

.PHONY: lab test images
