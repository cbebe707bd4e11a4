# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The preempt playbook killed with SIGKILL at each step, and the run after it.

A manual HIGH run (workflow "manual", CloudEvent id ``manual-<run id>``) is
stopped from outside at a known point, and its whole process group is killed
there: a fault proxy in front of vCenter holds its PowerOffVM_Task calls (the
run is recorded, nothing is off) or its SetField calls (the VMs are off, none
is annotated); a proxy in front of the sink holds the CloudEvent before the sink
(annotated, nothing sent) or holds the sink's answer (delivered, the run never
learns it); or the test holds the state file's lock once the sink has answered
(delivered and answered, not recorded). The next run must finish exactly what
was left, under the killed run's id, and power nothing off twice; a CloudEvent
the killed run may have delivered is delivered again with the same id (at
least once, never under two ids). Check mode over a killed run's state changes
nothing. After each, the restore brings every VM back: the ledger holds them all,
whichever step the kill came at.
"""

from __future__ import annotations

import fcntl
import threading

import pytest

from tests.support.event_receiver import EventReceiver
from tests.support.fault_proxy import FaultProxy, Match, soap
from tests.support.preempt_helpers import annotation, kill_at, latest_run, off, playbook, start_playbook, state
from tests.support import preemption_invariants

VCSIM_OPTIONS = dict(vms=2, hosts=1, clusters=1)
# DC0_H0_VM1 stays untagged: the invariants check it is never touched.
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_H0_VM0']


@pytest.fixture
def sink():
    """The sink, behind a proxy that can hold a delivery at the door, or hold the sink's answer."""
    with EventReceiver() as receiver, FaultProxy(upstream_url=receiver.url) as front:
        receiver.front = front
        yield receiver


@pytest.fixture
def since(since, front):
    """No fault rule left from another test."""
    front.clear()
    return since


def variables(tmp_path, sink, **extra):
    return dict(dict(preemption_criticality='HIGH', preemption_scope='all', preemption_state_file=str(tmp_path / 'state.json'),
                     preemption_reply_to=sink.front.url), **extra)


def resume(front, tmp_path, sink):
    """The next run, after the threshold (here 0 s)."""
    run = playbook('preempt', front.env(), variables(tmp_path, sink, preemption_threshold=0))
    assert run.rc == 0, run
    return run


def restore_all_back(front, vcenter, moids, tmp_path, sink, run_id):
    """The restore after the killed run and the next one: every VM back, the ledger empty, status saying so."""
    [record] = state(tmp_path / 'state.json').values()
    assert sorted(entry['moid'] for entry in record['ledger'] if entry['run_id'] == run_id) == sorted(moids.values())
    assert all(entry['event'] and entry['annotated'] for entry in record['ledger'])
    # The workflow "manual" has one record (no scope of its own): the restore names it alone.
    restore = playbook('restore', front.env(), {'preemption_state_file': str(tmp_path / 'state.json'),
                                                'preemption_reply_to': sink.front.url, 'preemption_threshold': 0})
    assert restore.rc == 0, restore.failures()
    assert off(vcenter) == [], restore.summary()
    assert all(annotation(vcenter, moid)['preempted'] is False for moid in moids.values())
    status = playbook('status', front.env(), {'preemption_state_file': str(tmp_path / 'state.json')})
    [shown] = [result['msg'] for result in status.results("Show the workflow's record")]
    assert 'No VM of its runs is still off.' in shown and 'Restored 3 VMs' in '\n'.join(shown)


def killed_runs_id(vcenter, moids):
    """The run id every tagged VM's annotation names (one id for all)."""
    [run_id] = {annotation(vcenter, moid)['runID'] for moid in moids.values()}
    return run_id


def kill_after_the_power_off(front, tmp_path, sink):
    """Start a run, hold its annotations at vCenter's door, kill it there; returns its (unfinished) run record."""
    front.add(soap('SetField'), times=None, hold=3600)
    proc = start_playbook('preempt', front.env(), variables(tmp_path, sink))
    kill_at(proc, lambda: front.requests(soap_method='SetField'))
    front.settle()  # every SetField the run had sent is held, none left unread to pass once the rule is cleared
    front.clear()
    killed = latest_run(tmp_path / 'state.json')
    assert killed['status'] == 'running'
    return killed


def test_killed_before_the_power_off_reached_vcenter(vcenter, front, moids, since, sink, tmp_path):
    front.add(soap('PowerOffVM_Task'), times=None, hold=3600)
    proc = start_playbook('preempt', front.env(), variables(tmp_path, sink))
    kill_at(proc, lambda: front.requests(soap_method='PowerOffVM_Task'))
    front.settle()  # every power-off the run had sent is held, none left unread to pass once the rule is cleared
    front.clear()
    killed = latest_run(tmp_path / 'state.json')
    assert killed['status'] == 'running'
    assert off(vcenter) == []

    # Inside the threshold: skipped, saying that run has not finished.
    skipped = playbook('preempt', front.env(), variables(tmp_path, sink))
    assert skipped.rc == 0, skipped
    assert 'Run %s (started %s) has not finished' % (killed['run_id'], killed['started']) in skipped.summary()
    assert off(vcenter) == [] and sink.requests == []

    run = resume(front, tmp_path, sink)
    new = latest_run(tmp_path / 'state.json')
    assert new['run_id'] != killed['run_id'] and new['status'] == 'finished'
    assert 'finished earlier run %s first' % killed['run_id'] in run.summary()
    assert off(vcenter) == sorted(TAGGED)
    # The killed run had powered nothing off: the new run did it all, under its own id.
    by_run = preemption_invariants.check(vcenter, moids, sink, since)
    assert by_run == {new['run_id']: sorted(moids.values())}
    assert [event['id'] for event in sink.events] == ['manual-%s' % new['run_id']]
    restore_all_back(front, vcenter, moids, tmp_path, sink, new['run_id'])


def test_killed_after_the_power_off_before_the_annotations(vcenter, front, moids, since, sink, tmp_path):
    killed = kill_after_the_power_off(front, tmp_path, sink)
    assert off(vcenter) == sorted(TAGGED)
    assert all(annotation(vcenter, moid) is None for moid in moids.values())

    run = resume(front, tmp_path, sink)
    assert 'finished earlier run %s first' % killed['run_id'] in run.summary()
    assert 'nothing to power off' in run.summary()
    by_run = preemption_invariants.check(vcenter, moids, sink, since)
    assert by_run == {killed['run_id']: sorted(moids.values())}
    assert [event['id'] for event in sink.events] == ['manual-%s' % killed['run_id']]
    assert all(annotation(vcenter, moid)['forcedShutdown'] is True for moid in moids.values())
    assert latest_run(tmp_path / 'state.json')['status'] == 'finished'
    restore_all_back(front, vcenter, moids, tmp_path, sink, killed['run_id'])


def test_killed_while_the_power_offs_answer_is_held(vcenter, front, moids, since, sink, tmp_path):
    # vCenter powered the VMs off, the run never heard it: nothing recorded but its selection. The next run finds them
    # off, and vCenter's events (one power-off each, after the run began) say it was the killed run's doing.
    front.add(soap('PowerOffVM_Task'), times=None, forward_then='hold')
    proc = start_playbook('preempt', front.env(), variables(tmp_path, sink))
    kill_at(proc, lambda: len(off(vcenter)) == len(TAGGED))
    front.settle()
    front.clear()
    killed = latest_run(tmp_path / 'state.json')
    assert killed['status'] == 'running' and 'powered_off' not in killed['results']

    run = resume(front, tmp_path, sink)
    assert 'finished earlier run %s first' % killed['run_id'] in run.summary()
    assert preemption_invariants.check(vcenter, moids, sink, since) == {killed['run_id']: sorted(moids.values())}
    restore_all_back(front, vcenter, moids, tmp_path, sink, killed['run_id'])


def test_check_mode_over_a_killed_runs_state_changes_nothing(vcenter, front, moids, since, sink, tmp_path):
    # A real run would annotate and announce what the killed run powered off: check mode only says so.
    killed = kill_after_the_power_off(front, tmp_path, sink)
    path = tmp_path / 'state.json'
    before = path.read_bytes()

    checked = playbook('preempt', front.env(), variables(tmp_path, sink, preemption_threshold=0), check=True)
    assert checked.rc == 0, checked
    cancelled = playbook('cancel', front.env(), {'preemption_state_file': str(path)}, check=True)
    assert cancelled.rc == 0, cancelled

    assert path.read_bytes() == before
    assert off(vcenter) == sorted(TAGGED)
    assert all(annotation(vcenter, moid) is None for moid in moids.values())
    assert sink.requests == [] and sink.front.log == []
    assert preemption_invariants.power_off_counts(vcenter, since) == {moid: 1 for moid in moids.values()}
    # The state was a resumable one: the next real run finishes the killed run.
    resume(front, tmp_path, sink)
    assert preemption_invariants.check(vcenter, moids, sink, since) == {killed['run_id']: sorted(moids.values())}


def test_killed_after_the_annotations_before_the_cloudevent(vcenter, front, moids, since, sink, tmp_path):
    # The CloudEvent is held at the sink's door: the run has annotated, and is sending.
    sink.front.add(Match(http_method='POST'), hold=3600)
    proc = start_playbook('preempt', front.env(), variables(tmp_path, sink))
    kill_at(proc, lambda: sink.front.requests(action='hold'))
    sink.front.settle()
    run_id = killed_runs_id(vcenter, moids)
    assert sink.requests == []
    assert latest_run(tmp_path / 'state.json')['status'] == 'running'
    sink.front.clear()

    run = resume(front, tmp_path, sink)
    assert 'finished earlier run %s first' % run_id in run.summary()
    by_run = preemption_invariants.check(vcenter, moids, sink, since)
    assert by_run == {run_id: sorted(moids.values())}
    assert [event['id'] for event in sink.events] == ['manual-%s' % run_id]
    restore_all_back(front, vcenter, moids, tmp_path, sink, run_id)


def assert_delivered_again_with_the_same_id(front, vcenter, moids, since, sink, tmp_path, run_id):
    """After a kill between the sink's acceptance and the run's record of it: the next run delivers it again, same id."""
    assert [event['id'] for event in sink.events] == ['manual-%s' % run_id]
    assert latest_run(tmp_path / 'state.json')['status'] == 'running'
    sink.front.settle()
    sink.front.clear()

    run = resume(front, tmp_path, sink)
    assert 'finished earlier run %s first' % run_id in run.summary()
    # At least once, always the same id (receivers deduplicate on it), never a second id for this run.
    assert [event['id'] for event in sink.events] == ['manual-%s' % run_id] * 2
    by_run = preemption_invariants.check(vcenter, moids, sink, since, deliveries_per_event=None)
    assert by_run == {run_id: sorted(moids.values())}
    assert latest_run(tmp_path / 'state.json')['status'] == 'finished'
    restore_all_back(front, vcenter, moids, tmp_path, sink, run_id)


def test_killed_while_the_sinks_answer_is_held(vcenter, front, moids, since, sink, tmp_path):
    # The sink accepted the CloudEvent, but its answer never reaches the run.
    sink.front.add(Match(http_method='POST'), forward_then='hold')
    proc = start_playbook('preempt', front.env(), variables(tmp_path, sink))
    kill_at(proc, lambda: [request for request in sink.requests if request.accepted])
    assert_delivered_again_with_the_same_id(front, vcenter, moids, since, sink, tmp_path, killed_runs_id(vcenter, moids))


def test_killed_after_the_sink_answered_before_the_run_recorded_it(vcenter, front, moids, since, sink, tmp_path):
    # The CloudEvent waits at the sink's door while the test takes the state file's lock; then the sink takes it and
    # answers, and the run, wanting to record that, waits for the lock: killed there.
    door = threading.Event()
    sink.front.add(Match(http_method='POST'), delay=door)
    proc = start_playbook('preempt', front.env(), variables(tmp_path, sink))
    sink.front.wait_for(action='delay')
    with open(str(tmp_path / 'state.json') + '.lock', 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        door.set()
        kill_at(proc, lambda: [request for request in sink.requests if request.accepted])
    assert_delivered_again_with_the_same_id(front, vcenter, moids, since, sink, tmp_path, killed_runs_id(vcenter, moids))
