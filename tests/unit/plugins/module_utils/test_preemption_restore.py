# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import json

import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._state import ledger as ledger_module
from ansible_collections.vsphere.preemption.plugins.module_utils._state import records as state_records
from ansible_collections.vsphere.preemption.plugins.module_utils._run.request import build_plan
from ansible_collections.vsphere.preemption.plugins.module_utils._run.restore import (
    ANNOTATION_FIELD,
    EVENT_TYPE,
    AmbiguousWorkflow,
    power_on_failure,
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
    """A workflow record after run-1 powered off ``powered_off`` and annotated them (the ledger written as the role writes it)."""
    run = state_records.new_run('run-1', T0, tag='preemptible', results={'plan': PLAN['recorded']})
    run['status'] = state_records.FINISHED
    rec = {'workflow_id': 'spot@vc1.example.com', 'run': run, 'unfinished': [], 'runs': 1, 'updated': run['started'],
           'ledger': [], 'released': []}
    moids = [vm['moid'] for vm in powered_off]
    report = dict({'powered_off': [dict(vm, event=off_event(vm)) for vm in powered_off], 'annotated': moids}, **results)
    rec, _run = state_records.update_run(rec, 'run-1', report, T0)
    return rec


def off_event(base, key=None, kind='VmPoweredOffEvent', user='svc', created='2026-12-01T20:00:01.000000Z'):
    number = int(base['moid'].split('-')[1])
    return {'key': key or 100 + number, 'chain_id': key or 100 + number, 'type': kind, 'created': created, 'user': user, 'vm': base['moid']}


def history(**events):
    """A vm_power_events answer: the power-off of each VM of the ledger, plus ``events`` ({moid with _ for -: [event]})."""
    answer = {vm['moid']: [off_event(vm)] for vm in (A, B, C, D, E)}
    for moid, more in events.items():
        answer[moid.replace('_', '-')] += more
    return {'events': answer}


D, E = {'moid': 'vm-4', 'name': 'd'}, {'moid': 'vm-5', 'name': 'e'}


def found(*vms):
    """tagged_vm_info's loop over the plan's lookups: every tagged VM (no scope)."""
    return {'results': [{'item': {'tag': 'preemptible', 'category': None, 'scope': None},
                         'vms': [dict({'priority': 0}, **vm) for vm in vms], 'excluded': []}]}


def vm(base, power_state='poweredOff', value=None, **extra):
    return dict({'moid': base['moid'], 'name': base['name'], 'power_state': power_state,
                 'attributes': {ANNOTATION_FIELD: annotation() if value is None else value}}, **extra)


def test_an_unknown_workflow_is_an_error_naming_the_known_ones_unless_an_alarm_asked():
    plan = restore_plan(None, PLAN, LATER, known_ids=['a@vc1.example.com', 'b/domain-c7@vc1.example.com'])
    assert plan['status'] == 'unknown'
    assert 'the workflows with a record on this vCenter: a@vc1.example.com, b/domain-c7@vc1.example.com' in plan['message']
    assert 'preemption_workflow_id' in plan['message']
    assert restore_plan(None, PLAN, LATER, triggered=True)['status'] == 'nothing'


def test_no_restore_within_the_threshold_and_the_line_says_from_when_and_how():
    plan = restore_plan(record(), PLAN, T0 + datetime.timedelta(seconds=30))
    assert plan['status'] == 'too_soon' and plan['may_run_from'] == '2026-12-01T20:01:00.000000Z'
    assert 'within the threshold of 60 s' in plan['message']
    assert plan['message'].endswith('The restore may run from 2026-12-01T20:01:00.000000Z: '
                                    'ansible-playbook vsphere.preemption.restore -e preemption_workflow_id=spot')


def test_the_command_names_the_scope_of_a_workflow_per_scope_and_quotes_what_the_shell_would_read():
    plan = dict(PLAN, workflow_id="cpu > 80% 'x'", state_key="cpu > 80% 'x'/domain-c7@vc1")
    assert restore_plan(None, plan, LATER)['command'] == (
        "ansible-playbook vsphere.preemption.restore -e 'preemption_workflow_id=cpu > 80% '\"'\"'x'\"'\"'' -e preemption_scope=domain-c7")


def test_a_cancelled_workflow_has_no_threshold_and_its_ledger_is_restored():
    document = {'version': 3, 'workflows': {'spot': record()}}
    removed, kept = state_records.absent_in(document, 'spot', T0, 'test')
    assert removed['run']['run_id'] == 'run-1' and 'run' not in kept
    plan = restore_plan(kept, PLAN, T0 + datetime.timedelta(seconds=1))
    assert plan['status'] == 'restore' and [vm['moid'] for vm in plan['vms']] == ['vm-1', 'vm-2', 'vm-3']


def test_a_run_that_powered_off_nothing_is_nothing_to_restore():
    plan = restore_plan(record(powered_off=()), PLAN, LATER)
    assert (plan['status'], plan['vms']) == ('nothing', [])
    assert plan['message'].endswith('its runs powered off no VM.')


def test_the_plan_reads_every_tagged_vm_and_each_scope_and_the_events_since_the_first_power_off():
    rec = record()
    rec['ledger'][2]['scope'] = 'domain-c7'
    plan = restore_plan(rec, PLAN, LATER)
    assert plan['lookups'] == [{'tag': 'preemptible', 'category': None, 'scope': None},
                               {'tag': 'preemptible', 'category': None, 'scope': 'domain-c7'}]
    assert plan['history'] == {'vms': ['vm-1', 'vm-2', 'vm-3'], 'since': '2026-12-01T19:59:01.000000Z'}


def test_selection_keeps_only_vms_still_ours_highest_priority_first():
    plan = restore_plan(record(powered_off=(A, B, C, D, E)), PLAN, LATER)
    chosen = restore_selection(plan, found(
        vm(A), vm(B, priority=5), vm(C, power_state='poweredOn'),
        vm(D, value='{"owner": "ops"}')), history(), PLAN)
    assert chosen['power_on'] == ['vm-2', 'vm-1'] and chosen['restoring'] == ['vm-2', 'vm-1']
    assert [(vm['moid'], vm['reason']) for vm in chosen['left_alone']] == [
        ('vm-3', 'powered on since'), ('vm-4', 'annotation no longer that of run run-1'),
        ('vm-5', "deleted, or no longer tagged 'preemptible'")]


def test_a_power_operation_by_anyone_else_since_our_power_off_leaves_the_vm_alone_naming_who_and_when():
    plan = restore_plan(record(), PLAN, LATER)
    later = '2026-12-01T20:05:00.000000Z'
    chosen = restore_selection(plan, found(vm(A), vm(B), vm(C)), history(
        vm_1=[off_event(A, 200, 'VmPoweredOnEvent', 'admin', later), off_event(A, 201, 'VmPoweredOffEvent', 'admin', later)],
        vm_2=[off_event(B, 202, 'VmRegisteredEvent', 'ops', later)]), PLAN)
    assert chosen['power_on'] == ['vm-3']
    assert [(vm['moid'], vm['reason']) for vm in chosen['left_alone']] == [
        ('vm-1', 'powered on by admin at %s (vCenter event 200)' % later), ('vm-2', 're-registered by ops at %s (vCenter event 202)' % later)]


def test_events_of_our_own_power_off_and_before_it_do_not_count():
    plan = restore_plan(record(), PLAN, LATER)
    # Before our power-off: someone powered A on (that is how it was on for us); B's stop shares our event's chain.
    events = history(vm_1=[off_event(A, 50, 'VmPoweredOnEvent', 'admin', '2026-12-01T19:59:30.000000Z')],
                     vm_2=[dict(off_event(B, 103, 'VmStoppingEvent'), chain_id=102)])
    chosen = restore_selection(plan, found(vm(A), vm(B), vm(C)), events, PLAN)
    assert chosen['power_on'] == ['vm-1', 'vm-2', 'vm-3'] and chosen['left_alone'] == []


def test_a_vm_moved_out_of_the_scope_is_left_alone_and_a_renamed_one_is_restored():
    rec = record()
    for entry in rec['ledger']:
        entry['scope'] = 'domain-c7'
    plan = restore_plan(rec, PLAN, LATER)
    moved = vm(A, host='esx-9', cluster='gpu-cluster')
    renamed = vm(dict(B, name='b-renamed'))
    answer = {'results': [
        {'item': {'tag': 'preemptible', 'scope': None}, 'vms': [dict(moved, priority=0), dict(renamed, priority=0), dict(vm(C), priority=0)],
         'excluded': []},
        {'item': {'tag': 'preemptible', 'scope': 'domain-c7'}, 'vms': [renamed, vm(C)], 'excluded': []}]}
    chosen = restore_selection(plan, answer, history(), PLAN)
    assert chosen['power_on'] == ['vm-2', 'vm-3']
    assert [vm['name'] for vm in chosen['vms']] == ['b-renamed', 'c']
    assert chosen['left_alone'] == [{'moid': 'vm-1', 'name': 'a', 'run_id': 'run-1',
                                     'reason': "moved out of the workflow's scope domain-c7 (now on host esx-9, cluster gpu-cluster)"}]


def test_a_vm_its_killed_run_never_annotated_is_restored_on_the_evidence_of_the_events():
    rec = record(powered_off=(A,))
    rec['ledger'][0]['annotated'] = False
    plan = restore_plan(rec, PLAN, LATER)
    chosen = restore_selection(plan, found(vm(A, value='')), history(), PLAN)
    assert chosen['power_on'] == ['vm-1']
    done = restore_work(plan, chosen, {'powered_on': [A], 'already_on': [], 'failed_vms': []}, PLAN)
    [group] = done['annotations']
    assert (group['value']['preempted'], group['value']['runID'], group['value']['workflowID']) == (False, 'run-1', 'spot')
    # Annotated by its run, an empty annotation means someone cleared it: no longer ours.
    annotated = restore_selection(restore_plan(record(powered_off=(A,)), PLAN, LATER), found(vm(A, value='')), history(), PLAN)
    assert annotated['power_on'] == [] and annotated['left_alone'][0]['reason'] == 'annotation no longer that of run run-1'


def test_an_annotation_of_another_run_or_workflow_leaves_the_vm_alone():
    plan = restore_plan(record(powered_off=(A, B)), PLAN, LATER)
    chosen = restore_selection(plan, found(vm(A, value=annotation('run-9')), vm(B, value=annotation(workflowID='other'))), history(), PLAN)
    assert chosen['power_on'] == [] and len(chosen['left_alone']) == 2


def test_max_vms_caps_the_newly_powered_on():
    plan = restore_plan(record(), PLAN, LATER)
    chosen = restore_selection(plan, found(vm(A), vm(B), vm(C)), history(), dict(PLAN, max_vms=2))
    assert chosen['power_on'] == ['vm-1', 'vm-2']
    assert chosen['beyond_max'] == [{'moid': 'vm-3', 'name': 'c'}]
    assert 'run the restore again: ansible-playbook vsphere.preemption.restore' in restore_summary(
        PLAN, plan, chosen, restore_work(plan, chosen, {'powered_on': [A, B], 'already_on': [], 'failed_vms': []}, PLAN))['line']


def test_unread_events_power_nothing_on_and_release_nothing():
    plan = restore_plan(record(), PLAN, LATER)
    chosen = restore_selection(plan, found(vm(A), vm(B), vm(C)), {'failed': True}, PLAN)
    assert (chosen['power_on'], chosen['left_alone']) == ([], [])


def test_work_annotates_and_announces_what_was_powered_on():
    plan = restore_plan(record(), PLAN, LATER)
    chosen = restore_selection(plan, found(vm(A), vm(B), vm(C)), history(), PLAN)
    done = restore_work(plan, chosen, {'powered_on': [A, B], 'already_on': [], 'failed_vms': [dict(C, msg='no room')]}, PLAN)
    [group] = done['annotations']
    assert group['vms'] == ['vm-1', 'vm-2']
    assert (group['value']['preempted'], group['value']['restored'], group['value']['runID']) == (False, '2026-12-01T20:10:00.000000Z', 'run-1')
    assert group['message'] == 'Restored by vsphere.preemption: workflow spot, run run-1; powered back on after its preemption.'
    [event] = done['events']
    assert (event['event']['id'], event['event']['type'], event['url']) == ('spot-restore-run-1', EVENT_TYPE, 'http://sink/')
    assert event['event']['data']['virtualMachines'] == [{'Type': 'VirtualMachine', 'Value': 'vm-1'}, {'Type': 'VirtualMachine', 'Value': 'vm-2'}]
    assert done['report'] == {'restored': [{'moid': 'vm-1', 'run_id': 'run-1', 'at': '2026-12-01T20:10:00.000000Z'},
                                           {'moid': 'vm-2', 'run_id': 'run-1', 'at': '2026-12-01T20:10:00.000000Z'}]}
    assert done['failed'] == [dict(C, msg='no room')]
    summary = restore_summary(PLAN, plan, chosen, done)
    assert summary['status'] == 'restore_failed'
    assert 'restored 2 VMs: a (vm-1), b (vm-2)' in summary['line'] and 'FAILED to power on 1: c (vm-3): no room' in summary['line']


def test_a_killed_restore_is_finished_and_a_finished_one_is_not_redone():
    # Killed after powering on A and annotating B (both marked restoring): both count as restored, C is powered on.
    rec = record()
    ledger, released = ledger_module.release(rec, {'restoring': ['vm-1', 'vm-2']}, '2026-12-01T20:09:00.000000Z')
    rec = dict(rec, ledger=ledger, released=released)
    plan = restore_plan(rec, PLAN, LATER)
    ours = '2026-12-01T20:09:01.000000Z'
    chosen = restore_selection(plan, found(
        vm(A, power_state='poweredOn'), vm(B, power_state='poweredOn', value=annotation(preempted=False, restored='T')), vm(C)),
        history(vm_1=[off_event(A, 300, 'VmPoweredOnEvent', 'svc', ours)], vm_2=[off_event(B, 301, 'VmPoweredOnEvent', 'svc', ours)]), PLAN)
    assert chosen['power_on'] == ['vm-1', 'vm-3'] and chosen['left_alone'] == []
    done = restore_work(plan, chosen, {'powered_on': [C], 'already_on': [A], 'failed_vms': []}, PLAN)
    assert sorted(vm['moid'] for vm in done['restored']) == ['vm-1', 'vm-2', 'vm-3']
    # B keeps the value it was given.
    assert [g['value']['restored'] for g in done['annotations'] if g['vms'] == ['vm-2']] == ['T']
    ledger, released = ledger_module.release(rec, done['report'], '2026-12-01T20:10:00.000000Z')
    again = restore_plan(dict(rec, ledger=ledger, released=released), PLAN, LATER)
    assert again['status'] == 'nothing'
    assert 'restored or left alone already' in again['message']


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
    # The ledger keeps what each VM used when its run selected it.
    assert [(entry['cpu_mhz'], entry['memory_mb']) for entry in plan['vms']] == [(3000, 100), (2000, 100), (None, None)]
    chosen = restore_selection(plan, found(vm(A), vm(B, priority=5), vm(C)), history(), target, measured)
    # B (highest priority) makes 6,200 <= 7,500; A would make 9,200; C's usage is unknown.
    assert chosen['power_on'] == ['vm-2']
    assert chosen['waiting'] == [{'moid': 'vm-1', 'name': 'a', 'cpu_mhz': 3000, 'memory_mb': 100},
                                 {'moid': 'vm-3', 'name': 'c', 'cpu_mhz': None, 'memory_mb': None}]
    # Only what is powered on is marked restoring: the waiting VMs stay in the ledger as they were.
    assert chosen['restoring'] == ['vm-2']
    line = restore_summary(target, plan, chosen, {'restored': [{'moid': 'vm-2', 'name': 'b', 'run_id': 'run-1'}], 'failed': [], 'events': []})['line']
    assert '2 wait for capacity' in line and 'a (vm-1, used 3000 MHz, 100 MB)' in line and 'c (vm-3, usage unknown)' in line
    # No target, or no measurement: as before.
    assert restore_selection(plan, found(vm(A), vm(B, priority=5), vm(C)), history(), PLAN, measured)['power_on'] == ['vm-2', 'vm-1', 'vm-3']
    assert restore_selection(plan, found(vm(A), vm(B, priority=5), vm(C)), history(), target)['power_on'] == ['vm-2', 'vm-1', 'vm-3']


# ------------------------------------------------------------------ preemption_restore_wait

def test_a_restore_inside_the_threshold_with_wait_says_until_when_it_waits():
    plan = restore_plan(record(), PLAN, T0 + datetime.timedelta(seconds=30), wait=True)
    assert plan['status'] == 'too_soon'
    assert plan['wait'] == {'since': '2026-12-01T20:00:30.000000Z', 'until': '2026-12-01T20:01:00.000000Z'}
    assert plan['wait_seconds'] == 31
    assert restore_plan(record(), PLAN, T0 + datetime.timedelta(seconds=30))['wait'] is None
    assert restore_plan(record(), PLAN, LATER, wait=True)['wait'] is None


@pytest.mark.parametrize('wait', ['yes', 1, None, {'seconds': 5}])
def test_a_wait_that_is_not_true_or_false_is_refused(wait):
    plan = restore_plan(record(), PLAN, LATER, wait=wait)
    assert plan['status'] == 'invalid' and plan['message'].startswith('preemption_restore_wait must be true or false, not ')


def test_a_wait_longer_than_the_threshold_allows_is_refused_and_without_wait_only_reported():
    # The last preemption starts 10 s in the future by this clock: waiting would take 70 s of a 60 s threshold.
    early = T0 - datetime.timedelta(seconds=10)
    plan = restore_plan(record(), PLAN, early, wait=True)
    assert plan['status'] == 'invalid'
    assert 'would wait 70 s, longer than the threshold of 60 s allows' in plan['message'] and 'nothing changed' in plan['message']
    assert restore_plan(record(), PLAN, early)['status'] == 'too_soon'


def test_after_the_wait_the_restore_runs_unless_a_raise_cancelled_it():
    waited = {'since': '2026-12-01T20:00:30.000000Z', 'until': '2026-12-01T20:01:00.000000Z'}
    rec = dict(record(), restore_wait=dict(waited))
    plan = restore_plan(rec, PLAN, LATER, waited=waited)
    assert plan['status'] == 'restore'
    assert plan['wait_report'] == {'restore_wait': dict(waited, done='2026-12-01T20:10:00.000000Z')}
    cancelled = restore_plan(dict(rec, restore_wait=dict(waited, cancelled='2026-12-01T20:00:40.000000Z')), PLAN, LATER, waited=waited)
    assert cancelled['status'] == 'cancelled'
    assert cancelled['message'] == ('Restore of spot on vc1.example.com cancelled: it waited from 2026-12-01T20:00:30.000000Z for the '
                                    'threshold, and the alarm was raised again at 2026-12-01T20:00:40.000000Z; nothing changed.')
    # Another restore started waiting meanwhile: this one is not the waiting restore any more.
    other = dict(rec, restore_wait=dict(waited, since='2026-12-01T20:00:35.000000Z'))
    assert restore_plan(other, PLAN, LATER, waited=waited)['status'] == 'cancelled'


def test_an_entry_without_its_event_counts_only_power_ons_since_as_someone_elses():
    # State of 0.2: the time is when the run recorded the power-off, and the power-off events around it may be ours.
    rec = record(powered_off=(A, B))
    for entry in rec['ledger']:
        entry['event'] = None
    plan = restore_plan(rec, PLAN, LATER)
    later = '2026-12-01T20:05:00.000000Z'
    events = {'events': {'vm-1': [off_event(A, 7, created=later)],
                         'vm-2': [off_event(B, 8, 'VmPoweredOnEvent', 'ops', later), off_event(B, 9, created=later)]}}
    chosen = restore_selection(plan, found(vm(A), vm(B)), events, PLAN)
    assert chosen['power_on'] == ['vm-1']
    assert chosen['left_alone'][0]['reason'] == 'powered on by ops at %s (vCenter event 8)' % later


def test_power_on_failure_counts_the_vms_and_says_each_reason_once():
    assert power_on_failure([]) == ''
    failed = [{'moid': 'vm-1', 'msg': 'No host.'}, {'moid': 'vm-2', 'msg': 'No host.'}, {'moid': 'vm-3', 'msg': 'Locked.'}]
    assert power_on_failure(failed) == 'Could not power on 3 VMs: No host. Locked.'
