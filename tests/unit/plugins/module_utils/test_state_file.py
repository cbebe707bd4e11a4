# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import json
import os
import stat

import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._state import file as state_file
from ansible_collections.vsphere.preemption.plugins.module_utils._state import records as state_records
from ansible_collections.vsphere.preemption.plugins.module_utils._state.file import StateFile
from ansible_collections.vsphere.preemption.plugins.module_utils._state.records import (
    FINISHED,
    RUNNING,
    RunNotFound,
    StateFileError,
    decide_start,
    merge_results,
    remember_event,
    vcenter_of,
)
from ansible_collections.vsphere.preemption.plugins.module_utils._timestamps import format_timestamp, parse_timestamp
from tests.support.state_fakes import T0, Clock, Ids, race


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def state(tmp_path, clock):
    return StateFile(str(tmp_path / 'state' / 'preemption.json'), clock=clock, new_id=Ids())


def on_disk(state):
    with open(state.path, encoding='utf-8') as handle:
        return json.load(handle)


# ---------------------------------------------------------------- timestamps

def test_timestamps_are_utc_with_microseconds_and_z():
    assert format_timestamp(T0) == '2021-11-05T13:02:34.437444Z'
    assert parse_timestamp('2021-11-05T13:02:34.437444Z') == T0
    cet = datetime.timezone(datetime.timedelta(hours=1))
    assert format_timestamp(T0.astimezone(cet)) == '2021-11-05T13:02:34.437444Z'
    with pytest.raises(ValueError, match="does not match format"):
        parse_timestamp('2021-11-05 13:02:34')


# ---------------------------------------------------------------- threshold arithmetic (pure)

def record_started_at(moment, status=RUNNING):
    run = state_records.new_run('r1', moment)
    run['status'] = status
    return {'workflow_id': 'wf', 'run': run, 'unfinished': [], 'runs': 1, 'updated': format_timestamp(moment)}


def test_first_run_proceeds():
    assert decide_start(None, T0, 60) == dict(proceed=True, last_started=None, elapsed=None, remaining=0.0, pending=None)


@pytest.mark.parametrize('seconds_later, proceed, remaining', [
    (0, False, 60.0),
    (10.25, False, 49.75),
    (59.999, False, 0.001),
    (60, True, 0.0),
    (3600, True, 0.0),
    # The clock stepped back a little: the run still counts as recent.
    (-5, False, 65.0),
    # A start further ahead than the threshold is a wrong clock, not a reason to block for that long.
    (-61, True, 0.0),
])
def test_threshold_counts_from_the_last_start(seconds_later, proceed, remaining):
    record = record_started_at(T0, status=FINISHED)
    decision = decide_start(record, T0 + datetime.timedelta(seconds=seconds_later), 60)
    assert decision['proceed'] is proceed
    assert decision['remaining'] == remaining
    assert decision['last_started'] == '2021-11-05T13:02:34.437444Z'
    assert decision['elapsed'] == seconds_later
    assert decision['pending'] is None


def test_threshold_zero_always_proceeds():
    assert decide_start(record_started_at(T0, status=FINISHED), T0, 0)['proceed'] is True


def test_unfinished_run_is_pending_inside_and_outside_the_threshold():
    record = record_started_at(T0)
    inside = decide_start(record, T0 + datetime.timedelta(seconds=5), 60)
    outside = decide_start(record, T0 + datetime.timedelta(seconds=500), 60)
    assert (inside['proceed'], outside['proceed']) == (False, True)
    assert inside['pending'] == outside['pending'] == record['run']


# ---------------------------------------------------------------- merging progress (pure)

def test_merge_results_unions_lists_keyed_by_moid():
    current = {
        'powered_off': [{'moid': 'vm-1', 'name': 'a', 'method': 'soft'}, {'moid': 'vm-2', 'name': 'b', 'method': 'soft'}],
        'annotated': ['vm-1'],
        'event_sent': False,
        'retries': {'power_off': 1, 'annotate': 0},
    }
    update = {
        'powered_off': [{'moid': 'vm-2', 'name': 'b', 'method': 'hard'}, {'moid': 'vm-3', 'name': 'c', 'method': 'hard'}],
        'annotated': ['vm-2', 'vm-1'],
        'event_sent': 'wf-run-1',
        'retries': {'annotate': 2},
    }
    assert merge_results(current, update) == {
        'powered_off': [{'moid': 'vm-1', 'name': 'a', 'method': 'soft'},
                        {'moid': 'vm-2', 'name': 'b', 'method': 'hard'},
                        {'moid': 'vm-3', 'name': 'c', 'method': 'hard'}],
        'annotated': ['vm-1', 'vm-2'],
        'event_sent': 'wf-run-1',
        'retries': {'power_off': 1, 'annotate': 2},
    }
    assert current['annotated'] == ['vm-1'], 'the input must not be modified'


def test_merge_results_replaces_what_is_not_a_list_on_both_sides():
    assert merge_results({'a': [1], 'b': 'x'}, {'a': 'now a string', 'b': [2]}) == {'a': 'now a string', 'b': [2]}
    assert merge_results(None, {'a': [1]}) == {'a': [1]}


# ---------------------------------------------------------------- started / progress / finished through the file

def test_started_records_a_run_and_skips_inside_the_threshold(state, clock):
    first = state.started('wf', 60, tag='preemptible', criticality='HIGH', trigger='eda', event={'id': 'e1'})
    assert first['proceed'] is True
    assert first['pending'] is None
    assert first['run'] == {
        'run_id': 'run-1', 'status': RUNNING, 'started': '2021-11-05T13:02:34.437444Z', 'finished': None,
        'tag': 'preemptible', 'criticality': 'HIGH', 'trigger': 'eda', 'event': {'id': 'e1'}, 'results': {},
    }
    assert on_disk(state) == {'version': 3, 'workflows': {'wf': first['record']}}
    assert first['record']['runs'] == 1

    state.finished('wf', 'run-1', {'powered_off': []})
    clock.advance(20)
    second = state.started('wf', 60)
    assert second['proceed'] is False
    assert second['run'] is None
    assert second['remaining'] == 40.0
    assert second['last_started'] == first['run']['started']
    assert on_disk(state)['workflows']['wf']['run']['run_id'] == 'run-1'

    clock.advance(40)
    third = state.started('wf', 60)
    assert third['proceed'] is True
    assert third['run']['run_id'] == 'run-2'
    assert third['record']['runs'] == 2
    assert third['record']['unfinished'] == []


def test_workflows_are_independent(state):
    assert state.started('a', 60)['proceed'] is True
    assert state.started('b', 60)['proceed'] is True
    assert state.started('a', 60)['proceed'] is False
    assert sorted(on_disk(state)['workflows']) == ['a', 'b']


def test_a_finished_current_run_still_reports_an_older_unfinished_one(state, clock):
    state.started('wf', 60)
    clock.advance(100)
    state.started('wf', 60)
    state.finished('wf', 'run-2', {})
    clock.advance(100)
    result = state.started('wf', 60)
    assert result['proceed'] is True
    assert result['pending']['run_id'] == 'run-1'


def test_progress_is_idempotent_and_merges(state):
    state.started('wf', 60)
    first = [{'moid': 'vm-1', 'name': 'a', 'method': 'soft'}]
    assert state.progress('wf', 'run-1', {'powered_off': first})[0] is True
    before = on_disk(state)
    assert state.progress('wf', 'run-1', {'powered_off': first})[0] is False
    assert on_disk(state) == before, 'a report that adds nothing must not rewrite the record'
    changed, run, _record = state.progress('wf', 'run-1', {'powered_off': [{'moid': 'vm-2', 'name': 'b', 'method': 'soft'}]})
    assert changed is True
    assert [item['moid'] for item in run['results']['powered_off']] == ['vm-1', 'vm-2']


def test_finished_twice_keeps_the_first_finish_time(state, clock):
    state.started('wf', 60)
    state.finished('wf', 'run-1', {'event_sent': True})
    finished_at = on_disk(state)['workflows']['wf']['run']['finished']
    clock.advance(5)
    changed, run, _record = state.finished('wf', 'run-1', {'event_sent': True})
    assert changed is False
    assert run['finished'] == finished_at


def test_progress_names_a_wrong_run_id(state):
    state.started('wf', 60)
    with pytest.raises(RunNotFound, match=r"Workflow 'wf' has no run 'other' \(its runs: run-1\)"):
        state.progress('wf', 'other', {})
    with pytest.raises(RunNotFound, match=r"Workflow 'nope' has no record in the state file .*preemption.json, so it has no run 'run-1'"):
        state.finished('nope', 'run-1', {})


def test_absent_forgets_one_workflow(state):
    state.started('a', 60)
    state.started('b', 60)
    removed, kept = state.absent('a')
    assert removed['run']['run_id'] == 'run-1' and kept is None
    assert list(on_disk(state)['workflows']) == ['b']
    assert state.absent('a') == (None, None)
    assert state.query('a') is None
    assert state.query('b')['workflow_id'] == 'b'


def test_absent_and_query_on_a_missing_file_touch_nothing(state):
    assert state.absent('wf') == (None, None)
    assert state.query('wf') is None
    assert not os.path.exists(os.path.dirname(state.path))


def test_check_mode_writes_nothing(state, clock):
    result = state.started('wf', 60, check_mode=True)
    assert result['proceed'] is True
    assert result['record']['run']['run_id'] == 'run-1'
    assert not os.path.exists(os.path.dirname(state.path)), 'check mode must not even create the directory'

    state.started('wf', 60)
    before = on_disk(state)
    clock.advance(100)
    assert state.started('wf', 60, check_mode=True)['proceed'] is True
    assert state.progress('wf', 'run-2', {'annotated': ['vm-1']}, check_mode=True)[0] is True
    assert state.finished('wf', 'run-2', {}, check_mode=True)[0] is True
    assert state.absent('wf', check_mode=True)[0]['workflow_id'] == 'wf'
    assert on_disk(state) == before


# ---------------------------------------------------------------- trigger events: never twice

def test_an_event_starts_its_workflow_once_whatever_the_threshold(state, clock):
    first = state.started('wf@vc1', 60, event_id='e1')
    assert (first['proceed'], first['duplicate'], first['duplicate_of']) == (True, False, None)
    state.finished('wf@vc1', 'run-1', {})
    clock.advance(3600)
    again = state.started('wf@vc1', 60, event_id='e1')
    assert (again['proceed'], again['duplicate'], again['run']) == (False, True, None)
    assert again['duplicate_of'] == {'event_id': 'e1', 'workflow_id': 'wf@vc1', 'run_id': 'run-1', 'started': format_timestamp(T0)}
    assert again['record']['runs'] == 1
    # Another event, and the same event without an id to compare, start runs as the threshold allows.
    assert state.started('wf@vc1', 60, event_id='e2')['proceed'] is True
    clock.advance(3600)
    assert state.started('wf@vc1', 60)['proceed'] is True
    assert on_disk(state)['events'] == {'vc1': [
        {'event_id': 'e1', 'workflow_id': 'wf@vc1', 'run_id': 'run-1', 'started': format_timestamp(T0)},
        {'event_id': 'e2', 'workflow_id': 'wf@vc1', 'run_id': 'run-2', 'started': format_timestamp(T0 + datetime.timedelta(seconds=3600))},
    ]}


def test_a_forgotten_workflow_still_knows_its_events(state, clock):
    state.started('wf@vc1', 60, event_id='e1')
    assert state.absent('wf@vc1')[0]['run']['run_id'] == 'run-1'
    again = state.started('wf@vc1', 60, event_id='e1')
    assert (again['proceed'], again['duplicate'], again['record']) == (False, True, None)
    assert again['last_started'] is None
    # The same id for another workflow, or for the same alarm on another vCenter, is another start.
    assert state.started('other@vc1', 60, event_id='e1')['proceed'] is True
    assert state.started('wf@vc2', 60, event_id='e1')['proceed'] is True
    assert state.started('manual', 60, event_id='e1')['proceed'] is True
    assert sorted(on_disk(state)['events']) == ['', 'vc1', 'vc2']


def test_a_duplicate_still_reports_the_pending_run(state, clock):
    state.started('wf@vc1', 60, event_id='e1')
    state.progress('wf@vc1', 'run-1', {'powered_off': [{'moid': 'vm-1'}]})
    clock.advance(600)
    again = state.started('wf@vc1', 60, event_id='e1')
    assert (again['proceed'], again['duplicate']) == (False, True)
    assert again['pending']['run_id'] == 'run-1'
    assert again['remaining'] == 0.0


def test_a_duplicate_in_check_mode_and_a_check_mode_start_remember_nothing(state):
    assert state.started('wf@vc1', 0, event_id='e1', check_mode=True)['proceed'] is True
    assert state.started('wf@vc1', 0, event_id='e1')['proceed'] is True
    before = on_disk(state)
    assert state.started('wf@vc1', 0, event_id='e1', check_mode=True)['duplicate'] is True
    assert on_disk(state) == before


def test_vcenter_of_a_workflow_id():
    assert vcenter_of('cpu-above-80@vc1.example.com') == 'vc1.example.com'
    assert vcenter_of('a@b@vc1') == 'vc1'
    assert vcenter_of('manual') == ''


def _seen(index, moment):
    return {'event_id': 'e%d' % index, 'workflow_id': 'wf@vc', 'run_id': 'r%d' % index, 'started': format_timestamp(moment)}


def test_the_event_memory_keeps_the_last_thousand_or_a_week_and_is_capped():
    old = T0 - datetime.timedelta(days=8)
    events = [_seen(index, old) for index in range(1200)]
    kept = remember_event(events, _seen(9999, T0), T0)
    assert len(kept) == 1000
    assert kept[0]['event_id'] == 'e201' and kept[-1]['event_id'] == 'e9999'
    recent = [_seen(index, T0 - datetime.timedelta(days=6)) for index in range(1200)]
    assert len(remember_event(old_and_recent := events[:50] + recent, _seen(9999, T0), T0)) == 1201
    assert remember_event(old_and_recent, _seen(9999, T0), T0)[0]['event_id'] == 'e0', 'an old one among the newest 1000 stays'
    many = [_seen(index, T0) for index in range(state_records.EVENTS_CAP)]
    capped = remember_event(many, _seen(99999, T0), T0)
    assert len(capped) == state_records.EVENTS_CAP and capped[0]['event_id'] == 'e1'


def test_the_memory_is_bounded_through_the_file(state, clock, monkeypatch):
    monkeypatch.setattr(state_records, 'EVENTS_KEPT', 10)
    for index in range(15):
        clock.advance(8 * 24 * 3600 if index == 5 else 1)
        state.started('wf@vc', 0, event_id='e%d' % index)
    events = on_disk(state)['events']['vc']
    assert len(events) == 10 and events[0]['event_id'] == 'e5'
    clock.advance(1)
    assert state.started('wf@vc', 0, event_id='e0')['proceed'] is True, 'forgotten: older than a week and beyond the last 10'
    assert state.started('wf@vc', 0, event_id='e6')['duplicate'] is True


def test_a_version_1_file_without_events_loads_and_gains_them(state):
    os.makedirs(os.path.dirname(state.path))
    old = {'version': 1, 'workflows': {'wf@vc': record_started_at(T0 - datetime.timedelta(hours=1), status=FINISHED)}}
    with open(state.path, 'w', encoding='utf-8') as handle:
        json.dump(old, handle)
    assert state.query('wf@vc')['run']['run_id'] == 'r1'
    result = state.started('wf@vc', 60, event_id='e1')
    assert result['proceed'] is True and result['record']['runs'] == 2
    assert [seen['event_id'] for seen in on_disk(state)['events']['vc']] == ['e1']


@pytest.mark.parametrize('events', [
    [],
    {'vc': 'x'},
    {'vc': [{'event_id': 'e1'}]},
    {'vc': [{'event_id': 'e1', 'workflow_id': 'wf@vc', 'run_id': 'r', 'started': 'yesterday'}]},
])
def test_a_malformed_event_memory_is_an_error(state, events):
    os.makedirs(os.path.dirname(state.path))
    with open(state.path, 'w', encoding='utf-8') as handle:
        json.dump({'version': 1, 'workflows': {}, 'events': events}, handle)
    with pytest.raises(StateFileError, match=r'^The (state file .* is not a vsphere.preemption state file|memory of trigger events of '
                                             r"vCenter 'vc' in the state file .* is malformed)"):
        state.started('wf@vc', 60, event_id='e1')


# ---------------------------------------------------------------- the file itself

def test_created_with_mode_0600_and_parent_directory(state, umask_022):
    state.started('wf', 60)
    assert stat.S_IMODE(os.stat(state.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(state.lock_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(state.path)).st_mode) == 0o700


@pytest.mark.parametrize('mode', [0o644, 0o640, 0o400])
def test_state_and_lock_become_0600_whatever_they_were(state, mode):
    state.started('wf', 60)
    os.chmod(state.path, mode)
    os.chmod(state.lock_path, 0o666)
    state.absent('wf')
    assert stat.S_IMODE(os.stat(state.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(state.lock_path).st_mode) == 0o600


@pytest.mark.parametrize('mode', [0o666, 0o620, 0o602])
def test_a_state_file_others_may_write_is_refused_and_left_as_it_is(state, mode):
    state.started('wf', 60)
    os.chmod(state.path, mode)
    before = open(state.path, 'rb').read()
    for call in (lambda: state.started('wf', 0), lambda: state.query('wf'), lambda: state.absent('wf')):
        with pytest.raises(StateFileError) as caught:
            call()
        assert str(caught.value) == ('The state file %s is writable by its group or by others (mode %04o), so it cannot be trusted; '
                                     'check its content, then fix it with: chmod 600 %s' % (state.path, mode, state.path))
    assert open(state.path, 'rb').read() == before and stat.S_IMODE(os.stat(state.path).st_mode) == mode


def test_a_symlinked_lock_file_is_refused_and_its_target_never_created(state, tmp_path):
    os.makedirs(os.path.dirname(state.path))
    target = tmp_path / 'elsewhere' / 'victim'
    target.parent.mkdir()
    os.symlink(target, state.lock_path)
    with pytest.raises(StateFileError) as caught:
        state.started('wf', 60)
    assert str(caught.value) == ('Cannot lock the state file %s: its lock file %s is a symbolic link; remove it '
                                 '(the collection creates the lock file itself).' % (state.path, state.lock_path))
    assert not target.exists() and not os.path.exists(state.path)


def test_json_nested_ten_thousand_deep_is_one_clear_line(state):
    os.makedirs(os.path.dirname(state.path))
    content = b'{"version": 2, "workflows": ' + b'[' * 10000 + b']' * 10000 + b'}'
    with open(state.path, 'wb') as handle:
        handle.write(content)
    for call in (lambda: state.started('wf', 60), lambda: state.query('wf')):
        with pytest.raises(StateFileError) as caught:
            call()
        assert str(caught.value) == ('The state file %s is not a vsphere.preemption state file (JSON nested too deeply); '
                                     'fix or move it away (it was left as it is).' % state.path)
    assert open(state.path, 'rb').read() == content


@pytest.mark.parametrize('document', [
    {'version': 2, 'workflows': {'wf': 5}}, {'version': 2, 'workflows': {'wf': {'run': []}}},
    {'version': 2, 'workflows': {'wf': {'run': {'run_id': 1, 'started': 'x'}}}},
    {'version': 2, 'workflows': {'wf': {'run': {'run_id': 'r', 'started': '2026-12-01T00:00:00.000000Z'}, 'unfinished': 'x'}}},
    {'version': 2, 'workflows': {'wf': {'run': {'run_id': 'r', 'started': '2026-12-01T00:00:00.000000Z', 'results': []}}}},
    {'version': 2, 'workflows': {'wf': None}, 'events': {'': [None]}}, {'version': 2, 'workflows': {}, 'events': {'': 'x'}},
    {'version': 2, 'workflows': {}, 'events': []}, {'version': True, 'workflows': {}}, {'version': 1, 'workflows': {'wf': []}},
])
def test_malformed_state_of_any_shape_is_one_clear_line(state, document):
    os.makedirs(os.path.dirname(state.path))
    with open(state.path, 'w', encoding='utf-8') as handle:
        json.dump(document, handle)
    with pytest.raises(StateFileError) as caught:
        state.started('wf', 0, event_id='e-1')
    assert '\n' not in str(caught.value) and state.path in str(caught.value)


def test_atomic_replace_leaves_no_temporary_files(state, clock):
    inode = None
    for second in range(5):
        clock.now = T0 + datetime.timedelta(seconds=second)
        state.started('wf', 0)
        assert os.stat(state.path).st_ino != inode, 'each write must be a new file renamed into place'
        inode = os.stat(state.path).st_ino
    assert sorted(os.listdir(os.path.dirname(state.path))) == ['preemption.json', 'preemption.json.lock']


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(state, clock, monkeypatch):
    state.started('wf', 0)
    before = open(state.path, 'rb').read()

    def refuse(_src, _dst):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(state_file.os, 'replace', refuse)
    clock.advance(1)
    with pytest.raises(StateFileError, match=r'^Cannot write the state file .*preemption.json: No space left on device\.$'):
        state.started('wf', 0)
    assert open(state.path, 'rb').read() == before
    assert sorted(os.listdir(os.path.dirname(state.path))) == ['preemption.json', 'preemption.json.lock']


@pytest.mark.parametrize('content, message', [
    (b'{"version": 1, "workflows": {', r'is not valid JSON \(Expecting'),
    (b'[1, 2]', r'is not a vsphere.preemption state file'),
    (b'{"version": 1}', r'is not a vsphere.preemption state file'),
    (b'{"version": 4, "workflows": {}}', r'has version 4; this collection reads version 3 or older'),
    (b'{"workflows": {}}', r'has version None'),
    (b'\xff\xfe{}', r'is not UTF-8 text'),
])
def test_a_corrupt_file_is_an_error_and_left_as_it_is(state, content, message):
    os.makedirs(os.path.dirname(state.path))
    with open(state.path, 'wb') as handle:
        handle.write(content)
    for call in (lambda: state.started('wf', 60), lambda: state.query('wf'), lambda: state.absent('wf')):
        with pytest.raises(StateFileError, match=r'^The state file %s ' % state.path + message):
            call()
    assert open(state.path, 'rb').read() == content


def test_a_malformed_record_blocks_only_its_workflow(state):
    state.started('good', 60)
    document = on_disk(state)
    document['workflows']['bad'] = {'run': {'run_id': 'x', 'started': 'yesterday'}}
    with open(state.path, 'w', encoding='utf-8') as handle:
        json.dump(document, handle)
    with pytest.raises(StateFileError, match=r"^The record of workflow 'bad' in the state file .* is malformed; .*state: absent"):
        state.started('bad', 60)
    assert state.query('good')['run']['run_id'] == 'run-1'
    assert state.absent('bad')[0] is not None
    assert sorted(on_disk(state)['workflows']) == ['good']


def test_an_empty_file_is_a_new_file(state):
    os.makedirs(os.path.dirname(state.path))
    open(state.path, 'w').close()
    assert state.started('wf', 60)['proceed'] is True


def test_a_directory_is_an_error(state):
    os.makedirs(state.path)
    with pytest.raises(StateFileError, match=r'^The state file .*preemption.json is a directory; point path at a file\.$'):
        state.started('wf', 60)


def test_an_unreadable_file_is_an_error(state, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise PermissionError(13, 'Permission denied')

    monkeypatch.setattr(state_file, 'open', refuse, raising=False)
    with pytest.raises(StateFileError, match=r'^Cannot read the state file .*preemption.json: Permission denied\.$'):
        state.query('wf')


def test_a_parent_that_is_a_file_is_an_error(tmp_path):
    blocker = tmp_path / 'not-a-directory'
    blocker.write_text('')
    state = StateFile(str(blocker / 'state.json'))
    with pytest.raises(StateFileError, match=r'^Cannot create the directory of the state file .*not-a-directory/state.json: '
                                             r'.*not-a-directory exists and is not a directory\.$'):
        state.started('wf', 60)


def test_an_unwritable_directory_is_an_error(state, monkeypatch):
    real_open = os.open

    def refuse_lock(path, *args):
        if path.endswith('.lock'):
            raise PermissionError(13, 'Permission denied')
        return real_open(path, *args)

    monkeypatch.setattr(state_file.os, 'open', refuse_lock)
    with pytest.raises(StateFileError, match=r'^Cannot lock the state file .*preemption.json: cannot create .*preemption.json.lock: Permission denied\.$'):
        state.started('wf', 60)


def test_home_is_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv('HOME', str(tmp_path))
    assert StateFile('~/s.json').path == str(tmp_path / 's.json')
    assert StateFile().path == str(tmp_path / '.ansible' / 'vsphere_preemption_state.json')


# ---------------------------------------------------------------- concurrency

def _start(path, barrier, results):
    barrier.wait()
    results.put(StateFile(path).started('wf', 60)['proceed'])


def test_ten_concurrent_processes_exactly_one_proceeds(tmp_path):
    path = str(tmp_path / 'state.json')
    assert sorted(race(_start, (path,))) == [False] * 9 + [True]
    document = json.load(open(path, encoding='utf-8'))
    assert document['workflows']['wf']['runs'] == 1


# ---------------------------------------------------------------- runs kept for a restore

def _start_event(path, barrier, results):
    barrier.wait()
    results.put(StateFile(path).started('wf@vc', 0, event_id='e1')['proceed'])


def test_ten_concurrent_deliveries_of_one_event_start_one_run(tmp_path):
    path = str(tmp_path / 'state.json')
    assert sorted(race(_start_event, (path,))) == [False] * 9 + [True]


def test_a_0_1_file_is_migrated_to_a_workflow_per_alarm_and_scope(state):
    os.makedirs(os.path.dirname(state.path))
    plan = {'workflow_id': 'cpu', 'vcenter': 'vc', 'scope': 'domain-c7', 'reason': "alarm 'cpu' green -> red"}
    from_alarm = record_started_at(T0 - datetime.timedelta(seconds=10))
    from_alarm['run']['results'] = {'plan': plan, 'powered_off': [{'moid': 'vm-1'}]}
    manual = record_started_at(T0 - datetime.timedelta(hours=1), status=FINISHED)
    manual['run']['results'] = {'plan': dict(plan, workflow_id='manual', scope=None, reason='manual run')}
    with open(state.path, 'w', encoding='utf-8') as handle:
        json.dump({'version': 1, 'workflows': {'cpu@vc': from_alarm, 'manual@vc': manual}}, handle)
    assert sorted(state.load()['workflows']) == ['cpu/domain-c7@vc', 'manual@vc']
    # The migrated record keeps its threshold and its unfinished run, which the next change writes back.
    skipped = state.started('cpu/domain-c7@vc', 60)
    assert skipped['proceed'] is False and skipped['pending']['results']['powered_off'] == [{'moid': 'vm-1'}]
    state.finished('cpu/domain-c7@vc', skipped['pending']['run_id'], {})
    assert sorted(on_disk(state)['workflows']) == ['cpu/domain-c7@vc', 'manual@vc'] and on_disk(state)['version'] == 3
