# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Power preempted VMs back on, their preemption notice cleared first.

``PowerOnEngine`` holds the logic and talks to vCenter only through an
``ops`` object (``VSpherePowerOnOps`` for pyvmomi, a fake in unit tests):

- ``read(moids)`` -> ``{moid: {'name', 'power_state', 'notice'}}`` for the VMs
  that exist, in one call (guest_notice.GuestInfo.read);
- ``clear_notice(moids)`` -> ``{moid: Failure}`` for the VMs whose
  ``guestinfo.preemption`` could not be emptied;
- ``power_on(moid)``: start the power-on task and wait for its end; raises
  ``AlreadyOn`` when vCenter says the VM is on, ``PowerOpError`` otherwise.

At most ``parallel`` power-ons run at once, each waited for before the worker
takes the next VM: a restore must not become a boot storm.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.vsphere.preemption.plugins.module_utils._vm.notice import GuestInfo
from ansible_collections.vsphere.preemption.plugins.module_utils._errors import Failure
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.power_off import PowerOpError
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.task_wait import TASK_ENDED, wait_for_tasks
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.call import fault_text, vcenter_call
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import fault_retryable

try:
    from pyVmomi import vim
except ImportError:
    # vcenter_soap.PYVMOMI_IMPORT_ERROR carries the traceback; modules check it before calling here.
    vim = None

# A power-on normally ends in seconds; one still running this long (a host not responding, a question pending
# in the VM) is reported as failed rather than waited for forever.
TASK_TIMEOUT = 600
NO_SUCH_VM = 'no VM with this moid in vCenter (vms takes managed object ids such as vm-42, not names)'


class AlreadyOn(Exception):
    """vCenter refused the power-on because the VM is already powered on."""


class PowerOnEngine:
    """Run one power-on request."""

    def __init__(self, ops, parallel=5):
        self.ops = ops
        self.parallel = parallel

    def run(self, moids, clear_notice=True, check_mode=False):
        """Power on ``moids`` (duplicates ignored).

        Returns ``{powered_on, already_on, failed, notice_cleared, retryable}``:
        ``[{moid, name}]``, ``[{moid, name}]``, ``[{moid, name, msg}]`` in the
        order of ``moids``, the moids whose notice was emptied, and whether
        another attempt may cure a failure. In check mode nothing is changed
        and the lists say what would be done.
        """
        moids = list(dict.fromkeys(moids))
        vms = self.ops.read(moids)
        outcome = {}
        for moid in moids:
            if moid not in vms:
                outcome[moid] = Failure(NO_SUCH_VM, False)
            elif vms[moid]['power_state'] == 'poweredOn':
                outcome[moid] = 'already_on'
        to_start = [moid for moid in moids if moid not in outcome]
        # An emptied key cannot be told from an unset one; only a VM with a notice needs the reconfiguration.
        to_clear = [moid for moid in to_start if clear_notice and vms[moid]['notice']]
        if check_mode:
            outcome.update((moid, 'powered_on') for moid in to_start)
            return _shape(moids, vms, outcome, to_clear)
        # A VM still carrying its notice would drain again as it boots: it is not powered on.
        unclear = self.ops.clear_notice(to_clear) if to_clear else {}
        outcome.update(unclear)
        to_start = [moid for moid in to_start if moid not in unclear]
        if to_start:
            with ThreadPoolExecutor(max_workers=self.parallel) as pool:
                outcome.update(zip(to_start, pool.map(self._power_on, to_start)))
        return _shape(moids, vms, outcome, [moid for moid in to_clear if moid not in unclear])

    def _power_on(self, moid):
        try:
            self.ops.power_on(moid)
        except AlreadyOn:
            return 'already_on'
        except PowerOpError as exc:
            return Failure(str(exc), exc.retryable)
        return 'powered_on'


def _shape(moids, vms, outcome, cleared):
    result = {'powered_on': [], 'already_on': [], 'failed': [], 'notice_cleared': cleared, 'retryable': False}
    for moid in moids:
        name = vms[moid]['name'] if moid in vms else None
        done = outcome[moid]
        if isinstance(done, Failure):
            result['failed'].append({'moid': moid, 'name': name, 'msg': done.msg})
            result['retryable'] = result['retryable'] or done.retryable
        else:
            result[done].append({'moid': moid, 'name': name})
    return result


def _already_on(fault):
    return isinstance(fault, vim.fault.InvalidPowerState) and fault.existingState == 'poweredOn'


class VSpherePowerOnOps:
    """PowerOnEngine's ``ops`` for a pyvmomi session (``content`` = ``si.RetrieveContent()``)."""

    def __init__(self, content, parallel=5):
        self.content = content
        self.guest = GuestInfo(content, parallel=parallel)
        self._stub = content.propertyCollector._stub

    def read(self, moids):
        return self.guest.read(moids)

    def clear_notice(self, moids):
        return self.guest.write(moids, '')

    def power_on(self, moid):
        try:
            with vcenter_call(error=PowerOpError, passthrough=(vim.fault.InvalidPowerState,), per_item=True):
                task = vim.VirtualMachine(moid, self._stub).PowerOnVM_Task()
                state, fault = wait_for_tasks(self.content, [task], TASK_TIMEOUT)[task._moId]
        except vim.fault.InvalidPowerState as refused:
            if _already_on(refused):
                raise AlreadyOn() from None
            raise PowerOpError(fault_text(refused), fault_retryable(refused)) from None
        if state not in TASK_ENDED:
            raise PowerOpError('power-on task still running after %d s' % TASK_TIMEOUT, True)
        if state == 'error':
            if fault is not None and _already_on(fault):
                raise AlreadyOn()
            raise PowerOpError(fault_text(fault) if fault is not None else 'power-on task failed',
                               fault is not None and fault_retryable(fault))
