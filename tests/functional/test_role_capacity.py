# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""preemption_capacity_target through the real ansible-playbook and ansible-rulebook against the simulator.

Cluster DC0_C0 (2 hosts) runs DC0_C0_RP0_VM0..3, all tagged preemptible; the harness sets
their usage and the cluster's: 9,200 of 10,000 MHz (92%), 16,384 of 32,768 MB.
DC0_C0_RP0_VM2 has priority 5, the others 0.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.support.preempt_helpers import FIELD, PRIORITY_FIELD, alarm_event, annotation, off, playbook, power_on_all, state, tag_vms
from tests.support.machine import free_port
from tests.support.rulebook_cli import RULEBOOKS, Rulebook, wait_until
from tests.functional.test_rulebook import TOKEN, post

VCSIM_OPTIONS = dict(vms=4, hosts=2)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_C0_RP0_VM2', 'DC0_C0_RP0_VM3']
VM_USAGE = {'DC0_C0_RP0_VM0': (3000, 4096), 'DC0_C0_RP0_VM1': (1000, 1024), 'DC0_C0_RP0_VM2': (2000, 2048), 'DC0_C0_RP0_VM3': (500, 8192)}
CLUSTER = {'cpu_mhz': 9200, 'memory_mb': 16384, 'cpu_capacity_mhz': 10000, 'memory_capacity_mb': 32768}
EVENT_TYPE = 'com.vmware.workflows.vsphere.VmPreemptedEvent.v0'


@pytest.fixture(scope='module')
def moids(vcsim, vcenter):
    names = tag_vms(vcenter, TAGGED)
    vcenter.add_custom_field(FIELD)
    vcenter.add_custom_field(PRIORITY_FIELD)
    vcenter.set_custom_value(names['DC0_C0_RP0_VM2'], PRIORITY_FIELD, '5')
    vcsim.set_usage(vms={name: {'cpu_mhz': cpu, 'memory_mb': mem} for name, (cpu, mem) in VM_USAGE.items()})
    return names


@pytest.fixture
def vms(vcsim, vcenter, moids):
    """Every VM on and unannotated, the cluster at 92% CPU."""
    power_on_all(vcenter)
    for name in TAGGED:
        vcenter.set_custom_value(moids[name], FIELD, '')
    vcsim.set_usage(clusters={'DC0_C0': CLUSTER})
    return moids


def preempt(vcsim, vcenter, tmp_path, target, check=False, **variables):
    variables.setdefault('preemption_state_file', str(tmp_path / 'state.json'))
    variables.setdefault('preemption_event', alarm_event(vcenter, 'DC0_C0'))
    return playbook('preempt', vcsim.env(), dict(variables, preemption_capacity_target=target,
                                                 preemption_priority_attribute=PRIORITY_FIELD), check=check)


def stats(run, vcsim):
    return run.stats['127.0.0.1:%d' % vcsim.port]


def test_cluster_over_target_loses_exactly_the_selected_vms(vcsim, vcenter, vms, sink, tmp_path):
    # 92% -> 75% of 10,000 MHz: 1,700 MHz. DC0_C0_RP0_VM0 (priority 0, 3,000 MHz) alone; the cap-only mode would take 4.
    run = preempt(vcsim, vcenter, tmp_path, {'cpu_percent': 75}, preemption_reply_to=sink.url)
    assert run.rc == 0, run
    assert off(vcenter) == ['DC0_C0_RP0_VM0']
    value = annotation(vcenter, vms['DC0_C0_RP0_VM0'])
    assert value['usage'] == {'cpu_mhz': 3000, 'memory_mb': 4096} and value['preempted'] is True
    sink.wait_for(1)
    [event] = sink.events
    assert event['type'] == EVENT_TYPE
    assert event['data']['usage'] == {vms['DC0_C0_RP0_VM0']: {'cpu_mhz': 3000, 'memory_mb': 4096}}
    assert event['data']['virtualMachines'] == [{'Type': 'VirtualMachine', 'Value': vms['DC0_C0_RP0_VM0']}]
    assert event['data']['capacity']['to_free'] == {'cpu_mhz': 1700, 'memory_mb': 0}
    assert 'freed 3,000 MHz with 1 VM; CPU usage 92% -> 62% of 10,000 MHz (target cpu_percent 75)' in run.summary(), run.summary()
    published = stats(run, vcsim)
    assert published['capacity']['freed'] == {'cpu_mhz': 3000, 'memory_mb': 4096}
    assert published['capacity']['shortfall'] == {'cpu_mhz': 0, 'memory_mb': 0}
    [record] = state(tmp_path / 'state.json').values()
    assert record['run']['results']['capacity']['usage'] == {'cpu_mhz': 9200, 'memory_mb': 16384}
    # status shows what the run freed.
    status = playbook('status', vcsim.env(), {'preemption_state_file': str(tmp_path / 'state.json'),
                                              'preemption_workflow_id': 'cluster-cpu-above-80'})
    assert status.rc == 0, status
    [lines] = [result['msg'] for result in status.results("Show the workflow's record")]
    assert 'freed 3,000 MHz' in ' '.join(lines), lines


def test_cluster_under_target_loses_none(vcsim, vcenter, vms, tmp_path):
    run = preempt(vcsim, vcenter, tmp_path, {'cpu_percent': 95})
    assert run.rc == 0, run
    assert off(vcenter) == []
    assert 'CPU 92% of 10,000 MHz is at or below the target (cpu_percent 95): nothing to free' in run.summary(), run.summary()
    assert 'no powered-on VM' not in run.summary()


def test_shortfall_preempts_what_it_may_and_says_by_how_much(vcsim, vcenter, vms, tmp_path):
    # 92% -> 20%: 7,200 MHz; all four VMs free 6,500.
    run = preempt(vcsim, vcenter, tmp_path, {'cpu_percent': 20})
    assert run.rc == 0, run
    assert off(vcenter) == sorted(TAGGED)
    assert 'SHORT of the target by 700 MHz' in run.summary(), run.summary()
    assert stats(run, vcsim)['capacity']['shortfall'] == {'cpu_mhz': 700, 'memory_mb': 0}


def test_check_mode_says_what_it_would_free_and_changes_nothing(vcsim, vcenter, vms, tmp_path):
    # 5,000 MHz: the priority 0 VMs free 4,500, so DC0_C0_RP0_VM2 (priority 5) joins and makes VM1 and VM3 unnecessary.
    run = preempt(vcsim, vcenter, tmp_path, {'cpu_mhz': 5000}, check=True)
    assert run.rc == 0, run
    assert off(vcenter) == []
    assert not os.path.exists(tmp_path / 'state.json')
    summary = run.summary()
    assert summary.startswith('[check mode, nothing changed]')
    assert 'would power off 2 VMs: DC0_C0_RP0_VM0' in summary and 'DC0_C0_RP0_VM2' in summary, summary
    assert 'would free 5,000 MHz with 2 VMs; CPU usage 92% -> 42% of 10,000 MHz (target cpu_mhz 5000)' in summary, summary


def test_a_target_needs_a_cluster_or_host_scope_and_nothing_is_powered_off(vcsim, vcenter, vms, tmp_path):
    run = preempt(vcsim, vcenter, tmp_path, {'cpu_percent': 75}, preemption_scope='all')
    assert run.rc != 0
    assert any('preemption_capacity_target needs a scope with a capacity' in failure and 'all of vCenter' in failure
               for failure in run.failures()), run
    assert off(vcenter) == []


def test_a_cluster_without_reported_usage_fails_before_any_power_off(vcsim, vcenter, vms, tmp_path):
    vcsim.set_usage(clusters={'DC0_C0': {'cpu_mhz': 0, 'memory_mb': 0}})
    run = preempt(vcsim, vcenter, tmp_path, {'cpu_percent': 75}, preemption_retries=0)
    assert run.rc != 0
    assert any('no usage' in failure for failure in run.failures()), run
    assert off(vcenter) == []


def test_no_target_behaves_as_before(vcsim, vcenter, vms, tmp_path):
    run = preempt(vcsim, vcenter, tmp_path, {}, preemption_max_vms=3)
    assert run.rc == 0, run
    # Cap-only: the three lowest priority VMs by name, whatever they use.
    assert off(vcenter) == ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_C0_RP0_VM3']
    assert 'usage' not in annotation(vcenter, vms['DC0_C0_RP0_VM0'])
    assert 'capacity' not in stats(run, vcsim)
    assert 'MHz' not in run.summary()


def test_the_rulebook_passes_the_alarms_target(vcsim, vcenter, vms, tmp_path):
    port = free_port()
    state_file = tmp_path / 'rulebook-state.json'
    variables = {'preemption_alarm_name': 'cluster-cpu-above-80', 'preemption_webhook_token': TOKEN, 'preemption_webhook_port': port,
                 'preemption_webhook_host': '127.0.0.1', 'preemption_state_file': str(state_file),
                 'preemption_priority_attribute': PRIORITY_FIELD, 'preemption_capacity_target': {'cpu_percent': 75}}
    with Rulebook(os.path.join(RULEBOOKS, 'preemption.yml'), variables, tmp_path, env=vcsim.env()) as process:
        process.wait_for_port(port)
        assert post('http://127.0.0.1:%d/' % port, alarm_event(vcenter, 'DC0_C0')) == 200

        def finished():
            if not state_file.exists():
                return None
            records = list(json.loads(state_file.read_text() or '{}').get('workflows', {}).values())
            return records and records[0]['run']['status'] == 'finished' and records[0]['run']
        run = wait_until(finished, 180, 'the run to finish', process.log)
    assert off(vcenter) == ['DC0_C0_RP0_VM0']
    assert run['results']['capacity']['target'] == {'cpu_percent': 75.0}


def test_restore_brings_back_only_what_fits(vcsim, vcenter, vms, tmp_path):
    # 5,000 MHz: DC0_C0_RP0_VM0 (3,000) and DC0_C0_RP0_VM2 (priority 5, 2,000) go off.
    event = alarm_event(vcenter, 'DC0_C0')
    run = preempt(vcsim, vcenter, tmp_path, {'cpu_mhz': 5000}, preemption_event=event)
    assert run.rc == 0, run
    assert off(vcenter) == ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM2']
    cluster = event['data']['ComputeResource']['ComputeResource']['Value']
    # vCenter's statistics catch up: 4,200 of 10,000 MHz. Up to 75%: VM2 (highest priority) makes 6,200 and
    # fits; VM0 would make 9,200 and waits.
    vcsim.set_usage(clusters={'DC0_C0': {'cpu_mhz': 4200}})
    variables = {'preemption_state_file': str(tmp_path / 'state.json'), 'preemption_workflow_id': 'cluster-cpu-above-80',
                 'preemption_scope': cluster, 'preemption_threshold': 0, 'preemption_priority_attribute': PRIORITY_FIELD,
                 'preemption_capacity_target': {'cpu_percent': 75}}
    check = playbook('restore', vcsim.env(), variables, check=True)
    assert check.rc == 0, check
    assert off(vcenter) == ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM2']
    assert 'would restore 1 VM: DC0_C0_RP0_VM2' in check.summary(), check.summary()
    restore = playbook('restore', vcsim.env(), variables)
    assert restore.rc == 0, restore
    assert off(vcenter) == ['DC0_C0_RP0_VM0']
    summary = restore.summary()
    assert 'restored 1 VM: DC0_C0_RP0_VM2' in summary, summary
    assert '1 wait for capacity' in summary and 'DC0_C0_RP0_VM0 (%s, used 3000 MHz, 4096 MB)' % vms['DC0_C0_RP0_VM0'] in summary, summary
    assert [vm['moid'] for vm in stats(restore, vcsim)['waiting']] == [vms['DC0_C0_RP0_VM0']]
    # The capacity returns: the next restore brings the rest.
    vcsim.set_usage(clusters={'DC0_C0': {'cpu_mhz': 3000}})
    again = playbook('restore', vcsim.env(), variables)
    assert again.rc == 0, again
    assert off(vcenter) == []
