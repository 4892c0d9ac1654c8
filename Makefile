# Two commands set up a fresh machine; each creates or reuses ./.venv.
#   make demo   train and evaluate the built-in quick start on CPU
#   make test   run the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: env demo test

env:
	bash tools/setup_env.sh

demo: env
	$(PY) tools/quickstart.py

test: env
	$(PY) -m pytest tests projects/cascade_ms_rcnn/tests
