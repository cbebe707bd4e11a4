# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The ledger through ansible-playbook against the simulator, on the state file and on PostgreSQL: preempt, cancel,
restore and status; VMs that stopped being ours while off (powered on and off again by another session, moved to
another cluster) are left alone and named with the reason, a VM renamed while off is restored; 0.2 state is migrated.

Inventory: cluster DC0_C0 with four VMs (all tagged preemptible), the standalone host DC0_H0 with four (untagged).
The workflow acts on the cluster (preemption_scope = its moid).
"""

from __future__ import annotations

import datetime
import json

import pytest
from pyVmomi import vim

from ansible_collections.vsphere.preemption.plugins.module_utils._timestamps import format_timestamp
from tests.support.guest_notice_view import guest_view
from tests.support.preempt_helpers import annotation, kill_at, latest_run, off, playbook, start_playbook, state
from tests.support import preemption_invariants

VCSIM_OPTIONS = dict(vms=4, hosts=1, clusters=1)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_C0_RP0_VM2', 'DC0_C0_RP0_VM3']


@pytest.fixture(params=['file', 'postgresql'])
def backend(request, tmp_path):
    """The role variables that choose the state backend, and a reader of the workflow records."""
    if request.param == 'file':
        path = tmp_path / 'state.json'
        return {'preemption_state_file': str(path)}, lambda: state(path)
    url = request.getfixturevalue('postgres_url')

    def records():
        import psycopg
        with psycopg.connect(url) as connection:
            return dict(connection.execute("SELECT name, body FROM vsphere_preemption_state WHERE kind = 'workflow'").fetchall())
    return {'preemption_state_file': str(tmp_path / 'unused.json'), 'preemption_state_url': url}, records


def role(entry, vcsim, variables, **extra):
    merged = dict(dict(variables, preemption_workflow_id='spot', preemption_threshold=60), **extra)
    run = playbook(entry, vcsim.env(), merged)
    assert run.rc == 0, run
    return run


def status(vcsim, variables):
    run = role('status', vcsim, variables)
    [shown] = [result['msg'] for result in run.results("Show the workflow's record")]
    return '\n'.join(shown)


def cluster(vcenter, moids):
    return vcenter.get(vcenter.vm(moids['DC0_C0_RP0_VM0']), 'runtime.host').parent._moId


def test_preempt_cancel_restore_brings_every_vm_back(vcsim, vcenter, moids, since, backend):
    variables, records = backend
    scope = cluster(vcenter, moids)
    preempt = role('preempt', vcsim, variables, preemption_criticality='HIGH', preemption_scope=scope)
    assert off(vcenter) == TAGGED, preempt
    shown = status(vcsim, variables)
    assert 'Still off, 4 VMs (its ledger)' in shown and 'restore them with: ansible-playbook vsphere.preemption.restore' in shown

    cancel = role('cancel', vcsim, variables)
    line = cancel.summary()
    assert 'cancelled' in line and 'its threshold and pending work were forgotten' in line, line
    assert ('4 VMs remain off (its ledger): ' in line
            and 'restore them with: ansible-playbook vsphere.preemption.restore -e preemption_workflow_id=spot.' in line), line
    [record] = records().values()
    assert 'run' not in record and [entry['name'] for entry in record['ledger']] == TAGGED
    assert 'Cancelled at' in status(vcsim, variables)

    # Cancel forgot the threshold: the restore runs at once, on the ledger alone.
    restore = role('restore', vcsim, variables)
    assert off(vcenter) == [], restore
    assert 'restored 4 VMs' in restore.summary()
    for moid in moids.values():
        assert annotation(vcenter, moid)['preempted'] is False
    [record] = records().values()
    assert record['ledger'] == [] and sorted(vm['name'] for vm in record['released'] if vm['outcome'] == 'restored') == TAGGED
    shown = status(vcsim, variables)
    assert 'No VM of its runs is still off.' in shown and 'Restored 4 VMs: ' in shown
    # Each VM was powered off once, and every ledger entry named the vCenter event of that power-off.
    assert preemption_invariants.power_off_counts(vcenter, since) == {moid: 1 for moid in moids.values()}
    assert 'nothing to restore' in role('restore', vcsim, variables).summary()


def test_vms_no_longer_ours_are_left_alone_with_the_reason_and_a_renamed_one_comes_back(vcsim, vcenter, moids, since, tmp_path):
    variables = {'preemption_state_file': str(tmp_path / 'state.json')}
    scope = cluster(vcenter, moids)
    role('preempt', vcsim, variables, preemption_criticality='HIGH', preemption_scope=scope, preemption_threshold=0)
    assert off(vcenter) == TAGGED
    [record] = state(tmp_path / 'state.json').values()
    assert all(entry['event'] and entry['event']['type'] == 'VmPoweredOffEvent' for entry in record['ledger'])

    # Another session powers VM0 on and off again; VM1 moves to the standalone host; VM2 is renamed.
    vcenter.power_on(moids['DC0_C0_RP0_VM0'])
    vcenter.power_off(moids['DC0_C0_RP0_VM0'])
    host = vcenter.vm('DC0_H0_VM0')
    target = vcenter.get(host, 'runtime.host')
    pool = vcenter.get(host, 'resourcePool')
    vcenter._wait(vcenter.vm(moids['DC0_C0_RP0_VM1']).RelocateVM_Task(vim.vm.RelocateSpec(host=target, pool=pool)))
    vcenter._wait(vcenter.vm(moids['DC0_C0_RP0_VM2']).Rename_Task('spot worker «renamed»'))

    restore = role('restore', vcsim, variables, preemption_threshold=0)
    line = restore.summary()
    assert sorted(off(vcenter)) == ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1'], line
    assert 'restored 2 VMs: DC0_C0_RP0_VM3 (%s), spot worker «renamed» (%s)' % (moids['DC0_C0_RP0_VM3'], moids['DC0_C0_RP0_VM2']) in line \
        or 'restored 2 VMs: spot worker «renamed» (%s), DC0_C0_RP0_VM3 (%s)' % (moids['DC0_C0_RP0_VM2'], moids['DC0_C0_RP0_VM3']) in line, line
    assert 'DC0_C0_RP0_VM0 (%s): powered on by ' % moids['DC0_C0_RP0_VM0'] in line, line
    assert "DC0_C0_RP0_VM1 (%s): moved out of the workflow's scope %s (now on host DC0_H0)" % (moids['DC0_C0_RP0_VM1'], scope) in line
    assert annotation(vcenter, moids['DC0_C0_RP0_VM0'])['preempted'] is True  # not ours any more: left as it is
    [record] = state(tmp_path / 'state.json').values()
    assert record['ledger'] == []
    shown = status(vcsim, variables)
    assert 'Left alone 2 VMs, no longer ours: ' in shown and 'powered on by' in shown and 'moved out of' in shown
    assert 'Restored 2 VMs' in shown
    # Reported once: the next restore has nothing left to say about them.
    again = role('restore', vcsim, variables, preemption_threshold=0).summary()
    assert 'nothing to restore' in again and 'DC0_C0_RP0_VM0' not in again
    vcenter._wait(vcenter.vm(moids['DC0_C0_RP0_VM2']).Rename_Task('DC0_C0_RP0_VM2'))
    vcenter._wait(vcenter.vm(moids['DC0_C0_RP0_VM1']).RelocateVM_Task(vim.vm.RelocateSpec(
        host=vcenter.get(vcenter.vm(moids['DC0_C0_RP0_VM3']), 'runtime.host'),
        pool=vcenter.get(vcenter.vm(moids['DC0_C0_RP0_VM3']), 'resourcePool'))))


def test_state_written_by_0_2_is_migrated_into_the_ledger_and_restored(vcsim, vcenter, moids, since, backend):
    """A 0.2 record: an earlier finished run (VM0, VM1 off, VM1 since restored), an unfinished one (VM2 off)."""
    variables, records = backend
    # The 0.2 runs' times: after the fixture powered every VM on (a power-on after them would be someone else's).
    now = datetime.datetime.now(datetime.timezone.utc)
    times = [format_timestamp(now + datetime.timedelta(microseconds=n)) for n in range(3)]
    for name in ('DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM2'):
        vcenter.power_off(moids[name])
    key = 'spot@127.0.0.1:%d' % vcsim.port
    plan = {'workflow_id': 'spot', 'vcenter': '127.0.0.1:%d' % vcsim.port, 'scope': None, 'tag': 'preemptible', 'reason': 'manual run'}

    def run(run_id, started, status, results):
        return {'run_id': run_id, 'status': status, 'started': started, 'finished': started if status == 'finished' else None,
                'tag': 'preemptible', 'criticality': 'HIGH', 'trigger': 'manual', 'event': None, 'results': dict(results, plan=plan)}
    earlier = run('r-1', times[0], 'finished', {
        'powered_off': [{'moid': moids['DC0_C0_RP0_VM0'], 'name': 'DC0_C0_RP0_VM0', 'method': 'hard'},
                        {'moid': moids['DC0_C0_RP0_VM1'], 'name': 'DC0_C0_RP0_VM1', 'method': 'hard'}],
        'annotated': [moids['DC0_C0_RP0_VM0'], moids['DC0_C0_RP0_VM1']],
        'restored': [{'moid': moids['DC0_C0_RP0_VM1'], 'name': 'DC0_C0_RP0_VM1', 'restored': times[1]}]})
    unfinished = run('r-2', times[1], 'running', {
        'powered_off': [{'moid': moids['DC0_C0_RP0_VM2'], 'name': 'DC0_C0_RP0_VM2', 'method': 'hard'}]})
    latest = run('r-3', times[2], 'finished', {'powered_off': []})
    old = {'workflow_id': key, 'run': latest, 'unfinished': [unfinished], 'earlier': [earlier], 'runs': 3, 'updated': latest['started']}
    vcenter.set_custom_value(moids['DC0_C0_RP0_VM0'], 'com.vmware.workflows.vsphere.preemption', json.dumps(
        {'preempted': True, 'workflowID': 'spot', 'runID': 'r-1', 'tag': 'preemptible'}))
    if 'preemption_state_url' in variables:
        import psycopg
        from psycopg.types.json import Jsonb
        from ansible_collections.vsphere.preemption.plugins.module_utils._state.postgres import CREATE_TABLE
        with psycopg.connect(variables['preemption_state_url']) as connection:
            connection.execute(CREATE_TABLE)
            connection.execute("INSERT INTO vsphere_preemption_state (kind, name, body) VALUES ('workflow', %s, %s)", (key, Jsonb(old)))
    else:
        with open(variables['preemption_state_file'], 'w', encoding='utf-8') as handle:
            json.dump({'version': 2, 'workflows': {key: old}}, handle)

    shown = status(vcsim, variables)
    assert 'Still off, 2 VMs (its ledger): DC0_C0_RP0_VM0' in shown and 'Restored 1 VM: DC0_C0_RP0_VM1' in shown
    cancel = role('cancel', vcsim, variables)
    assert '2 VMs remain off' in cancel.summary()
    restore = role('restore', vcsim, variables)
    assert off(vcenter) == [], restore
    [record] = records().values()
    assert record['ledger'] == [] and 'earlier' not in record
    assert sorted(vm['name'] for vm in record['released'] if vm['outcome'] == 'restored') == TAGGED[:3]


def test_a_vm_someone_else_powered_off_during_a_killed_runs_notice_is_not_taken_for_ours(vcsim, vcenter, moids, since, tmp_path):
    """Killed during its notice: the VM an administrator powered off meanwhile is not annotated, nor entered in the ledger."""
    path = tmp_path / 'state.json'
    scope = cluster(vcenter, moids)
    given = {'preemption_state_file': str(path), 'preemption_workflow_id': 'spot', 'preemption_criticality': 'HIGH',
             'preemption_scope': scope, 'preemption_threshold': 0}
    proc = start_playbook('preempt', vcsim.env(), dict(given, preemption_notice_period=600))
    # Every guest has read its notice: the run is waiting out the notice period.
    kill_at(proc, lambda: all(guest_view(vcenter, moids[name])[1] for name in TAGGED))
    vcenter.power_off(moids['DC0_C0_RP0_VM0'])
    killed = latest_run(path)
    assert killed['status'] == 'running'

    run = role('preempt', vcsim, {'preemption_state_file': str(path)}, preemption_criticality='HIGH', preemption_scope=scope,
               preemption_threshold=0)
    assert 'finished earlier run %s first' % killed['run_id'] in run.summary()
    assert off(vcenter) == TAGGED
    assert annotation(vcenter, moids['DC0_C0_RP0_VM0']) is None
    [record] = state(path).values()
    assert sorted(entry['name'] for entry in record['ledger']) == TAGGED[1:]
    [finished] = [item for item in run.results('Mark the runs finished')[0]['results'] if item['item']['run_id'] == killed['run_id']]
    [not_ours] = finished['run']['results']['not_ours']
    assert not_ours['moid'] == moids['DC0_C0_RP0_VM0'] and 'before the notice of run %s ended' % killed['run_id'] in not_ours['reason']
