# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import threading
import time

import pytest
from pyVmomi import vim

from ansible_collections.vsphere.preemption.plugins.module_utils._vm import power_off as power
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.power_off import AlreadyOff, PowerOffEngine, PowerOpError, VSpherePowerOps, plan


class FakeClock:
    """Time that moves only when a fake wait says so; thread-safe."""

    def __init__(self):
        self.now = 1000.0
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            return self.now

    def advance_to(self, moment):
        with self.lock:
            self.now = max(self.now, moment)


class FakeVM:
    def __init__(self, name, power_state='poweredOn', tools_running=False, off_after=None, shutdown_error=None,
                 task_error=None, task_seconds=0):
        self.name = name
        self.power_state = power_state
        self.tools_running = tools_running
        self.off_after = off_after          # seconds after ShutdownGuest the guest is off; None = never
        self.shutdown_error = shutdown_error
        self.task_error = task_error
        self.task_seconds = task_seconds    # how long the power-off task runs before it ends
        self.shutdown_at = None


class FakeOps:
    """PowerOffEngine's ops over FakeVMs, recording every call and the most calls ever in flight."""

    def __init__(self, vms, clock, call_seconds=0.0):
        self.vms = vms
        self.clock = clock
        self.call_seconds = call_seconds    # real time each call takes, so concurrent calls overlap
        self.calls = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.wait_error = None

    def _enter(self, name, *args):
        with self.lock:
            self.calls.append((name,) + args)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.call_seconds:
            time.sleep(self.call_seconds)

    def _leave(self):
        with self.lock:
            self.in_flight -= 1

    def count(self, name):
        return len([c for c in self.calls if c[0] == name])

    def describe(self, moids):
        self._enter('describe', tuple(moids))
        try:
            return {moid: {'name': vm.name, 'power_state': vm.power_state, 'tools_running': vm.tools_running}
                    for moid, vm in ((moid, self.vms.get(moid)) for moid in moids) if vm is not None}
        finally:
            self._leave()

    def shutdown_guest(self, moid):
        self._enter('shutdown_guest', moid)
        try:
            vm = self.vms[moid]
            if vm.shutdown_error == 'already_off':
                raise AlreadyOff()
            if vm.shutdown_error:
                raise _error(vm.shutdown_error)
            vm.shutdown_at = self.clock()
            if vm.off_after == 0:
                vm.power_state = 'poweredOff'
        finally:
            self._leave()

    def start_power_off(self, moid):
        self._enter('start_power_off', moid)
        try:
            return {'moid': moid, 'started': self.clock()}
        finally:
            self._leave()

    def wait_tasks(self, tasks, timeout):
        """Ends when the slowest task ends, or at the timeout."""
        self._enter('wait_tasks', tuple(tasks), timeout)
        try:
            if self.wait_error:
                raise self.wait_error
            states, ends = {}, []
            for moid, task in tasks.items():
                vm = self.vms[moid]
                if vm.task_seconds > timeout:
                    states[moid] = 'running'
                    ends.append(task['started'] + timeout)
                    continue
                ends.append(task['started'] + vm.task_seconds)
                if vm.task_error == 'already_off':
                    states[moid] = 'already_off'
                elif vm.task_error:
                    states[moid] = _error(vm.task_error)
                else:
                    vm.power_state = 'poweredOff'
                    states[moid] = 'success'
            self.clock.advance_to(max(ends))
            return states
        finally:
            self._leave()

    def wait_off(self, deadlines):
        """Ends when the last guest is off or at its deadline; each judged at its own deadline."""
        self._enter('wait_off', tuple(deadlines))
        try:
            if self.wait_error:
                raise self.wait_error
            states, ends = {}, []
            for moid, deadline in deadlines.items():
                vm = self.vms.get(moid)
                if vm is None:
                    states[moid] = None
                    continue
                off_at = vm.shutdown_at + vm.off_after if vm.off_after is not None else None
                if off_at is not None and off_at <= deadline:
                    vm.power_state = 'poweredOff'
                    ends.append(off_at)
                else:
                    ends.append(deadline)
                states[moid] = vm.power_state
            self.clock.advance_to(max(ends or [self.clock()]))
            return states
        finally:
            self._leave()


def _error(error):
    """A scripted error: a PowerOpError as given, or a message for a non-retryable one."""
    return error if isinstance(error, PowerOpError) else PowerOpError(error)


def engine(vms, clock=None, **kwargs):
    clock = clock or FakeClock()
    ops = FakeOps(vms, clock, call_seconds=kwargs.pop('call_seconds', 0.0))
    kwargs.setdefault('grace_period', 30)
    return PowerOffEngine(ops, clock=clock, **kwargs), ops, clock


# ---------------------------------------------------------------- plan (pure)

@pytest.mark.parametrize('vm, mode, expected', [
    (None, 'hard', 'failed'),
    ({'power_state': 'poweredOff', 'tools_running': False}, 'soft', 'already_off'),
    ({'power_state': 'poweredOff', 'tools_running': True}, 'hard', 'already_off'),
    ({'power_state': 'poweredOn', 'tools_running': True}, 'soft', 'soft'),
    ({'power_state': 'poweredOn', 'tools_running': True}, 'soft_then_hard', 'soft'),
    ({'power_state': 'poweredOn', 'tools_running': True}, 'hard', 'hard'),
    ({'power_state': 'poweredOn', 'tools_running': False}, 'soft', 'failed'),
    ({'power_state': 'poweredOn', 'tools_running': False}, 'soft_then_hard', 'hard'),
    ({'power_state': 'suspended', 'tools_running': True}, 'soft', 'failed'),
    ({'power_state': 'suspended', 'tools_running': True}, 'soft_then_hard', 'hard'),
    ({'power_state': 'suspended', 'tools_running': False}, 'hard', 'hard'),
])
def test_plan(vm, mode, expected):
    assert plan(vm, mode)[0] == expected


def test_plan_messages_say_why():
    assert 'VMware Tools not running' in plan({'power_state': 'poweredOn', 'tools_running': False}, 'soft')[1].msg
    assert 'suspended' in plan({'power_state': 'suspended', 'tools_running': False}, 'soft')[1].msg
    assert 'not names' in plan(None, 'soft')[1].msg


# ---------------------------------------------------------------- hard

def test_hard_waits_for_the_task_and_reports_hard():
    eng, ops, clock = engine({'vm-1': FakeVM('a', task_seconds=3)})
    assert eng.run(['vm-1'], 'hard') == {'preempted': [{'moid': 'vm-1', 'name': 'a', 'method': 'hard'}], 'already_off': [], 'failed': [],
                                         'retryable': False}
    # One wait, whatever the task takes: no polling.
    assert [c[0] for c in ops.calls] == ['describe', 'start_power_off', 'wait_tasks']
    assert clock() == 1003
    assert ops.vms['vm-1'].power_state == 'poweredOff'


def test_task_error_fails_with_the_vcenter_message():
    eng, _ops, _clock = engine({'vm-1': FakeVM('a', task_error='InvalidState: host not responding'), 'vm-2': FakeVM('b')})
    result = eng.run(['vm-1', 'vm-2'], 'hard')
    assert result['failed'] == [{'moid': 'vm-1', 'name': 'a', 'msg': 'InvalidState: host not responding'}]
    assert result['preempted'] == [{'moid': 'vm-2', 'name': 'b', 'method': 'hard'}]


def test_task_still_running_after_the_task_timeout_fails():
    eng, ops, clock = engine({'vm-1': FakeVM('a', task_seconds=10 ** 6)}, task_timeout=20)
    result = eng.run(['vm-1'], 'hard')
    assert result['failed'] == [{'moid': 'vm-1', 'name': 'a', 'msg': 'power-off task still running after 20 s'}]
    assert result['retryable'] is True
    assert clock() == 1020
    assert ops.calls[-1] == ('wait_tasks', ('vm-1',), 20)


def test_tasks_run_in_waves_of_parallel_each_awaited_once():
    vms = {'vm-%02d' % i: FakeVM('vm%d' % i, task_seconds=2) for i in range(7)}
    eng, ops, clock = engine(vms, parallel=3)
    assert len(eng.run(sorted(vms), 'hard')['preempted']) == 7
    waits = [c[1] for c in ops.calls if c[0] == 'wait_tasks']
    assert waits == [('vm-00', 'vm-01', 'vm-02'), ('vm-03', 'vm-04', 'vm-05'), ('vm-06',)]
    assert clock() == 1006


def test_a_failed_wait_fails_its_tasks_with_the_flag_of_the_error():
    eng, ops, _clock = engine({'vm-1': FakeVM('a'), 'vm-2': FakeVM('b')})
    ops.wait_error = PowerOpError('vCenter refused to report the progress of its tasks: NotAuthenticated', retryable=True)
    result = eng.run(['vm-1', 'vm-2'], 'hard')
    assert [f['msg'] for f in result['failed']] == ['power-off task state unknown: vCenter refused to report the progress of its '
                                                    'tasks: NotAuthenticated'] * 2
    assert result['retryable'] is True


def test_vm_found_off_by_the_task_is_already_off():
    eng, _ops, _clock = engine({'vm-1': FakeVM('a', task_error='already_off')})
    assert eng.run(['vm-1'], 'hard')['already_off'] == [{'moid': 'vm-1', 'name': 'a'}]


@pytest.mark.parametrize('parallel', [1, 3, 5])
def test_never_more_than_parallel_calls_in_flight(parallel):
    vms = {'vm-%d' % i: FakeVM('vm%d' % i, task_seconds=2) for i in range(12)}
    eng, ops, _clock = engine(vms, parallel=parallel, call_seconds=0.02)
    result = eng.run(sorted(vms), 'hard')
    assert len(result['preempted']) == 12
    assert ops.max_in_flight == parallel
    assert ops.count('start_power_off') == 12


def test_soft_then_hard_mixed_run_stays_within_parallel():
    vms = {'vm-%d' % i: FakeVM('vm%d' % i, tools_running=i % 2 == 0, off_after=None if i % 4 == 0 else 3) for i in range(12)}
    eng, ops, _clock = engine(vms, parallel=4, call_seconds=0.01, grace_period=10)
    result = eng.run(sorted(vms), 'soft_then_hard')
    assert len(result['preempted']) == 12 and not result['failed']
    assert ops.max_in_flight <= 4


# ---------------------------------------------------------------- soft

def test_soft_waits_until_the_guest_is_off():
    eng, ops, clock = engine({'vm-1': FakeVM('a', tools_running=True, off_after=5)})
    result = eng.run(['vm-1'], 'soft')
    assert result['preempted'] == [{'moid': 'vm-1', 'name': 'a', 'method': 'soft'}]
    assert clock() == 1005
    assert [c[0] for c in ops.calls] == ['describe', 'shutdown_guest', 'wait_off']
    assert ops.calls[-1] == ('wait_off', ('vm-1',))


def test_soft_reports_a_vm_still_on_after_the_grace_period_without_waiting_for_real():
    eng, ops, clock = engine({'vm-1': FakeVM('a', tools_running=True)}, grace_period=30)
    started = time.monotonic()
    result = eng.run(['vm-1'], 'soft')
    assert result['failed'] == [{'moid': 'vm-1', 'name': 'a', 'msg': 'still on 30 s after the guest shutdown request (grace_period)'}]
    assert result['preempted'] == []
    assert clock() == 1030
    assert ops.count('start_power_off') == 0
    assert time.monotonic() - started < 5


def test_a_guest_off_at_the_deadline_counts_as_off():
    eng, _ops, clock = engine({'vm-1': FakeVM('a', tools_running=True, off_after=7)}, grace_period=7)
    assert eng.run(['vm-1'], 'soft')['preempted'] == [{'moid': 'vm-1', 'name': 'a', 'method': 'soft'}]
    assert clock() == 1007


def test_grace_periods_run_at_the_same_time():
    vms = {'vm-%d' % i: FakeVM('vm%d' % i, tools_running=True) for i in range(6)}
    eng, ops, clock = engine(vms, parallel=2, grace_period=30)
    result = eng.run(sorted(vms), 'soft')
    assert len(result['failed']) == 6
    assert clock() == 1030
    # One wait for all of them, not one per VM.
    assert ops.count('wait_off') == 1 and ops.count('describe') == 1


def test_grace_period_zero_checks_once():
    eng, ops, _clock = engine({'vm-1': FakeVM('a', tools_running=True, off_after=0), 'vm-2': FakeVM('b', tools_running=True)},
                              grace_period=0)
    result = eng.run(['vm-1', 'vm-2'], 'soft')
    assert result['preempted'] == [{'moid': 'vm-1', 'name': 'a', 'method': 'soft'}]
    assert result['failed'] == [{'moid': 'vm-2', 'name': 'b', 'msg': 'still on 0 s after the guest shutdown request (grace_period)'}]
    assert ops.count('wait_off') == 1


def test_soft_without_tools_fails_and_touches_nothing():
    eng, ops, _clock = engine({'vm-1': FakeVM('a', tools_running=False)})
    result = eng.run(['vm-1'], 'soft')
    assert result['failed'][0]['msg'].startswith('VMware Tools not running')
    assert [c[0] for c in ops.calls] == ['describe']


def test_soft_shutdown_error_fails_in_soft_mode():
    eng, _ops, _clock = engine({'vm-1': FakeVM('a', tools_running=True, shutdown_error='ToolsUnavailable: no tools')})
    assert eng.run(['vm-1'], 'soft')['failed'] == [{'moid': 'vm-1', 'name': 'a', 'msg': 'ToolsUnavailable: no tools'}]


def test_soft_finds_the_vm_already_off():
    eng, _ops, _clock = engine({'vm-1': FakeVM('a', tools_running=True, shutdown_error='already_off')})
    assert eng.run(['vm-1'], 'soft')['already_off'] == [{'moid': 'vm-1', 'name': 'a'}]


def test_a_failed_wait_for_the_guests_is_reported_with_its_flag():
    eng, ops, _clock = engine({'vm-1': FakeVM('a', tools_running=True)}, grace_period=3)
    ops.wait_error = PowerOpError('connection reset', retryable=True)
    result = eng.run(['vm-1'], 'soft')
    assert result['failed'] == [{'moid': 'vm-1', 'name': 'a', 'msg': 'power state unknown after the guest shutdown request: connection reset'}]
    assert result['retryable'] is True


def test_vm_deleted_during_the_shutdown_fails():
    vms = {'vm-1': FakeVM('a', tools_running=True)}
    eng, ops, _clock = engine(vms)
    original = ops.shutdown_guest

    def shutdown_and_delete(moid):
        original(moid)
        del vms[moid]
    ops.shutdown_guest = shutdown_and_delete
    assert eng.run(['vm-1'], 'soft')['failed'] == [{'moid': 'vm-1', 'name': 'a', 'msg': 'VM no longer in vCenter'}]


# ---------------------------------------------------------------- soft_then_hard

def test_soft_then_hard_escalates_a_vm_still_on_and_reports_hard():
    eng, ops, clock = engine({'vm-1': FakeVM('a', tools_running=True), 'vm-2': FakeVM('b', tools_running=True, off_after=2)},
                             grace_period=10)
    result = eng.run(['vm-1', 'vm-2'], 'soft_then_hard')
    assert result['preempted'] == [{'moid': 'vm-1', 'name': 'a', 'method': 'hard'}, {'moid': 'vm-2', 'name': 'b', 'method': 'soft'}]
    assert result['failed'] == []
    assert ops.count('shutdown_guest') == 2
    assert [c[1] for c in ops.calls if c[0] == 'start_power_off'] == ['vm-1']
    assert clock() >= 1010


def test_soft_then_hard_goes_straight_to_hard_without_tools():
    eng, ops, clock = engine({'vm-1': FakeVM('a', tools_running=False)})
    assert eng.run(['vm-1'], 'soft_then_hard')['preempted'] == [{'moid': 'vm-1', 'name': 'a', 'method': 'hard'}]
    assert ops.count('shutdown_guest') == 0
    assert clock() == 1000


def test_soft_then_hard_escalates_a_shutdown_error():
    eng, _ops, _clock = engine({'vm-1': FakeVM('a', tools_running=True, shutdown_error='ToolsUnavailable: gone')})
    assert eng.run(['vm-1'], 'soft_then_hard')['preempted'] == [{'moid': 'vm-1', 'name': 'a', 'method': 'hard'}]


def test_soft_then_hard_failure_tells_both_reasons():
    busy = PowerOpError('TaskInProgress: busy', retryable=True)
    eng, _ops, _clock = engine({'vm-1': FakeVM('a', tools_running=True, task_error=busy)}, grace_period=1)
    result = eng.run(['vm-1'], 'soft_then_hard')
    assert result['failed'] == [{'moid': 'vm-1', 'name': 'a', 'msg': 'guest shutdown: still on 1 s after the guest shutdown '
                                                                     'request (grace_period); hard power-off: TaskInProgress: busy'}]


def test_a_guest_off_just_after_the_grace_period_counts_as_soft():
    eng, _ops, _clock = engine({'vm-1': FakeVM('a', tools_running=True, task_error='already_off')}, grace_period=1)
    assert eng.run(['vm-1'], 'soft_then_hard')['preempted'] == [{'moid': 'vm-1', 'name': 'a', 'method': 'soft'}]


# ---------------------------------------------------------------- shared behaviour

def test_already_off_vms_are_neither_preempted_nor_failed_and_not_touched():
    eng, ops, _clock = engine({'vm-1': FakeVM('a', power_state='poweredOff')})
    for mode in power.MODES:
        assert eng.run(['vm-1'], mode) == {'preempted': [], 'already_off': [{'moid': 'vm-1', 'name': 'a'}], 'failed': [],
                                           'retryable': False}
    assert {c[0] for c in ops.calls} == {'describe'}


def test_unknown_moid_fails_and_the_others_proceed():
    eng, _ops, _clock = engine({'vm-1': FakeVM('a')})
    result = eng.run(['vm-404', 'vm-1'], 'hard')
    assert result['preempted'] == [{'moid': 'vm-1', 'name': 'a', 'method': 'hard'}]
    assert result['failed'][0]['moid'] == 'vm-404' and result['failed'][0]['name'] is None
    assert 'no VM with this moid' in result['failed'][0]['msg']


def test_check_mode_reports_the_first_method_and_calls_nothing_but_describe():
    vms = {'vm-1': FakeVM('a', tools_running=True), 'vm-2': FakeVM('b'), 'vm-3': FakeVM('c', power_state='poweredOff')}
    eng, ops, _clock = engine(vms)
    result = eng.run(['vm-1', 'vm-2', 'vm-3', 'vm-404'], 'soft_then_hard', check_mode=True)
    assert result['preempted'] == [{'moid': 'vm-1', 'name': 'a', 'method': 'soft'}, {'moid': 'vm-2', 'name': 'b', 'method': 'hard'}]
    assert result['already_off'] == [{'moid': 'vm-3', 'name': 'c'}]
    assert [f['moid'] for f in result['failed']] == ['vm-404']
    assert [c[0] for c in ops.calls] == ['describe']
    assert [vm.power_state for vm in vms.values()] == ['poweredOn', 'poweredOn', 'poweredOff']


def test_check_mode_soft_reports_vms_without_tools_as_failing():
    eng, _ops, _clock = engine({'vm-1': FakeVM('a')})
    assert eng.run(['vm-1'], 'soft', check_mode=True)['failed'][0]['msg'].startswith('VMware Tools not running')


def test_duplicates_are_powered_off_once_and_results_follow_the_input_order():
    vms = {'vm-%d' % i: FakeVM('n%d' % i) for i in range(5)}
    eng, ops, _clock = engine(vms, parallel=5)
    order = ['vm-3', 'vm-1', 'vm-3', 'vm-4', 'vm-0', 'vm-1']
    assert [p['moid'] for p in eng.run(order, 'hard')['preempted']] == ['vm-3', 'vm-1', 'vm-4', 'vm-0']
    assert ops.count('start_power_off') == 4


def test_unknown_mode_is_rejected():
    eng, _ops, _clock = engine({})
    with pytest.raises(ValueError, match='mode must be one of soft, soft_then_hard, hard'):
        eng.run(['vm-1'], 'gentle')


# ---------------------------------------------------------------- pyvmomi adapter

class FakeVim:
    """Stands in for a pyvmomi VirtualMachine whose calls raise the given fault."""

    def __init__(self, fault):
        self.fault = fault

    def ShutdownGuest(self):
        raise self.fault

    def PowerOffVM_Task(self):
        raise self.fault


def adapter(monkeypatch, fake):
    ops = VSpherePowerOps.__new__(VSpherePowerOps)
    monkeypatch.setattr(ops, '_vm', lambda moid: fake, raising=False)
    return ops


def test_adapter_maps_invalid_power_state_off_to_already_off(monkeypatch):
    ops = adapter(monkeypatch, FakeVim(vim.fault.InvalidPowerState(existingState='poweredOff', requestedState='poweredOn')))
    with pytest.raises(AlreadyOff):
        ops.shutdown_guest('vm-1')
    with pytest.raises(AlreadyOff):
        ops.start_power_off('vm-1')


def test_adapter_turns_faults_into_one_line(monkeypatch):
    ops = adapter(monkeypatch, FakeVim(vim.fault.ToolsUnavailable(msg='VMware Tools is not running')))
    with pytest.raises(PowerOpError, match=r'^ToolsUnavailable: VMware Tools is not running$'):
        ops.shutdown_guest('vm-1')
    ops = adapter(monkeypatch, FakeVim(ConnectionResetError(104, 'Connection reset by peer')))
    with pytest.raises(PowerOpError, match='ConnectionResetError'):
        ops.start_power_off('vm-1')


def test_adapter_reads_task_outcomes():
    outcome = power.task_wait.TaskOutcome
    assert power._task_state(outcome('running', None)) == 'running'
    assert power._task_state(outcome('success', None)) == 'success'
    failed = power._task_state(outcome('error', vim.fault.InvalidState(msg='host is in maintenance')))
    assert isinstance(failed, PowerOpError) and str(failed) == 'InvalidState: host is in maintenance' and failed.retryable is False
    busy = power._task_state(outcome('error', vim.fault.TaskInProgress(msg='busy')))
    assert busy.retryable is True
    assert power._task_state(outcome('error', vim.fault.InvalidPowerState(existingState='poweredOff'))) == 'already_off'
    assert power._task_state(outcome(None, None)).retryable is True


def test_fault_text_without_message_is_the_fault_name():
    assert power.fault_text(vim.fault.InvalidPowerState()) == 'InvalidPowerState'
