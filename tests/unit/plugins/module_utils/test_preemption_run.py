# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from tests.support.preemption_requests import alarm, red_alarm, request
from ansible_collections.vsphere.preemption.plugins.module_utils._run.request import build_plan
from ansible_collections.vsphere.preemption.plugins.module_utils._run.bookkeeping import (
    EVENT_TYPE,
    attempts,
    cloudevent_id,
    history_request,
    known_tag_id,
    outcome,
    power_failure,
    power_outcome,
    run_report,
    run_summary,
    status_lines,
    step_failure,
    work,
)


@pytest.fixture
def red_event():
    return red_alarm()


# ------------------------------------------------------------------ report

def test_cloudevent_id_prefers_the_trigger_event():
    assert cloudevent_id('wf', 'd65a', 'run-1') == 'wf-d65a'
    assert cloudevent_id('wf', None, 'run-1') == 'wf-run-1'


RUN = {'run_id': 'run-1', 'started': '2021-11-05T13:02:34.437444Z', 'status': 'running', 'results': {}, 'event': None}


def test_report_of_a_hard_run(red_event):
    plan = build_plan(request(event=red_event))['recorded']
    run = dict(RUN, event=red_event)
    report = run_report(run, plan, [{'moid': 'vm-58', 'name': 'a', 'method': 'hard'}, {'moid': 'vm-61', 'name': 'b', 'method': 'hard'}])
    value = {'preempted': True, 'tag': 'preemptible', 'forcedShutdown': True, 'criticality': 'HIGH',
             'workflowID': 'cluster-cpu-above-80', 'scope': 'domain-c7', 'workflowStarted': '2021-11-05T13:02:34.437444Z', 'runID': 'run-1',
             'event': red_event}
    assert report['annotations'] == [{'vms': ['vm-58', 'vm-61'], 'value': value, 'message': (
        'Preempted by vsphere.preemption: workflow cluster-cpu-above-80, run run-1, criticality HIGH, hard power-off.')}]
    assert report['event'] == {
        'id': 'cluster-cpu-above-80-d65a8ad1-7d3c-4f72-ace4-e3f2883c4475', 'type': EVENT_TYPE,
        'source': '/vsphere.preemption/vc1.example.com', 'subject': 'cluster-cpu-above-80',
        'data': dict(value, virtualMachines=[{'Type': 'VirtualMachine', 'Value': 'vm-58'}, {'Type': 'VirtualMachine', 'Value': 'vm-61'}])}


def test_report_of_a_medium_run_splits_soft_and_forced():
    plan = build_plan(request(criticality='medium'))['recorded']
    report = run_report(RUN, plan, [{'moid': 'vm-1', 'method': 'soft'}, {'moid': 'vm-2', 'method': 'hard'}, {'moid': 'vm-3'}])
    assert [(group['vms'], group['value']['forcedShutdown']) for group in report['annotations']] == [(['vm-2'], True), (['vm-1', 'vm-3'], False)]
    assert report['event']['id'] == 'manual-run-1'
    assert report['event']['data']['forcedShutdown'] is True
    assert report['event']['data']['event'] is None


def test_a_vm_without_method_counts_as_forced_in_a_hard_run():
    plan = build_plan(request(criticality='HIGH'))['recorded']
    assert run_report(RUN, plan, [{'moid': 'vm-3'}])['annotations'][0]['value']['forcedShutdown'] is True


def test_report_of_a_run_that_powered_off_nothing():
    assert run_report(RUN, build_plan(request(criticality='LOW'))['recorded'], []) == {'annotations': [], 'event': None}


# ------------------------------------------------------------------ summary, status

VMS = [{'moid': 'vm-58', 'name': 'batch-1', 'method': 'hard'}, {'moid': 'vm-61', 'name': 'batch-2', 'method': 'hard'}]


def test_summary_of_a_finished_run(red_event):
    plan = build_plan(request(event=red_event, reply_to='http://sink/', max_vms=2))
    summary = run_summary(plan, {'status': 'finished', 'run_id': 'run-1', 'total': 3, 'selected': VMS, 'powered_off': VMS,
                                 'failed': [], 'annotated': ['vm-58', 'vm-61'], 'event_id': 'cluster-cpu-above-80-d65a', 'event_sent': True,
                                 'resumed': ['run-0']})
    assert summary['line'] == (
        "HIGH preemption cluster-cpu-above-80 on vc1.example.com (hard; alarm 'cluster-cpu-above-80' green -> red; scope domain-c7): "
        'finished earlier run run-0 first; powered off 2 VMs: batch-1 (vm-58, hard), batch-2 (vm-61, hard); '
        '1 more left running (max_vms 2); annotated 2; sent CloudEvent cluster-cpu-above-80-d65a to http://sink/; run run-1 finished.')
    assert summary['stats'] == {
        'workflow_id': 'cluster-cpu-above-80', 'vcenter': 'vc1.example.com', 'status': 'finished', 'check_mode': False,
        'criticality': 'HIGH', 'mode': 'hard', 'scope': 'domain-c7', 'run_id': 'run-1', 'powered_off': VMS, 'failed': [],
        'event_id': 'cluster-cpu-above-80-d65a', 'excluded': []}


def test_summary_in_check_mode_says_what_would_happen():
    plan = build_plan(request(criticality='LOW', scope='all', reply_to='http://sink/'))
    line = run_summary(plan, {'status': 'finished', 'run_id': 'run-1', 'total': 2, 'selected': VMS, 'powered_off': VMS,
                              'event_id': 'manual-run-1', 'event_sent': False}, check_mode=True)['line']
    assert line.startswith('[check mode, nothing changed] LOW preemption manual on vc1.example.com (soft; manual run; scope all of vCenter): '
                           'would power off 2 VMs')
    assert 'would send CloudEvent manual-run-1' in line and 'annotated' not in line and 'run run-1' not in line


def test_summary_of_failures_and_of_nothing_to_do():
    plan = build_plan(request(criticality='HIGH'))
    line = run_summary(plan, {'status': 'finished', 'run_id': 'r', 'selected': VMS, 'powered_off': VMS[:1],
                              'failed': [dict(VMS[1], msg='boom')]})['line']
    assert 'FAILED to power off 1: batch-2 (vm-61): boom' in line and line.endswith('run r finished with failures.')
    line = run_summary(plan, {'status': 'finished', 'run_id': 'r', 'total': 0, 'selected': [], 'powered_off': []})['line']
    assert "no powered-on VM tagged 'preemptible' in scope, nothing to power off" in line


def test_summary_of_skipped_cancelled_and_ignored_runs(red_event):
    plan = build_plan(request(criticality='HIGH'))
    skipped = run_summary(plan, {'status': 'skipped', 'message': 'Workflow last started 5 s ago: skipped (55 s left).',
                                 'pending': {'run_id': 'r0', 'started': 'T0'}})
    assert skipped['line'] == ('Preemption manual on vc1.example.com: Workflow last started 5 s ago: skipped (55 s left). '
                               'Run r0 (started T0) has not finished; the first run after the threshold finishes it.')
    assert skipped['stats']['status'] == 'skipped' and skipped['stats']['event_id'] is None
    dropped = build_plan(request(event=alarm(red_event, 'red', 'green')))
    assert run_summary(dropped, {'status': 'cancelled', 'removed': True})['line'] == (
        "Preemption cluster-cpu-above-80 on vc1.example.com cancelled (alarm 'cluster-cpu-above-80' red -> green): "
        'its threshold and pending work were forgotten; nothing powered off. No VM of its runs remains off.')
    assert 'its threshold and pending work would be forgotten' in run_summary(
        dropped, {'status': 'cancelled', 'removed': True}, check_mode=True)['line']
    assert 'it had no runs to forget' in run_summary(dropped, {'status': 'cancelled', 'removed': False})['line']
    kept = [{'item': 'cluster-cpu-above-80/domain-c7@vc1.example.com', 'record': {'ledger': [
        {'moid': 'vm-1', 'name': 'web «1»', 'run_id': 'r1', 'powered_off': 'T'}, {'moid': 'vm-2', 'name': 'b', 'run_id': 'r1', 'powered_off': 'T'}]}}]
    assert run_summary(dropped, {'status': 'cancelled', 'removed': True, 'kept': kept})['line'].endswith(
        'nothing powered off. 2 VMs remain off (its ledger): web «1» (vm-1), b (vm-2); restore them with: ansible-playbook '
        'vsphere.preemption.restore -e preemption_workflow_id=cluster-cpu-above-80 -e preemption_scope=domain-c7.')
    same = build_plan(request(event=alarm(red_event, 'red', 'red')))
    assert run_summary(same, {'status': 'ignored'})['line'] == (
        "Preemption cluster-cpu-above-80 on vc1.example.com: alarm 'cluster-cpu-above-80' red -> red, nothing to do.")


def test_status_lines():
    workflow = {'workflow_id': 'wf', 'vcenter': 'vc1', 'state_key': 'wf@vc1'}
    assert status_lines(workflow, [{'item': 'wf@vc1', 'record': None, 'state_file': '/tmp/s.json'}]) == [
        'Workflow wf on vc1 has no record in /tmp/s.json.']
    record = {'runs': 2, 'updated': 'T3',
              'run': {'run_id': 'r2', 'status': 'finished', 'started': 'T2', 'finished': 'T3',
                      'results': {'powered_off': VMS, 'annotated': ['vm-58', 'vm-61'], 'event_sent': 'wf-r2'}},
              'unfinished': [{'run_id': 'r1', 'status': 'running', 'started': 'T1', 'finished': None,
                              'results': {'powered_off': VMS[:1], 'failed': [dict(VMS[1], msg='x')]}}]}
    queried = [{'item': 'wf@vc1', 'record': None, 'state_file': '/s'}, {'item': 'wf/domain-c7@vc1', 'record': record, 'state_file': '/s'}]
    assert status_lines(workflow, queried) == [
        'Workflow wf (scope domain-c7) on vc1: 2 runs, updated T3.',
        'Latest run r2 started T2, finished T3, powered off 2 VMs: batch-1 (vm-58, hard), batch-2 (vm-61, hard), annotated 2, CloudEvent wf-r2 sent.',
        'Unfinished earlier run r1 started T1, NOT finished, powered off 1 VM: batch-1 (vm-58, hard), failed 1: batch-2 (vm-61), annotated 0; '
        'the next run that proceeds finishes it.',
        'No VM of its runs is still off.']


def test_status_lines_tell_the_ledger_what_left_it_and_why_and_a_waiting_restore():
    workflow = {'workflow_id': 'wf', 'vcenter': 'vc1', 'state_key': 'wf@vc1'}
    record = {'runs': 2, 'updated': 'T3', 'cancelled': 'T4',
              'ledger': [{'moid': 'vm-58', 'name': 'batch-1', 'run_id': 'r2', 'powered_off': 'T2', 'method': 'hard',
                          'event': {'key': 4711}, 'restoring': None}],
              'released': [{'moid': 'vm-61', 'name': 'batch-2', 'run_id': 'r2', 'outcome': 'restored', 'reason': None, 'at': 'T5'},
                           {'moid': 'vm-62', 'name': 'batch-3', 'run_id': 'r1', 'outcome': 'left_alone', 'reason': 'powered on by ops at T3',
                            'at': 'T5'}],
              'restore_wait': {'since': 'T5', 'until': 'T6'}}
    lines = status_lines(workflow, [{'item': 'wf/domain-c7@vc1', 'record': record, 'state_file': '/s'}])
    assert lines == [
        'Workflow wf (scope domain-c7) on vc1: 2 runs, updated T3.',
        'Cancelled at T4: its threshold and pending work forgotten, its ledger kept.',
        'Still off, 1 VM (its ledger): batch-1 (vm-58), run r2, powered off T2 (hard), vCenter event 4711; restore them with: '
        'ansible-playbook vsphere.preemption.restore -e preemption_workflow_id=wf -e preemption_scope=domain-c7.',
        'Restored 1 VM: batch-2 (vm-61) at T5.',
        'Left alone 1 VM, no longer ours: batch-3 (vm-62), run r1: powered on by ops at T3 (found T5).',
        'A restore is waiting since T5; it runs at T6 unless the alarm is raised again.']
    record['restore_wait']['cancelled'] = 'T5.5'
    assert status_lines(workflow, [{'item': 'wf/domain-c7@vc1', 'record': record, 'state_file': '/s'}])[-1] == (
        'A restore waited from T5 until T6 and was cancelled at T5.5 by a new raise of the alarm.')


# ------------------------------------------------------------------ what the steps did

A = {'moid': 'vm-1', 'name': 'a'}
B = {'moid': 'vm-2', 'name': 'b'}
C = {'moid': 'vm-3', 'name': 'c'}
PLAN = build_plan(request(criticality='HIGH', reply_to='http://sink/'))


def started(selected, unfinished=(), run_id='run-2'):
    run = {'run_id': run_id, 'started': 'T2', 'status': 'running', 'event': None,
           'results': {'plan': PLAN['recorded'], 'selected': list(selected)}}
    return {'proceed': True, 'run_id': run_id, 'run': run, 'record': {'run': run, 'unfinished': list(unfinished)}}


def test_a_first_attempt_that_finds_a_vm_off_did_not_power_it_off():
    power = {'preempted': [dict(A, method='hard')], 'already_off': [B], 'failed_vms': []}
    assert power_outcome([A, B], power) == ([dict(A, method='hard')], [B], [], [])


def test_a_retry_that_finds_a_vm_off_counts_it_as_powered_off_by_the_run():
    power = {'preempted': [dict(B, method='hard')], 'already_off': [A], 'failed_vms': [], 'attempts': 2}
    assert power_outcome([A, B], power) == ([dict(B, method='hard'), A], [], [], [])


def test_a_power_off_that_never_answered_leaves_every_vm_unknown():
    assert power_outcome([A, B], {'failed': True, 'msg': 'Cannot connect', 'retryable': True}) == ([], [], [], [A, B])
    assert power_outcome([], {'skipped': True}) == ([], [], [], [])


def test_the_history_read_names_unknown_vms_of_this_run_and_unrecorded_ones_of_killed_runs():
    # vm_power_events reads their power state with their events: every VM whose outcome may be unknown is asked for.
    killed = {'run_id': 'run-1', 'started': 'T1', 'status': 'running', 'event': None,
              'results': {'plan': PLAN['recorded'], 'selected': [A, C], 'powered_off': [dict(A, method='hard')]}}
    start = started([B], unfinished=[killed])
    assert {'vm-3', 'vm-2'} <= set(history_request(start)['vms'])


def test_work_of_a_plain_run():
    done = work(started([A, B]), {'preempted': [dict(A, method='hard')], 'already_off': [], 'failed_vms': [dict(B, msg='boom')],
                                  'failed': True, 'msg': 'Could not power off 1 of 2 VMs', 'retryable': True})
    assert done['progress'] == {'powered_off': [dict(A, method='hard')], 'already_off': [], 'failed': [dict(B, msg='boom')]}
    assert [group['vms'] for group in done['annotations']] == [['vm-1']]
    assert [entry['event']['id'] for entry in done['events']] == ['manual-run-2']
    # The role sends to preemption_reply_to: no URL in what is shown.
    assert (done['events'][0]['url'], done['events'][0]['sink']) == (None, 'http://sink/')
    assert done['finish'] == [{'run_id': 'run-2', 'results': {'powered_off': [dict(A, method='hard')], 'failed': [dict(B, msg='boom')],
                                                              'annotated': ['vm-1'], 'event_sent': 'manual-run-2'}}]
    assert done['resumed'] == []


T1 = '2021-11-05T13:00:00.000000Z'


def off_event(key, created, moid, kind='VmPoweredOffEvent', user='svc'):
    return {'key': key, 'chain_id': key, 'type': kind, 'created': created, 'user': user, 'vm': moid}


def our_event(event):
    return {name: event[name] for name in ('key', 'chain_id', 'type', 'created', 'user')}


def test_work_finishes_killed_runs_first_with_their_own_plan_and_event():
    killed_plan = dict(PLAN['recorded'], reply_to='http://old-sink/', sink='http://old-sink/')
    killed = {'run_id': 'run-1', 'started': T1, 'status': 'running', 'event': None,
              'results': {'plan': killed_plan, 'selected': [A, C], 'powered_off': [dict(A, method='hard')]}}
    nothing = {'run_id': 'run-0', 'started': '2021-11-05T12:00:00.000000Z', 'status': 'running', 'event': None, 'results': {}}
    c_off = off_event(7, '2021-11-05T13:00:01.000000Z', 'vm-3')
    history = {'events': {'vm-3': [c_off], 'vm-1': [], 'vm-2': []}, 'power_states': {'vm-3': 'poweredOff'}}
    done = work(started([B], unfinished=[nothing, killed]), {'preempted': [dict(B, method='hard')], 'already_off': [], 'failed_vms': []},
                history)
    assert done['resumed'] == ['run-0', 'run-1']
    assert [entry['run_id'] for entry in done['finish']] == ['run-0', 'run-1', 'run-2']
    assert done['finish'][0]['results'] == {'powered_off': [], 'annotated': []}
    # The killed run's power-off of C is proven by vCenter's event, which the ledger keeps.
    assert done['finish'][1]['results']['powered_off'] == [dict(A, method='hard'), dict(C, event=our_event(c_off))]
    assert done['finish'][1]['results']['finished_by'] == 'run-2'
    # Every owed event goes to the sink of the run that sends it (a sink fixed since is where they belong).
    assert [(entry['url'], entry['sink'], entry['event']['id']) for entry in done['events']] == [
        (None, 'http://sink/', 'manual-run-1'), (None, 'http://sink/', 'manual-run-2')]


def test_an_owed_event_without_a_sink_now_goes_to_its_own_only_when_that_carries_no_credential():
    # reply_to as 0.3 records it (None when it carried credentials) and as 0.2 did (the full URL).
    for reply_to, recorded, url in (('http://old-sink/', 'http://old-sink/', 'http://old-sink/'),
                                    ('http://u:pw@old-sink/?t=x', 'http://***@old-sink/?t=***', None),
                                    (None, 'http://***@old-sink/?t=***', None)):
        killed = {'run_id': 'run-1', 'started': 'T1', 'status': 'running', 'event': None,
                  'results': {'plan': dict(PLAN['recorded'], reply_to=reply_to, sink=recorded), 'selected': [A], 'powered_off': [A]}}
        start = started([B], unfinished=[killed])
        start['run']['results']['plan'] = dict(PLAN['recorded'], reply_to=None, sink=None)
        done = work(start, {'preempted': [B], 'already_off': [], 'failed_vms': []})
        assert [(entry['url'], entry['sink'], entry['event']['id']) for entry in done['events']] == [(url, recorded, 'manual-run-1')]
    assert step_failure('sink', done, PLAN) == (
        'CloudEvent manual-run-1 is owed to http://***@old-sink/?t=***, whose URL carries credentials, which are never stored: '
        'run this workflow again with preemption_reply_to set to that URL (that run sends it under the same id), or forget the '
        'workflow with vsphere.preemption.cancel.')


def test_an_event_already_sent_is_not_owed_again():
    killed = {'run_id': 'run-1', 'started': 'T1', 'status': 'running', 'event': None,
              'results': {'plan': PLAN['recorded'], 'selected': [A], 'powered_off': [A], 'event_sent': 'manual-run-1'}}
    done = work(started([], unfinished=[killed]), {'skipped': True})
    assert done['events'] == [] and done['finish'][0]['results']['event_sent'] == 'manual-run-1'


def test_unknown_vms_found_on_are_failures_of_the_run():
    done = work(started([A, B]), {'failed': True, 'msg': 'Cannot connect', 'retryable': True},
                {'events': {}, 'power_states': {'vm-1': 'poweredOn', 'vm-2': 'poweredOff'}})
    assert done['current'] == {'powered_off': [B], 'failed': [dict(A, msg='Cannot connect')]}


def test_unknown_vms_found_suspended_are_failures_too():
    # Only poweredOff is off, as power_off sees it: a suspended VM was not powered off by the run.
    done = work(started([A]), {'failed': True, 'msg': 'Cannot connect', 'retryable': True},
                {'events': {}, 'power_states': {'vm-1': 'suspended'}})
    assert done['current'] == {'powered_off': [], 'failed': [dict(A, msg='Cannot connect')]}


@pytest.mark.parametrize('result, expected', [
    ({'failed': False}, 1), ({'failed': False, 'attempts': 2}, 2),
    # ansible-core reports the retry count when every attempt failed.
    ({'failed': True, 'retryable': True, 'attempts': 3}, 4),
    ({'failed': True, 'retryable': False, 'attempts': 2}, 2), ({'failed': True, 'retryable': False}, 1),
])
def test_attempts(result, expected):
    assert attempts(result, 3) == expected


def test_step_failures_name_the_step_and_the_attempts():
    plan = dict(PLAN, retries=1)
    assert step_failure('select', {'failed': True, 'retryable': True, 'msg': 'down.', 'attempts': 1}, plan) == (
        "Could not list the VMs tagged 'preemptible' after 2 attempts: down.")
    # A scope taken from the event that vCenter cannot read: the error says where it came from; a passing failure does not.
    from_event = dict(plan, scope='domain-c999', scope_origin="preemption_event's data.ComputeResource, else its data.Host")
    assert step_failure('select', {'failed': True, 'retryable': False, 'msg': 'No scope domain-c999.'}, from_event) == (
        "Could not list the VMs tagged 'preemptible' after 1 attempt: No scope domain-c999. The scope domain-c999 is from "
        "preemption_event's data.ComputeResource, else its data.Host; preemption_scope sets another.")
    assert step_failure('select', {'failed': True, 'retryable': True, 'msg': 'down.', 'attempts': 1}, from_event).endswith('down.')
    owed = {'url': 'http://s/', 'sink': 'http://s/', 'event': {'id': 'e-1'}}
    loop = {'failed': True, 'results': [{'failed': False}, {'failed': True, 'retryable': True, 'msg': 'HTTP 503.', 'attempts': 1, 'item': owed}]}
    assert step_failure('cloudevent', loop, plan) == (
        'Could not send CloudEvent e-1 to http://s/ after 2 attempts: HTTP 503. The next run of this workflow sends it.')
    assert step_failure('annotate', {'failed': True, 'msg': 'x.'}, plan, 'run-1').startswith('Could not annotate the VMs of run run-1 after 1 attempt')
    with pytest.raises(ValueError, match="unknown step 'bogus'"):
        step_failure('bogus', {}, plan)


def test_power_failure():
    done = {'current': {'powered_off': [A], 'failed': [dict(B, msg='still on')]}}
    assert power_failure(done, {'failed': True, 'retryable': True, 'msg': 'Could not power off 1 of 2 VMs: b', 'attempts': 1}, dict(PLAN, retries=1)) == (
        'Could not power off 1 of 2 VMs after 2 attempts: Could not power off 1 of 2 VMs: b')
    assert power_failure({'current': {'powered_off': [A], 'failed': []}}, {}, PLAN) == ''


def test_outcome_of_a_skipped_and_of_a_finished_run():
    assert outcome({'proceed': False, 'msg': 'skipped', 'pending': None}) == {'status': 'skipped', 'message': 'skipped', 'pending': None}
    start = started([A, B])
    done = work(start, {'preempted': [dict(A, method='hard'), dict(B, method='hard')], 'already_off': [], 'failed_vms': []})
    result = outcome(start, {'total': 3}, done, True)
    assert (result['status'], result['total'], result['event_id'], result['event_sent'], result['annotated']) == (
        'finished', 3, 'manual-run-2', True, ['vm-1', 'vm-2'])


def test_a_vm_the_new_run_found_on_was_not_powered_off_by_a_killed_run():
    # Killed before it recorded its power-off; the new run found A on and powered it off itself.
    killed = {'run_id': 'run-1', 'started': T1, 'status': 'running', 'event': None,
              'results': {'plan': PLAN['recorded'], 'selected': [A, C]}}
    start = started([A], unfinished=[killed])
    power = {'preempted': [dict(A, method='hard')], 'already_off': [], 'failed_vms': []}
    c_off = off_event(7, '2021-11-05T13:00:01.000000Z', 'vm-3')
    done = work(start, power, {'events': {'vm-3': [c_off]}, 'power_states': {'vm-1': 'poweredOff', 'vm-3': 'poweredOff'}})
    assert done['finish'][0]['results']['powered_off'] == [dict(C, event=our_event(c_off))]
    assert done['finish'][1]['results']['powered_off'] == [dict(A, method='hard')]


def test_a_killed_runs_vm_someone_else_powered_off_is_not_annotated():
    plan = dict(PLAN['recorded'], notice_period=60)
    killed = {'run_id': 'run-1', 'started': T1, 'status': 'running', 'event': None,
              'results': {'plan': plan, 'selected': [A, B, C]}}
    # A: powered off during the notice (not by the run); B: powered off after it, then on and off again; C: the run's.
    history = {'events': {
        'vm-1': [off_event(5, '2021-11-05T13:00:30.000000Z', 'vm-1', user='admin')],
        'vm-2': [off_event(6, '2021-11-05T13:01:01.000000Z', 'vm-2'), off_event(8, '2021-11-05T13:01:05.000000Z', 'vm-2', 'VmPoweredOnEvent', 'admin'),
                 off_event(9, '2021-11-05T13:01:09.000000Z', 'vm-2', user='admin')],
        'vm-3': [off_event(7, '2021-11-05T13:01:02.000000Z', 'vm-3')]}}
    history['power_states'] = {'vm-1': 'poweredOff', 'vm-2': 'poweredOff', 'vm-3': 'poweredOff'}
    done = work(started([], unfinished=[killed]), {'skipped': True}, history)
    [finish] = [entry for entry in done['finish'] if entry['run_id'] == 'run-1']
    assert [vm['moid'] for vm in finish['results']['powered_off']] == ['vm-3']
    assert [group['vms'] for group in done['annotations']] == [['vm-3']]
    assert finish['results']['not_ours'] == [
        dict(A, reason='powered off by admin at 2021-11-05T13:00:30.000000Z, before the notice of run run-1 ended'),
        dict(B, reason='VmPoweredOnEvent by admin at 2021-11-05T13:01:05.000000Z')]


def test_a_killed_run_stays_unfinished_while_the_power_events_cannot_be_read():
    killed = {'run_id': 'run-1', 'started': T1, 'status': 'running', 'event': None,
              'results': {'plan': PLAN['recorded'], 'selected': [C]}}
    done = work(started([], unfinished=[killed]), {'skipped': True}, {'failed': True, 'msg': 'down', 'retryable': True})
    assert [entry['run_id'] for entry in done['finish']] == ['run-2'] and done['annotations'] == []


def test_power_states_that_could_not_be_read_leave_earlier_runs_unfinished_and_fail_this_runs_vms():
    killed = {'run_id': 'run-1', 'started': 'T1', 'status': 'running', 'event': None,
              'results': {'plan': PLAN['recorded'], 'selected': [C]}}
    # Under failed_when: false, a read that failed is not marked failed: it lacks its events and states.
    done = work(started([A], unfinished=[killed]), {'failed': True, 'msg': 'Cannot connect.', 'retryable': True},
                {'failed': False, 'msg': 'Cannot connect.', 'retryable': True})
    assert [entry['run_id'] for entry in done['finish']] == ['run-2']
    assert done['current'] == {'powered_off': [], 'failed': [dict(A, msg='Cannot connect.')]}
    assert done['resumed'] == [] and done['events'] == []


# ------------------------------------------------------------------ spot lifecycle: notice, exclusions

def test_a_notice_given_is_recorded_in_the_annotation_the_event_and_the_vcenter_message():
    plan = build_plan(request(criticality='HIGH', notice_period=120))['recorded']
    notice = {'period': 120, 'deadline': '2026-12-01T20:02:00Z'}
    report = run_report(RUN, plan, [{'moid': 'vm-1', 'method': 'hard'}], notice)
    [group] = report['annotations']
    assert group['value']['notice'] == notice
    assert report['event']['data']['notice'] == notice
    assert group['message'] == ('Preempted by vsphere.preemption: workflow manual, run run-1, criticality HIGH, '
                                'hard power-off after a 120 s notice.')
    assert 'notice' not in run_report(RUN, plan, [{'moid': 'vm-1', 'method': 'hard'}])['annotations'][0]['value']


def test_work_takes_the_notice_from_the_power_off_and_records_it():
    plan = build_plan(request(criticality='HIGH', notice_period=30))
    run = dict(RUN, results={'plan': plan['recorded'], 'selected': [{'moid': 'vm-1', 'name': 'a'}]})
    start = {'proceed': True, 'run': run, 'record': {'run': run, 'unfinished': []}}
    power = {'preempted': [{'moid': 'vm-1', 'name': 'a', 'method': 'hard'}], 'already_off': [], 'failed_vms': [],
             'notice': {'deadline': '2026-12-01T20:00:30Z', 'value': '{}', 'notified': ['vm-1'], 'written': ['vm-1']}}
    done = work(start, power)
    notice = {'period': 30, 'deadline': '2026-12-01T20:00:30Z'}
    assert done['progress']['notice'] == notice and done['finish'][0]['results']['notice'] == notice
    assert done['annotations'][0]['value']['notice'] == notice


def test_the_summary_counts_the_excluded_vms_by_reason():
    plan = build_plan(request(criticality='HIGH', scope='all'))
    excluded = [{'moid': 'vm-7', 'name': 'vCLS-1', 'reason': 'managed_by'}, {'moid': 'vm-8', 'name': 'db', 'reason': 'protected'},
                {'moid': 'vm-9', 'name': 'db2', 'reason': 'protected'}]
    summary = run_summary(plan, {'status': 'finished', 'run_id': 'run-1', 'total': 0, 'selected': [], 'powered_off': [], 'failed': [],
                                 'excluded': excluded})
    assert ('never touched 3 tagged VMs (1 managed_by, 2 protected): vCLS-1 (vm-7, managed_by), db (vm-8, protected), '
            'db2 (vm-9, protected)') in summary['line']
    assert summary['stats']['excluded'] == excluded


def test_the_tag_id_of_the_last_run_is_handed_back_for_the_same_tag_only():
    record = {'run': {'results': {'plan': {'tag': 'preemptible'}, 'tag_id': 'urn:vmomi:InventoryServiceTag:1:GLOBAL'}}}
    assert known_tag_id(record, 'preemptible') == 'urn:vmomi:InventoryServiceTag:1:GLOBAL'
    assert known_tag_id(record, 'batch') is None
    assert known_tag_id(None, 'preemptible') is None
    assert known_tag_id({'run': {'results': {}}}, 'preemptible') is None


CAPACITY = {'capacity': {'cpu_mhz': 84000, 'memory_mb': 393216}, 'usage': {'cpu_mhz': 77280, 'memory_mb': 200000},
            'target': {'cpu_percent': 75.0}, 'to_free': {'cpu_mhz': 14280, 'memory_mb': 0},
            'frees': {'cpu_mhz': 31200, 'memory_mb': 8192}, 'shortfall': {'cpu_mhz': 0, 'memory_mb': 0},
            'usage_after': {'cpu_mhz': 46080, 'memory_mb': 191808}}
SELECTED = [{'moid': 'vm-58', 'name': 'batch-1', 'cpu_mhz': 20000, 'memory_mb': 4096},
            {'moid': 'vm-61', 'name': 'batch-2', 'cpu_mhz': 11200, 'memory_mb': 4096}]


def test_a_run_with_a_target_annotates_each_vm_with_what_it_used(red_event):
    plan = build_plan(request(event=red_event, reply_to='http://sink/', capacity_target={'cpu_percent': 75}))['recorded']
    usage = {vm['moid']: {'cpu_mhz': vm['cpu_mhz'], 'memory_mb': vm['memory_mb']} for vm in SELECTED}
    report = run_report(RUN, plan, VMS, usage=usage, capacity=CAPACITY)
    assert [(a['vms'], a['value']['usage']) for a in report['annotations']] == [
        (['vm-58'], {'cpu_mhz': 20000, 'memory_mb': 4096}), (['vm-61'], {'cpu_mhz': 11200, 'memory_mb': 4096})]
    assert report['event']['data']['usage'] == usage and report['event']['data']['capacity'] == CAPACITY
    # Without: one annotation for the group, no usage, as in 0.2.
    plain = run_report(RUN, plan, VMS)
    assert len(plain['annotations']) == 1 and 'usage' not in plain['annotations'][0]['value'] and 'usage' not in plain['event']['data']


def test_summary_speaks_capacity(red_event):
    plan = build_plan(request(event=red_event, capacity_target={'cpu_percent': 75}))
    outcome_ = {'status': 'finished', 'run_id': 'run-1', 'total': 5, 'selected': SELECTED, 'powered_off': VMS, 'failed': [],
                'annotated': ['vm-58', 'vm-61'], 'capacity': CAPACITY}
    checked = run_summary(plan, outcome_, check_mode=True)
    assert ('would free 31,200 MHz with 2 VMs; CPU usage 92% -> 55% of 84,000 MHz (target cpu_percent 75); '
            '3 more left running (not needed for the target)') in checked['line'], checked['line']
    assert checked['stats']['capacity']['freed'] == {'cpu_mhz': 31200, 'memory_mb': 8192}
    # Only one of the two went off: it says what was freed, and by how much it falls short.
    short = run_summary(plan, dict(outcome_, powered_off=VMS[1:], failed=[dict(VMS[0], msg='boom')]))['line']
    assert 'freed 11,200 MHz with 1 VM' in short and 'SHORT of the target by 3,080 MHz' in short, short
    under = dict(CAPACITY, usage={'cpu_mhz': 58800, 'memory_mb': 200000}, to_free={'cpu_mhz': 0, 'memory_mb': 0})
    nothing = run_summary(plan, dict(outcome_, powered_off=[], selected=[], capacity=under))
    assert 'usage CPU 70% of 84,000 MHz is at or below the target (cpu_percent 75): nothing to free' in nothing['line']
    assert 'no powered-on VM' not in nothing['line']
