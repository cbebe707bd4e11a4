# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import json

import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._state import records as state_records
from ansible_collections.vsphere.preemption.plugins.module_utils._run.request import build_plan
from ansible_collections.vsphere.preemption.plugins.module_utils._run.restore import (
    ANNOTATION_FIELD,
    EVENT_TYPE,
    AmbiguousWorkflow,
    restore_key,
    restore_plan,
    restore_selection,
    restore_summary,
    restore_work,
)

T0 = datetime.datetime(2026, 12, 1, 20, 0, 0, tzinfo=datetime.timezone.utc)
LATER = T0 + datetime.timedelta(seconds=600)
PLAN = build_plan(dict(tag='preemptible', max_vms=10, parallel=5, retries=3, retry_delay=2, threshold=60, grace_period=30,
                       scope='all', criticality='HIGH', workflow_id='spot', reply_to='http://sink/',
                       vcenter_hostname='vc1.example.com', vcenter_port=''))
A, B, C = ({'moid': 'vm-%d' % n, 'name': name, 'method': 'hard'} for n, name in ((1, 'a'), (2, 'b'), (3, 'c')))


def annotation(run_id='run-1', **changes):
    value = {'preempted': True, 'tag': 'preemptible', 'forcedShutdown': True, 'criticality': 'HIGH', 'workflowID': 'spot',
             'workflowStarted': '2026-12-01T20:00:00.000000Z', 'runID': run_id, 'event': None}
    value.update(changes)
    return json.dumps(value)


def record(powered_off=(A, B, C), **results):
    run = state_records.new_run('run-1', T0, tag='preemptible', results=dict({'plan': PLAN['recorded'], 'powered_off': list(powered_off)}, **results))
    run['status'] = state_records.FINISHED
    return {'workflow_id': 'spot@vc1.example.com', 'run': run, 'unfinished': [], 'runs': 1, 'updated': run['started']}


def found(*vms):
    return {'results': [{'vms': [dict({'priority': 0}, **vm) for vm in vms], 'excluded': []}]}


def vm(base, power_state='poweredOff', value=None, **extra):
    return dict({'moid': base['moid'], 'name': base['name'], 'power_state': power_state,
                 'attributes': {ANNOTATION_FIELD: annotation() if value is None else value}}, **extra)


def test_an_unknown_workflow_is_an_error_unless_an_alarm_asked():
    assert restore_plan(None, PLAN, LATER)['status'] == 'unknown'
    assert 'preemption_workflow_id' in restore_plan(None, PLAN, LATER)['message']
    assert restore_plan(None, PLAN, LATER, triggered=True)['status'] == 'nothing'


def test_no_restore_within_the_threshold_of_the_last_preemption():
    plan = restore_plan(record(), PLAN, T0 + datetime.timedelta(seconds=30))
    assert plan['status'] == 'too_soon'
    assert 'within the threshold of 60 s' in plan['message']


def test_a_run_that_powered_off_nothing_is_nothing_to_restore():
    plan = restore_plan(record(powered_off=()), PLAN, LATER)
    assert (plan['status'], plan['runs']) == ('nothing', [])
    assert plan['message'].endswith('its runs powered off no VM.')


def test_the_vms_of_earlier_finished_runs_are_restored_too():
    rec = record()
    earlier = state_records.new_run('run-0', T0 - datetime.timedelta(hours=1), results={'plan': PLAN['recorded'], 'powered_off': [C]})
    earlier['status'] = state_records.FINISHED
    rec['earlier'] = [earlier]
    plan = restore_plan(rec, PLAN, LATER)
    assert [run['run_id'] for run in plan['runs']] == ['run-1', 'run-0']
    assert plan['tags'] == [{'tag': 'preemptible', 'category': None}]


def test_selection_keeps_only_off_vms_still_carrying_their_runs_annotation_highest_priority_first():
    plan = restore_plan(record(powered_off=(A, B, C, {'moid': 'vm-4', 'name': 'd'}, {'moid': 'vm-5', 'name': 'e'})), PLAN, LATER)
    chosen = restore_selection(plan, found(
        vm(A), vm(B, priority=5), vm(C, power_state='poweredOn'),
        vm({'moid': 'vm-4', 'name': 'd'}, value='{"owner": "ops"}')), PLAN)
    assert chosen['power_on'] == ['vm-2', 'vm-1']
    assert [(vm['moid'], vm['reason']) for vm in chosen['left_alone']] == [
        ('vm-3', 'powered on since'), ('vm-4', 'annotation no longer that of run run-1'),
        ('vm-5', "deleted, or no longer tagged 'preemptible'")]
    assert chosen['restoring'] == [{'run_id': 'run-1', 'results': {'restoring': [{'moid': 'vm-2', 'name': 'b'}, {'moid': 'vm-1', 'name': 'a'}]}}]


def test_an_annotation_of_another_run_or_workflow_leaves_the_vm_alone():
    plan = restore_plan(record(powered_off=(A, B)), PLAN, LATER)
    chosen = restore_selection(plan, found(vm(A, value=annotation('run-9')), vm(B, value=annotation(workflowID='other'))), PLAN)
    assert chosen['power_on'] == [] and len(chosen['left_alone']) == 2


def test_max_vms_caps_the_newly_powered_on():
    plan = restore_plan(record(), PLAN, LATER)
    chosen = restore_selection(plan, found(vm(A), vm(B), vm(C)), dict(PLAN, max_vms=2))
    assert chosen['power_on'] == ['vm-1', 'vm-2']
    assert chosen['beyond_max'] == [{'moid': 'vm-3', 'name': 'c'}]


def test_work_annotates_and_announces_what_was_powered_on():
    plan = restore_plan(record(), PLAN, LATER)
    chosen = restore_selection(plan, found(vm(A), vm(B), vm(C)), PLAN)
    done = restore_work(plan, chosen, {'powered_on': [A, B], 'already_on': [], 'failed_vms': [dict(C, msg='no room')]}, PLAN)
    [group] = done['annotations']
    assert group['vms'] == ['vm-1', 'vm-2']
    assert (group['value']['preempted'], group['value']['restored'], group['value']['runID']) == (False, '2026-12-01T20:10:00.000000Z', 'run-1')
    assert group['message'] == 'Restored by vsphere.preemption: workflow spot, run run-1; powered back on after its preemption.'
    [event] = done['events']
    assert (event['event']['id'], event['event']['type'], event['url']) == ('spot-restore-run-1', EVENT_TYPE, 'http://sink/')
    assert event['event']['data']['virtualMachines'] == [{'Type': 'VirtualMachine', 'Value': 'vm-1'}, {'Type': 'VirtualMachine', 'Value': 'vm-2'}]
    assert done['finish'] == [{'run_id': 'run-1', 'results': {
        'restored': [{'moid': 'vm-1', 'name': 'a', 'restored': '2026-12-01T20:10:00.000000Z'},
                     {'moid': 'vm-2', 'name': 'b', 'restored': '2026-12-01T20:10:00.000000Z'}],
        'restore_event_sent': 'spot-restore-run-1'}}]
    assert done['failed'] == [dict(C, msg='no room')]
    summary = restore_summary(PLAN, plan, chosen, done)
    assert summary['status'] == 'restore_failed'
    assert 'restored 2 VMs: a (vm-1), b (vm-2)' in summary['line'] and 'FAILED to power on 1: c (vm-3): no room' in summary['line']


def test_a_killed_restore_is_finished_and_a_finished_one_is_not_redone():
    # Killed after powering on A (recorded in restoring) and annotating B: both count as restored, C is powered on.
    plan = restore_plan(record(restoring=[A, B]), PLAN, LATER)
    chosen = restore_selection(plan, found(
        vm(A, power_state='poweredOn'), vm(B, power_state='poweredOn', value=annotation(preempted=False, restored='T')), vm(C)), PLAN)
    assert chosen['power_on'] == ['vm-1', 'vm-3']
    done = restore_work(plan, chosen, {'powered_on': [C], 'already_on': [A], 'failed_vms': []}, PLAN)
    assert sorted(vm['moid'] for vm in done['restored']) == ['vm-1', 'vm-2', 'vm-3']
    # B keeps the value it was given.
    assert [g['value']['restored'] for g in done['annotations'] if g['vms'] == ['vm-2']] == ['T']
    rec = record(restoring=[A, B], restored=done['finish'][0]['results']['restored'], restore_event_sent='spot-restore-run-1')
    again = restore_plan(rec, PLAN, LATER)
    assert again['status'] == 'nothing'
    assert 'restored already' in again['message']


def test_a_restore_event_owed_is_sent_without_powering_anything_on():
    rec = record(powered_off=(A,), restored=[{'moid': 'vm-1', 'name': 'a', 'restored': 'T'}])
    plan = restore_plan(rec, PLAN, LATER)
    assert plan['status'] == 'restore'
    chosen = restore_selection(plan, found(), PLAN)
    done = restore_work(plan, chosen, {}, PLAN)
    [event] = done['events']
    assert event['event']['id'] == 'spot-restore-run-1'
    assert event['event']['data']['virtualMachines'] == [{'Type': 'VirtualMachine', 'Value': 'vm-1'}]


@pytest.mark.parametrize('status', ['nothing', 'too_soon', 'unknown'])
def test_summary_of_a_restore_that_does_nothing_is_its_message(status):
    assert restore_summary(PLAN, {'status': status, 'message': 'why'}) == {
        'status': 'not_restored', 'line': 'why', 'restored': [], 'left_alone': [], 'failed': []}


def test_a_restore_acts_on_the_one_record_of_a_workflows_scopes():
    keys = ['cpu@vc', 'cpu/domain-c7@vc', 'cpu/host-9@vc']
    assert restore_key('cpu', keys, [None, None, None]) == 'cpu@vc'
    assert restore_key('cpu', keys, [None, {'run': {}}, None]) == 'cpu/domain-c7@vc'
    with pytest.raises(AmbiguousWorkflow) as error:
        restore_key('cpu', keys, [None, {'run': {}}, {'run': {}}])
    assert 'cpu/domain-c7@vc, cpu/host-9@vc' in str(error.value) and '-e preemption_scope=host-9' in str(error.value)


def test_with_a_target_only_what_fits_is_powered_on_and_the_rest_waits():
    selected = [dict(A, cpu_mhz=3000, memory_mb=100), dict(B, cpu_mhz=2000, memory_mb=100)]  # C: preempted without usage
    plan = restore_plan(record(selected=selected), PLAN, LATER)
    target = dict(PLAN, capacity_target={'cpu_percent': 75})
    measured = {'capacity': {'cpu_mhz': 10000, 'memory_mb': 10000}, 'usage': {'cpu_mhz': 4200, 'memory_mb': 1000}}
    chosen = restore_selection(plan, found(vm(A), vm(B, priority=5), vm(C)), target, measured)
    # B (highest priority) makes 6,200 <= 7,500; A would make 9,200; C's usage is unknown.
    assert chosen['power_on'] == ['vm-2']
    assert chosen['waiting'] == [{'moid': 'vm-1', 'name': 'a', 'cpu_mhz': 3000, 'memory_mb': 100},
                                 {'moid': 'vm-3', 'name': 'c', 'cpu_mhz': None, 'memory_mb': None}]
    assert chosen['restoring'] == [{'run_id': 'run-1', 'results': {'restoring': [{'moid': 'vm-2', 'name': 'b'}]}}]
    line = restore_summary(target, plan, chosen, {'restored': [{'moid': 'vm-2', 'name': 'b', 'run_id': 'run-1'}], 'failed': [], 'events': []})['line']
    assert '2 wait for capacity' in line and 'a (vm-1, used 3000 MHz, 100 MB)' in line and 'c (vm-3, usage unknown)' in line
    # No target, or no measurement: as before.
    assert restore_selection(plan, found(vm(A), vm(B, priority=5), vm(C)), PLAN, measured)['power_on'] == ['vm-2', 'vm-1', 'vm-3']
