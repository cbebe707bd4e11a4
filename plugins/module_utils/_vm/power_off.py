# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Power VMs off, soft (guest shutdown), hard (power-off task) or soft then hard.

``PowerOffEngine`` holds the logic and talks to vCenter only through an
``ops`` object (``VSpherePowerOps`` for pyvmomi, a fake in unit tests):

- ``describe(moids)`` -> ``{moid: {'name', 'power_state', 'tools_running'}}``
  for the VMs that exist, in one call;
- ``shutdown_guest(moid)``: ask the guest to shut down, returns at once;
- ``start_power_off(moid)`` -> a task;
- ``wait_tasks({moid: task}, timeout)`` -> ``{moid: 'success' | 'already_off' |
  'running' | PowerOpError}``: how each task ended, 'running' when it had not
  ended after ``timeout`` seconds;
- ``wait_off({moid: deadline})`` -> ``{moid: power state}``: returns once each
  VM is off or at its deadline (a ``clock`` time), with the VM's power state
  then (None when the VM is gone).

``shutdown_guest`` and ``start_power_off`` raise ``AlreadyOff`` when vCenter
says the VM is already off; all raise ``PowerOpError`` (one line, with
``retryable``) for any other failure. The waits (``VSpherePowerOps``: one
PropertyCollector filter and ``WaitForUpdatesEx``, see task_wait) make no
request per task or VM, and none that grows with how long vCenter takes.

Each failed VM is reported with ``retryable``: whether another attempt may
power it off (a grace period or task timeout that ran out, vCenter busy), or
cannot (no such VM, no VMware Tools for a soft-only shutdown).

Every vCenter call of a run is made either by the main thread while no worker
runs, or by one of at most ``parallel`` workers of a ThreadPoolExecutor, each
making one call at a time: never more than ``parallel`` calls are in flight.
Power-off tasks run in waves of at most ``parallel``, each wave awaited together.
The workers share one pyvmomi session: SoapStubAdapter takes a connection from
its lock-protected pool for each call, so concurrent calls are safe.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter import task_wait
from ansible_collections.vsphere.preemption.plugins.module_utils._vm import inventory as vm_inventory
from ansible_collections.vsphere.preemption.plugins.module_utils._errors import Failure  # noqa: F401 (the engine's per-VM result)
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.call import fault_text, vcenter_call
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError, fault_retryable

try:
    from pyVmomi import vim
except ImportError:
    # vcenter_soap.PYVMOMI_IMPORT_ERROR carries the traceback; modules check it before calling here.
    vim = None

MODES = ('soft', 'soft_then_hard', 'hard')
# A power-off task normally completes in seconds; one that runs this long
# (a host not responding) is reported as failed rather than waited for forever.
TASK_TIMEOUT = 600


class PowerOpError(VCenterError):
    """A vCenter call about one VM failed; the message is one line for the ``failed`` list."""

    def __init__(self, message, retryable=False):
        super().__init__(message, retryable=retryable)


class AlreadyOff(Exception):
    """vCenter refused the operation because the VM is already powered off."""


def plan(vm, mode):
    """What to do first with a VM: ``(action, message)``.

    ``vm`` is a describe() entry, or None when the moid names no VM.
    ``action`` is ``already_off``, ``soft``, ``hard`` or ``failed`` (then
    ``message`` is a ``Failure`` saying why; none of these is retryable).
    """
    if vm is None:
        return 'failed', Failure('no VM with this moid in vCenter (vms takes managed object ids such as vm-42, not names)', False)
    if vm['power_state'] == 'poweredOff':
        return 'already_off', None
    soft_possible = vm['power_state'] == 'poweredOn' and vm['tools_running']
    if mode == 'hard' or (mode == 'soft_then_hard' and not soft_possible):
        return 'hard', None
    if soft_possible:
        return 'soft', None
    if vm['power_state'] != 'poweredOn':
        return 'failed', Failure('VM is %s: a guest shutdown needs a running guest; use mode soft_then_hard or hard' % vm['power_state'], False)
    return 'failed', Failure('VMware Tools not running, so no guest shutdown is possible; use mode soft_then_hard or hard', False)


class PowerOffEngine:
    """Run one power-off request; ``clock`` (the time of the ``wait_off`` deadlines) is injectable for tests."""

    def __init__(self, ops, parallel=5, grace_period=30, clock=time.monotonic, task_timeout=TASK_TIMEOUT):
        self.ops = ops
        self.parallel = parallel
        self.grace_period = grace_period
        self.clock = clock
        self.task_timeout = task_timeout

    def run(self, moids, mode, check_mode=False):
        """Power off ``moids`` (duplicates ignored) and return ``{preempted, already_off, failed}``.

        ``preempted``: ``[{moid, name, method}]`` (method ``soft`` or ``hard``),
        ``already_off``: ``[{moid, name}]``, ``failed``: ``[{moid, name, msg}]``,
        each in the order of ``moids``. In check mode nothing is changed and
        ``preempted`` holds the method that would be tried first.
        """
        if mode not in MODES:
            raise ValueError('mode must be one of %s' % ', '.join(MODES))
        moids = list(dict.fromkeys(moids))
        vms = self.ops.describe(moids)
        outcome, soft, hard = {}, [], []
        for moid in moids:
            action, message = plan(vms.get(moid), mode)
            if action == 'soft':
                soft.append(moid)
            elif action == 'hard':
                hard.append(moid)
            else:
                outcome[moid] = (action, message)
        if check_mode:
            outcome.update((moid, ('preempted', 'soft')) for moid in soft)
            outcome.update((moid, ('preempted', 'hard')) for moid in hard)
        else:
            outcome.update(self._power_off(soft, hard, mode))
        return _shape(moids, vms, outcome)

    def _power_off(self, soft, hard, mode):
        """Outcomes of the guest shutdowns of ``soft`` and the power-off tasks of ``hard`` (and of escalations)."""
        requested = self._in_pool(self._shutdown, soft)
        # The guests shut down while the hard power-offs run: each grace period started at its request.
        outcome = self._hard(hard)
        waiting, soft_failed = {}, {}
        for moid, result in requested.items():
            if not isinstance(result, tuple):
                waiting[moid] = result
            elif result[0] == 'soft_error':
                soft_failed[moid] = result[1]
            else:
                outcome[moid] = result
        off, late = self._wait(waiting)
        outcome.update((moid, ('preempted', 'soft')) for moid in off)
        soft_failed.update(late)
        if mode != 'soft_then_hard':
            outcome.update((moid, ('failed', failure)) for moid, failure in soft_failed.items())
            return outcome
        for moid, result in self._hard(list(soft_failed)).items():
            if result[0] == 'already_off':
                # It went off after our shutdown request, just later than the grace period.
                result = ('preempted', 'soft')
            elif result[0] == 'failed':
                result = ('failed', Failure('guest shutdown: %s; hard power-off: %s' % (soft_failed[moid].msg, result[1].msg), result[1].retryable))
            outcome[moid] = result
        return outcome

    def _in_pool(self, work, moids):
        """``{moid: work(moid)}``, at most ``parallel`` at a time."""
        if not moids:
            return {}
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            return dict(zip(moids, pool.map(work, moids)))

    def _shutdown(self, moid):
        """Request a guest shutdown: the deadline to be off by, or a final outcome tuple."""
        try:
            self.ops.shutdown_guest(moid)
        except AlreadyOff:
            return ('already_off', None)
        except PowerOpError as exc:
            return ('soft_error', Failure(str(exc), exc.retryable))
        return self.clock() + self.grace_period

    def _hard(self, moids):
        """Power off with tasks, ``parallel`` at a time, each wave awaited together: ``{moid: outcome tuple}``."""
        outcome = {}
        for first in range(0, len(moids), self.parallel):
            tasks = {}
            for moid, started in self._in_pool(self._start_power_off, moids[first:first + self.parallel]).items():
                if isinstance(started, tuple):
                    outcome[moid] = started
                else:
                    tasks[moid] = started
            outcome.update(self._await(tasks))
        return outcome

    def _start_power_off(self, moid):
        """The power-off task of ``moid``, or a final outcome tuple."""
        try:
            return self.ops.start_power_off(moid)
        except AlreadyOff:
            return ('already_off', None)
        except PowerOpError as exc:
            return ('failed', Failure(str(exc), exc.retryable))

    def _await(self, tasks):
        """Outcome tuples of the power-off tasks ``{moid: task}``, awaited together."""
        if not tasks:
            return {}
        try:
            ended = self.ops.wait_tasks(tasks, self.task_timeout)
        except PowerOpError as exc:
            return {moid: ('failed', Failure('power-off task state unknown: %s' % exc, exc.retryable)) for moid in tasks}
        outcome = {}
        for moid in tasks:
            state = ended.get(moid)
            if state == 'success':
                outcome[moid] = ('preempted', 'hard')
            elif state == 'already_off':
                outcome[moid] = ('already_off', None)
            elif isinstance(state, PowerOpError):
                outcome[moid] = ('failed', Failure(str(state), state.retryable))
            else:
                outcome[moid] = ('failed', Failure('power-off task still running after %d s' % self.task_timeout, True))
        return outcome

    def _wait(self, deadlines):
        """Wait until each guest asked to shut down is off, or past its deadline (one wait for all of them).

        Returns ``(off, late)``: the moids that went off, and ``{moid: Failure}`` for the others.
        """
        if not deadlines:
            return [], {}
        try:
            states = self.ops.wait_off(deadlines)
        except PowerOpError as exc:
            failure = Failure('power state unknown after the guest shutdown request: %s' % exc, exc.retryable)
            return [], {moid: failure for moid in deadlines}
        off, late = [], {}
        for moid in deadlines:
            state = states.get(moid)
            if state == 'poweredOff':
                off.append(moid)
            elif state is None:
                late[moid] = Failure('VM no longer in vCenter', False)
            else:
                late[moid] = Failure('still on %d s after the guest shutdown request (grace_period)' % self.grace_period, True)
        return off, late


def _shape(moids, vms, outcome):
    """The module's return lists, in the order of ``moids``."""
    result = {'preempted': [], 'already_off': [], 'failed': [], 'retryable': False}
    for moid in moids:
        action, detail = outcome[moid]
        name = vms[moid]['name'] if moid in vms else None
        if action == 'preempted':
            result['preempted'].append({'moid': moid, 'name': name, 'method': detail})
        elif action == 'already_off':
            result['already_off'].append({'moid': moid, 'name': name})
        else:
            result['failed'].append({'moid': moid, 'name': name, 'msg': detail.msg})
            result['retryable'] = result['retryable'] or detail.retryable
    return result


def _already_off(fault):
    return isinstance(fault, vim.fault.InvalidPowerState) and fault.existingState == 'poweredOff'


class VSpherePowerOps:
    """PowerOffEngine's ``ops`` for a pyvmomi session (``content`` = ``si.RetrieveContent()``)."""

    def __init__(self, content):
        self.content = content
        self._stub = content.propertyCollector._stub

    def _vm(self, moid):
        return vim.VirtualMachine(moid, self._stub)

    def _call(self, method, *args):
        try:
            with vcenter_call(error=PowerOpError, passthrough=(vim.fault.InvalidPowerState,), per_item=True):
                return method(*args)
        except vim.fault.InvalidPowerState as refused:
            if _already_off(refused):
                raise AlreadyOff() from None
            raise PowerOpError(fault_text(refused), fault_retryable(refused)) from None

    def describe(self, moids):
        found = self._call(vm_inventory.vm_properties, self.content, moids, ('runtime.powerState', 'guest.toolsRunningStatus'))
        return {moid: {'name': props['name'], 'power_state': props.get('runtime.powerState'),
                       'tools_running': props.get('guest.toolsRunningStatus') == vm_inventory.TOOLS_RUNNING}
                for moid, props in found.items()}

    def shutdown_guest(self, moid):
        self._call(self._vm(moid).ShutdownGuest)

    def start_power_off(self, moid):
        return self._call(self._vm(moid).PowerOffVM_Task)

    def wait_tasks(self, tasks, timeout):
        try:
            ended = task_wait.wait_for_tasks(self.content, list(tasks.values()), timeout)
        except VCenterError as exc:
            raise PowerOpError(str(exc), exc.retryable) from None
        return {moid: _task_state(ended[task._moId]) for moid, task in tasks.items()}

    def wait_off(self, deadlines):
        vms = [self._vm(moid) for moid in deadlines]
        try:
            return task_wait.wait_for_property(self.content, vms, 'runtime.powerState', 'poweredOff', deadlines)
        except VCenterError as exc:
            raise PowerOpError(str(exc), exc.retryable) from None


def _task_state(outcome):
    """A task_wait.TaskOutcome in PowerOffEngine's terms."""
    if outcome.state == 'error':
        if _already_off(outcome.error):
            return 'already_off'
        return PowerOpError(fault_text(outcome.error), fault_retryable(outcome.error))
    if outcome.state is None:
        # Another attempt reads the VM's power state afresh.
        return PowerOpError('vCenter no longer knows the power-off task', retryable=True)
    return outcome.state
