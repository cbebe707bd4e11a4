# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# `make demo` and `make test` each do all their own set-up on a fresh machine:
# a virtualenv with the pinned toolchain, this checkout linked as the
# vsphere.preemption collection, and the vCenter simulator built from source.

SHELL := /bin/bash
PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
BUILD := $(CURDIR)/.build
COLLECTIONS := $(BUILD)/collections
LINK := $(COLLECTIONS)/ansible_collections/vsphere/preemption

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(BIN):$(PATH)

.PHONY: all demo test pytest sanity lint build bench setup vcsim clean

all: test

setup: $(BIN)/.installed $(LINK)

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(LINK):
	mkdir -p $(dir $(LINK))
	ln -sfn ../../../.. $(LINK)

vcsim: setup
	$(BIN)/python tests/vcsim/harness.py build

demo: setup vcsim
	$(BIN)/python tools/demo.py

test: pytest sanity lint

# Two workers (pytest-xdist), each taking whole test files, so a module's simulator and fixtures stay in one
# process. PYTEST_WORKERS=0 runs the suite in this process, one test at a time.
PYTEST_WORKERS ?= 2
pytest: setup vcsim
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile tests/unit tests/functional

sanity: setup
	VENV_BIN=$(BIN) tools/sanity.sh

lint: setup
	$(BIN)/ansible-lint --profile production --offline

build: setup
	$(BIN)/ansible-galaxy collection build --force --output-path $(BUILD)/dist

bench: setup vcsim
	$(BIN)/python bench/run.py

clean:
	rm -rf $(BUILD) tests/output
