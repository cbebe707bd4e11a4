#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: vm_power_events
short_description: What happened to the power of VMs since a time, from vCenter's own event history
version_added: 0.3.0
description:
  - Reads the power events of VMs (powered on or off, starting, stopping, guest shutdown or reboot, reset, suspend,
    registered, removed) from vCenter's event history (C(EventManager.QueryEvents)), one query for the whole batch
    (one per VM when the answer is full, so none is cut off).
  - Also returns each VM's power state now (one C(PropertyCollector) retrieve), read after the events.
  - The preempt role records the event its power-off caused in the workflow's ledger, and counts a VM whose
    power-off outcome is unknown as powered off only when it is off now; the restore powers a VM back on only
    when these events show no power operation by anyone else since.
  - Read-only; supports check mode.
author: vsphere.preemption contributors (@vsphere-preemption)
extends_documentation_fragment:
  - vsphere.preemption.vcenter
options:
  vms:
    description: Managed object ids of the VMs (for example C(vm-58)).
    type: list
    elements: str
    required: true
  since:
    description: Only events created at or after this UTC time (C(2021-11-05T13:02:34.437444Z)).
    type: str
    required: true
'''

EXAMPLES = r'''
- name: Read what happened to the VMs' power since the run started
  vsphere.preemption.vm_power_events:
    vms: [vm-58, vm-61]
    since: '2021-11-05T13:02:34.437444Z'
  register: history
'''

RETURN = r'''
events:
  description:
    - Per VM moid, its power events since O(since), oldest first; each C(key) and C(chain_id) (the events of one
      vCenter task share its chain id), C(type) (for example C(VmPoweredOffEvent)), C(created) (UTC), C(user)
      (who did it) and C(vm) (the moid).
  returned: success
  type: dict
  sample:
    vm-58:
      - {key: 4711, chain_id: 4709, type: VmPoweredOffEvent, created: '2021-11-05T13:02:36.101010Z', user: 'VSPHERE.LOCAL\svc-preempt', vm: vm-58}
power_states:
  description:
    - Per VM moid, its power state now, V(poweredOn), V(poweredOff) or V(suspended); a VM that no longer exists
      is left out.
  returned: success
  type: dict
  sample:
    vm-58: poweredOff
    vm-61: poweredOn
retryable:
  description:
    - Present when the module fails. V(true) when another attempt may succeed (vCenter unreachable, timed out or busy,
      an expired session); V(false) when it cannot (a refused login, an untrusted certificate, a missing privilege,
      an O(since) that is not a UTC time).
    - Decided from the type of the error, never from its message; retry only when it is V(true).
  returned: failure
  type: bool
  sample: true
'''

from ansible_collections.vsphere.preemption.plugins.module_utils._module.skeleton import run_module
from ansible_collections.vsphere.preemption.plugins.module_utils._timestamps import parse_timestamp
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError
from ansible_collections.vsphere.preemption.plugins.module_utils._vm import inventory as vm_inventory
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.events import VmEvents


OPTIONS = dict(vms=dict(type='list', elements='str', required=True), since=dict(type='str', required=True))


def check(params):
    """Reject the first invalid option value before vCenter is touched."""
    try:
        parse_timestamp(params['since'])
    except ValueError:
        raise VCenterError('since must be a UTC time such as 2021-11-05T13:02:34.437444Z, not %r.' % params['since']) from None


def work(module, vcenter):
    params = module.params
    moids = [moid.strip() for moid in params['vms'] if moid and moid.strip()]
    if not moids:
        return dict(changed=False, events={}, power_states={})
    content = vcenter.content()
    events = VmEvents(content).power_history(moids, parse_timestamp(params['since']))
    # After the events: a power-off the events miss (it came after the query) still shows in the state.
    states = {moid: props.get('runtime.powerState') for moid, props in vm_inventory.vm_properties(content, moids, ('runtime.powerState',)).items()}
    return dict(changed=False, events=events, power_states=states)


def main():
    run_module(OPTIONS, check, work)


if __name__ == '__main__':
    main()
