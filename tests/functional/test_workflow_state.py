# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vsphere.preemption.workflow_state run by the real ansible CLI."""

from __future__ import annotations

import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.ansible_cli import run_module

MODULE = 'vsphere.preemption.workflow_state'
WORKFLOW = 'cluster-cpu-above-80'
EVENT = {'id': 'e-1', 'source': 'https://vcenter.example.com/sdk', 'type': 'com.vmware.event.router/event',
         'data': {'AlarmName': WORKFLOW}}
VM1 = {'moid': 'vm-63', 'name': 'DC0_C0_RP0_VM0', 'method': 'hard'}
VM2 = {'moid': 'vm-66', 'name': 'DC0_C0_RP0_VM1', 'method': 'hard'}


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / 'state' / 'preemption.json')


def state(path, check=False, **args):
    return run_module(MODULE, dict(args, path=path, workflow_id=args.pop('workflow_id', WORKFLOW)), check=check)


def test_a_run_from_start_to_finish(path, umask_022):
    started = state(path, state='started', tag='preemptible', criticality='HIGH', trigger='eda', event=EVENT)
    assert started['_rc'] == 0, started
    assert started['changed'] is True
    assert started['proceed'] is True
    assert started['pending'] is None
    assert started['last_started'] is None
    run_id = started['run_id']
    assert started['run']['run_id'] == run_id
    assert (started['run']['tag'], started['run']['criticality'], started['run']['trigger']) == ('preemptible', 'HIGH', 'eda')
    assert started['run']['event'] == EVENT
    assert started['ansible_facts']['preemption_state'] == started['record']
    assert started['state_file'] == path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    progress = state(path, state='progress', run_id=run_id, results={'powered_off': [VM1]})
    assert progress['changed'] is True
    # A retried step reports again: nothing new, nothing lost.
    again = state(path, state='progress', run_id=run_id, results={'powered_off': [VM2, VM1]})
    assert again['changed'] is True
    assert again['run']['results']['powered_off'] == [VM1, VM2]
    assert state(path, state='progress', run_id=run_id, results={'powered_off': [VM2]})['changed'] is False

    finished = state(path, state='finished', run_id=run_id, results={'annotated': ['vm-63', 'vm-66'], 'event_sent': 'wf-e-1'})
    assert finished['changed'] is True
    assert finished['run']['status'] == 'finished'
    assert finished['run']['finished'] >= finished['run']['started']
    assert finished['run']['results'] == {'powered_off': [VM1, VM2], 'annotated': ['vm-63', 'vm-66'], 'event_sent': 'wf-e-1'}

    query = state(path)
    assert query['changed'] is False
    assert query['record'] == finished['record']
    assert query['ansible_facts']['preemption_state']['run']['status'] == 'finished'

    skipped = state(path, state='started', threshold=3600)
    assert skipped['changed'] is False
    assert skipped['proceed'] is False
    assert skipped['run_id'] is None
    assert skipped['pending'] is None
    assert skipped['last_started'] == started['run']['started']
    assert 3500 < skipped['remaining'] <= 3600
    assert skipped['msg'].startswith("Workflow '%s' last started at %s" % (WORKFLOW, started['run']['started']))
    assert skipped['msg'].endswith('threshold 3600 s: skipped (%s s left).' % skipped['remaining'])

    # The run powered VMs off: absent forgets the runs and the threshold, and keeps the ledger.
    assert [(entry['moid'], entry['annotated']) for entry in query['record']['ledger']] == [('vm-63', True), ('vm-66', True)]
    absent = state(path, state='absent')
    assert absent['changed'] is True
    kept = absent['ansible_facts']['preemption_state']
    assert 'run' not in kept and kept['ledger'] == query['record']['ledger']
    assert state(path, state='absent')['changed'] is False
    assert state(path)['record'] == kept
    assert state(path, state='started', threshold=3600)['proceed'] is True
    released = state(path, state='ledger', results={'restored': [{'moid': 'vm-63', 'run_id': run_id}, {'moid': 'vm-66', 'run_id': run_id}]})
    assert released['changed'] is True and released['record']['ledger'] == []
    assert [entry['outcome'] for entry in released['record']['released']] == ['restored', 'restored']
    # An unknown workflow is answered with the known ones of its vCenter (here the unqualified ones).
    assert state(path, workflow_id='cluster-cpu')['known_ids'] == [WORKFLOW]
    assert state(path, workflow_id='other@vc2')['known_ids'] == []


def test_an_unfinished_run_is_returned_as_pending(path):
    first = state(path, state='started', threshold=60)
    state(path, state='progress', run_id=first['run_id'], results={'powered_off': [VM1]})

    inside = state(path, state='started', threshold=60)
    assert inside['proceed'] is False
    assert inside['pending']['run_id'] == first['run_id']
    assert inside['pending']['results'] == {'powered_off': [VM1]}

    outside = state(path, state='started', threshold=0)
    assert outside['proceed'] is True
    assert outside['pending']['run_id'] == first['run_id']
    assert [run['run_id'] for run in outside['record']['unfinished']] == [first['run_id']]

    finished = state(path, state='finished', run_id=first['run_id'], results={'annotated': ['vm-63']})
    assert finished['record']['unfinished'] == []
    assert finished['record']['run']['run_id'] == outside['run_id']


def test_check_mode_writes_nothing(path):
    result = state(path, check=True, state='started')
    assert result['changed'] is True
    assert result['proceed'] is True
    assert not os.path.exists(os.path.dirname(path))

    run_id = state(path, state='started')['run_id']
    before = open(path, 'rb').read()
    assert state(path, check=True, state='finished', run_id=run_id)['changed'] is True
    assert state(path, check=True, state='absent')['changed'] is True
    assert open(path, 'rb').read() == before


def test_ten_concurrent_triggers_exactly_one_proceeds(path):
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: state(path, state='started', threshold=60), range(10)))
    assert [result['_rc'] for result in results] == [0] * 10
    assert sorted(result['proceed'] for result in results) == [False] * 9 + [True]
    record = json.load(open(path, encoding='utf-8'))['workflows'][WORKFLOW]
    assert record['runs'] == 1
    winner, = [result for result in results if result['proceed']]
    assert record['run']['run_id'] == winner['run_id']


def test_a_corrupt_file_is_an_error_and_left_as_it_is(path):
    os.makedirs(os.path.dirname(path))
    content = b'{"version": 1, "workflows": {"other": '
    with open(path, 'wb') as handle:
        handle.write(content)
    result = state(path, state='started')
    assert result['failed'] is True
    assert result['msg'].startswith('The state file %s is not valid JSON (' % path)
    assert result['msg'].endswith('); fix or move it away (it was left as it is).')
    assert open(path, 'rb').read() == content


def test_a_wrong_run_id_is_an_error(path):
    run_id = state(path, state='started')['run_id']
    result = state(path, state='finished', run_id='not-a-run')
    assert result['failed'] is True
    assert result['msg'] == "Workflow '%s' has no run 'not-a-run' (its runs: %s)." % (WORKFLOW, run_id)
    missing = state(path, state='progress')
    assert missing['failed'] is True
    assert missing['msg'] == 'state is progress but all of the following are missing: run_id'


def test_bad_options_are_refused(path):
    assert state(path, state='started', threshold=-1)['msg'] == 'threshold must be 0 or a positive number of seconds, not -1.'
    assert state(path, workflow_id=' ')['msg'] == 'workflow_id must name the workflow, not be an empty string.'
    assert not os.path.exists(os.path.dirname(path))


def test_the_default_path_is_under_home(tmp_path):
    result = run_module(MODULE, dict(workflow_id=WORKFLOW, state='started'), env={'HOME': str(tmp_path)})
    assert result['state_file'] == str(tmp_path / '.ansible' / 'vsphere_preemption_state.json')
    assert os.path.isfile(result['state_file'])
