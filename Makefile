# The two commands of the README, and a few conveniences.
.PHONY: demo test venv lab-up lab-down bench
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export VIRTUAL_ENV := $(VENV)

demo:
	bash tools/demo.sh

test:
	bash tools/test.sh

venv:
	bash tools/bootstrap.sh

lab-up: venv
	python -m lab up standalone --state-dir .lab/standalone

lab-down:
	python -m lab down --state-dir .lab/standalone

bench:
	bash tools/bench.sh
