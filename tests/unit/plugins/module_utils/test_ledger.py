# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The ledger's pure transitions (ledger.py) through the state document functions both backends share."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._state import ledger
from ansible_collections.vsphere.preemption.plugins.module_utils._state import records as state_records
from ansible_collections.vsphere.preemption.plugins.module_utils._state.records import StateFileError
from ansible_collections.vsphere.preemption.plugins.module_utils._timestamps import format_timestamp

T0 = datetime.datetime(2026, 12, 1, 20, 0, 0, tzinfo=datetime.timezone.utc)
PLAN = {'workflow_id': 'cpu', 'vcenter': 'vc', 'scope': 'domain-c7', 'tag': 'preemptible'}
A = {'moid': 'vm-1', 'name': 'a', 'method': 'hard'}
B = {'moid': 'vm-2', 'name': 'b', 'method': 'soft'}
EVENT = {'key': 41, 'chain_id': 40, 'type': 'VmPoweredOffEvent', 'created': '2026-12-01T20:00:02.000000Z', 'user': 'svc'}


def started(document, run_id, now=T0):
    ids = iter([run_id])
    return state_records.start_in(document, 'cpu/domain-c7@vc', 0, now, lambda: next(ids), 'test', results={'plan': PLAN})


def new_document():
    return {'version': state_records.STATE_FILE_VERSION, 'workflows': {}}


def test_a_vm_enters_the_ledger_when_its_power_off_is_recorded_before_the_run_finishes():
    document = new_document()
    started(document, 'run-1')
    # The run selected A with a capacity target (its usage measured), B without.
    results = {'selected': [dict(A, cpu_mhz=2400, memory_mb=8192), B], 'powered_off': [dict(A, event=EVENT), B]}
    state_records.progress_in(document, 'cpu/domain-c7@vc', 'run-1', results, T0, 'test')
    entries = document['workflows']['cpu/domain-c7@vc']['ledger']
    assert entries == [
        {'moid': 'vm-1', 'name': 'a', 'run_id': 'run-1', 'scope': 'domain-c7', 'tag': 'preemptible', 'method': 'hard',
         'powered_off': EVENT['created'], 'event': EVENT, 'annotated': False, 'restoring': None, 'cpu_mhz': 2400, 'memory_mb': 8192},
        {'moid': 'vm-2', 'name': 'b', 'run_id': 'run-1', 'scope': 'domain-c7', 'tag': 'preemptible', 'method': 'soft',
         'powered_off': format_timestamp(T0), 'event': None, 'annotated': False, 'restoring': None, 'cpu_mhz': None, 'memory_mb': None}]
    # The finished report marks the annotated ones; a repeated report keeps the first facts.
    state_records.progress_in(document, 'cpu/domain-c7@vc', 'run-1', {'powered_off': [A], 'annotated': ['vm-1']}, T0, 'test', finish=True)
    first = document['workflows']['cpu/domain-c7@vc']['ledger'][0]
    assert (first['annotated'], first['event'], first['powered_off']) == (True, EVENT, EVENT['created'])


def test_the_ledger_survives_later_runs_and_a_cancel_and_leaves_only_through_a_release():
    document = new_document()
    started(document, 'run-1')
    state_records.progress_in(document, 'cpu/domain-c7@vc', 'run-1', {'powered_off': [A]}, T0, 'test', finish=True)
    started(document, 'run-2', T0 + datetime.timedelta(seconds=5))
    state_records.progress_in(document, 'cpu/domain-c7@vc', 'run-2', {'powered_off': [B]}, T0, 'test')
    removed, kept = state_records.absent_in(document, 'cpu/domain-c7@vc', T0, 'test')
    assert removed['run']['run_id'] == 'run-2'
    assert [entry['moid'] for entry in kept['ledger']] == ['vm-1', 'vm-2'] and 'run' not in kept and 'unfinished' not in kept
    assert document['workflows']['cpu/domain-c7@vc'] == kept
    # A second cancel has nothing to forget; the threshold is gone, so a new run proceeds and keeps the ledger.
    assert state_records.absent_in(document, 'cpu/domain-c7@vc', T0, 'test') == (None, kept)
    assert started(document, 'run-3', T0)['proceed'] is True
    assert [entry['moid'] for entry in document['workflows']['cpu/domain-c7@vc']['ledger']] == ['vm-1', 'vm-2']
    # Releases name the run: a report about another run releases nothing.
    changed, record = state_records.release_in(document, 'cpu/domain-c7@vc', {'restored': [{'moid': 'vm-1', 'run_id': 'run-9'}]}, T0, 'test')
    assert changed is False
    changed, record = state_records.release_in(document, 'cpu/domain-c7@vc', {
        'restored': [{'moid': 'vm-1', 'run_id': 'run-1', 'at': 'T'}],
        'left_alone': [{'moid': 'vm-2', 'run_id': 'run-2', 'reason': 'powered on by admin'}]}, T0, 'test')
    assert changed and record['ledger'] == []
    assert record['released'] == [
        {'moid': 'vm-1', 'name': 'a', 'run_id': 'run-1', 'outcome': 'restored', 'reason': None, 'at': 'T'},
        {'moid': 'vm-2', 'name': 'b', 'run_id': 'run-2', 'outcome': 'left_alone', 'reason': 'powered on by admin', 'at': format_timestamp(T0)}]


def test_a_workflow_with_an_empty_ledger_is_forgotten_by_a_cancel():
    document = new_document()
    started(document, 'run-1')
    assert state_records.absent_in(document, 'cpu/domain-c7@vc', T0, 'test')[1] is None
    assert document['workflows'] == {}


def test_restoring_marks_the_entries_a_restore_is_about_to_power_on():
    document = new_document()
    started(document, 'run-1')
    state_records.progress_in(document, 'cpu/domain-c7@vc', 'run-1', {'powered_off': [A, B]}, T0, 'test')
    state_records.release_in(document, 'cpu/domain-c7@vc', {'restoring': ['vm-2']}, T0, 'test')
    assert [entry['restoring'] for entry in document['workflows']['cpu/domain-c7@vc']['ledger']] == [None, format_timestamp(T0)]


def test_a_vm_powered_off_again_by_a_later_run_replaces_its_old_entry_which_is_released():
    record = {'ledger': [ledger.new_entry(A, {'run_id': 'run-1', 'results': {'plan': PLAN}}, 'T1')], 'released': []}
    entries, released = ledger.record_run(record, {'run_id': 'run-2', 'results': {'plan': PLAN}}, {'powered_off': [A]}, 'T2')
    assert [(entry['run_id'], entry['powered_off']) for entry in entries] == [('run-2', 'T2')]
    assert released == [{'moid': 'vm-1', 'name': 'a', 'run_id': 'run-1', 'outcome': 'left_alone',
                         'reason': 'powered off again by run run-2', 'at': 'T2'}]


def test_the_released_list_is_bounded():
    record = {'ledger': [], 'released': [{'moid': 'vm-%d' % n, 'run_id': 'r', 'outcome': 'restored'} for n in range(ledger.RELEASED_KEPT)]}
    record['ledger'] = [ledger.new_entry(A, {'run_id': 'r', 'results': {}}, 'T')]
    _entries, released = ledger.release(record, {'restored': [{'moid': 'vm-1', 'run_id': 'r'}]}, 'T')
    assert len(released) == ledger.RELEASED_KEPT and released[-1]['moid'] == 'vm-1'


def record_0_2():
    """A record as 0.2 wrote it: a finished run partly restored in earlier, an unfinished run, and the latest run."""
    def run(run_id, started, status, results):
        return dict(state_records.new_run(run_id, started, results=dict(results, plan=PLAN)), status=status,
                    finished=format_timestamp(started + datetime.timedelta(seconds=3)) if status == 'finished' else None)
    earlier = run('run-1', T0, 'finished', {'powered_off': [A, B], 'annotated': ['vm-1', 'vm-2'],
                                            'restored': [{'moid': 'vm-2', 'name': 'b', 'restored': '2026-12-01T21:00:00.000000Z'}]})
    unfinished = run('run-2', T0 + datetime.timedelta(hours=2), 'running', {'powered_off': [{'moid': 'vm-3', 'name': 'c'}]})
    latest = run('run-3', T0 + datetime.timedelta(hours=3), 'finished', {'powered_off': []})
    return {'workflow_id': 'cpu/domain-c7@vc', 'run': latest, 'unfinished': [unfinished], 'earlier': [earlier], 'runs': 3,
            'updated': latest['started']}


def test_a_0_2_record_gets_its_ledger_from_its_runs_when_read():
    document = {'version': 2, 'workflows': {'cpu/domain-c7@vc': record_0_2()}}
    record = state_records.workflow_record(state_records.migrate(document), 'cpu/domain-c7@vc', 'test')
    assert 'earlier' not in record and record['unfinished'][0]['run_id'] == 'run-2'
    assert [(entry['moid'], entry['run_id'], entry['annotated'], entry['powered_off']) for entry in record['ledger']] == [
        ('vm-1', 'run-1', True, '2026-12-01T20:00:03.000000Z'), ('vm-3', 'run-2', False, '2026-12-01T22:00:00.000000Z')]
    assert record['released'] == [{'moid': 'vm-2', 'name': 'b', 'run_id': 'run-1', 'outcome': 'restored', 'reason': None,
                                   'at': '2026-12-01T21:00:00.000000Z'}]
    # The next change writes the migrated record; a cancel keeps its ledger.
    _removed, kept = state_records.absent_in(document, 'cpu/domain-c7@vc', T0, 'test')
    assert [entry['moid'] for entry in document['workflows']['cpu/domain-c7@vc']['ledger']] == ['vm-1', 'vm-3'] == [
        entry['moid'] for entry in kept['ledger']]


@pytest.mark.parametrize('ledger_value', ['not a list', [{'moid': 5, 'run_id': 'r', 'powered_off': 'T'}], [{'moid': 'vm-1'}]])
def test_a_malformed_ledger_is_refused_and_a_cancel_forgets_it(ledger_value):
    document = new_document()
    started(document, 'run-1')
    document['workflows']['cpu/domain-c7@vc']['ledger'] = ledger_value
    with pytest.raises(StateFileError, match='is malformed'):
        state_records.workflow_record(document, 'cpu/domain-c7@vc', 'test')
    assert state_records.absent_in(document, 'cpu/domain-c7@vc', T0, 'test')[1] is None
    assert document['workflows'] == {}


def test_a_raise_cancels_a_waiting_restore_even_when_the_threshold_skips_it():
    document = new_document()
    started(document, 'run-1')
    state_records.release_in(document, 'cpu/domain-c7@vc', {'restore_wait': {'since': 'S', 'until': 'U'}}, T0, 'test')
    ids = iter(['run-2'])
    skipped = state_records.start_in(document, 'cpu/domain-c7@vc', 60, T0 + datetime.timedelta(seconds=5), lambda: next(ids), 'test')
    assert skipped['proceed'] is False
    assert document['workflows']['cpu/domain-c7@vc']['restore_wait'] == {
        'since': 'S', 'until': 'U', 'cancelled': format_timestamp(T0 + datetime.timedelta(seconds=5))}
    # Kept by later runs and by a cancel (the status tells it), never cancelled twice.
    started(document, 'run-3', T0 + datetime.timedelta(seconds=70))
    assert document['workflows']['cpu/domain-c7@vc']['restore_wait']['cancelled'] == format_timestamp(T0 + datetime.timedelta(seconds=5))
    state_records.progress_in(document, 'cpu/domain-c7@vc', 'run-3', {'powered_off': [A]}, T0, 'test')
    _removed, kept = state_records.absent_in(document, 'cpu/domain-c7@vc', T0, 'test')
    assert kept['restore_wait']['since'] == 'S'


def test_a_raise_after_the_waiting_restore_ran_cancels_nothing():
    document = new_document()
    started(document, 'run-1')
    state_records.release_in(document, 'cpu/domain-c7@vc', {'restore_wait': {'since': 'S', 'until': 'U', 'done': 'D'}}, T0, 'test')
    started(document, 'run-2', T0 + datetime.timedelta(seconds=70))
    assert document['workflows']['cpu/domain-c7@vc']['restore_wait'] == {'since': 'S', 'until': 'U', 'done': 'D'}


def test_an_unknown_workflow_is_answered_with_the_known_ids_of_its_vcenter_only():
    from ansible_collections.vsphere.preemption.plugins.module_utils._state.workflow_state import KNOWN_IDS_SHOWN, known_ids
    ids = ['a@vc1', 'b/domain-c7@vc1', 'c@vc2', 'd'] + ['w%02d@vc3' % n for n in range(30)]
    assert known_ids(ids, 'x@vc1') == ['a@vc1', 'b/domain-c7@vc1']
    assert known_ids(ids, 'x') == ['d']
    assert known_ids(ids, 'x@vc3') == ['w%02d@vc3' % n for n in range(KNOWN_IDS_SHOWN)]
