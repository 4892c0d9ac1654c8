# Two commands set up a fresh machine; each creates or reuses ./.venv.
#   make demo   train and evaluate the built-in quick start on CPU
#   make demo-text   the same for scene text (synthetic ICDAR 2015 / CTW1500)
#   make test   run the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: env demo demo-text test

env:
	bash tools/setup_env.sh

demo: env
	$(PY) tools/quickstart.py

demo-text: env
	$(PY) tools/quickstart.py --task textdet

test: env
	$(PY) -m pytest tests projects/cascade_ms_rcnn/tests projects/mask_score_study/tests
