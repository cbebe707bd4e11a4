# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The preempt playbook killed with SIGKILL after each step, and the run after it.

A manual HIGH run (workflow "manual", CloudEvent id ``manual-<run id>``) is
watched through its state file, vCenter and the sink, and its whole process
group is killed right after: the run was started; the VMs were powered off;
they were annotated (the CloudEvent is held at the sink's door); the CloudEvent
was sent. The next run must finish exactly what was left, under the killed
run's id, and nothing twice.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.functional.event_receiver import EventReceiver
from tests.functional.fault_proxy import FaultProxy, Match
from tests.functional.preempt_helpers import FIELD, annotation, playbook, power_states, start_playbook, state, tag_vms
from tests.functional import preemption_invariants

VCSIM_OPTIONS = dict(vms=2, hosts=1, clusters=1)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_H0_VM0']


@pytest.fixture(scope='module')
def moids(vcenter):
    names = tag_vms(vcenter, TAGGED)
    vcenter.add_custom_field(FIELD)
    return {name: names[name] for name in TAGGED}


@pytest.fixture
def since(vcenter, moids):
    return preemption_invariants.reset(vcenter, moids.values())


@pytest.fixture
def sink():
    """The sink, behind a proxy that can hold a delivery at the door."""
    with EventReceiver() as receiver, FaultProxy(upstream_url=receiver.url) as front:
        receiver.front = front
        yield receiver


def variables(tmp_path, sink, **extra):
    return dict(dict(preemption_criticality='HIGH', preemption_scope='all', preemption_state_file=str(tmp_path / 'state.json'),
                     preemption_reply_to=sink.front.url), **extra)


def off(vcenter):
    return sorted(name for name, power in power_states(vcenter).items() if power == 'poweredOff')


def current_run(tmp_path):
    """The latest run in the state file; None before the first."""
    workflows = state(tmp_path / 'state.json')
    return next(iter(workflows.values()))['run'] if workflows else None


def kill_when(proc, condition, timeout=60):
    """Poll until condition() holds, then SIGKILL the playbook's process group; returns what condition returned."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return found
        assert proc.poll() is None, 'the playbook ended before the step awaited:\n%s' % (proc.communicate(),)
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    raise AssertionError('the step awaited never came')


def resume(vcsim, tmp_path, sink):
    """The next run, after the threshold (here 0 s)."""
    run = playbook('preempt', vcsim.env(), variables(tmp_path, sink, preemption_threshold=0))
    assert run.rc == 0, run
    return run


def test_killed_right_after_the_run_started(vcsim, vcenter, moids, since, sink, tmp_path):
    proc = start_playbook('preempt', vcsim.env(), variables(tmp_path, sink))
    killed = kill_when(proc, lambda: current_run(tmp_path))
    assert killed['status'] == 'running'
    assert off(vcenter) == []

    # Inside the threshold: skipped, saying that run has not finished.
    skipped = playbook('preempt', vcsim.env(), variables(tmp_path, sink))
    assert skipped.rc == 0, skipped
    assert 'Run %s (started %s) has not finished' % (killed['run_id'], killed['started']) in skipped.summary()
    assert off(vcenter) == [] and sink.requests == []

    run = resume(vcsim, tmp_path, sink)
    [record] = state(tmp_path / 'state.json').values()
    new = record['run']
    assert 'finished earlier run %s first' % killed['run_id'] in run.summary()
    assert off(vcenter) == sorted(TAGGED)
    # The killed run had done nothing: the new run did it all, under its own id.
    by_run = preemption_invariants.check(vcenter, moids, sink, since)
    assert by_run == {new['run_id']: sorted(moids.values())}
    assert [event['id'] for event in sink.events] == ['manual-%s' % new['run_id']]
    assert record['unfinished'] == [] and record['runs'] == 2


def test_killed_right_after_the_power_off(vcsim, vcenter, moids, since, sink, tmp_path):
    proc = start_playbook('preempt', vcsim.env(), variables(tmp_path, sink))

    def powered_off():
        run = current_run(tmp_path)
        return run if run and len(run['results'].get('powered_off') or []) == len(TAGGED) else None

    killed = kill_when(proc, powered_off)
    assert off(vcenter) == sorted(TAGGED)
    assert all(annotation(vcenter, moid) is None for moid in moids.values())

    run = resume(vcsim, tmp_path, sink)
    assert 'finished earlier run %s first' % killed['run_id'] in run.summary()
    assert 'nothing to power off' in run.summary()
    by_run = preemption_invariants.check(vcenter, moids, sink, since)
    assert by_run == {killed['run_id']: sorted(moids.values())}
    assert [event['id'] for event in sink.events] == ['manual-%s' % killed['run_id']]
    assert all(annotation(vcenter, moid)['forcedShutdown'] is True for moid in moids.values())


def test_killed_right_after_the_annotations(vcsim, vcenter, moids, since, sink, tmp_path):
    # The CloudEvent is held at the sink's door: the run has annotated, and is sending.
    sink.front.add(Match(http_method='POST'), hold=60)
    proc = start_playbook('preempt', vcsim.env(), variables(tmp_path, sink))
    killed = kill_when(proc, lambda: sink.front.log and current_run(tmp_path))
    assert {annotation(vcenter, moid)['runID'] for moid in moids.values()} == {killed['run_id']}
    assert sink.requests == []
    sink.front.clear()

    run = resume(vcsim, tmp_path, sink)
    assert 'finished earlier run %s first' % killed['run_id'] in run.summary()
    by_run = preemption_invariants.check(vcenter, moids, sink, since)
    assert by_run == {killed['run_id']: sorted(moids.values())}
    assert [event['id'] for event in sink.events] == ['manual-%s' % killed['run_id']]


def test_killed_right_after_the_cloudevent(vcsim, vcenter, moids, since, sink, tmp_path):
    proc = start_playbook('preempt', vcsim.env(), variables(tmp_path, sink))

    def sent():
        run = current_run(tmp_path)
        return run if run and run['results'].get('event_sent') else None

    killed = kill_when(proc, sent)
    assert killed['status'] == 'running'
    assert len(sink.events) == 1

    run = resume(vcsim, tmp_path, sink)
    assert 'finished earlier run %s first' % killed['run_id'] in run.summary()
    # Nothing was left but marking the run finished: no second CloudEvent.
    by_run = preemption_invariants.check(vcenter, moids, sink, since)
    assert by_run == {killed['run_id']: sorted(moids.values())}
    assert len(sink.requests) == 1
    [record] = state(tmp_path / 'state.json').values()
    assert record['unfinished'] == []
