#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: annotate
short_description: Write a value into a custom attribute of VMs
version_added: 0.1.0
description:
  - Sets a VM custom attribute (by default C(com.vmware.workflows.vsphere.preemption)) to the same value on
    a list of virtual machines, typically the JSON record of a preemption.
  - Idempotent. The current values of all the VMs are read in one PropertyCollector call, and only the VMs
    whose value differs are written; a VM that already holds the value is not a change.
  - Every VM is checked to exist before anything is written.
  - With O(vcenter_event), also logs a message as a vCenter event on each VM, at most once per VM per message.
  - Supports check mode and diff mode (one before/after entry per VM that changes).
author: vsphere.preemption contributors (@vsphere-preemption)
extends_documentation_fragment:
  - vsphere.preemption.vcenter
options:
  vms:
    description:
      - Managed object ids of the virtual machines, for example V(vm-58).
      - A moid that vCenter does not know is an error naming it, and then nothing is written.
    type: list
    elements: str
    required: true
  key:
    description:
      - Name of the custom attribute.
    type: str
    default: com.vmware.workflows.vsphere.preemption
  value:
    description:
      - The value to write. A dict (or list) is stored as compact JSON with sorted keys, so the same data
        always gives the same text; a string is stored as it is.
      - Characters XML, and so vCenter, cannot carry (control characters but tab, newline and carriage return,
        U+FFFE, U+FFFF) are written as C(\uXXXX) escapes, here and in O(vcenter_event).
    type: raw
    required: true
  create_field:
    description:
      - Define the custom attribute for virtual machines when vCenter does not have it yet.
      - With an empty O(vms), only the definition is made (what the C(vsphere.preemption.setup) playbook does).
      - When V(false) and the attribute is not defined, the module fails and says how to define it
        (the C(vsphere.preemption.setup) playbook does it once per vCenter).
    type: bool
    default: false
  vcenter_event:
    description:
      - Also log this message as a user event on each VM (C(EventManager.LogUserEvent), or C(PostEvent) of a
        C(GeneralUserEvent) on a server without it), so that the VM's Monitor > Events tab in the vSphere Client
        shows who changed it and why.
      - Logged once per VM per message. Before logging, the VM's own user events are read from vCenter
        (one C(QueryEvents) per VM); a VM that already has an event with this exact message is left alone, so a
        retried or resumed call logs only the events still missing, whether or not the annotation changed.
        Put something unique to the run (a run id) in the message to log one event per run.
      - Logged after the custom attribute is written. Needs the C(Global.LogEvent) privilege.
    type: str
  parallel:
    description:
      - Maximum number of VMs written at once, from 1 to 50, all on one vCenter session.
    type: int
    default: 5
notes:
  - Uses the C(pyvmomi) Python library on the host that runs the module.
seealso:
  - module: vsphere.preemption.power_off
  - module: vsphere.preemption.cloudevent
'''

EXAMPLES = r'''
- name: Define the custom attribute once, without writing any value
  vsphere.preemption.annotate:
    vms: []
    value: ''
    create_field: true

- name: Record the preemption on the VMs that were powered off
  vsphere.preemption.annotate:
    vms: "{{ powered_off.preempted | map(attribute='moid') }}"
    value:
      preempted: true
      tag: preemptible
      forcedShutdown: true
      criticality: HIGH
      workflowID: cluster-cpu-above-80
      workflowStarted: "2021-11-05T13:02:34.437444Z"
      runID: 8d1c1f0e-2b1c-4a57-9b0e-61f1a7a6f3c2
    vcenter_event: >-
      Preempted by workflow cluster-cpu-above-80, run 8d1c1f0e-2b1c-4a57-9b0e-61f1a7a6f3c2:
      criticality HIGH, hard power-off

- name: Define the attribute if needed and write a plain string
  vsphere.preemption.annotate:
    hostname: vcenter.example.com
    username: automation@vsphere.local
    password: "{{ vcenter_password }}"
    vms: [vm-58, vm-61]
    key: owner
    value: batch team
    create_field: true
'''

RETURN = r'''
value:
  description: The text written (or that would be written) into the custom attribute.
  returned: success
  type: str
  sample: '{"criticality":"HIGH","forcedShutdown":true,"preempted":true,"tag":"preemptible"}'
changed_vms:
  description: Moids of the VMs whose value was (in check mode, would be) written.
  returned: success
  type: list
  elements: str
  sample: [vm-58]
unchanged_vms:
  description: Moids of the VMs that already held the value.
  returned: success
  type: list
  elements: str
  sample: [vm-61]
field_created:
  description: Whether the custom attribute definition was (in check mode, would be) created.
  returned: success
  type: bool
  sample: false
events_logged:
  description:
    - Moids of the VMs on which O(vcenter_event) was (in check mode, would be) logged; the other VMs already had it.
    - Empty when O(vcenter_event) is not set.
  returned: success
  type: list
  elements: str
  sample: [vm-58]
retryable:
  description:
    - Present when the module fails. V(true) when another attempt may succeed (vCenter unreachable, timed out or busy,
      an expired session); V(false) when it cannot (a refused login, an untrusted certificate, an unknown moid or
      custom attribute, invalid options).
    - Decided from the type of the error, never from its message; retry only when it is V(true).
  returned: failure
  type: bool
  sample: false
'''

from ansible_collections.vsphere.preemption.plugins.module_utils._module.skeleton import check_parallel, run_module
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.attributes import (
    DEFAULT_KEY,
    CustomAttributes,
    diff_entries,
    encode_value,
    missing_field_message,
    plan_changes,
    unique,
)
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.soap import soap_text
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.events import VmEvents, missing


OPTIONS = dict(
    vms=dict(type='list', elements='str', required=True),
    key=dict(type='str', default=DEFAULT_KEY, no_log=False),
    value=dict(type='raw', required=True),
    create_field=dict(type='bool', default=False),
    vcenter_event=dict(type='str'),
    parallel=dict(type='int', default=5),
)


def check(params):
    """Reject the first invalid option value before vCenter is touched."""
    unique(params['vms'])
    encode_value(params['value'])
    check_parallel(params)
    if not params['key'].strip():
        raise VCenterError('key must be the name of a custom attribute, not an empty string.')


def log_events(content, moids, message, check_mode):
    """Log ``message`` on the VMs of ``moids`` that do not have it yet; return their moids."""
    events = VmEvents(content)
    to_log = missing(events.logged(moids), message)
    if not check_mode:
        events.log(to_log, message)
    return to_log


def annotate(content, moids, key, value, create_field, check_mode, parallel=1):
    """Read, compare, write; returns the result fields and the per-VM values before."""
    attributes = CustomAttributes(content)
    field = attributes.field(key)
    field_created = False
    if field is None:
        if not create_field:
            raise VCenterError(missing_field_message(key))
        field_created = True
        if not check_mode:
            field = attributes.create_field(key)
    # A field about to be created holds no values yet; the VMs are still checked to exist.
    current = attributes.values(moids, field.key if field is not None else None) if moids else {}
    changed, unchanged = plan_changes(current, value)
    if not check_mode:
        attributes.set_values(changed, field.key, value, parallel=parallel)
    return dict(changed_vms=changed, unchanged_vms=unchanged, field_created=field_created), current


def work(module, vcenter):
    params = module.params
    moids = unique(params['vms'])
    # Names may hold what XML, hence vCenter, refuses: written escaped, never a stuck run.
    value = soap_text(encode_value(params['value']))
    message = soap_text(params['vcenter_event']) if params['vcenter_event'] else None
    if not moids and not params['create_field']:
        return dict(changed=False, value=value, changed_vms=[], unchanged_vms=[], field_created=False, events_logged=[])
    content = vcenter.content()
    result, current = annotate(content, moids, params['key'], value, params['create_field'], module.check_mode,
                               parallel=params['parallel'])
    result['events_logged'] = log_events(content, moids, message, module.check_mode) if message and moids else []
    if module._diff:
        result['diff'] = diff_entries(current, value, result['changed_vms'], params['key'])
    changed = bool(result['changed_vms'] or result['events_logged']) or result['field_created']
    return dict(result, changed=changed, value=value)


def main():
    run_module(OPTIONS, check, work)


if __name__ == '__main__':
    main()
