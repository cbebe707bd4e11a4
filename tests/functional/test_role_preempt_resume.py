# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The preempt playbook's retries (a doubling delay) and resume: runs killed with SIGKILL, or failed
half-way, are finished by the next run.

The simulator answers PowerOffVM_Task after 1 s and SetField after 0.2 s, so a run can be
killed at a known step.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.functional.event_receiver import EventReceiver
from tests.functional.preempt_helpers import (
    FIELD,
    alarm_event,
    annotation,
    playbook,
    power_on_all,
    power_states,
    start_playbook,
    state,
    tag_vms,
)

VCSIM_OPTIONS = dict(vms=2, hosts=2, clusters=1, method_delay={'PowerOffVM_Task': 1000, 'SetField': 200})
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_H0_VM0']
IN_CLUSTER = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1']


@pytest.fixture(scope='module')
def moids(vcenter):
    names = tag_vms(vcenter, TAGGED)
    vcenter.add_custom_field(FIELD)
    return names


@pytest.fixture
def vms(vcenter, moids):
    power_on_all(vcenter)
    return moids


def variables(tmp_path, event, sink, **extra):
    return dict(preemption_state_file=str(tmp_path / 'state.json'), preemption_event=event, preemption_reply_to=sink.url, **extra)


def off(vcenter):
    return sorted(name for name, power in power_states(vcenter).items() if power == 'poweredOff')


def wait_for_state(path, condition, proc, timeout=60):
    """Poll the state file until condition(run results) holds for its current run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workflows = state(path)
        if workflows and condition(next(iter(workflows.values()))['run']['results']):
            return
        assert proc.poll() is None, 'the playbook ended before the awaited step:\n%s' % (proc.communicate(),)
        time.sleep(0.01)
    raise AssertionError('the state file never reached the awaited step')


def kill(proc):
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def test_the_cloudevent_is_retried_after_a_fixed_delay(vcsim, vcenter, vms, tmp_path):
    with EventReceiver(responses=[503, 503]) as sink:
        started = time.monotonic()
        run = playbook('preempt', vcsim.env(), variables(tmp_path, alarm_event(vcenter, 'DC0_C0'), sink, preemption_retry_delay=1))
        took = time.monotonic() - started
        assert run.rc == 0, run
        requests = sink.requests
    assert [request.status for request in requests] == [503, 503, 204]
    assert len({request.headers['ce-id'] for request in requests}) == 1
    # Ansible's retries/until: the third attempt succeeded, each retry 1 s after the last.
    [sent] = run.results('Send the CloudEvent')
    assert [item['attempts'] for item in sent['results']] == [3]
    assert took >= 2
    assert off(vcenter) == IN_CLUSTER


def test_a_run_that_cannot_send_is_finished_by_the_next_one(vcsim, vcenter, vms, sink, tmp_path):
    event = alarm_event(vcenter, 'DC0_C0')
    sink.respond(*[500] * 2)
    failed = playbook('preempt', vcsim.env(), variables(tmp_path, event, sink, preemption_retries=1, preemption_retry_delay=0))
    assert failed.rc == 2, failed
    assert failed.failures()[-1].startswith('Could not send CloudEvent cluster-cpu-above-80-%s to %s after 2 attempts: ' % (event['id'], sink.url))
    assert off(vcenter) == IN_CLUSTER
    [record] = state(tmp_path / 'state.json').values()
    killed_run = record['run']
    assert killed_run['status'] == 'running'
    assert annotation(vcenter, vms['DC0_C0_RP0_VM0'])['runID'] == killed_run['run_id']

    # The next run after the threshold (here 0 s) sends it, with the same id and VMs; it finds nothing more to power off.
    sink.clear()
    resumed = playbook('preempt', vcsim.env(), variables(tmp_path, alarm_event(vcenter, 'DC0_C0'), sink, preemption_threshold=0))
    assert resumed.rc == 0, resumed
    [received] = sink.events
    assert received['id'] == 'cluster-cpu-above-80-' + event['id']
    assert [vm['Value'] for vm in received['data']['virtualMachines']] == [vms[name] for name in IN_CLUSTER]
    assert received['data']['runID'] == killed_run['run_id']
    assert 'finished earlier run %s first' % killed_run['run_id'] in resumed.summary()
    [record] = state(tmp_path / 'state.json').values()
    assert record['unfinished'] == []
    assert record['run']['status'] == 'finished'


def test_a_run_killed_right_after_the_power_off_is_finished_by_the_next_one(vcsim, vcenter, vms, sink, tmp_path):
    event = alarm_event(vcenter, 'DC0_C0')
    proc = start_playbook('preempt', vcsim.env(), variables(tmp_path, event, sink))
    wait_for_state(tmp_path / 'state.json', lambda results: results.get('powered_off'), proc)
    kill(proc)
    assert off(vcenter) == IN_CLUSTER
    [record] = state(tmp_path / 'state.json').values()
    killed_run = record['run']
    assert 'event_sent' not in killed_run['results'] and killed_run['status'] == 'running'
    assert sink.requests == []

    # Within the threshold: skipped, and the unfinished run is left alone (it might still be at work).
    skipped = playbook('preempt', vcsim.env(), variables(tmp_path, alarm_event(vcenter, 'DC0_C0'), sink))
    assert skipped.rc == 0, skipped
    assert 'Run %s (started %s) has not finished' % (killed_run['run_id'], killed_run['started']) in skipped.summary()
    assert sink.requests == []

    resumed = playbook('preempt', vcsim.env(), variables(tmp_path, alarm_event(vcenter, 'DC0_C0'), sink, preemption_threshold=0))
    assert resumed.rc == 0, resumed
    [received] = sink.events
    assert received['id'] == 'cluster-cpu-above-80-' + event['id']
    assert received['data']['runID'] == killed_run['run_id']
    assert [vm['Value'] for vm in received['data']['virtualMachines']] == [vms[name] for name in IN_CLUSTER]
    for name in IN_CLUSTER:
        assert annotation(vcenter, vms[name])['runID'] == killed_run['run_id']
        assert annotation(vcenter, vms[name])['forcedShutdown'] is True
    [record] = state(tmp_path / 'state.json').values()
    assert record['unfinished'] == [] and record['run']['status'] == 'finished'
    assert record['run']['results']['powered_off'] == []


def test_a_run_killed_during_the_power_off_is_finished_by_the_next_one(vcsim, vcenter, vms, sink, tmp_path):
    event = alarm_event(vcenter, 'DC0_C0')
    proc = start_playbook('preempt', vcsim.env(), variables(tmp_path, event, sink))
    # Killed as soon as the first VM is off: the power-off has not returned, so the run recorded
    # its selection but not what it powered off.
    wait_for_state(tmp_path / 'state.json', lambda results: results.get('selected'), proc)
    deadline = time.monotonic() + 30
    while not any(vcenter.power_state(vms[name]) == 'poweredOff' for name in IN_CLUSTER):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.01)
    kill(proc)
    # The other power-off was in flight in the simulator; it completes.
    deadline = time.monotonic() + 10
    while off(vcenter) != IN_CLUSTER and time.monotonic() < deadline:
        time.sleep(0.1)
    assert off(vcenter) == IN_CLUSTER
    [record] = state(tmp_path / 'state.json').values()
    killed_run = record['run']
    assert 'powered_off' not in killed_run['results']

    resumed = playbook('preempt', vcsim.env(), variables(tmp_path, alarm_event(vcenter, 'DC0_C0'), sink, preemption_threshold=0))
    assert resumed.rc == 0, resumed
    [received] = sink.events
    assert received['id'] == 'cluster-cpu-above-80-' + event['id']
    assert sorted(vm['Value'] for vm in received['data']['virtualMachines']) == sorted(vms[name] for name in IN_CLUSTER)
    for name in IN_CLUSTER:
        assert annotation(vcenter, vms[name])['runID'] == killed_run['run_id']
    [record] = state(tmp_path / 'state.json').values()
    assert record['unfinished'] == []
