# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vsphere.preemption.power_off run by the real ansible CLI against the simulator.

Each test powers on (or off) the VMs it needs first: they pass in any order.
"""

from __future__ import annotations

import pytest
from pyVmomi import vim

from tests.support.ansible_cli import run_module
from tests.support.vcenter_events import last_event_key, power_event_times

MODULE = 'vsphere.preemption.power_off'
DELAY_MS = 500
TOOLS = ['DC0_C0_RP0_VM5', 'DC0_H0_VM5']
# Six VMs per pool: DC0_C0_RP0_VM0..5 in the cluster, DC0_H0_VM0..5 on the standalone host; every PowerOffVM_Task
# takes DELAY_MS, so how many run at once shows in the times vCenter records them.
VCSIM_OPTIONS = dict(vms=6, hosts=2, tools_running=TOOLS, method_delay={'PowerOffVM_Task': DELAY_MS})
NO_TOOLS = ['DC0_C0_RP0_VM%d' % i for i in range(5)] + ['DC0_H0_VM%d' % i for i in range(5)]


@pytest.fixture(scope='module')
def moids(vcenter):
    return {vm['name']: vm['moid'] for vm in vcenter.vms()}


def power_off(vcsim, check=False, env=None, **args):
    return run_module(MODULE, args, env=dict(vcsim.env(), **(env or {})), check=check)


def powered_on(vcenter, moids, names):
    """The moids of ``names``, each powered on."""
    for name in names:
        vcenter.power_on(moids[name])
    return [moids[name] for name in names]


def test_check_mode_reports_and_touches_nothing(vcsim, vcenter, moids):
    names = ['DC0_C0_RP0_VM5', 'DC0_C0_RP0_VM0']
    powered_on(vcenter, moids, names)
    result = power_off(vcsim, check=True, vms=[moids[n] for n in names], mode='soft_then_hard')
    assert result['_rc'] == 0, result
    assert result['changed'] is True
    assert result['preempted'] == [{'moid': moids['DC0_C0_RP0_VM5'], 'name': 'DC0_C0_RP0_VM5', 'method': 'soft'},
                                   {'moid': moids['DC0_C0_RP0_VM0'], 'name': 'DC0_C0_RP0_VM0', 'method': 'hard'}]
    assert (result['already_off'], result['failed_vms']) == ([], [])
    assert not result.get('failed')
    assert [vcenter.power_state(moids[n]) for n in names] == ['poweredOn', 'poweredOn']


def test_hard_power_off_runs_at_most_parallel_tasks_at_once(vcsim, vcenter, moids):
    targets = powered_on(vcenter, moids, NO_TOOLS)
    before = last_event_key(vcenter)
    result = power_off(vcsim, vms=targets, mode='hard', parallel=5)
    assert result['_rc'] == 0, result
    assert result['changed'] is True
    assert result['preempted'] == [{'moid': moids[n], 'name': n, 'method': 'hard'} for n in NO_TOOLS]
    assert {vcenter.power_state(m) for m in targets} == {'poweredOff'}
    times = power_event_times(vcenter, 'VmPoweredOffEvent', set(targets), before)
    assert len(times) == 10
    # Each worker waits DELAY_MS inside every PowerOffVM_Task it calls, so with at most 5 workers
    # any 6 consecutive power-offs span at least DELAY_MS (two of them come from the same worker) ...
    assert min((times[i + 5] - times[i]).total_seconds() for i in range(5)) >= DELAY_MS / 1000.0 * 0.98
    # ... and calls did overlap: done one at a time, every gap would be at least DELAY_MS.
    assert min((times[i + 1] - times[i]).total_seconds() for i in range(9)) < DELAY_MS / 1000.0 / 2


def test_an_already_off_vm_is_not_a_change(vcsim, vcenter, moids):
    vcenter.power_off(moids['DC0_H0_VM0'])
    result = power_off(vcsim, vms=[moids['DC0_H0_VM0']], mode='hard')
    assert result['_rc'] == 0, result
    assert result['changed'] is False
    assert result['already_off'] == [{'moid': moids['DC0_H0_VM0'], 'name': 'DC0_H0_VM0'}]
    assert (result['preempted'], result['failed_vms']) == ([], [])


def test_soft_without_tools_fails_then_soft_then_hard_powers_it_off_hard(vcsim, vcenter, moids):
    [vm] = powered_on(vcenter, moids, ['DC0_C0_RP0_VM1'])
    soft = power_off(vcsim, vms=[vm], mode='soft', grace_period=5)
    assert soft['_rc'] != 0 and soft['failed'] is True
    assert soft['failed_vms'] == [{'moid': vm, 'name': 'DC0_C0_RP0_VM1', 'msg': 'VMware Tools not running, so no guest '
                                   'shutdown is possible; use mode soft_then_hard or hard'}]
    assert (soft['preempted'], soft['already_off'], soft['changed']) == ([], [], False)
    assert soft['msg'] == ('Could not power off 1 of 1 VMs: %s (DC0_C0_RP0_VM1): VMware Tools not running, so no guest '
                           'shutdown is possible; use mode soft_then_hard or hard' % vm)
    assert vcenter.power_state(vm) == 'poweredOn'
    escalated = power_off(vcsim, vms=[vm], mode='soft_then_hard', grace_period=5)
    assert escalated['_rc'] == 0, escalated
    assert escalated['preempted'] == [{'moid': vm, 'name': 'DC0_C0_RP0_VM1', 'method': 'hard'}]
    assert vcenter.power_state(vm) == 'poweredOff'


def test_soft_with_tools_running_is_a_guest_shutdown(vcsim, vcenter, moids):
    targets = powered_on(vcenter, moids, TOOLS)
    before = last_event_key(vcenter)
    result = power_off(vcsim, vms=targets, mode='soft', parallel=2)
    assert result['_rc'] == 0, result
    assert result['preempted'] == [{'moid': moids[n], 'name': n, 'method': 'soft'} for n in TOOLS]
    assert {vcenter.power_state(moids[n]) for n in TOOLS} == {'poweredOff'}
    spec = vim.event.EventFilterSpec(eventTypeId=['VmGuestShutdownEvent'], maxCount=100)
    shut_down = {e.vm.vm._moId for e in vcenter.content.eventManager.QueryEvents(spec) if e.key > before}
    assert shut_down == {moids[n] for n in TOOLS}


def test_an_unknown_moid_fails_and_the_others_are_powered_off(vcsim, vcenter, moids):
    [vm] = powered_on(vcenter, moids, ['DC0_C0_RP0_VM2'])
    result = power_off(vcsim, vms=['vm-99999', vm], mode='hard')
    assert result['_rc'] != 0 and result['failed'] is True and result['changed'] is True
    assert result['preempted'] == [{'moid': vm, 'name': 'DC0_C0_RP0_VM2', 'method': 'hard'}]
    assert result['failed_vms'] == [{'moid': 'vm-99999', 'name': None,
                                     'msg': 'no VM with this moid in vCenter (vms takes managed object ids such as vm-42, not names)'}]
    assert result['msg'].startswith('Could not power off 1 of 2 VMs: vm-99999 (no such VM): no VM with this moid')
    assert vcenter.power_state(vm) == 'poweredOff'


@pytest.mark.parametrize('args, message', [
    ({'vms': []}, 'vms must list at least one VM moid.'),
    ({'vms': ['vm-1', ' ']}, 'vms must not contain empty moids.'),
    ({'vms': ['vm-1'], 'parallel': 0}, 'parallel must be between 1 and 50, not 0.'),
    ({'vms': ['vm-1'], 'parallel': 51}, 'parallel must be between 1 and 50, not 51.'),
    ({'vms': ['vm-1'], 'grace_period': -1}, 'grace_period must be 0 or more seconds, not -1.'),
])
def test_bad_input_fails_before_vcenter_is_touched(vcsim, args, message):
    # Port 1 refuses connections: reaching vCenter would fail with another message.
    result = power_off(vcsim, env={'VMWARE_PORT': '1'}, **args)
    assert result['failed'] is True
    assert result['msg'] == message


def test_wrong_password_is_one_line_without_the_password(vcsim, moids):
    result = power_off(vcsim, env={'VMWARE_PASSWORD': 'Wr0ng-Secret'}, vms=[moids['DC0_C0_RP0_VM3']], mode='hard')
    assert result['failed'] is True
    assert result['msg'] == "vCenter 127.0.0.1:%d refused the login of user 'user': wrong user name or password." % vcsim.port
    assert 'Wr0ng-Secret' not in result['msg'] + result['_stderr']
