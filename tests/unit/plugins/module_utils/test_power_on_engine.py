# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""PowerOnEngine with a fake ops: what is cleared, powered on, left alone, how many at once, what is retryable."""

from __future__ import annotations

import threading
import time

from ansible_collections.vsphere.preemption.plugins.module_utils._vm.power_off import Failure, PowerOpError
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.power_on import AlreadyOn, PowerOnEngine


class FakeOps:
    def __init__(self, vms, unclearable=(), power_errors=None, delay=0.0):
        self.vms = vms
        self.unclearable = unclearable
        self.power_errors = power_errors or {}
        self.delay = delay
        self.calls = []
        self.running = self.peak = 0
        self.lock = threading.Lock()

    def read(self, moids):
        self.calls.append(('read', list(moids)))
        return {m: dict(self.vms[m]) for m in moids if m in self.vms}

    def clear_notice(self, moids):
        self.calls.append(('clear', list(moids)))
        return {m: Failure('reconfigure refused', True) for m in moids if m in self.unclearable}

    def power_on(self, moid):
        with self.lock:
            self.calls.append(('power_on', moid))
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            time.sleep(self.delay)
            error = self.power_errors.get(moid)
            if error is not None:
                raise error
        finally:
            with self.lock:
                self.running -= 1


def vm(name, power_state='poweredOff', notice=None):
    return {'name': name, 'power_state': power_state, 'notice': notice}


VMS = {'vm-1': vm('one', notice='{"deadline":"x"}'), 'vm-2': vm('two'), 'vm-3': vm('three', 'poweredOn', notice='{"a":1}'),
       'vm-4': vm('four', 'suspended', notice='')}


def test_powers_on_what_is_off_clears_only_set_notices_and_leaves_running_vms_alone():
    ops = FakeOps(VMS)
    result = PowerOnEngine(ops).run(['vm-1', 'vm-2', 'vm-3', 'vm-4', 'vm-1'])
    assert result == {'powered_on': [{'moid': 'vm-1', 'name': 'one'}, {'moid': 'vm-2', 'name': 'two'}, {'moid': 'vm-4', 'name': 'four'}],
                      'already_on': [{'moid': 'vm-3', 'name': 'three'}], 'failed': [], 'notice_cleared': ['vm-1'], 'retryable': False}
    assert ops.calls[:2] == [('read', ['vm-1', 'vm-2', 'vm-3', 'vm-4']), ('clear', ['vm-1'])]
    assert sorted(c[1] for c in ops.calls[2:]) == ['vm-1', 'vm-2', 'vm-4']


def test_clear_notice_false_touches_no_notice():
    ops = FakeOps(VMS)
    result = PowerOnEngine(ops).run(['vm-1'], clear_notice=False)
    assert (result['notice_cleared'], [c[0] for c in ops.calls]) == ([], ['read', 'power_on'])


def test_check_mode_only_reads():
    ops = FakeOps(VMS)
    result = PowerOnEngine(ops).run(['vm-1', 'vm-3', 'vm-404'], check_mode=True)
    assert [c[0] for c in ops.calls] == ['read']
    assert [v['moid'] for v in result['powered_on']] == ['vm-1'] and result['notice_cleared'] == ['vm-1']
    assert result['failed'][0]['moid'] == 'vm-404' and result['retryable'] is False


def test_a_vm_whose_notice_stays_is_not_powered_on_and_may_be_retried():
    ops = FakeOps(VMS, unclearable={'vm-1'})
    result = PowerOnEngine(ops).run(['vm-1', 'vm-2'])
    assert ('power_on', 'vm-1') not in ops.calls
    assert result['failed'] == [{'moid': 'vm-1', 'name': 'one', 'msg': 'reconfigure refused'}]
    assert (result['powered_on'], result['notice_cleared'], result['retryable']) == ([{'moid': 'vm-2', 'name': 'two'}], [], True)


def test_failures_carry_their_retryability_and_a_race_to_on_is_already_on():
    ops = FakeOps(VMS, power_errors={'vm-1': PowerOpError('InsufficientResourcesFault', False), 'vm-2': AlreadyOn(),
                                     'vm-4': PowerOpError('TaskInProgress', True)})
    result = PowerOnEngine(ops).run(['vm-1', 'vm-2', 'vm-4'])
    assert [(v['moid'], v['msg']) for v in result['failed']] == [('vm-1', 'InsufficientResourcesFault'), ('vm-4', 'TaskInProgress')]
    assert result['already_on'] == [{'moid': 'vm-2', 'name': 'two'}]
    assert result['retryable'] is True
    assert PowerOnEngine(FakeOps(VMS, power_errors={'vm-1': PowerOpError('x', False)})).run(['vm-1'])['retryable'] is False


def test_at_most_parallel_power_ons_at_once():
    vms = {'vm-%d' % i: vm('n%d' % i) for i in range(8)}
    ops = FakeOps(vms, delay=0.05)
    result = PowerOnEngine(ops, parallel=3).run(sorted(vms))
    assert len(result['powered_on']) == 8
    assert ops.peak == 3
