# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The built collection: what the tarball holds, and that it installs and runs on its own.

``ansible-galaxy collection build`` of this checkout, then ``ansible-galaxy
collection install`` of the tarball into an empty collections path, then the
``vsphere.preemption.preempt`` playbook from there against the simulator, with
ANSIBLE_COLLECTIONS_PATH naming only that path and the collections the
``ansible`` package bundles. The collection declares no dependency; test_quickstart.py installs it with
ansible-core alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile

import pytest

from tests.support.ansible_cli import BIN, REPO
from tests.support.preempt_helpers import FIELD, annotation, power_on_all, tag_vms

VCSIM_OPTIONS = dict(vms=1, hosts=1, clusters=1)
# What a user of the collection gets: its content and the files ansible-galaxy adds. Nothing else.
TOP_LEVEL = {'MANIFEST.json', 'FILES.json', 'README.md', 'CHANGELOG.md', 'COPYING', 'meta', 'plugins', 'roles', 'playbooks', 'extensions',
             'changelogs', 'docs', 'requirements.txt', 'requirements.yml', 'bindep.txt', 'execution-environment.yml',
             'decision-environment.yml'}
NEVER = ('tests', '.venv', '.build', '.git', '.ci', 'tools', 'bench', '.pytest_cache', '__pycache__', 'Makefile', 'pytest.ini')


def bundled_collections():
    """The directory holding the collections the ansible package ships (community.vmware among them)."""
    import ansible_collections

    [path] = [path for path in ansible_collections.__path__ if os.path.isdir(os.path.join(path, 'community', 'vmware'))]
    return os.path.dirname(path)


def galaxy(*args, collections_path, cwd):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_NOCOLOR='1')
    return subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    """(tarball path, collections path it was installed into, ANSIBLE_COLLECTIONS_PATH to use)."""
    work = tmp_path_factory.mktemp('galaxy')
    collections = work / 'collections'
    search_path = os.pathsep.join([str(collections), bundled_collections()])
    build = galaxy('build', REPO, '--output-path', str(work), collections_path=search_path, cwd=str(work))
    assert build.returncode == 0, build.stdout + build.stderr
    [tarball] = work.glob('vsphere-preemption-*.tar.gz')
    install = galaxy('install', str(tarball), '-p', str(collections), collections_path=search_path, cwd=str(work))
    assert install.returncode == 0, install.stdout + install.stderr
    return tarball, collections, search_path


def test_the_tarball_holds_the_collection_and_no_development_files(built):
    tarball, _collections, _search_path = built
    with tarfile.open(tarball) as archive:
        members = archive.getmembers()
        manifest = json.load(archive.extractfile('MANIFEST.json'))
    names = [member.name for member in members]
    assert {name.split('/')[0] for name in names} <= TOP_LEVEL, sorted({name.split('/')[0] for name in names} - TOP_LEVEL)
    assert not [name for name in names if set(name.split('/')) & set(NEVER) or name.endswith(('.pyc', '.tar.gz'))]
    # A link in a tarball points wherever the build machine's tree did: none belong in a collection.
    assert not [member.name for member in members if member.issym() or member.islnk()]
    for expected in ('plugins/modules/power_off.py', 'plugins/module_utils/_state/file.py', 'roles/preempt/tasks/main.yml',
                     'playbooks/preempt.yml', 'meta/runtime.yml', 'extensions/eda/rulebooks/preemption.yml'):
        assert expected in names
    assert manifest['collection_info']['namespace'] == 'vsphere' and manifest['collection_info']['name'] == 'preemption'
    # Nothing of the collection calls another collection's module: a dependency would only block an offline install.
    assert manifest['collection_info']['dependencies'] == {}


def test_the_installed_collection_preempts_from_its_own_path(built, vcsim, vcenter, tmp_path):
    _tarball, collections, search_path = built
    listed = galaxy('list', 'vsphere.preemption', '--format', 'json', collections_path=search_path, cwd=str(tmp_path))
    assert listed.returncode == 0, listed.stderr
    assert list(json.loads(listed.stdout)) == [str(collections / 'ansible_collections')]

    moids = tag_vms(vcenter, ['DC0_C0_RP0_VM0'])
    vcenter.add_custom_field(FIELD)
    power_on_all(vcenter)
    env = dict(os.environ, **vcsim.env())
    env.update(ANSIBLE_COLLECTIONS_PATH=search_path, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_NOCOLOR='1',
               PATH=BIN + os.pathsep + env.get('PATH', ''))
    variables = {'preemption_criticality': 'HIGH', 'preemption_scope': 'all', 'preemption_state_file': str(tmp_path / 'state.json')}
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), 'vsphere.preemption.preempt', '-e', json.dumps(variables), '-vv'],
                          env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    # The playbook and every task of the role ran from the installed copy, none from this checkout.
    task_paths = {line.split('task path: ', 1)[1].rsplit(':', 1)[0] for line in proc.stdout.splitlines() if line.startswith('task path: ')}
    installed = str(collections / 'ansible_collections' / 'vsphere' / 'preemption')
    assert os.path.join(installed, 'roles', 'preempt', 'tasks', 'main.yml') in task_paths
    assert all(path.startswith(installed + os.sep) for path in task_paths), sorted(task_paths)
    assert vcenter.power_state(moids['DC0_C0_RP0_VM0']) == 'poweredOff'
    assert annotation(vcenter, moids['DC0_C0_RP0_VM0'])['criticality'] == 'HIGH'
