# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One alarm, many clusters: a workflow per alarm and scope.

The same alarm definition fires per cluster. Each cluster's run has its own
threshold, pending runs and cancel, through ansible-playbook and through the
webhook rulebook, where the events of different clusters run at once and those
of one cluster in arrival order.
"""

from __future__ import annotations

import os
import threading

import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._timestamps import parse_timestamp
from tests.support.preempt_helpers import FIELD, alarm_event, annotation, off, playbook, power_on_all, state, tag_vms
from tests.support.machine import free_port
from tests.support.rulebook_cli import RULEBOOKS, Rulebook, wait_until
from tests.functional.test_rulebook import TOKEN, post
from tests.support.vcsim.harness import Simulator, VCenterClient

VCSIM_OPTIONS = dict(vms=2, hosts=2, clusters=2)
# For the rulebook test, a power-off takes 3 s: runs one after the other would start at least that far apart.
POWER_OFF_MS = 3000
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_C1_RP0_VM0', 'DC0_C1_RP0_VM1']
A = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1']
B = ['DC0_C1_RP0_VM0', 'DC0_C1_RP0_VM1']


@pytest.fixture
def slow_power_off(vcsim_binary, tmp_path_factory):
    """(Simulator, VCenterClient): the module's inventory, its power-offs taking POWER_OFF_MS, TAGGED tagged, FIELD defined.

    Only the rulebook test's timing assertion needs the slow power-off; the other test runs on the module's
    simulator at its own pace.
    """
    options = dict(VCSIM_OPTIONS, method_delay={'PowerOffVM_Task': POWER_OFF_MS})
    with Simulator(binary=vcsim_binary, workdir=str(tmp_path_factory.mktemp('vcsim-slow')), **options) as sim, VCenterClient(sim) as client:
        tag_vms(client, TAGGED)
        client.add_custom_field(FIELD)
        yield sim, client


def key(vcsim, event):
    return 'cluster-cpu-above-80/%s@127.0.0.1:%d' % (event['data']['ComputeResource']['ComputeResource']['Value'], vcsim.port)


def with_run(path):
    """The state file's workflow keys whose record holds a run (a cancel keeps only the ledger of the others)."""
    return sorted(workflow for workflow, record in state(path).items() if 'run' in record)


def cancelled(path, workflow, names):
    """Whether ``workflow``'s record is what a cancel keeps: no run, the cancelled mark, its ledger listing ``names``."""
    record = state(path)[workflow]
    return 'run' not in record and bool(record['cancelled']) and sorted(entry['name'] for entry in record['ledger']) == names


def preempt(vcsim, tmp_path, event):
    run = playbook('preempt', vcsim.env(), {'preemption_event': event, 'preemption_state_file': str(tmp_path / 'state.json')})
    assert run.rc == 0, run
    return run


def test_each_cluster_is_its_own_workflow(vcsim, vcenter, tmp_path):
    tag_vms(vcenter, TAGGED)
    vcenter.add_custom_field(FIELD)
    red_a, red_b = alarm_event(vcenter, 'DC0_C0'), alarm_event(vcenter, 'DC0_C1')

    # Red on A, then on B seconds later: B is not held back by A's threshold.
    preempt(vcsim, tmp_path, red_a)
    assert off(vcenter) == A
    preempt(vcsim, tmp_path, red_b)
    assert off(vcenter) == sorted(A + B)
    assert sorted(state(tmp_path / 'state.json')) == sorted([key(vcsim, red_a), key(vcsim, red_b)])
    assert {annotation(vcenter, vcenter.moid(name))['scope'] for name in A} == {red_a['data']['ComputeResource']['ComputeResource']['Value']}
    b_record = state(tmp_path / 'state.json')[key(vcsim, red_b)]

    # Red again on A inside the threshold: skipped.
    power_on_all(vcenter)
    again = preempt(vcsim, tmp_path, alarm_event(vcenter, 'DC0_C0'))
    assert 'threshold 60 s' in again.summary() and off(vcenter) == []

    # A host-level alarm on another host of cluster A is the same workflow: skipped too.
    on_host = alarm_event(vcenter, 'DC0_C0')
    on_host['data']['Host']['Host']['Value'] = [vm for vm in vcenter.vms() if vm['cluster_name'] == 'DC0_C0'][-1]['host']
    assert 'threshold 60 s' in preempt(vcsim, tmp_path, on_host).summary()

    # Green on A forgets A's run only (its ledger stays); red on A then preempts again.
    dropped = preempt(vcsim, tmp_path, alarm_event(vcenter, 'DC0_C0', old='red', new='green'))
    assert 'cancelled' in dropped.summary()
    assert with_run(tmp_path / 'state.json') == [key(vcsim, red_b)]
    assert cancelled(tmp_path / 'state.json', key(vcsim, red_a), A)
    assert state(tmp_path / 'state.json')[key(vcsim, red_b)] == b_record
    preempt(vcsim, tmp_path, alarm_event(vcenter, 'DC0_C0'))
    assert off(vcenter) == A

    # status and cancel by workflow id act on every scope's record; preemption_scope narrows them.
    status = playbook('status', vcsim.env(), {'preemption_state_file': str(tmp_path / 'state.json'),
                                              'preemption_workflow_id': 'cluster-cpu-above-80'})
    [lines] = [result['msg'] for result in status.results("Show the workflow's record")]
    assert len([line for line in lines if line.startswith('Workflow cluster-cpu-above-80 (scope ')]) == 2, lines
    cancel_b = playbook('cancel', vcsim.env(), {'preemption_state_file': str(tmp_path / 'state.json'),
                                                'preemption_workflow_id': 'cluster-cpu-above-80',
                                                'preemption_scope': red_b['data']['ComputeResource']['ComputeResource']['Value']})
    assert cancel_b.rc == 0, cancel_b
    assert with_run(tmp_path / 'state.json') == [key(vcsim, red_a)]
    assert cancelled(tmp_path / 'state.json', key(vcsim, red_b), B)
    assert playbook('cancel', vcsim.env(), {'preemption_state_file': str(tmp_path / 'state.json'),
                                            'preemption_workflow_id': 'cluster-cpu-above-80'}).rc == 0
    assert with_run(tmp_path / 'state.json') == []
    assert cancelled(tmp_path / 'state.json', key(vcsim, red_a), A) and cancelled(tmp_path / 'state.json', key(vcsim, red_b), B)


def test_the_rulebook_relieves_clusters_at_once_and_keeps_a_scope_in_order(slow_power_off, tmp_path):
    vcsim, vcenter = slow_power_off
    power_on_all(vcenter)
    port = free_port()
    state_file = tmp_path / 'state.json'
    variables = {'preemption_alarm_name': 'cluster-cpu-above-80', 'preemption_webhook_token': TOKEN, 'preemption_webhook_port': port,
                 'preemption_webhook_host': '127.0.0.1', 'preemption_state_file': str(state_file)}
    url = 'http://127.0.0.1:%d/' % port
    with Rulebook(os.path.join(RULEBOOKS, 'preemption.yml'), variables, tmp_path / 'rulebook', env=vcsim.env()) as process:
        process.wait_for_port(port)
        red_a, red_b = alarm_event(vcenter, 'DC0_C0'), alarm_event(vcenter, 'DC0_C1')
        # Both clusters at once, and the drop of A right behind its raise.
        senders = [threading.Thread(target=post, args=(url, event)) for event in (red_a, red_b)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        post(url, alarm_event(vcenter, 'DC0_C0', old='red', new='green'))

        def done():
            workflows = state(state_file)
            b_done = key(vcsim, red_b) in workflows and workflows[key(vcsim, red_b)]['run']['status'] == 'finished'
            a_cancelled = key(vcsim, red_a) in workflows and cancelled(state_file, key(vcsim, red_a), A)
            return b_done and a_cancelled and off(vcenter) == sorted(A + B)
        wait_until(done, 240, 'both clusters relieved and A cancelled', process.log)
    # A's run completed before its drop cancelled it: its VMs are annotated with its run.
    a_started = {annotation(vcenter, vcenter.moid(name))['workflowStarted'] for name in A}
    assert {annotation(vcenter, vcenter.moid(name))['event']['id'] for name in A} == {red_a['id']}
    # The two raises ran at once: their runs started less than one power-off apart.
    [a_started] = a_started
    b_started = state(state_file)[key(vcsim, red_b)]['run']['started']
    assert abs((parse_timestamp(a_started) - parse_timestamp(b_started)).total_seconds()) < POWER_OFF_MS / 1000
