# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The door of vsphere.preemption.preempt_books: registered results in, the pure functions' answers out, one clear error otherwise."""

from __future__ import annotations

import types

import pytest
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task

from ansible_collections.vsphere.preemption.plugins.action.preempt_books import ActionModule
from ansible_collections.vsphere.preemption.plugins.module_utils._run.request import build_plan, workflow_identity

REQUEST = dict(tag='preemptible', max_vms=10, parallel=5, retries=3, retry_delay=2, threshold=60, grace_period=30,
               scope='event', vcenter_hostname='vc1.example.com')
PLAN = build_plan(dict(REQUEST, criticality='HIGH', reply_to='http://sink/'))
RUN = {'run_id': 'r1', 'started': '2021-11-05T13:02:34.437444Z', 'event': None,
       'results': {'plan': PLAN['recorded'], 'selected': [{'moid': 'vm-1', 'name': 'a'}, {'moid': 'vm-2', 'name': 'b'}]}}
START = {'proceed': True, 'run_id': 'r1', 'run': RUN, 'record': {'run': RUN, 'unfinished': []}}
FOUND = {'total': 2, 'vms': RUN['results']['selected']}


def books(check_mode=False, **args):
    """Run the action plugin as ansible-core does, on the controller, and return its result."""
    task = Task()
    task.action = 'vsphere.preemption.preempt_books'
    task.args = args
    task.check_mode = check_mode
    connection = types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir='/nonexistent'))
    action = ActionModule(task, connection, PlayContext(), loader=None, templar=None, shared_loader_obj=None)
    return action.run(task_vars={})


def test_the_preempt_step_says_what_the_run_did_owes_and_says():
    power = {'preempted': [{'moid': 'vm-1', 'name': 'a', 'method': 'hard'}], 'already_off': [], 'failed_vms': [], 'attempts': 1}
    # vm-2: the power-off never answered for it; vm_power_events found it off, so the run powered it off.
    history = {'events': {'vm-1': [], 'vm-2': []}, 'power_states': {'vm-1': 'poweredOff', 'vm-2': 'poweredOff'}}
    result = books(step='preempt', plan=PLAN, start=START, found=FOUND, power=power, history=history)
    assert not result.get('failed'), result
    assert [vm['moid'] for vm in result['current']['powered_off']] == ['vm-1', 'vm-2']
    assert result['annotations'][0]['vms'] == ['vm-1', 'vm-2']
    assert [entry['event']['id'] for entry in result['events']] == ['manual-r1']
    assert [entry['run_id'] for entry in result['finish']] == ['r1']
    assert result['outcome']['status'] == 'finished' and result['outcome']['event_sent'] is True
    assert result['power_error'] == '' and result['sink_error'] == ''


def test_unread_power_states_fail_the_vms_whose_outcome_is_unknown():
    power = {'failed': False, 'msg': 'Cannot connect.', 'retryable': True, 'attempts': 4}
    history = {'failed': False, 'msg': 'Cannot connect.', 'retryable': True}
    result = books(step='preempt', plan=PLAN, start=START, found=FOUND, power=power, history=history)
    assert [vm['moid'] for vm in result['current']['failed']] == ['vm-1', 'vm-2']
    assert result['power_error'] == 'Could not power off 2 of 2 VMs after 4 attempts: Cannot connect.'


def test_a_run_that_did_not_proceed_owes_nothing_and_says_why():
    start = {'proceed': False, 'msg': 'Skipped: inside the threshold.', 'record': {'unfinished': [RUN]}}
    assert books(step='history', start=start) == {'vms': [], 'since': None, 'changed': False}
    result = books(step='preempt', plan=PLAN, start=start, found=FOUND, power={'skipped': True}, history={'skipped': True})
    assert result['finish'] == [] and result['annotations'] == [] and result['progress'] is None
    assert result['outcome'] == {'status': 'skipped', 'message': 'Skipped: inside the threshold.', 'pending': None}


def test_the_history_step_names_the_vms_of_the_runs_being_finished():
    assert books(step='history', start=START) == {'vms': ['vm-1', 'vm-2'], 'since': RUN['started'], 'changed': False}


def test_the_failure_step_fails_with_the_steps_error():
    result = books(step='failure', what='select', result={'failed': False, 'retryable': True, 'msg': 'down.', 'attempts': 4}, plan=PLAN)
    assert result['failed'] is True
    assert result['msg'] == "Could not list the VMs tagged 'preemptible' after 4 attempts: down."


def test_the_summary_step_says_it_in_check_mode_too():
    result = books(step='summary', plan=PLAN, outcome={'status': 'ignored'}, check_mode=True)
    assert result['line'].startswith('[check mode, nothing changed] Preemption manual on vc1.example.com: ')
    assert result['stats']['status'] == 'ignored' and result['stats']['check_mode'] is True


def test_the_status_step_reads_the_registered_loop():
    queried = {'results': [{'item': 'manual@vc1.example.com', 'record': None, 'state_file': '/s.json'}]}
    assert books(step='status', plan=workflow_identity(REQUEST), queried=queried)['lines'] == [
        'Workflow manual on vc1.example.com has no record in /s.json.']


def test_a_restore_of_a_workflow_without_a_record_is_unknown_and_says_so():
    plan = dict(PLAN, action='restore', state_key='manual@vc1.example.com')
    result = books(step='restore_plan', plan=plan, record={'record': None, 'known_ids': ['other']}, wait=False)
    assert result['status'] == 'unknown' and result['outcome']['status'] == 'not_restored'
    assert 'other' in result['message']


def test_a_restore_that_could_not_power_on_says_so_without_failing_the_books():
    plan = dict(PLAN, action='restore')
    restore = {'status': 'restore', 'restored_at': '2021-11-05T14:00:00.000000Z', 'vms': []}
    selection = {'power_on': ['vm-1'], 'vms': [], 'left_alone': [], 'beyond_max': [], 'waiting': []}
    result = books(step='restore_work', plan=plan, restore=restore, selection=selection, power={'msg': 'down.', 'retryable': True})
    # A list under `failed` would fail the task: the VMs that failed are in the outcome, the error in power_error.
    assert 'failed' not in result
    assert result['power_error'] == 'Could not power on 1 VMs: down.'
    assert result['outcome']['status'] == 'restore_failed'


@pytest.mark.parametrize('args, error', [
    (dict(step='preempt', start=START), 'preempt_books: step preempt needs plan.'),
    (dict(step='preempt', plan=PLAN, start='{{ _preempt_start }}'), 'preempt_books: start must be a dict (a registered result), not str.'),
    (dict(step='history', start=START, power={}), 'preempt_books: step history takes no power.'),
    (dict(step='failure', plan=PLAN, what='power', result={}),
     "preempt_books: what must be one of session, select, annotate, history, cloudevent, not 'power'."),
    (dict(step='status', plan=PLAN, queried=[]), 'preempt_books: queried must be a dict (a registered result), not list.'),
])
def test_options_that_are_not_the_registered_results_are_one_clear_error(args, error):
    result = books(**args)
    assert result['failed'] is True and result['retryable'] is False
    assert result['msg'] == error


def test_a_registered_result_of_another_step_is_one_clear_error():
    # A workflow_state query result where the started one belongs.
    result = books(step='preempt', plan=PLAN, start={'proceed': True, 'record': None})
    assert result['failed'] is True and result['retryable'] is False
    assert result['msg'].startswith('preempt_books step preempt needs the registered results of the role vsphere.preemption.preempt: ')


def test_an_unknown_step_is_refused_by_the_argument_spec():
    result = books(step='bogus')
    assert result['failed'] is True and result['retryable'] is False
    assert 'step' in result['msg'] and 'bogus' in result['msg']
