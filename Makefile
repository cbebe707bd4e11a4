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

.PHONY: all demo test pytest test-newest sanity lint docs docs-lint changelog-lint galaxy-import build bench setup vcsim clean

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
	$(BIN)/python tests/support/vcsim/harness.py build

demo: setup vcsim
	$(BIN)/python tools/demo.py

# The quick gates first; then the suite, the newest-Ansible leg and the static gates side by side (the suite alone
# leaves a core idle about a quarter of its time: tests wait on timers, rulebooks and the simulator), each gate's
# output printed whole when it ends.
test: docs-lint changelog-lint
	$(MAKE) --no-print-directory -j4 --output-sync=target pytest test-newest sanity lint galaxy-import docs

# Two workers (pytest-xdist), each taking whole test files, so a module's simulator and fixtures stay in one
# process. PYTEST_WORKERS=0 runs the suite in this process, one test at a time.
# In random order (pytest-randomly), so that no test leans on what another left behind. The run's first lines
# say "Using --randomly-seed=N": `make pytest PYTEST_SEED=N` runs the suite in that order again. A file's order
# depends on N alone (not on the worker or the other files), so
# `.venv/bin/python -m pytest -p randomly --randomly-seed=N tests/functional/test_x.py` replays one file.
PYTEST_WORKERS ?= 2
PYTEST_SEED ?= default
pytest: setup vcsim
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile -p randomly --randomly-seed=$(PYTEST_SEED) tests/unit tests/functional

# The smoke leg on the newest Ansible: ansible-core 2.21 (what the `ansible` 14 package ships) needs Python 3.12,
# which pyenv provides here (NEWEST_PYTHON to point elsewhere). Its own virtualenv from requirements-newest.txt; the
# playbook, restore and rulebook paths, and the vCenter modules run in the controller's process (its private
# ansible-core interfaces), a few minutes on an idle machine. Its own --basetemp: it runs beside `make pytest`.
NEWEST_PYTHON ?= $(shell pyenv prefix 3.12 2>/dev/null || echo /usr)/bin/python3.12
NEWEST_VENV := $(BUILD)/venv-newest
SMOKE_TESTS := tests/functional/test_role_preempt.py tests/functional/test_restore.py \
	tests/functional/test_rulebook.py::test_alarms_preempt_and_cancel_on_the_simulator \
	tests/unit/plugins/plugin_utils/test_module_in_controller.py

$(NEWEST_VENV)/bin/.installed: requirements.txt requirements-newest.txt
	$(NEWEST_PYTHON) -m venv $(NEWEST_VENV)
	$(NEWEST_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-newest.txt
	touch $@

test-newest: $(NEWEST_VENV)/bin/.installed $(LINK) vcsim
	$(NEWEST_VENV)/bin/python -c 'import ansible, sys; assert sys.version_info[:2] == (3, 12) and ansible.__version__.startswith("2.21."), (sys.version, ansible.__version__)'
	$(NEWEST_VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --basetemp=$(BUILD)/pytest-newest $(SMOKE_TESTS)

sanity: setup
	VENV_BIN=$(BIN) tools/sanity.sh

lint: setup
	$(BIN)/ansible-lint --profile production --offline

# The collection's HTML documentation (antsibull-docs + Sphinx, warnings as errors) in .build/docs/html.
docs: setup
	tools/docs/build.sh

# antsibull-docs' checks of every plugin's, the role's and the guides' documentation,
# and that the Event-Driven Ansible plugins' page matches their DOCUMENTATION.
docs-lint: setup
	cd $(LINK) && $(BIN)/antsibull-docs lint-collection-docs --plugin-docs .
	$(BIN)/python tools/docs/eda_plugins.py --check

# The fragments, the released changelog.yaml, and CHANGELOG.md as antsibull-changelog generates it.
changelog-lint: setup
	$(BIN)/antsibull-changelog lint
	$(BIN)/antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
	mkdir -p $(BUILD) && $(BIN)/antsibull-changelog generate --output $(BUILD)/CHANGELOG.md
	diff -u CHANGELOG.md $(BUILD)/CHANGELOG.md

# galaxy-importer on the tarball, as Galaxy and Automation Hub run it (tools/galaxy-importer.cfg).
galaxy-import: build
	tools/galaxy_import.sh

# Only this version's tarball in .build/dist: the EE and DE definitions take vsphere-preemption-*.tar.gz.
build: setup
	rm -rf $(BUILD)/dist
	$(BIN)/ansible-galaxy collection build --force --output-path $(BUILD)/dist

bench: setup vcsim
	$(BIN)/python bench/run.py

clean:
	rm -rf $(BUILD) tests/output $(NEWEST_VENV)
