# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The Quick start page, run as written: the tarball installed --offline into a fresh virtualenv, then the simulator.

The bash block of docs/docsite/rst/quickstart.rst runs in one shell with HOME in a temporary directory (so
``~/vsphere-preemption`` and ``~/.ansible/collections`` are new), the tarball ``make build`` writes under the name the
page gives, and two lines changed: the ``export VMWARE_*`` line names the simulator, and ``govc tags.attach`` (govc
is not on these machines) is done through the simulator's REST API, as govc would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ansible_cli import BIN, REPO
from tests.support.preempt_helpers import annotation

VCSIM_OPTIONS = dict(vms=1, hosts=1, clusters=1)
PAGE = Path(REPO) / 'docs' / 'docsite' / 'rst' / 'quickstart.rst'
VM = 'DC0_C0_RP0_VM0'
ATTACH = '''
import sys
sys.path.insert(0, %(repo)r)
from tests.support.vcsim.harness import VCenterClient
sim = type('Sim', (), dict(host='127.0.0.1', port=%(port)d, username=%(user)r, password=%(password)r, ca_file=%(ca)r))
with VCenterClient(sim) as client:
    [category] = [c for c in client.rest('GET', '/tagging/category') if client.rest('GET', '/tagging/category/id:' + c)['name'] == 'preemption']
    [tag] = [t for t in client.rest('GET', '/tagging/tag') if client.rest('GET', '/tagging/tag/id:' + t)['name'] == 'preemptible']
    client.attach_tag(tag, client.moid(%(vm)r))
'''


def quickstart_lines():
    """The commands of the page's bash block, comments and blank lines left out."""
    text = PAGE.read_text()
    block = text.split('.. code-block:: bash\n', 1)[1]
    lines = []
    for line in block.split('\n')[1:]:
        if line and not line.startswith('   '):
            break
        if line.strip() and not line.strip().startswith('#'):
            lines.append(line.strip())
    return lines


def galaxy_version():
    return re.search(r'^version: (\S+)$', (Path(REPO) / 'galaxy.yml').read_text(), re.MULTILINE).group(1)


@pytest.fixture(scope='module')
def tarball(tmp_path_factory):
    work = tmp_path_factory.mktemp('build')
    build = subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', REPO, '--output-path', str(work)],
                           capture_output=True, text=True, timeout=300, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    [path] = work.glob('vsphere-preemption-*.tar.gz')
    return path


def test_the_page_names_this_version_and_installs_offline():
    lines = quickstart_lines()
    assert 'ansible-galaxy collection install --offline vsphere-preemption-%s.tar.gz' % galaxy_version() in lines
    assert [line for line in lines if line.startswith('ansible-playbook')] and all(
        line.startswith('ansible-playbook -i localhost, ') for line in lines if line.startswith('ansible-playbook'))


def test_the_quick_start_runs_as_written_in_a_fresh_virtualenv(vcsim, vcenter, tarball, tmp_path):
    home = tmp_path / 'home'
    home.mkdir()
    lines = quickstart_lines()
    [install] = [line for line in lines if line.startswith('ansible-galaxy collection install')]
    shutil.copy(tarball, home / install.split()[-1])
    (home / 'attach.py').write_text(ATTACH % dict(repo=REPO, port=vcsim.port, user=vcsim.username, password=vcsim.password,
                                                  ca=vcsim.ca_file, vm=VM))
    script = ['set -euo pipefail']
    for line in lines:
        if line.startswith('export VMWARE_'):
            line = 'export ' + ' '.join('%s=%s' % item for item in sorted(vcsim.env().items()))
        elif line.startswith('govc tags.attach'):
            line = '%s attach.py' % sys.executable
        script.append('echo "+ %s"' % line.replace('"', r'\"'))
        script.append(line)
    env = {key: value for key, value in os.environ.items() if not key.startswith(('ANSIBLE_', 'VIRTUAL_ENV', 'PYTHON'))}
    env.update(HOME=str(home), PIP_CACHE_DIR=os.path.expanduser('~/.cache/pip'), ANSIBLE_NOCOLOR='1',
               PATH=os.pathsep.join(p for p in os.environ['PATH'].split(os.pathsep) if not p.startswith(os.path.dirname(BIN))))
    proc = subprocess.run(['bash', '-c', '\n'.join(script)], cwd=str(home), env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]

    # Installed with ansible-core and requirements.txt alone: no other collection came along.
    listed = subprocess.run([str(home / 'vsphere-preemption' / 'bin' / 'ansible-galaxy'), 'collection', 'list', '--format', 'json'],
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    collections = {name for path in json.loads(listed.stdout).values() for name in path}
    assert 'vsphere.preemption' in collections and 'community.vmware' not in collections, collections
    # No Ansible warning at all (no "No inventory was parsed", no "provided hosts list is empty").
    assert '[WARNING]' not in output, output[-6000:]
    runs = output.split('+ ansible-playbook')
    assert 'category preemption and tag preemptible created' in runs[1]
    assert 'would power off 1 VM: %s' % VM in runs[2], runs[2][-3000:]
    assert 'powered off 1 VM: %s' % VM in runs[3], runs[3][-3000:]
    assert VM in runs[4]
    moid = vcenter.moid(VM)
    assert vcenter.power_state(moid) == 'poweredOn', runs[5][-1500:]
    record = annotation(vcenter, moid)
    assert record['preempted'] is False and record['restored']
