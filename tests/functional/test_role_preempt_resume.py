# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The preempt playbook's retries and resume, for a red alarm on cluster DC0_C0: runs killed with
SIGKILL, or failed half-way, are finished by the next run.

Every run goes to vCenter through a fault proxy, which stops the run that is killed at a known
point: its SetField calls held (the VMs are off, none annotated), or one of its two
PowerOffVM_Task calls held until after the kill (killed during the power-off). DC0_H0_VM0 is
tagged but outside the alarm's cluster, DC0_C0_RP0_VM2 in the cluster but untagged: neither
may be touched.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.support.event_receiver import EventReceiver
from tests.support.fault_proxy import soap
from tests.support.preempt_helpers import alarm_event, annotation, kill_at, latest_run, off, playbook, start_playbook
from tests.support import preemption_invariants

VCSIM_OPTIONS = dict(vms=3, hosts=2, clusters=1)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_H0_VM0']
IN_CLUSTER = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1']


@pytest.fixture
def vms(moids, since, front):
    """Every VM powered on, the tagged ones unannotated, no fault rule left."""
    front.clear()
    return moids


def in_scope(vms):
    """The VMs the alarm's runs may touch: tagged, in its cluster."""
    return {name: vms[name] for name in IN_CLUSTER}


def variables(tmp_path, event, sink, **extra):
    return dict(preemption_state_file=str(tmp_path / 'state.json'), preemption_event=event, preemption_reply_to=sink.url, **extra)


def test_the_cloudevent_is_retried_after_the_retry_delay(front, vcenter, vms, since, tmp_path):
    with EventReceiver(responses=[503, 503]) as sink:
        run = playbook('preempt', front.env(), variables(tmp_path, alarm_event(vcenter, 'DC0_C0'), sink, preemption_retry_delay=1))
        assert run.rc == 0, run
        requests = sink.requests
    assert [request.status for request in requests] == [503, 503, 204]
    assert len({request.headers['ce-id'] for request in requests}) == 1
    # Each retry came at least preemption_retry_delay after the attempt before it.
    gaps = [later.received - earlier.received for earlier, later in zip(requests, requests[1:])]
    assert min(gaps) >= 1, gaps
    assert off(vcenter) == IN_CLUSTER
    preemption_invariants.check(vcenter, in_scope(vms), sink, since)


def test_a_run_that_cannot_send_is_finished_by_the_next_one(front, vcenter, vms, since, sink, tmp_path):
    event = alarm_event(vcenter, 'DC0_C0')
    sink.respond(*[500] * 2)
    failed = playbook('preempt', front.env(), variables(tmp_path, event, sink, preemption_retries=1, preemption_retry_delay=0))
    assert failed.rc == 2, failed
    assert failed.failures()[-1].startswith('Could not send CloudEvent cluster-cpu-above-80-%s to %s after 2 attempts: ' % (event['id'], sink.url))
    assert off(vcenter) == IN_CLUSTER
    failed_run = latest_run(tmp_path / 'state.json')
    assert failed_run['status'] == 'running'
    assert annotation(vcenter, vms['DC0_C0_RP0_VM0'])['runID'] == failed_run['run_id']

    # The next run after the threshold (here 0 s) sends it, with the same id and VMs; it finds nothing more to power off.
    sink.clear()
    resumed = playbook('preempt', front.env(), variables(tmp_path, alarm_event(vcenter, 'DC0_C0'), sink, preemption_threshold=0))
    assert resumed.rc == 0, resumed
    [received] = sink.events
    assert received['id'] == 'cluster-cpu-above-80-' + event['id']
    assert [vm['Value'] for vm in received['data']['virtualMachines']] == [vms[name] for name in IN_CLUSTER]
    assert received['data']['runID'] == failed_run['run_id']
    assert 'finished earlier run %s first' % failed_run['run_id'] in resumed.summary()
    assert latest_run(tmp_path / 'state.json')['status'] == 'finished'
    assert preemption_invariants.check(vcenter, in_scope(vms), sink, since) == {failed_run['run_id']: sorted(in_scope(vms).values())}


def test_a_run_killed_right_after_the_power_off_is_finished_by_the_next_one(front, vcenter, vms, since, sink, tmp_path):
    event = alarm_event(vcenter, 'DC0_C0')
    front.add(soap('SetField'), times=None, hold=3600)
    proc = start_playbook('preempt', front.env(), variables(tmp_path, event, sink))
    kill_at(proc, lambda: front.requests(soap_method='SetField'))
    front.settle()  # every SetField the run had sent is held, none left unread to pass once the rule is cleared
    front.clear()
    assert off(vcenter) == IN_CLUSTER
    assert all(annotation(vcenter, vms[name]) is None for name in IN_CLUSTER)
    killed_run = latest_run(tmp_path / 'state.json')
    assert killed_run['status'] == 'running'
    assert sink.requests == []

    # Within the threshold: skipped, and the unfinished run is left alone (it might still be at work).
    skipped = playbook('preempt', front.env(), variables(tmp_path, alarm_event(vcenter, 'DC0_C0'), sink))
    assert skipped.rc == 0, skipped
    assert 'Run %s (started %s) has not finished' % (killed_run['run_id'], killed_run['started']) in skipped.summary()
    assert sink.requests == []
    assert all(annotation(vcenter, vms[name]) is None for name in IN_CLUSTER)

    resumed = playbook('preempt', front.env(), variables(tmp_path, alarm_event(vcenter, 'DC0_C0'), sink, preemption_threshold=0))
    assert resumed.rc == 0, resumed
    assert 'nothing to power off' in resumed.summary()
    [received] = sink.events
    assert received['id'] == 'cluster-cpu-above-80-' + event['id']
    assert received['data']['runID'] == killed_run['run_id']
    assert [vm['Value'] for vm in received['data']['virtualMachines']] == [vms[name] for name in IN_CLUSTER]
    for name in IN_CLUSTER:
        assert annotation(vcenter, vms[name])['forcedShutdown'] is True
    assert latest_run(tmp_path / 'state.json')['status'] == 'finished'
    assert preemption_invariants.check(vcenter, in_scope(vms), sink, since) == {killed_run['run_id']: sorted(in_scope(vms).values())}


def test_a_run_killed_during_the_power_off_is_finished_by_the_next_one(front, vcenter, vms, since, sink, tmp_path):
    # The first power-off call waits at vCenter's door; the run is killed once the other VM is off, so its
    # power-off step never returned. The held call then reaches vCenter, as one in flight would.
    door = threading.Event()
    front.add(soap('PowerOffVM_Task'), delay=door)
    event = alarm_event(vcenter, 'DC0_C0')
    proc = start_playbook('preempt', front.env(), variables(tmp_path, event, sink))
    kill_at(proc, lambda: front.requests(action='delay') and len(off(vcenter)) == 1)
    door.set()
    deadline = time.monotonic() + 30
    while off(vcenter) != IN_CLUSTER and time.monotonic() < deadline:
        time.sleep(0.1)
    assert off(vcenter) == IN_CLUSTER
    killed_run = latest_run(tmp_path / 'state.json')
    assert killed_run['status'] == 'running'

    resumed = playbook('preempt', front.env(), variables(tmp_path, alarm_event(vcenter, 'DC0_C0'), sink, preemption_threshold=0))
    assert resumed.rc == 0, resumed
    [received] = sink.events
    assert received['id'] == 'cluster-cpu-above-80-' + event['id']
    assert sorted(vm['Value'] for vm in received['data']['virtualMachines']) == sorted(vms[name] for name in IN_CLUSTER)
    assert latest_run(tmp_path / 'state.json')['status'] == 'finished'
    # Both VMs count as powered off by the killed run, once each.
    assert preemption_invariants.check(vcenter, in_scope(vms), sink, since) == {killed_run['run_id']: sorted(in_scope(vms).values())}
