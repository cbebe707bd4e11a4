#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: power_off
short_description: Power off VMs for preemption, soft, hard, or soft then hard
version_added: 0.1.0
description:
  - Powers off the given virtual machines, several at a time.
  - V(soft) asks the guest operating system to shut down (this needs VMware Tools running) and waits until the VM
    is off. A VM still on after O(grace_period) seconds, or without running VMware Tools, is reported as failed.
  - V(hard) powers the VM off with a power-off task, waited for to completion.
  - V(soft_then_hard) tries V(soft) first and powers off V(hard) the VMs for which it failed. A VM without running
    VMware Tools goes straight to the hard power-off.
  - A VM that is already powered off is reported in RV(already_off), neither preempted nor failed.
  - The task fails when any VM could not be powered off, and still returns RV(preempted), RV(already_off) and
    RV(failed_vms), so C(retries)/C(until) retries only what is left.
  - A moid that names no VM is reported in RV(failed_vms); the other VMs are still powered off.
  - With O(notice_period) or O(notice), each VM that is not off first gets a preemption notice in its ExtraConfig key
    C(guestinfo.preemption), and the VMs are powered off only when its deadline has passed; see O(notice).
  - Tasks and guest shutdowns are awaited with the PropertyCollector (C(WaitForUpdatesEx)), not by polling, so the
    requests a power-off makes do not grow with how long vCenter takes. Hard power-offs run in waves of O(parallel).
  - Supports check mode; nothing is changed, RV(preempted) lists the VMs that would be powered off, with the method
    that would be tried first.
author: vsphere.preemption contributors (@vsphere-preemption)
extends_documentation_fragment:
  - vsphere.preemption.vcenter
options:
  vms:
    description:
      - Managed object ids of the VMs (for example V(vm-58)), such as the C(moid)
        values returned by M(vsphere.preemption.tagged_vm_info). Names are not accepted.
      - Duplicates are ignored.
    type: list
    elements: str
    required: true
  mode:
    description:
      - How to power off. See the description above.
    type: str
    choices: [soft, soft_then_hard, hard]
    default: soft_then_hard
  grace_period:
    description:
      - Seconds a guest shutdown may take, counted from the shutdown request, before the VM counts as failed
        (V(soft)) or is powered off hard (V(soft_then_hard)).
      - The grace periods of all VMs run at the same time, not one after the other.
    type: int
    default: 30
  parallel:
    description:
      - Maximum number of vCenter calls in flight at once (power-off tasks and shutdown requests), from 1 to 50.
    type: int
    default: 5
  notice_period:
    description:
      - Seconds between the preemption notice and the power-off, from 0 to 3600; the vSphere form of the AWS spot
        two-minute interruption notice (GCP gives 30 seconds).
      - The module waits once for the whole batch, then powers the VMs off as O(mode) says (a guest that shut itself
        down in the meantime is reported in RV(already_off)).
      - When V(0) and O(notice) is not set, no notice is written.
    type: int
    default: 0
  notice:
    description:
      - What the guest is told, for example the criticality, workflow and run. Written with C(deadline) (RFC 3339 UTC,
        now + O(notice_period)) as compact JSON with sorted keys into the ExtraConfig key C(guestinfo.preemption) of
        each VM that is not off, before any power operation, several VMs at a time (O(parallel)).
      - A guest reads it with C(vmware-rpctool "info-get guestinfo.preemption"); the collection ships a systemd unit
        that does so and runs a drain hook (C(extensions/guest/)).
      - A VM that already carries this same notice (a retried or resumed run) keeps its deadline, and the batch waits
        until the latest such deadline, so a notice interrupted by a crash is resumed, not restarted. Put something
        unique to the run (a run id) in it.
      - A VM the notice could not be written on is reported in RV(failed_vms) and not powered off.
      - Must not contain C(deadline). In check mode nothing is written and the module does not wait.
    type: dict
notes:
  - Uses the C(pyvmomi) Python library on the host that runs the module.
  - A hard power-off task still running after 600 seconds is reported as failed instead of being waited for.
seealso:
  - module: vsphere.preemption.tagged_vm_info
'''

EXAMPLES = r'''
- name: Find the preemptible VMs that run
  vsphere.preemption.tagged_vm_info:
    tag: preemptible
    power_state: [poweredOn]
  register: candidates

- name: Shut them down, forcing those still on after a minute
  vsphere.preemption.power_off:
    vms: "{{ candidates.vms | map(attribute='moid') | list }}"
    mode: soft_then_hard
    grace_period: 60
    parallel: 10
  register: preemption
  retries: 3
  delay: 2
  until: preemption is succeeded

- name: Tell the guests, give them two minutes to drain, then power off
  vsphere.preemption.power_off:
    vms: "{{ candidates.vms | map(attribute='moid') | list }}"
    mode: soft_then_hard
    notice_period: 120
    notice:
      preempted: true
      criticality: MEDIUM
      workflowID: cluster-cpu-above-80
      runID: 8d1c1f0e-2b1c-4a57-9b0e-61f1a7a6f3c2
  register: preemption

- name: Power off at once
  vsphere.preemption.power_off:
    hostname: vcenter.example.com
    username: automation@vsphere.local
    password: "{{ vcenter_password }}"
    vms: [vm-58, vm-61]
    mode: hard
'''

RETURN = r'''
preempted:
  description: The VMs this run powered off (in check mode, would power off), in the order of O(vms).
  returned: always
  type: list
  elements: dict
  contains:
    moid: &vm_moid
      description: Managed object id of the VM.
      type: str
    name: &vm_name
      description: Name of the VM.
      type: str
    method:
      description:
        - V(soft) when the guest shut down, V(hard) when a power-off task did it.
        - In check mode, the method that would be tried first.
      type: str
  sample:
    - moid: vm-58
      name: batch-worker-03
      method: soft
already_off:
  description: The VMs that were already powered off; nothing was done to them.
  returned: always
  type: list
  elements: dict
  contains:
    moid: *vm_moid
    name: *vm_name
  sample:
    - moid: vm-61
      name: batch-worker-04
failed_vms:
  description:
    - The VMs that could not be powered off, and why. When not empty, the task fails.
    - Use this key, not RV(failed), to read them after a failure; see RV(failed).
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
      msg: still on 30 s after the guest shutdown request (grace_period)
notice:
  description:
    - The notice given, when O(notice_period) or O(notice) is set and at least one VM was not off; null otherwise.
  returned: always
  type: dict
  contains:
    value:
      description: The JSON text written into C(guestinfo.preemption).
      type: str
      sample: '{"criticality":"MEDIUM","deadline":"2026-12-01T20:17:00Z","preempted":true,"runID":"8d1c","workflowID":"wf"}'
    deadline:
      description: When the notice ran out (RFC 3339 UTC); the VMs were powered off after it.
      type: str
      sample: '2026-12-01T20:17:00Z'
    notified:
      description: Moids of the VMs that carry the notice.
      type: list
      elements: str
      sample: [vm-58, vm-61]
    written:
      description: Moids of the VMs this call wrote it on (in check mode, would write); the others already had it.
      type: list
      elements: str
      sample: [vm-58]
failed:
  description:
    - On success, the empty list of VMs that could not be powered off.
    - When the task fails, ansible-core sets this key to V(true) whatever the module returns, so the list is then
      only in RV(failed_vms).
  returned: success
  type: list
  elements: dict
  sample: []
retryable:
  description:
    - Present when the module fails. V(true) when another attempt may succeed (vCenter unreachable, timed out or busy,
      an expired session); V(false) when it cannot (a refused login, an untrusted certificate, an unknown moid,
      invalid options).
    - When some VMs could not be powered off, V(true) while another attempt may still power off one of them
      (a guest still on after O(grace_period), a task that failed for a passing reason, vCenter busy);
      V(false) when none can be (a moid that names no VM, no VMware Tools for mode V(soft)).
    - Decided from the type of the error, never from its message; retry only when it is V(true).
  returned: failure
  type: bool
  sample: false
'''

from ansible_collections.vsphere.preemption.plugins.module_utils._module.skeleton import check_moids, check_parallel, per_vm_result, run_module
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.notice import GuestInfo, give_notice, notice_error
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.power_off import MODES, PowerOffEngine, VSpherePowerOps
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError


OPTIONS = dict(
    vms=dict(type='list', elements='str', required=True),
    mode=dict(type='str', choices=list(MODES), default='soft_then_hard'),
    grace_period=dict(type='int', default=30),
    parallel=dict(type='int', default=5),
    notice_period=dict(type='int', default=0),
    notice=dict(type='dict'),
)


def check(params):
    """Reject the first invalid option value before vCenter is touched."""
    check_moids(params)
    if params['grace_period'] < 0:
        raise VCenterError('grace_period must be 0 or more seconds, not %d.' % params['grace_period'])
    check_parallel(params)
    problem = notice_error(params['notice'] or {}, params['notice_period'])
    if problem:
        raise VCenterError(problem)


def work(module, vcenter):
    params = module.params
    moids = [moid.strip() for moid in params['vms']]
    content = vcenter.content()
    notice, unnoticed = None, {}
    if params['notice_period'] or params['notice'] is not None:
        notice, unnoticed = give_notice(GuestInfo(content, parallel=params['parallel']), moids, params['notice'] or {},
                                        params['notice_period'], check_mode=module.check_mode)
    engine = PowerOffEngine(VSpherePowerOps(content), parallel=params['parallel'], grace_period=params['grace_period'])
    result = engine.run([moid for moid in moids if moid not in unnoticed], params['mode'], check_mode=module.check_mode)
    # A VM that did not get its notice is not powered off: it is failed, so that a retry gives it the notice.
    result['failed'] = [dict(moid=moid, name=unnoticed[moid]['name'], msg=unnoticed[moid]['msg'])
                        for moid in dict.fromkeys(moids) if moid in unnoticed] + result['failed']
    # Another attempt is worth it while it may still power off one of them.
    retryable = result['retryable'] or any(failure['retryable'] for failure in unnoticed.values())
    changed = bool(result['preempted'] or (notice and notice['written']))
    return per_vm_result('power off', len(set(moids)), result['failed'], retryable, changed,
                         preempted=result['preempted'], already_off=result['already_off'], notice=notice)


def main():
    run_module(OPTIONS, check, work)


if __name__ == '__main__':
    main()
