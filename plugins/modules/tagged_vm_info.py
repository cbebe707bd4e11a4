#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: tagged_vm_info
short_description: Find the VMs attached to a vSphere tag
version_added: 0.1.0
description:
  - Lists the virtual machines a vSphere tag is attached to, with their power state, VMware Tools state,
    host, cluster and preemption priority, in a deterministic order (lowest priority first, then name).
  - Only VirtualMachine objects are returned. Never returned, whatever their tags, are templates, VMs managed by a
    solution (C(config.managedBy) set, such as vCLS agents, SRM placeholder VMs, NSX edges and Supervisor control
    plane VMs), Fault Tolerance VMs (primary or secondary) and VMs carrying O(protect_tag); each tagged VM left out
    for one of these reasons is listed in RV(excluded).
  - The cost grows with the number of tagged VMs, not with the size of the inventory. The tag is found
    and its VMs are listed through the vSphere REST API (C(/api), or C(/rest) on vCenters that lack C(/api));
    everything else comes from one PropertyCollector call.
  - vCenter cannot search tags by name. With O(category), only the categories and that category's tags are read;
    without, every tag is read, several at a time. With O(tag_id) from an earlier run, that one tag is read.
  - With O(capacity_target), it returns only the VMs whose preemption frees what the O(scope) needs to meet the
    target, and RV(capacity) says how much that is; see O(capacity_target).
  - Read-only; supports check mode.
author: vsphere.preemption contributors (@vsphere-preemption)
extends_documentation_fragment:
  - vsphere.preemption.vcenter
options:
  tag:
    description:
      - Name of the vSphere tag.
      - A tag that does not exist is an error naming it, not an empty result.
    type: str
    required: true
  category:
    description:
      - Name of the tag's category.
      - Needed only when several categories hold a tag called O(tag); the error then lists them.
      - Also makes the lookup read only this category's tags instead of every tag in vCenter.
    type: str
  tag_id:
    description:
      - The id of the tag, as RV(tag_id) returned by an earlier run, to skip the lookup by name.
      - It is checked with one call (and one for its category when O(category) is set) and used only when it still
        names the tag O(tag) in O(category); a tag renamed, deleted or in another category is looked up by name
        again instead, so a stale id is never used.
    type: str
  power_state:
    description:
      - Return only VMs in these power states. All power states when not set.
    type: list
    elements: str
    choices: [poweredOn, poweredOff, suspended]
  scope:
    description:
      - A cluster, host, resource pool, vApp, folder or datacenter, by managed object id
        (for example V(domain-c7), V(host-12), V(resgroup-9), V(group-v4), V(datacenter-3)), by name
        (V(compute-01)) or by inventory path, as vCenter writes it (V(/DC1/host/compute-01)) or as the vSphere Client
        shows it (V(DC1/compute-01)).
      - Only VMs under it are returned. A VM is under a cluster when it runs on one of the cluster's hosts
        or lives in one of its resource pools; under a folder or datacenter when it is in it at any depth.
      - A name or path is looked up among the containers of vCenter (one PropertyCollector call, never over the VMs).
        A name that several objects carry is an error listing each with its path and moid; one that none carries is an
        error suggesting the nearest names.
    type: str
  limit:
    description:
      - Return at most this many VMs (the first ones in the order described above). V(0) returns all.
      - RV(total) still counts every match.
      - With O(capacity_target), the most VMs the selection may take.
    type: int
    default: 0
  priority_attribute:
    description:
      - Name of a VM custom attribute holding an integer preemption priority. VMs with the lowest priority
        come first, so give higher numbers to the VMs to keep running longest.
      - An unset or empty value counts as V(0). A value that is not an integer also counts as V(0), with a
        warning naming the VM, so that one mistyped value does not stop a preemption.
      - The custom attribute must be defined in vCenter; a name that is not is an error listing the defined ones.
      - When not set, every VM has priority V(0) and the order is by name.
    type: str
  protect_tag:
    description:
      - A tag that protects a VM from preemption, as V(category:name) or V(name) (split at the first colon).
        A VM carrying it is never returned, whatever other tags it carries, and is listed in RV(excluded)
        with reason V(protected).
      - A tag that does not exist is an error, so that a mistyped name cannot leave the VMs it should protect
        unprotected; the message says how to create it.
      - Costs one more tag lookup and one tag-association call.
    type: str
  attributes:
    description:
      - Names of VM custom attributes whose values each returned VM carries in RV(vms[].attributes), read in the
        same PropertyCollector retrieve; for example V(com.vmware.workflows.vsphere.preemption), to see which run
        preempted a VM (the restore does).
      - A name that is not a custom attribute of VMs in vCenter is an error listing the defined ones.
    type: list
    elements: str
  require_field:
    description:
      - Name of a VM custom attribute that must be defined in vCenter when at least one VM is returned, for
        example V(com.vmware.workflows.vsphere.preemption) before the VMs are powered off and then annotated.
      - When it is not defined, the module fails with the message M(vsphere.preemption.annotate) gives; so it does
        when it is defined for another type of object.
      - Checked in the session the search opens anyway, instead of a check-mode M(vsphere.preemption.annotate) call.
    type: str
  capacity_target:
    description:
      - Return only the VMs to preempt so that O(scope), a cluster or a host, meets this target; a dict with any of
        C(cpu_percent), C(memory_percent) (the scope's usage after the preemption at or below this share of its
        capacity, 1 to 100) and C(cpu_mhz), C(memory_mb) (at least this much freed, a positive whole number).
        When several are given, all must be met.
      - The scope's capacity and usage are those the vSphere Client shows. A cluster, its C(summary.usageSummary)
        (C(totalCpuCapacityMhz), C(totalMemCapacityMB), C(cpuDemandMhz), C(memDemandMB)), which DRS keeps; a host,
        its C(summary.hardware) (cores x MHz, memory) and C(summary.quickStats) (C(overallCpuUsage),
        C(overallMemoryUsage)). What a VM frees is what it uses now, its C(summary.quickStats) C(overallCpuUsage)
        (MHz) and C(hostMemoryUsage) (MB). All are read in the PropertyCollector retrieve the module makes anyway.
      - Selection, as schedulers that preempt do it - priority groups from the lowest; a VM of a higher priority only when
        the VMs of lower priority together cannot free enough (within O(limit)); among those, the fewest VMs (the
        closest fit, then a pass that drops every VM the others make unnecessary). O(limit) still caps.
      - When the scope already meets the target, no VM is returned. When the candidates cannot free enough, every
        candidate that frees some of what is needed is returned, lowest priority first, up to O(limit), and
        C(shortfall) in RV(capacity) says by how much the selection falls short. Protected, solution-managed, Fault
        Tolerance and untagged VMs are never taken to close the gap.
      - An error, before anything else is read, for unknown keys, values outside the ranges above, and a O(scope)
        moid that is not a cluster or host (or no scope); a O(scope) given by name or path, once it is resolved; after
        the retrieve, when vCenter reports no usage for the scope (statistics not collected yet, DRS off).
    type: dict
notes:
  - Uses the C(requests) and C(pyvmomi) Python libraries on the host that runs the module.
seealso:
  - module: vsphere.preemption.power_off
'''

EXAMPLES = r'''
- name: Powered-on VMs tagged preemptible in one cluster, ten at most, least important first
  vsphere.preemption.tagged_vm_info:
    hostname: vcenter.example.com
    username: automation@vsphere.local
    password: "{{ vcenter_password }}"
    tag: preemptible
    category: preemption
    power_state: [poweredOn]
    scope: domain-c7
    priority_attribute: preemption.priority
    protect_tag: preemption:do-not-preempt
    limit: 10
  register: candidates

- name: Say which tagged VMs were left out and why
  ansible.builtin.debug:
    msg: "{{ item.name }} ({{ item.moid }}): {{ item.reason }}"
  loop: "{{ candidates.excluded }}"

- name: Every VM with the tag, connection from the VMWARE_* environment variables
  vsphere.preemption.tagged_vm_info:
    tag: preemptible
  register: tagged

- name: The fewest least important VMs whose power-off brings cluster CPU usage to 75 % or below
  vsphere.preemption.tagged_vm_info:
    tag: preemptible
    power_state: [poweredOn]
    scope: domain-c7
    priority_attribute: preemption.priority
    capacity_target:
      cpu_percent: 75
  register: victims

- name: Powered-on tagged VMs, failing unless they can carry the preemption record
  vsphere.preemption.tagged_vm_info:
    tag: preemptible
    power_state: [poweredOn]
    require_field: com.vmware.workflows.vsphere.preemption
  register: candidates
'''

RETURN = r'''
vms:
  description: The tagged VMs, lowest priority first, then by name; at most O(limit) of them.
  returned: success
  type: list
  elements: dict
  contains:
    moid: &vm_moid
      description: Managed object id of the VM.
      type: str
      sample: vm-58
    name: &vm_name
      description: Name of the VM.
      type: str
      sample: batch-worker-03
    power_state:
      description: V(poweredOn), V(poweredOff) or V(suspended).
      type: str
      sample: poweredOn
    tools_running:
      description: Whether VMware Tools run in the guest (a soft shutdown needs them).
      type: bool
      sample: true
    host:
      description: Name of the host the VM is registered on.
      type: str
      sample: esx-07.example.com
    cluster:
      description: Name of the host's cluster; null for a standalone host.
      type: str
      sample: compute-01
    priority:
      description: The VM's priority from O(priority_attribute); V(0) when unset or not used.
      type: int
      sample: 0
    attributes:
      description: The values of the custom attributes named in O(attributes), by name; null when unset on the VM.
      returned: when O(attributes) is set
      type: dict
      sample: {"com.vmware.workflows.vsphere.preemption": '{"preempted":true,"runID":"8d1c"}'}
    cpu_mhz:
      description: What the VM uses now, in MHz (C(summary.quickStats.overallCpuUsage); V(0) when vCenter reports none).
      returned: when O(capacity_target) is set
      type: int
      sample: 10400
    memory_mb:
      description: The host memory the VM uses now, in MB (C(summary.quickStats.hostMemoryUsage)).
      returned: when O(capacity_target) is set
      type: int
      sample: 16384
  sample:
    - moid: vm-58
      name: batch-worker-03
      power_state: poweredOn
      tools_running: true
      host: esx-07.example.com
      cluster: compute-01
      priority: 0
capacity:
  description:
    - What the selection of O(capacity_target) works with and achieves; C(cpu_mhz) in MHz, C(memory_mb) in MB.
    - C(capacity) and C(usage), the scope's; C(target), the target as checked; C(to_free), what the scope must free to
      meet it (V(0) each when it already does); C(frees), what the returned VMs use; C(shortfall), what is still
      missing (V(0) each when the need is met); C(usage_after), the usage once the returned VMs are off.
  returned: when O(capacity_target) is set
  type: dict
  sample:
    capacity: {cpu_mhz: 84000, memory_mb: 393216}
    usage: {cpu_mhz: 77280, memory_mb: 201000}
    target: {cpu_percent: 75.0}
    to_free: {cpu_mhz: 14280, memory_mb: 0}
    frees: {cpu_mhz: 15600, memory_mb: 24576}
    shortfall: {cpu_mhz: 0, memory_mb: 0}
    usage_after: {cpu_mhz: 61680, memory_mb: 176424}
scope:
  description: The managed object id of O(scope), looked up when O(scope) is a name or path.
  returned: when O(scope) is set
  type: str
  sample: domain-c7
tag_id:
  description: The id of the tag whose VMs were listed; hand it back through O(tag_id) to save the lookup next time.
  returned: success
  type: str
  sample: urn:vmomi:InventoryServiceTag:8e0a5a0b-58b1-4a1b-9d3c-6f7c54c3a7e2:GLOBAL
total:
  description: Number of matching VMs before O(limit) is applied.
  returned: success
  type: int
  sample: 14
excluded:
  description:
    - The tagged VMs in O(scope) and in one of the O(power_state) states that are never returned, by name.
    - O(limit) does not apply to them, and RV(total) does not count them.
  returned: success
  type: list
  elements: dict
  contains:
    moid: *vm_moid
    name: *vm_name
    reason:
      description:
        - V(template); V(managed_by) for a VM managed by a solution (C(config.managedBy) set);
          V(fault_tolerance) for a Fault Tolerance primary or secondary VM; V(protected) for a VM carrying O(protect_tag).
        - When several apply, the first of this list.
      type: str
      sample: managed_by
  sample:
    - moid: vm-71
      name: vCLS-4c1f
      reason: managed_by
    - moid: vm-64
      name: db-replica
      reason: protected
retryable:
  description:
    - Present when the module fails. V(true) when another attempt may succeed (vCenter unreachable, timed out or busy,
      an expired session, HTTP 5xx, 408 or 429); V(false) when it cannot (a refused login, an untrusted certificate,
      an unknown tag, category, scope or custom attribute, invalid options).
    - Decided from the type of the error, never from its message; retry only when it is V(true).
  returned: failure
  type: bool
  sample: false
'''

from ansible_collections.vsphere.preemption.plugins.module_utils._module.skeleton import run_module
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError
from ansible_collections.vsphere.preemption.plugins.module_utils._vm import capacity
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.attributes import CustomAttributes, missing_field_message
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.scope_names import looks_like_moid, resolve_scope
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.inventory import inventory, inventory_with_usage, scope_type
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.selection import POWER_STATES, select
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.tagging import TagNotFound, attached_vm_moids, find_tag, split_tag_reference


OPTIONS = dict(
    tag=dict(type='str', required=True),
    category=dict(type='str'),
    tag_id=dict(type='str'),
    power_state=dict(type='list', elements='str', choices=list(POWER_STATES)),
    scope=dict(type='str'),
    limit=dict(type='int', default=0),
    priority_attribute=dict(type='str'),
    protect_tag=dict(type='str'),
    attributes=dict(type='list', elements='str'),
    require_field=dict(type='str'),
    capacity_target=dict(type='dict'),
)


def protected_vm_moids(rest, reference):
    """Moids of the VMs carrying the protect tag ``reference``; TagNotFound, saying how to create it, when it does not exist."""
    category, name = split_tag_reference(reference)
    try:
        tag = find_tag(rest, name, category)
    except TagNotFound as exc:
        raise TagNotFound('%s protect_tag %r must name an existing tag, so that a mistyped name cannot leave the VMs it '
                          'should protect unprotected. Create it in the vSphere Client (Tags & Custom Attributes > Tags), '
                          'with community.vmware.vmware_tag, or with `govc tags.create -c %s %s`, then attach it to the '
                          'VMs to protect.' % (exc, reference, category or '<category>', name), retryable=False) from None
    return set(attached_vm_moids(rest, tag['id']))


def check(params):
    """Reject the first invalid option value before vCenter is touched."""
    if not params['tag'].strip():
        raise VCenterError('tag must be the name of a vSphere tag, not an empty string.')
    if params['protect_tag'] and not split_tag_reference(params['protect_tag'])[1]:
        raise VCenterError('protect_tag must be a tag name or category:name, not %r.' % params['protect_tag'])
    if params['limit'] < 0:
        raise VCenterError('limit must be 0 (all VMs) or a positive number, not %d.' % params['limit'])
    # A moid's kind is in its prefix, so a target on a scope without a capacity fails here; a name is checked in work().
    scope = params['scope'] or None
    if capacity.check_target(params['capacity_target']) is not None and (scope is None or looks_like_moid(scope)):
        capacity.check_scope_kind(scope_type(scope) if scope is not None else None, scope)


def work(module, vcenter):
    params = module.params
    # An empty string from an unset role variable means "not set".
    category, scope, priority_attribute, require_field, protect_tag = (
        params[key] or None for key in ('category', 'scope', 'priority_attribute', 'require_field', 'protect_tag'))
    rest = vcenter.rest()
    tag = find_tag(rest, params['tag'], category, tag_id=params['tag_id'] or None)
    moids = attached_vm_moids(rest, tag['id'])
    protected = protected_vm_moids(rest, protect_tag) if protect_tag is not None else set()
    content = vcenter.content()
    scope = resolve_scope(content, scope) if scope is not None else None
    target = capacity.check_target(params['capacity_target'])
    if target is not None:
        capacity.check_scope_kind(scope_type(scope) if scope is not None else None, scope)
    result = {} if scope is None else {'scope': scope}
    if target is None:
        records = inventory(content, moids, scope=scope, priority_attribute=priority_attribute, attributes=params['attributes'])
        vms, total, warnings, excluded = select(records, power_states=params['power_state'], limit=params['limit'],
                                                priority_attribute=priority_attribute, protected=protected)
    else:
        records, scope_props = inventory_with_usage(content, moids, scope, priority_attribute=priority_attribute,
                                                    attributes=params['attributes'])
        measured = capacity.scope_usage(scope_type(scope), scope, scope_props)
        candidates, total, warnings, excluded = select(records, power_states=params['power_state'],
                                                       priority_attribute=priority_attribute, protected=protected)
        need = capacity.to_free(target, measured)
        vms = capacity.select_to_free(candidates, need, params['limit'])
        result['capacity'] = capacity.report(measured, target, need, vms)
    # Only VMs about to be acted on need the attribute: finding none is not an error.
    if require_field is not None and vms and CustomAttributes(content).field(require_field) is None:
        raise VCenterError(missing_field_message(require_field))
    for warning in warnings:
        module.warn(warning)
    return dict(changed=False, vms=vms, total=total, excluded=excluded, tag_id=tag['id'], **result)


def main():
    run_module(OPTIONS, check, work, libraries=('requests', 'pyvmomi'))


if __name__ == '__main__':
    main()
