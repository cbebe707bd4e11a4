# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The container definitions: execution-environment.yml (AWX jobs) and decision-environment.yml (EDA activations).

There is no container engine on the test machines, so the images are not built. ``ansible-builder
create`` writes each build context (Containerfile and _build/) from a copy of the definition, next to the
tarball of this checkout that ``make build`` would write; the tests read the Containerfile stage by stage,
and run ansible-builder's own introspection script (the one the image build runs) over the collection
installed from that tarball, to see the Python and system packages the image would get.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from tests.support.ansible_cli import BIN, REPO
from tests.functional.test_galaxy_build import bundled_collections, galaxy

INSTALL_COLLECTION = ('RUN ansible-galaxy collection install --no-deps --collections-path /usr/share/ansible/collections '
                      '/tmp/vsphere-preemption/*.tar.gz')


def requirement_lines(path):
    with open(path, encoding='utf-8') as handle:
        return [line.split('#', 1)[0].strip() for line in handle if line.split('#', 1)[0].strip()]


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """A directory laid out as this checkout after ``make build``: the tarball under .build/dist, the requirement files."""
    work = tmp_path_factory.mktemp('environments')
    build = galaxy('build', REPO, '--output-path', str(work / '.build' / 'dist'), collections_path=bundled_collections(), cwd=str(work))
    assert build.returncode == 0, build.stdout + build.stderr
    for name in ('requirements.txt', 'requirements.yml', 'bindep.txt'):
        shutil.copy(os.path.join(REPO, name), work / name)
    return work


def builder_create(workspace, definition):
    """``ansible-builder create`` of the checkout's ``definition``: (build context, {stage: [lines]})."""
    shutil.copy(os.path.join(REPO, definition), workspace / definition)
    context = workspace / ('context-' + definition.split('.')[0])
    proc = subprocess.run([os.path.join(BIN, 'ansible-builder'), 'create', '-f', str(workspace / definition), '-c', str(context),
                           '--output-filename', 'Containerfile'], cwd=str(workspace), capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # A file the definition names that is not there is only a warning to ansible-builder: make it an error here.
    assert 'No matches' not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    stages, current = {}, None
    for line in (context / 'Containerfile').read_text().splitlines():
        found = re.match(r'FROM \S+ AS (\w+)$', line)
        if found:
            current = stages.setdefault(found.group(1), [])
        elif current is not None and line.strip():
            current.append(line)
    return context, stages


def introspect(workspace, context):
    """What the image build installs: ansible-builder's introspection over the collection installed from the tarball."""
    collections = workspace / 'installed'
    if not collections.exists():
        [tarball] = (workspace / '.build' / 'dist').glob('vsphere-preemption-*.tar.gz')
        install = galaxy('install', '--no-deps', str(tarball), '-p', str(collections), collections_path=str(collections), cwd=str(workspace))
        assert install.returncode == 0, install.stdout + install.stderr
    build = context / '_build'
    user = ['--user-%s=%s' % (kind, build / name) for kind, name in (('pip', 'requirements.txt'), ('bindep', 'bindep.txt')) if (build / name).exists()]
    proc = subprocess.run([os.path.join(BIN, 'python'), str(build / 'scripts' / 'introspect.py'), 'introspect', str(collections), *user],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return yaml.safe_load(proc.stdout[proc.stdout.index('---'):])


def test_the_decision_environment_has_java_ansible_rulebook_and_the_collection(workspace):
    context, stages = builder_create(workspace, 'decision-environment.yml')
    containerfile = (context / 'Containerfile').read_text()
    assert 'ARG EE_BASE_IMAGE="docker.io/redhat/ubi9:latest"' in containerfile
    assert 'ARG PYCMD="/usr/bin/python3.11"' in containerfile
    # No Galaxy requirements, so no galaxy stage: the collection is installed in the base stage, which
    # the builder stage (introspection) and the final image both start from.
    assert list(stages) == ['base', 'builder', 'final']
    assert 'COPY _build/collections/ /tmp/vsphere-preemption/' in stages['base']
    assert [line for line in stages['base'] if line.startswith(INSTALL_COLLECTION)]
    assert [path.name for path in (context / '_build' / 'collections').iterdir()] == [
        path.name for path in (workspace / '.build' / 'dist').glob('vsphere-preemption-*.tar.gz')]

    # The Python packages: ansible-rulebook and requirements.txt, line for line.
    pip = requirement_lines(context / '_build' / 'requirements.txt')
    assert [line for line in pip if line.startswith('ansible-rulebook')] == ['ansible-rulebook>=1.3.2,<2']
    assert [line for line in pip if not line.startswith('ansible-rulebook')] == requirement_lines(os.path.join(REPO, 'requirements.txt'))
    # Java 17 for the rule engine, from the system packages.
    assert requirement_lines(context / '_build' / 'bindep.txt') == ['java-17-openjdk-headless [platform:rpm]']
    assert [line for line in stages['builder'] if 'introspect.py introspect' in line and '--user-pip=requirements.txt' in line
            and '--user-bindep=bindep.txt' in line]
    # The build fails when ansible-rulebook cannot start its JVM, after the packages are installed.
    final = stages['final']
    assert final.index('RUN /output/scripts/install-from-bindep && rm -rf /output/wheels') < final.index('RUN ansible-rulebook --version')

    # What the build's introspection makes of it: the user's packages and the installed collection's own.
    found = introspect(workspace, context)
    python = [entry.split('  # from collection ') for entry in found['python']]
    assert ['ansible-rulebook>=1.3.2,<2', 'user'] in python
    for requirement in requirement_lines(os.path.join(REPO, 'requirements.txt')):
        assert [requirement, 'vsphere.preemption'] in python and [requirement, 'user'] in python
    assert 'java-17-openjdk-headless [platform:rpm]  # from collection user' in found['system']


def test_the_execution_environment_has_the_collection_and_its_galaxy_dependencies(workspace):
    context, stages = builder_create(workspace, 'execution-environment.yml')
    assert list(stages) == ['base', 'galaxy', 'builder', 'final']
    galaxy_stage = stages['galaxy']
    requirements = [line for line in galaxy_stage if 'ansible-galaxy collection install' in line and '-r requirements.yml' in line]
    assert requirements and galaxy_stage.index(requirements[0]) < galaxy_stage.index([line for line in galaxy_stage if line.startswith(INSTALL_COLLECTION)][0])
    assert 'COPY --from=galaxy /usr/share/ansible /usr/share/ansible' in stages['final']
    assert requirement_lines(context / '_build' / 'requirements.txt') == requirement_lines(os.path.join(REPO, 'requirements.txt'))
    python = [entry.split('  # from collection ') for entry in introspect(workspace, context)['python']]
    for requirement in requirement_lines(os.path.join(REPO, 'requirements.txt')):
        assert [requirement, 'vsphere.preemption'] in python
