# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The workflow state's semantics, the same for the file and for a real PostgreSQL (opened with open_state)."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import psycopg
import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._state.file import StateFile
from ansible_collections.vsphere.preemption.plugins.module_utils._state.records import FINISHED, RUNNING, RunNotFound, StateError
from ansible_collections.vsphere.preemption.plugins.module_utils._timestamps import format_timestamp
from ansible_collections.vsphere.preemption.plugins.module_utils._state.postgres import TABLE, StateDatabase
from ansible_collections.vsphere.preemption.plugins.module_utils._state.store import open_state
from tests.support.state_fakes import Clock, Ids, race


@pytest.fixture(params=['file', 'postgres'])
def location(request, tmp_path):
    """open_state() keywords of an empty store of each kind."""
    if request.param == 'file':
        return dict(path=str(tmp_path / 'state.json'))
    return dict(url=request.getfixturevalue('postgres_url'), path=str(tmp_path / 'unused.json'))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(location, clock):
    return open_state(clock=clock, new_id=Ids(), **location)


def corrupt(store, workflow_id, record):
    """Store ``record`` for ``workflow_id`` behind the store's back (a hand edit)."""
    if isinstance(store, StateFile):
        document = store.load()
        document['workflows'][workflow_id] = record
        with open(store.path, 'w', encoding='utf-8') as handle:
            json.dump(document, handle)
        return
    with psycopg.connect(store.url, autocommit=True) as connection:
        connection.execute("UPDATE %s SET body = %%s WHERE kind = 'workflow' AND name = %%s" % TABLE,
                           (json.dumps(record), workflow_id))


def test_open_state_picks_the_backend(location):
    store = open_state(**location)
    assert isinstance(store, StateDatabase if 'url' in location else StateFile)
    if 'url' in location:
        password = urlsplit(location['url']).password
        user_info = urlsplit(location['url']).netloc.rpartition('@')[0]
        assert store.path == location['url'].replace(user_info + '@', '***@')
        assert password not in store.path and store.where == 'the state database %s' % store.path


def test_started_records_a_run_and_skips_inside_the_threshold(store, clock):
    first = store.started('wf@vc', 60, tag='preemptible', criticality='HIGH', trigger='eda', event={'id': 'e1'})
    assert (first['proceed'], first['pending'], first['duplicate']) == (True, None, False)
    assert first['run'] == {
        'run_id': 'run-1', 'status': RUNNING, 'started': '2021-11-05T13:02:34.437444Z', 'finished': None,
        'tag': 'preemptible', 'criticality': 'HIGH', 'trigger': 'eda', 'event': {'id': 'e1'}, 'results': {},
    }
    assert store.query('wf@vc') == first['record'] and first['record']['runs'] == 1

    store.finished('wf@vc', 'run-1', {'powered_off': []})
    clock.advance(20)
    second = store.started('wf@vc', 60)
    assert (second['proceed'], second['run'], second['remaining']) == (False, None, 40.0)
    assert second['last_started'] == first['run']['started']

    clock.advance(40)
    third = store.started('wf@vc', 60)
    assert third['proceed'] is True and third['run']['run_id'] == 'run-2'
    assert third['record']['runs'] == 2 and third['record']['unfinished'] == []


def test_workflows_are_independent(store):
    assert store.started('a@vc', 60)['proceed'] is True
    assert store.started('b@vc', 60)['proceed'] is True
    assert store.started('a@other', 60)['proceed'] is True
    assert store.started('a@vc', 60)['proceed'] is False


def test_a_pending_run_is_reported_and_finished_by_the_caller(store, clock):
    store.started('wf@vc', 60)
    store.progress('wf@vc', 'run-1', {'powered_off': [{'moid': 'vm-1', 'name': 'a', 'method': 'hard'}]})
    clock.advance(10)
    inside = store.started('wf@vc', 60)
    assert (inside['proceed'], inside['pending']['run_id']) == (False, 'run-1')
    assert inside['pending']['results'] == {'powered_off': [{'moid': 'vm-1', 'name': 'a', 'method': 'hard'}]}
    clock.advance(600)
    outside = store.started('wf@vc', 60)
    assert (outside['proceed'], outside['run']['run_id'], outside['pending']['run_id']) == (True, 'run-2', 'run-1')
    assert [run['run_id'] for run in store.query('wf@vc')['unfinished']] == ['run-1']
    # The caller records the old run's leftovers against its own run id ...
    changed, run, record = store.progress('wf@vc', 'run-1', {'annotated': ['vm-1']})
    assert changed is True and run['results'] == {'powered_off': [{'moid': 'vm-1', 'name': 'a', 'method': 'hard'}], 'annotated': ['vm-1']}
    assert record['unfinished'] == [run] and record['run']['run_id'] == 'run-2'
    # ... and finishing it takes it off the unfinished list, the new run untouched.
    changed, run, record = store.finished('wf@vc', 'run-1', {'event_sent': True})
    assert changed is True and run['status'] == FINISHED and run['finished'] == format_timestamp(clock.now)
    assert run['results'] == {'powered_off': [{'moid': 'vm-1', 'name': 'a', 'method': 'hard'}], 'annotated': ['vm-1'], 'event_sent': True}
    assert record['unfinished'] == [] and record['run']['run_id'] == 'run-2' and record['run']['status'] == RUNNING
    assert store.query('wf@vc') == record
    # Its VM is still off: it stays in the ledger, where a restore finds it.
    assert [(entry['moid'], entry['run_id'], entry['annotated']) for entry in record['ledger']] == [('vm-1', 'run-1', True)]
    # The current run, once finished (inside the threshold), is no longer pending.
    changed, run, record = store.finished('wf@vc', 'run-2', {})
    assert changed is True and run['status'] == FINISHED and record['run'] == run
    assert store.started('wf@vc', 60)['pending'] is None


def test_progress_is_idempotent_and_finishing_twice_keeps_the_first_time(store, clock):
    store.started('wf@vc', 60)
    first = [{'moid': 'vm-1', 'name': 'a', 'method': 'soft'}]
    assert store.progress('wf@vc', 'run-1', {'powered_off': first})[0] is True
    before = store.query('wf@vc')
    clock.advance(1)
    assert store.progress('wf@vc', 'run-1', {'powered_off': first})[0] is False
    assert store.query('wf@vc') == before
    assert store.finished('wf@vc', 'run-1', {})[0] is True
    finished_at = store.query('wf@vc')['run']['finished']
    clock.advance(5)
    changed, run, _record = store.finished('wf@vc', 'run-1', {})
    assert (changed, run['finished']) == (False, finished_at)


def test_a_wrong_run_id_is_named(store):
    store.started('wf@vc', 60)
    with pytest.raises(RunNotFound, match=r"^Workflow 'wf@vc' has no run 'other' \(its runs: run-1\)"):
        store.progress('wf@vc', 'other', {})
    with pytest.raises(RunNotFound, match=r"^Workflow 'nope' has no record in %s, so it has no run 'run-1'" % re.escape(store.where)):
        store.finished('nope', 'run-1', {})


def test_absent_forgets_one_workflow(store):
    store.started('a@vc', 60)
    store.started('b@vc', 60)
    assert store.absent('a@vc')[0]['run']['run_id'] == 'run-1'
    assert store.absent('a@vc') == (None, None)
    assert store.query('a@vc') is None
    assert store.query('b@vc')['workflow_id'] == 'b@vc'
    assert store.started('a@vc', 60)['proceed'] is True


def test_check_mode_writes_nothing(store, clock):
    assert store.started('wf@vc', 60, check_mode=True)['proceed'] is True
    assert store.query('wf@vc') is None
    store.started('wf@vc', 60, event_id='e1')
    before = store.query('wf@vc')
    clock.advance(100)
    assert store.started('wf@vc', 60, event_id='e2', check_mode=True)['proceed'] is True
    assert store.progress('wf@vc', 'run-2', {'annotated': ['vm-1']}, check_mode=True)[0] is True
    assert store.absent('wf@vc', check_mode=True)[0]['workflow_id'] == 'wf@vc'
    assert store.query('wf@vc') == before
    assert store.started('wf@vc', 0, event_id='e2')['proceed'] is True, 'the check-mode start remembered nothing'


def test_the_ledger_survives_cancel_and_new_runs_and_leaves_only_by_a_release(store, clock):
    store.started('wf@vc', 60)
    store.progress('wf@vc', 'run-1', {'powered_off': [{'moid': 'vm-1', 'name': 'a', 'method': 'hard'}]})
    removed, kept = store.absent('wf@vc')
    assert removed['run']['run_id'] == 'run-1' and [entry['moid'] for entry in kept['ledger']] == ['vm-1']
    assert store.query('wf@vc') == kept and store.workflow_ids() == ['wf@vc']
    assert store.absent('wf@vc')[0] is None
    # No threshold after the cancel; the new run keeps the ledger and adds to it.
    assert store.started('wf@vc', 60)['proceed'] is True
    store.finished('wf@vc', 'run-2', {'powered_off': [{'moid': 'vm-2', 'name': 'b'}], 'annotated': ['vm-2']})
    assert [(entry['moid'], entry['run_id'], entry['annotated']) for entry in store.query('wf@vc')['ledger']] == [
        ('vm-1', 'run-1', False), ('vm-2', 'run-2', True)]
    changed, record = store.release('wf@vc', {'restoring': ['vm-1'], 'left_alone': [{'moid': 'vm-2', 'run_id': 'run-2', 'reason': 'moved'}]})
    assert changed and [entry['moid'] for entry in record['ledger']] == ['vm-1'] and record['ledger'][0]['restoring']
    assert [(entry['moid'], entry['outcome'], entry['reason']) for entry in record['released']] == [('vm-2', 'left_alone', 'moved')]
    changed, record = store.release('wf@vc', {'restored': [{'moid': 'vm-1', 'run_id': 'run-1'}]})
    assert record['ledger'] == [] and store.query('wf@vc')['ledger'] == []


def test_one_event_starts_a_workflow_once_even_after_the_threshold_and_absent(store, clock):
    assert store.started('wf@vc', 60, event_id='e1')['proceed'] is True
    store.finished('wf@vc', 'run-1', {})
    clock.advance(3600)
    again = store.started('wf@vc', 60, event_id='e1')
    assert (again['proceed'], again['duplicate'], again['duplicate_of']['run_id']) == (False, True, 'run-1')
    store.absent('wf@vc')
    after_drop = store.started('wf@vc', 60, event_id='e1')
    assert (after_drop['proceed'], after_drop['duplicate'], after_drop['record']) == (False, True, None)
    assert store.started('other@vc', 60, event_id='e1')['proceed'] is True
    assert store.started('wf@vc2', 60, event_id='e1')['proceed'] is True
    assert store.started('wf@vc', 60, event_id='e2')['proceed'] is True


def test_a_malformed_record_blocks_only_its_workflow(store):
    store.started('good@vc', 60)
    store.started('bad@vc', 60)
    corrupt(store, 'bad@vc', {'run': {'run_id': 'x', 'started': 'yesterday'}})
    with pytest.raises(StateError, match=r"^The record of workflow 'bad@vc' in %s is malformed; .*state: absent" % re.escape(store.where)):
        store.started('bad@vc', 60)
    assert store.query('good@vc')['run']['run_id'] == 'run-1'
    assert store.absent('bad@vc') == ({'run': {'run_id': 'x', 'started': 'yesterday'}}, None)
    assert store.started('bad@vc', 60)['proceed'] is True


def _start(location, event_id, barrier, results):
    barrier.wait()
    results.put(open_state(**location).started('wf@vc', 0 if event_id else 60, event_id=event_id)['proceed'])


@pytest.mark.parametrize('event_id', [None, 'e1'], ids=['threshold', 'event'])
@pytest.mark.parametrize('first_use', [True, False], ids=['new', 'used'])
def test_ten_concurrent_processes_exactly_one_proceeds(location, event_id, first_use):
    if not first_use:
        # Another workflow of the same vCenter was there first: the table exists, the lock alone decides.
        open_state(**location).started('other@vc', 60, event_id=event_id)
    assert sorted(race(_start, (location, event_id))) == [False] * 9 + [True]
    assert open_state(**location).query('wf@vc')['runs'] == 1
