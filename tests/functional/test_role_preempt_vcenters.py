# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The playbooks setup, preempt and status against an inventory of two simulated vCenters.

The connection comes only from per-host inventory variables (no VMWARE_* environment);
both simulators' CAs are trusted through one bundle.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.preempt_helpers import FIELD, annotation, playbook, power_states, state, tag_vms
from tests.support.vcsim.harness import Simulator, VCenterClient

VCSIM_OPTIONS = dict(vms=2, hosts=1, clusters=1)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_H0_VM1']


@pytest.fixture(scope='module')
def second(vcsim_binary, tmp_path_factory):
    with Simulator(vms=2, hosts=1, clusters=1, binary=vcsim_binary, workdir=str(tmp_path_factory.mktemp('vcsim2'))) as sim:
        client = VCenterClient(sim)
        try:
            yield sim, client
        finally:
            client.close()


@pytest.fixture(scope='module')
def inventory(vcsim, vcenter, second, tmp_path_factory):
    """Two vCenters, each with the tag on two VMs; returns (inventory path, environment, {host: (simulator, client)})."""
    sims = {'vc1': (vcsim, vcenter), 'vc2': second}
    for pair in sims.values():
        tag_vms(pair[1], TAGGED)
    directory = tmp_path_factory.mktemp('inventory')
    hosts = {name: {'vcenter_hostname': sim.host, 'vcenter_port': sim.port, 'vcenter_username': sim.username,
                    'vcenter_password': sim.password} for name, (sim, _client) in sims.items()}
    path = directory / 'vcenters.yml'
    path.write_text(yaml.safe_dump({'vcenters': {'hosts': hosts}}))
    bundle = directory / 'ca-bundle.pem'
    bundle.write_text(''.join(Path(pair[0].ca_file).read_text() for pair in sims.values()))
    env = {'REQUESTS_CA_BUNDLE': str(bundle), 'SSL_CERT_FILE': str(bundle),
           'VMWARE_HOST': '', 'VMWARE_PORT': '', 'VMWARE_USER': '', 'VMWARE_PASSWORD': ''}
    return str(path), env, sims


def test_setup_then_preempt_both_vcenters_in_one_run(inventory, tmp_path):
    path, env, sims = inventory
    setup = playbook('setup', env, {}, inventory=path)
    assert setup.rc == 0, setup
    for host in ('vc1', 'vc2'):
        [said] = setup.results('Say how the vCenter stands', host)
        assert said['msg'] == ('Custom attribute com.vmware.workflows.vsphere.preemption created; '
                               'tag preemptible is attached to 2 VMs (2 powered on).')
    again = playbook('setup', env, {}, inventory=path)
    assert [again.results('Say how the vCenter stands', host)[0]['msg'].startswith(
        'Custom attribute com.vmware.workflows.vsphere.preemption already defined;') for host in ('vc1', 'vc2')] == [True, True]

    variables = {'preemption_state_file': str(tmp_path / 'state.json'), 'preemption_criticality': 'HIGH', 'preemption_scope': 'all'}
    run = playbook('preempt', env, variables, inventory=path, args=['--forks', '2'])
    assert run.rc == 0, run
    keys = sorted(state(tmp_path / 'state.json'))
    names = {host: '127.0.0.1:%d' % sim.port for host, (sim, _client) in sims.items()}
    assert keys == sorted('manual@%s' % name for name in names.values())
    for host, (sim, client) in sims.items():
        assert sorted(name for name, power in power_states(client).items() if power == 'poweredOff') == TAGGED
        assert run.summary(host).startswith('HIGH preemption manual on %s (hard; manual run; scope all of vCenter): powered off 2 VMs' % names[host])
        run_id = state(tmp_path / 'state.json')['manual@%s' % names[host]]['run']['run_id']
        assert annotation(client, client.moid('DC0_C0_RP0_VM0'))['runID'] == run_id
        assert client.custom_value(client.moid('DC0_C0_RP0_VM1'), FIELD) is None
    assert sorted(run.stats) == sorted(names.values())

    status = playbook('status', env, {'preemption_state_file': str(tmp_path / 'state.json')}, inventory=path)
    assert status.rc == 0, status
    for host in ('vc1', 'vc2'):
        [result] = status.results("Show the workflow's record", host)
        assert result['msg'][0] == 'Workflow manual on %s: 1 run, updated %s.' % (
            names[host], state(tmp_path / 'state.json')['manual@%s' % names[host]]['updated'])
