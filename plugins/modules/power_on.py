#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: power_on
short_description: Power preempted VMs back on, clearing their preemption notice
version_added: 0.2.0
description:
  - Powers on the given virtual machines, at most O(parallel) at a time, and waits for each power-on task to end;
    the counterpart of M(vsphere.preemption.power_off) when the capacity has returned (the vSphere form of Azure's
    Spot Try-Restore and of restarting a stopped AWS spot instance).
  - With O(clear_notice), first empties the ExtraConfig key C(guestinfo.preemption) that
    M(vsphere.preemption.power_off) wrote, so that the guest does not read the old notice as it boots. A VM whose
    notice cannot be emptied is reported in RV(failed_vms) and not powered on.
  - A VM that is already on is reported in RV(already_on), neither powered on nor failed, and left as it is.
  - A suspended VM is resumed.
  - The task fails when any VM could not be powered on, and still returns RV(powered_on), RV(already_on) and
    RV(failed_vms), so C(retries)/C(until) retries only what is left.
  - A moid that names no VM is reported in RV(failed_vms); the other VMs are still powered on.
  - Supports check mode; nothing is changed, RV(powered_on) and RV(notice_cleared) list what would be done.
author: vsphere.preemption contributors (@vsphere-preemption)
extends_documentation_fragment:
  - vsphere.preemption.vcenter
options:
  vms:
    description:
      - Managed object ids of the VMs (for example V(vm-58)), such as the C(moid) values returned by
        M(vsphere.preemption.power_off) in C(preempted). Names are not accepted.
      - Duplicates are ignored.
    type: list
    elements: str
    required: true
  parallel:
    description:
      - Maximum number of power-ons in flight at once, from 1 to 50. Each is waited for before the next VM is started,
        so that a restore does not start every guest at the same moment.
    type: int
    default: 5
  clear_notice:
    description:
      - Empty C(guestinfo.preemption) on each VM that carries a notice before powering it on.
    type: bool
    default: true
notes:
  - Uses the C(pyvmomi) Python library on the host that runs the module.
  - Task completion is awaited with the PropertyCollector (C(WaitForUpdatesEx)), not by polling each task.
  - A power-on task still running after 600 seconds is reported as failed instead of being waited for.
seealso:
  - module: vsphere.preemption.power_off
  - module: vsphere.preemption.annotate
'''

EXAMPLES = r'''
- name: Bring back the VMs a preemption powered off, three at a time
  vsphere.preemption.power_on:
    vms: "{{ preemption.preempted | map(attribute='moid') | list }}"
    parallel: 3
  register: restored
  retries: 3
  delay: 2
  until: restored is succeeded or not restored.retryable

- name: Power on without touching guestinfo
  vsphere.preemption.power_on:
    hostname: vcenter.example.com
    username: automation@vsphere.local
    password: "{{ vcenter_password }}"
    vms: [vm-58, vm-61]
    clear_notice: false
'''

RETURN = r'''
powered_on:
  description: The VMs this run powered on (in check mode, would power on), in the order of O(vms).
  returned: always
  type: list
  elements: dict
  contains: &vm_fields
    moid:
      description: Managed object id of the VM.
      type: str
    name:
      description: Name of the VM.
      type: str
  sample:
    - moid: vm-58
      name: batch-worker-03
already_on:
  description: The VMs that were already powered on; nothing was done to them.
  returned: always
  type: list
  elements: dict
  contains: *vm_fields
  sample:
    - moid: vm-61
      name: batch-worker-04
failed_vms:
  description:
    - The VMs that could not be powered on, and why. When not empty, the task fails.
  returned: always
  type: list
  elements: dict
  contains:
    moid:
      description: Managed object id as given in O(vms).
      type: str
    name:
      description: Name of the VM; null when the moid names no VM.
      type: str
    msg:
      description: Why it failed.
      type: str
  sample:
    - moid: vm-64
      name: batch-worker-05
      msg: 'InsufficientResourcesFault: Insufficient resources to satisfy configured failover level for vSphere HA.'
notice_cleared:
  description: Moids of the VMs whose C(guestinfo.preemption) was (in check mode, would be) emptied.
  returned: always
  type: list
  elements: str
  sample: [vm-58]
failed:
  description:
    - On success, the empty list of VMs that could not be powered on.
    - When the task fails, ansible-core sets this key to V(true) whatever the module returns, so the list is then
      only in RV(failed_vms).
  returned: success
  type: list
  elements: dict
  sample: []
retryable:
  description:
    - Present when the module fails. V(true) when another attempt may succeed (vCenter unreachable, timed out or busy,
      an expired session, a task that failed for a passing reason); V(false) when it cannot (a refused login, an
      untrusted certificate, a moid that names no VM, invalid options).
    - Decided from the type of the error, never from its message; retry only when it is V(true).
  returned: failure
  type: bool
  sample: false
'''

from ansible_collections.vsphere.preemption.plugins.module_utils._module.skeleton import check_moids, check_parallel, per_vm_result, run_module
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.power_on import PowerOnEngine, VSpherePowerOnOps


OPTIONS = dict(
    vms=dict(type='list', elements='str', required=True),
    parallel=dict(type='int', default=5),
    clear_notice=dict(type='bool', default=True),
)


def check(params):
    """Reject the first invalid option value before vCenter is touched."""
    check_moids(params)
    check_parallel(params)


def work(module, vcenter):
    params = module.params
    moids = [moid.strip() for moid in params['vms']]
    engine = PowerOnEngine(VSpherePowerOnOps(vcenter.content(), parallel=params['parallel']), parallel=params['parallel'])
    result = engine.run(moids, clear_notice=params['clear_notice'], check_mode=module.check_mode)
    changed = bool(result['powered_on'] or result['notice_cleared'])
    return per_vm_result('power on', len(set(moids)), result['failed'], result['retryable'], changed,
                         powered_on=result['powered_on'], already_on=result['already_on'], notice_cleared=result['notice_cleared'])


def main():
    run_module(OPTIONS, check, work)


if __name__ == '__main__':
    main()
