#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: vcenter_role
short_description: Create the least-privilege vCenter role of the preemption service account, and grant it
version_added: 0.3.0
description:
  - Makes sure the vCenter role O(name) holds exactly O(privileges), creating it or updating its privileges; with
    O(principal), grants it to that user or group on the root folder, propagating to every object below.
  - The default O(privileges) are exactly what the collection's runs call (preempt, restore, status, cancel and the
    alarm watch); the guide "vCenter privileges" lists which step and vSphere API method needs each.
    vCenter adds C(System.Anonymous), C(System.View) and C(System.Read) to every role by itself; they are not a difference.
  - A system role of vCenter (such as C(Admin) or C(ReadOnly)) is never changed.
  - Creating or updating the role needs the privilege C(Authorization.ModifyRoles), granting it
    C(Authorization.ModifyPermissions). Supports check mode.
author: vsphere.preemption contributors (@vsphere-preemption)
extends_documentation_fragment:
  - vsphere.preemption.vcenter
options:
  name:
    description: Name of the vCenter role.
    type: str
    required: true
  privileges:
    description:
      - Privilege ids the role holds, for example V(VirtualMachine.Interact.PowerOff).
      - Default the collection's own list (RV(privileges) shows it).
    type: list
    elements: str
  principal:
    description:
      - A user or group (V(DOMAIN\\name) or V(name@domain)) to grant the role to on the root folder, propagating.
      - Not set, the role is not granted.
    type: str
  group:
    description: Whether O(principal) is a group.
    type: bool
    default: false
notes:
  - Uses the C(pyvmomi) Python library on the host that runs the module.
'''

EXAMPLES = r'''
- name: The role vsphere-preemption, granted to the service account
  vsphere.preemption.vcenter_role:
    name: vsphere-preemption
    principal: VSPHERE.LOCAL\svc-preemption
'''

RETURN = r'''
role_id:
  description: The id of the role; null in check mode when it would be created.
  returned: success
  type: int
  sample: -1062731264
privileges:
  description: The privileges the role holds (beside vCenter's own System privileges).
  returned: success
  type: list
  elements: str
  sample: [Global.LogEvent, Global.SetCustomField, VirtualMachine.Config.AdvancedConfig]
created:
  description: Whether the role was (would be) created.
  returned: success
  type: bool
added:
  description: Privileges the role was (would be) given; all of them for a new role.
  returned: success
  type: list
  elements: str
removed:
  description: Privileges taken from an existing role because they are not in O(privileges).
  returned: success
  type: list
  elements: str
granted:
  description: Whether O(principal) was (would be) given the role on the root folder; false when it had it.
  returned: success
  type: bool
retryable:
  description:
    - Present when the module fails. V(true) when another attempt may succeed (vCenter unreachable, timed out or busy,
      an expired session); V(false) when it cannot (a refused login, an untrusted certificate, a missing privilege,
      the name of a system role, a principal vCenter does not know, invalid options).
    - Decided from the type of the error, never from its message; retry only when it is V(true).
  returned: failure
  type: bool
  sample: false
'''

from ansible_collections.vsphere.preemption.plugins.module_utils._module.skeleton import run_module
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.roles import RUN_PRIVILEGES, ensure_grant, ensure_role


OPTIONS = dict(
    name=dict(type='str', required=True),
    privileges=dict(type='list', elements='str'),
    principal=dict(type='str'),
    group=dict(type='bool', default=False),
)


def check(params):
    """Reject the first invalid option value before vCenter is touched."""
    if not params['name'].strip():
        raise VCenterError('name must be the name of a vCenter role, not an empty string.')


def work(module, vcenter):
    params = module.params
    name, principal = params['name'].strip(), (params['principal'] or '').strip() or None
    privileges = sorted(set(params['privileges'] if params['privileges'] is not None else RUN_PRIVILEGES))
    content = vcenter.content()
    result = ensure_role(content, name, privileges, module.check_mode)
    # A role that does not exist yet (check mode) is granted to nobody yet.
    result['granted'] = principal is not None and (
        result['role_id'] is None or ensure_grant(content, result['role_id'], principal, params['group'], module.check_mode))
    changed = result['created'] or bool(result['added'] or result['removed']) or result['granted']
    return dict(changed=changed, privileges=privileges, **result)


def main():
    run_module(OPTIONS, check, work)


if __name__ == '__main__':
    main()
