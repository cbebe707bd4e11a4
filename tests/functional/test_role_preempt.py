# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The playbook vsphere.preemption.preempt (and status, cancel) run by the real ansible-playbook against the simulator:
scope, cap and priority, annotation and CloudEvent, threshold, power-off failures, simultaneous runs, check mode, bad input.

Inventory: clusters DC0_C0 and DC0_C1 with three VMs each, and the standalone host
DC0_H0 with three VMs. Tagged preemptible: two VMs of DC0_C0, one of DC0_C1, one
on DC0_H0; DC0_C0_RP0_VM2 is in DC0_C0 and untagged. Only DC0_C0_RP0_VM0 runs
VMware Tools, so only it can be shut down softly.
"""

from __future__ import annotations

import pytest

from tests.support.machine import free_port
from tests.support.preempt_helpers import (
    FIELD,
    PRIORITY_FIELD,
    alarm_event,
    annotation,
    finish,
    off,
    playbook,
    power_on_all,
    start_playbook,
    state,
)

VCSIM_OPTIONS = dict(vms=3, hosts=2, clusters=2, tools_running=['DC0_C0_RP0_VM0'])
CUSTOM_FIELDS = (FIELD, PRIORITY_FIELD)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_C1_RP0_VM0', 'DC0_H0_VM0']
EVENT_TYPE = 'com.vmware.workflows.vsphere.VmPreemptedEvent.v0'


@pytest.fixture
def vms(vcenter, moids):
    """Every VM powered on before the test; {name: moid} of every VM, tagged or not."""
    power_on_all(vcenter)
    return {vm['name']: vm['moid'] for vm in vcenter.vms()}


def preempt(vcsim, tmp_path, check=False, env=None, **variables):
    variables.setdefault('preemption_state_file', str(tmp_path / 'state.json'))
    return playbook('preempt', dict(vcsim.env(), **(env or {})), variables, check=check)


def test_a_red_alarm_powers_off_the_tagged_vms_of_its_cluster(vcsim, vcenter, vms, sink, tmp_path):
    event = alarm_event(vcenter, 'DC0_C0')
    run = preempt(vcsim, tmp_path, preemption_event=event, preemption_reply_to=sink.url)
    assert run.rc == 0, run
    # Tagged and in DC0_C0 only: not the untagged DC0_C0_RP0_VM2, not the tagged VMs elsewhere.
    assert off(vcenter) == ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1']

    [record] = state(tmp_path / 'state.json').values()
    run_record = record['run']
    assert run_record['status'] == 'finished'
    for name in ('DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1'):
        assert annotation(vcenter, vms[name]) == {
            'preempted': True, 'tag': 'preemptible', 'forcedShutdown': True, 'criticality': 'HIGH',
            'workflowID': 'cluster-cpu-above-80', 'scope': event['data']['ComputeResource']['ComputeResource']['Value'],
            'workflowStarted': run_record['started'], 'runID': run_record['run_id'], 'event': event}
    assert annotation(vcenter, vms['DC0_C0_RP0_VM2']) is None

    sink.wait_for(1)
    [received] = sink.events
    assert received['id'] == 'cluster-cpu-above-80-' + event['id']
    assert received['type'] == EVENT_TYPE
    assert received['source'] == '/vsphere.preemption/127.0.0.1:%d' % vcsim.port
    assert received['datacontenttype'] == 'application/json'
    assert received['data'] == dict(annotation(vcenter, vms['DC0_C0_RP0_VM0']), virtualMachines=[
        {'Type': 'VirtualMachine', 'Value': vms['DC0_C0_RP0_VM0']}, {'Type': 'VirtualMachine', 'Value': vms['DC0_C0_RP0_VM1']}])

    cluster = event['data']['ComputeResource']['ComputeResource']['Value']
    assert run.summary().startswith("HIGH preemption cluster-cpu-above-80 on 127.0.0.1:%d (hard; alarm 'cluster-cpu-above-80' "
                                    "green -> red; scope %s): powered off 2 VMs: DC0_C0_RP0_VM0" % (vcsim.port, cluster))
    stats = run.stats['127.0.0.1:%d' % vcsim.port]
    assert (stats['status'], stats['run_id'], stats['event_id']) == ('finished', run_record['run_id'], received['id'])
    assert [vm['moid'] for vm in stats['powered_off']] == [vms['DC0_C0_RP0_VM0'], vms['DC0_C0_RP0_VM1']]

    # A second trigger inside the threshold: skipped, nothing powered off, no second event.
    power_on_all(vcenter)
    again = preempt(vcsim, tmp_path, preemption_event=alarm_event(vcenter, 'DC0_C0'), preemption_reply_to=sink.url, preemption_threshold=3600)
    assert again.rc == 0, again
    assert 'skipped' in again.summary() and 'threshold 3600 s' in again.summary()
    assert off(vcenter) == []
    assert len(sink.requests) == 1

    # status shows the record; cancel forgets it, after which a trigger proceeds at once.
    status = playbook('status', vcsim.env(), {'preemption_state_file': str(tmp_path / 'state.json'), 'preemption_event': event})
    assert status.rc == 0, status
    [lines] = [result['msg'] for result in status.results("Show the workflow's record")]
    scope = event['data']['ComputeResource']['ComputeResource']['Value']
    assert lines[0].startswith('Workflow cluster-cpu-above-80 (scope %s) on 127.0.0.1:%d: 1 run' % (scope, vcsim.port))
    assert 'CloudEvent %s sent' % received['id'] in lines[1]
    cancel = playbook('cancel', vcsim.env(), {'preemption_state_file': str(tmp_path / 'state.json'),
                                              'preemption_workflow_id': 'cluster-cpu-above-80'})
    assert cancel.rc == 0, cancel
    # The runs and the threshold are forgotten; the ledger stays (the VMs were powered on by hand since: a restore
    # would find them no longer ours).
    [record] = state(tmp_path / 'state.json').values()
    assert 'run' not in record and sorted(entry['name'] for entry in record['ledger']) == ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1']
    third = preempt(vcsim, tmp_path, preemption_event=alarm_event(vcenter, 'DC0_C0'))
    assert third.rc == 0, third
    assert off(vcenter) == ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1']


def test_the_cap_takes_the_lowest_priority_first(vcsim, vcenter, vms, tmp_path):
    vcenter.set_custom_value(vms['DC0_C0_RP0_VM0'], PRIORITY_FIELD, '5')
    run = preempt(vcsim, tmp_path, preemption_criticality='high', preemption_scope='all', preemption_max_vms=2,
                  preemption_priority_attribute=PRIORITY_FIELD)
    assert run.rc == 0, run
    # Priority 0 for the others, by name: DC0_C0_RP0_VM1, DC0_C1_RP0_VM0, DC0_H0_VM0; DC0_C0_RP0_VM0 (5) last.
    assert off(vcenter) == ['DC0_C0_RP0_VM1', 'DC0_C1_RP0_VM0']
    assert '2 more left running (max_vms 2)' in run.summary()
    [record] = state(tmp_path / 'state.json').values()
    assert annotation(vcenter, vms['DC0_C1_RP0_VM0'])['workflowID'] == 'manual'
    assert annotation(vcenter, vms['DC0_C1_RP0_VM0'])['runID'] == record['run']['run_id']
    assert annotation(vcenter, vms['DC0_C1_RP0_VM0'])['event'] is None


def test_vms_that_cannot_be_powered_off_fail_the_run_after_the_others_are_reported(vcsim, vcenter, vms, sink, tmp_path):
    run = preempt(vcsim, tmp_path, preemption_event=alarm_event(vcenter, 'DC0_C0'), preemption_criticality='LOW',
                  preemption_reply_to=sink.url, preemption_retries=1, preemption_retry_delay=0)
    assert run.rc == 2, run
    # LOW is a guest shutdown: DC0_C0_RP0_VM0 runs VMware Tools, DC0_C0_RP0_VM1 does not, on both attempts.
    assert off(vcenter) == ['DC0_C0_RP0_VM0']
    # A VM without VMware Tools gets none by another attempt: not retryable, tried once whatever preemption_retries.
    assert run.failures()[-1].startswith('Could not power off 1 of 2 VMs after 1 attempt: Could not power off 1 of 2 VMs: %s (DC0_C0_RP0_VM1): '
                                         % vms['DC0_C0_RP0_VM1'])
    assert 'FAILED to power off 1: DC0_C0_RP0_VM1 (%s): ' % vms['DC0_C0_RP0_VM1'] in run.summary()
    assert annotation(vcenter, vms['DC0_C0_RP0_VM0'])['forcedShutdown'] is False
    assert annotation(vcenter, vms['DC0_C0_RP0_VM0'])['criticality'] == 'LOW'
    [received] = sink.events
    assert received['data']['virtualMachines'] == [{'Type': 'VirtualMachine', 'Value': vms['DC0_C0_RP0_VM0']}]
    [record] = state(tmp_path / 'state.json').values()
    assert record['run']['status'] == 'finished'
    assert [vm['moid'] for vm in record['run']['results']['failed']] == [vms['DC0_C0_RP0_VM1']]


def test_check_mode_reports_and_changes_nothing(vcsim, vcenter, vms, sink, tmp_path):
    before = {name: vcenter.custom_value(moid, FIELD) for name, moid in vms.items()}
    run = preempt(vcsim, tmp_path, check=True, preemption_event=alarm_event(vcenter, 'DC0_C1', old='gray', new='yellow'),
                  preemption_reply_to=sink.url)
    assert run.rc == 0, run
    summary = run.summary()
    assert summary.startswith('[check mode, nothing changed] MEDIUM preemption cluster-cpu-above-80')
    # MEDIUM tries a guest shutdown first, but the simulated VM runs no VMware Tools: straight to a hard power-off.
    assert 'would power off 1 VM: DC0_C1_RP0_VM0 (%s, hard)' % vms['DC0_C1_RP0_VM0'] in summary
    assert 'would send CloudEvent cluster-cpu-above-80-' in summary
    assert off(vcenter) == []
    assert not (tmp_path / 'state.json').exists()
    assert {name: vcenter.custom_value(moid, FIELD) for name, moid in vms.items()} == before
    assert sink.requests == []


def test_a_dropped_alarm_cancels_and_powers_off_nothing(vcsim, vcenter, vms, tmp_path):
    first = preempt(vcsim, tmp_path, preemption_event=alarm_event(vcenter, 'DC0_C1'))
    assert first.rc == 0, first
    assert off(vcenter) == ['DC0_C1_RP0_VM0']
    power_on_all(vcenter)
    dropped = preempt(vcsim, tmp_path, preemption_event=alarm_event(vcenter, 'DC0_C1', old='red', new='green'))
    assert dropped.rc == 0, dropped
    assert dropped.summary().startswith("Preemption cluster-cpu-above-80 on 127.0.0.1:%d cancelled (alarm 'cluster-cpu-above-80' "
                                        "red -> green): its threshold and pending work were forgotten; nothing powered off. "
                                        "1 VM remains off (its ledger): DC0_C1_RP0_VM0" % vcsim.port)
    assert off(vcenter) == []
    # The workflow's runs are forgotten; its ledger is kept (a VM powered on since is found no longer ours by a restore).
    [record] = state(tmp_path / 'state.json').values()
    assert 'run' not in record and [entry['name'] for entry in record['ledger']] == ['DC0_C1_RP0_VM0']
    # One plan: preempt_plan planned the cancel itself (the records to forget included), so the role did not plan again.
    [plan] = dropped.results('Check the request and plan the run')
    assert plan['state_keys'] == [plan['state_key']] and plan['mode'] is None


def test_two_simultaneous_runs_preempt_once(vcsim, vcenter, vms, sink, tmp_path):
    event = alarm_event(vcenter, 'DC0_C0')
    variables = dict(preemption_state_file=str(tmp_path / 'state.json'), preemption_event=event, preemption_reply_to=sink.url,
                     preemption_threshold=3600)
    procs = [start_playbook('preempt', vcsim.env(), variables), start_playbook('preempt', vcsim.env(), variables)]
    runs = [finish(proc) for proc in procs]
    assert [run.rc for run in runs] == [0, 0], runs
    summaries = sorted(run.summary() for run in runs)
    assert summaries[0].startswith('HIGH preemption cluster-cpu-above-80')
    # The same trigger event twice: the second is a duplicate, whatever the threshold.
    assert 'Duplicate event' in summaries[1]
    assert off(vcenter) == ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1']
    assert len(sink.requests) == 1
    [record] = state(tmp_path / 'state.json').values()
    assert record['runs'] == 1


@pytest.mark.parametrize('variables, message', [
    ({'preemption_criticality': 'SUPER'}, "preemption_criticality 'SUPER' is not valid: use LOW, MEDIUM or HIGH (any case)."),
    ({'preemption_criticality': 'HIGH', 'preemption_max_vms': 0}, 'preemption_max_vms 0 is not valid: an integer from 1 to 1000.'),
    ({'preemption_criticality': 'HIGH', 'preemption_scope': {'name': 'cluster-7'}}, 'preemption_scope {"name": "cluster-7"} is not valid: use \'event\''),
    ({'preemption_event': {'id': 'x', 'data': {'Alarm': {'Name': 'a'}, 'From': 'green', 'To': 'purple'}}},
     'preemption_event {"To": "purple"} is not valid: data.To of an alarm event must be one of green, yellow, red, gray.'),
    ({}, 'preemption_criticality is required (LOW, MEDIUM or HIGH) unless preemption_event is a vCenter alarm'),
])
def test_bad_input_fails_clearly_before_any_vcenter_call(vcsim, vcenter, vms, tmp_path, variables, message):
    # A vCenter that does not listen: any call to it would fail with a connection error instead.
    run = preempt(vcsim, tmp_path, env={'VMWARE_PORT': str(free_port())}, **variables)
    assert run.rc == 2, run
    assert len(run.failures()) == 1
    assert run.failures()[0].startswith(message)
    assert off(vcenter) == []
    assert not (tmp_path / 'state.json').exists()
