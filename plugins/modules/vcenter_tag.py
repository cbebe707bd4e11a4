#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: vcenter_tag
short_description: Create the vSphere tag and tag category that mark VMs as preemptible
version_added: 0.3.0
description:
  - Makes sure the tag O(tag) exists in the tag category O(category), creating the category, the tag or both when
    vCenter lacks them. An existing tag or category is left as it is.
  - A category it creates has cardinality C(MULTIPLE) (a VM may carry several of its tags, such as V(preemptible)
    and a protect tag) and is associable with virtual machines only.
  - Uses the vSphere REST API (C(/api), or C(/rest) on vCenters that lack C(/api)). Creating a category needs the
    privilege C(InventoryService.Tagging.CreateCategory), a tag C(InventoryService.Tagging.CreateTag).
  - Supports check mode. Used by the playbook C(vsphere.preemption.setup) with C(preemption_setup_create_tag=true).
author: vsphere.preemption contributors (@vsphere-preemption)
extends_documentation_fragment:
  - vsphere.preemption.vcenter
options:
  tag:
    description: Name of the tag.
    type: str
    required: true
  category:
    description: Name of the tag's category.
    type: str
    default: preemption
  description:
    description: Description given to a tag or category this module creates.
    type: str
    default: Managed by vsphere.preemption
notes:
  - Uses the C(requests) Python library on the host that runs the module.
seealso:
  - module: vsphere.preemption.tagged_vm_info
'''

EXAMPLES = r'''
- name: The tag preemptible in the category preemption, created when missing
  vsphere.preemption.vcenter_tag:
    tag: preemptible
    category: preemption
  register: preemption_tag
'''

RETURN = r'''
tag_id:
  description: The id of the tag; null in check mode when it would be created.
  returned: success
  type: str
  sample: urn:vmomi:InventoryServiceTag:8e0a5a0b-58b1-4a1b-9d3c-6f7c54c3a7e2:GLOBAL
category_id:
  description: The id of the category; null in check mode when it would be created.
  returned: success
  type: str
  sample: urn:vmomi:InventoryServiceCategory:1f1a7a8e-2d1b-4c1e-8b6a-0e9a3c2d5f10:GLOBAL
created:
  description: What was (in check mode, would be) created, V(category) and V(tag); empty when both existed.
  returned: success
  type: list
  elements: str
  sample: [category, tag]
retryable:
  description:
    - Present when the module fails. V(true) when another attempt may succeed (vCenter unreachable, timed out or busy,
      an expired session, HTTP 5xx, 408 or 429); V(false) when it cannot (a refused login, an untrusted certificate,
      a missing privilege, a category name that vCenter holds more than once, invalid options).
    - Decided from the type of the error or the HTTP status, never from its message; retry only when it is V(true).
  returned: failure
  type: bool
  sample: false
'''

from ansible_collections.vsphere.preemption.plugins.module_utils._module.skeleton import run_module
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.tag_setup import ensure_tag


OPTIONS = dict(
    tag=dict(type='str', required=True),
    category=dict(type='str', default='preemption'),
    description=dict(type='str', default='Managed by vsphere.preemption'),
)


def check(params):
    """Reject the first invalid option value before vCenter is touched."""
    for option in ('tag', 'category'):
        if not (params[option] or '').strip():
            raise VCenterError('%s must be a name, not an empty string.' % option)


def work(module, vcenter):
    params = module.params
    result = ensure_tag(vcenter.rest(), params['tag'].strip(), params['category'].strip(), params['description'], module.check_mode)
    return dict(changed=bool(result['created']), **result)


def main():
    run_module(OPTIONS, check, work, libraries=('requests',))


if __name__ == '__main__':
    main()
