# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The playbook vsphere.preemption.restore run by the real ansible-playbook against the simulator.

Inventory: cluster DC0_C0 with four VMs and the standalone host DC0_H0 with four. Tagged
preemptible: DC0_C0_RP0_VM0..2 and DC0_H0_VM0. DC0_H0_VM0 is off before the preemption:
the restore must leave it off.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.support.preempt_helpers import (
    FIELD,
    PRIORITY_FIELD,
    annotation,
    kill_tree,
    playbook,
    power_on_all,
    power_states,
    start_playbook,
    state,
)
from tests.support.vcenter_events import last_event_key, user_events

# SetField slowed: a restore killed after its power-on is still annotating.
VCSIM_OPTIONS = dict(vms=4, hosts=1, clusters=1, method_delay={'SetField': 700})
CUSTOM_FIELDS = (FIELD, PRIORITY_FIELD)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_C0_RP0_VM2', 'DC0_H0_VM0']
OFF_BEFORE = 'DC0_H0_VM0'
RESTORED_TYPE = 'com.vmware.workflows.vsphere.VmRestoredEvent.v0'


@pytest.fixture
def preempted(vcsim, vcenter, moids, tmp_path):
    """Every VM on but OFF_BEFORE, then a HIGH preemption of the tagged VMs by the workflow 'spot' (state file in tmp_path).

    One preemption per test: the restore leaves alone a VM that vCenter's events show was powered on or off by
    someone else since our power-off, so VMs put back by hand after an earlier test's restore would no longer be ours.
    """
    power_on_all(vcenter)
    vcenter.power_off(moids[OFF_BEFORE])
    run = role('preempt', vcsim, tmp_path, preemption_criticality='HIGH', preemption_scope='all')
    assert run.rc == 0, run
    assert off(vcenter) == sorted(TAGGED)
    return moids


def role(entry, vcsim, tmp_path, check=False, **variables):
    variables.setdefault('preemption_state_file', str(tmp_path / 'state.json'))
    variables.setdefault('preemption_workflow_id', 'spot')
    variables.setdefault('preemption_threshold', 0)
    return playbook(entry, vcsim.env(), variables, check=check)


def off(vcenter):
    return sorted(name for name, power in power_states(vcenter).items() if power == 'poweredOff')


def test_restore_powers_on_exactly_the_preempted_vms_still_carrying_their_runs_record(vcsim, vcenter, preempted, sink, tmp_path):
    moids = preempted
    before = last_event_key(vcenter)   # this restore's events only: an earlier test's restore logged its own
    run_id = state(tmp_path / 'state.json')['spot@127.0.0.1:%d' % vcsim.port]['run']['run_id']
    # Re-annotated by hand after the preemption: not this run's any more.
    vcenter.set_custom_value(moids['DC0_C0_RP0_VM2'], FIELD, json.dumps({'owner': 'ops', 'note': 'keep off'}))
    vcenter.set_custom_value(moids['DC0_C0_RP0_VM1'], PRIORITY_FIELD, '9')

    run = role('restore', vcsim, tmp_path, preemption_reply_to=sink.url, preemption_priority_attribute=PRIORITY_FIELD)
    assert run.rc == 0, run
    assert off(vcenter) == sorted(['DC0_C0_RP0_VM2', OFF_BEFORE])
    # Highest priority first: the power_on module got DC0_C0_RP0_VM1 (priority 9) before DC0_C0_RP0_VM0.
    [power] = run.results('Power on the preempted VMs')
    assert [vm['name'] for vm in power['powered_on']] == ['DC0_C0_RP0_VM1', 'DC0_C0_RP0_VM0']
    for name in ('DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1'):
        value = annotation(vcenter, moids[name])
        assert (value['preempted'], value['runID'], value['workflowID'], value['criticality']) == (False, run_id, 'spot', 'HIGH')
        assert value['restored'].endswith('Z') and value['restored'] >= value['workflowStarted']
        restored = [m for m in user_events(vcenter, moids[name], before) if m.startswith('Restored by vsphere.preemption')]
        assert restored == ['Restored by vsphere.preemption: workflow spot, run %s; powered back on after its preemption.' % run_id]
    assert annotation(vcenter, moids['DC0_C0_RP0_VM2']) == {'owner': 'ops', 'note': 'keep off'}
    assert annotation(vcenter, moids[OFF_BEFORE]) is None

    sink.wait_for(1)
    [event] = sink.events
    assert (event['type'], event['id']) == (RESTORED_TYPE, 'spot-restore-%s' % run_id)
    assert event['data']['preempted'] is False and event['data']['runID'] == run_id
    assert sorted(vm['Value'] for vm in event['data']['virtualMachines']) == sorted([moids['DC0_C0_RP0_VM0'], moids['DC0_C0_RP0_VM1']])

    summary = run.summary()
    assert summary.startswith('Restore of spot on 127.0.0.1:%d: restored 2 VMs: DC0_C0_RP0_VM1' % vcsim.port), summary
    assert 'left alone 1, no longer ours: DC0_C0_RP0_VM2 (%s): annotation no longer that of run %s' % (moids['DC0_C0_RP0_VM2'], run_id) in summary
    # All three left the ledger: two restored, one no longer ours (reported once, here).
    record = state(tmp_path / 'state.json')['spot@127.0.0.1:%d' % vcsim.port]
    assert record['ledger'] == []
    assert sorted((vm['name'], vm['outcome']) for vm in record['released']) == [
        ('DC0_C0_RP0_VM0', 'restored'), ('DC0_C0_RP0_VM1', 'restored'), ('DC0_C0_RP0_VM2', 'left_alone')]

    # A second restore does nothing: no power-on, no annotation, no event.
    again = role('restore', vcsim, tmp_path, preemption_reply_to=sink.url)
    assert again.rc == 0, again
    assert 'restored 0' not in again.summary() and 'nothing to restore' in again.summary()
    assert off(vcenter) == sorted(['DC0_C0_RP0_VM2', OFF_BEFORE])
    assert len(sink.requests) == 1
    assert [r for r in again.results('Power on the preempted VMs') if not r.get('skipped')] == []


def test_check_mode_reports_and_changes_nothing(vcsim, vcenter, preempted, sink, tmp_path):
    before = state(tmp_path / 'state.json')
    run = role('restore', vcsim, tmp_path, check=True, preemption_reply_to=sink.url)
    assert run.rc == 0, run
    assert run.summary().startswith('[check mode, nothing changed] Restore of spot')
    assert 'would restore 3 VMs' in run.summary()
    assert off(vcenter) == sorted(['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_C0_RP0_VM2', OFF_BEFORE])
    assert annotation(vcenter, preempted['DC0_C0_RP0_VM0'])['preempted'] is True
    assert state(tmp_path / 'state.json') == before
    assert sink.requests == []


def test_no_restore_within_the_threshold_of_the_last_preemption(vcsim, vcenter, preempted, tmp_path):
    run = role('restore', vcsim, tmp_path, preemption_threshold=3600)
    assert run.rc == 0, run
    assert 'within the threshold of 3600 s' in run.summary()
    assert len(off(vcenter)) == 4


def test_an_unknown_workflow_fails_naming_it_and_the_known_ones(vcsim, vcenter, preempted, tmp_path):
    # 'spo' is a prefix of the known 'spot': ids are matched exactly.
    for unknown_id in ('no-such-workflow', 'spo'):
        unknown = role('restore', vcsim, tmp_path, preemption_workflow_id=unknown_id)
        assert unknown.rc == 2, unknown
        [message] = unknown.failures()
        assert 'Restore of workflow %s on 127.0.0.1:%d: it has no record in the state' % (unknown_id, vcsim.port) in message
        assert 'the workflows with a record on this vCenter: spot@127.0.0.1:%d' % vcsim.port in message
        assert 'preemption_workflow_id' in message
    assert len(off(vcenter)) == 4


def test_a_killed_restore_is_finished_by_the_next(vcsim, vcenter, preempted, sink, tmp_path):
    moids = preempted
    key = 'spot@127.0.0.1:%d' % vcsim.port
    # Killed once a VM is on: during the power-on or the (slowed) annotation, before the restore is recorded.
    run_id = state(tmp_path / 'state.json')[key]['run']['run_id']
    proc = start_playbook('restore', vcsim.env(), {'preemption_state_file': str(tmp_path / 'state.json'), 'preemption_workflow_id': 'spot',
                                                   'preemption_threshold': 0, 'preemption_reply_to': sink.url})
    killed = _kill_after_power_on(proc, vcenter, moids['DC0_C0_RP0_VM0'])
    assert killed, 'the restore finished before it could be killed'
    ledger = state(tmp_path / 'state.json')[key]['ledger']
    assert sorted(vm['name'] for vm in ledger if vm['restoring']) == ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_C0_RP0_VM2']
    assert state(tmp_path / 'state.json')[key]['released'] == []

    resumed = role('restore', vcsim, tmp_path, preemption_reply_to=sink.url)
    assert resumed.rc == 0, resumed
    assert off(vcenter) == [OFF_BEFORE]
    for name in ('DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_C0_RP0_VM2'):
        assert annotation(vcenter, moids[name])['preempted'] is False
    record = state(tmp_path / 'state.json')[key]
    assert record['ledger'] == []
    assert sorted((vm['name'], vm['outcome']) for vm in record['released']) == [
        ('DC0_C0_RP0_VM0', 'restored'), ('DC0_C0_RP0_VM1', 'restored'), ('DC0_C0_RP0_VM2', 'restored')]
    sink.wait_for(1)
    assert [event['id'] for event in sink.events] == ['spot-restore-%s' % run_id]


def _kill_after_power_on(proc, vcenter, moid, timeout=120):
    """Kill the restore playbook (it and every process it started) as soon as ``moid`` is on; whether it was still running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if vcenter.power_state(moid) == 'poweredOn':
            kill_tree(proc.pid)
            proc.wait()
            return True
        time.sleep(0.05)
    kill_tree(proc.pid)
    return False
