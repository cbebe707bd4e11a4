# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What vCenter knows about a given set of VMs, read in one PropertyCollector call.

``retrieve_objects()`` asks for the VMs by moid, and follows traversal specs
from each VM up its folder and resource-pool chains (``parent``), to its
cluster or standalone compute resource (``ResourcePool.owner``) and to that
compute resource's hosts. The cost is proportional to the VMs asked for and
their ancestors, never to the size of the inventory. The answer is turned
into plain dicts; ``vm_records()`` (pure) shapes them into one record per VM,
including whether the VM lies under a given scope object.
"""

from __future__ import annotations


from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.call import vcenter_call
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError, fault_retryable

try:
    from pyVmomi import VmomiSupport, vim, vmodl
except ImportError:
    # vcenter_soap.PYVMOMI_IMPORT_ERROR carries the traceback; modules check it before calling here.
    VmomiSupport = vim = vmodl = None

VM_PROPERTIES = ('name', 'runtime.powerState', 'guest.toolsRunningStatus', 'runtime.host', 'config.template',
                 'parent', 'resourcePool', 'config.managedBy', 'runtime.faultToleranceState', 'config.ftInfo')
TOOLS_RUNNING = 'guestToolsRunning'
# What a VM uses now (MHz, MB), read with a capacity target; vCenter leaves a zero unset.
VM_USAGE_PROPERTIES = {'cpu_mhz': 'summary.quickStats.overallCpuUsage', 'memory_mb': 'summary.quickStats.hostMemoryUsage'}
# The capacity and usage of a scope that has them (capacity.scope_usage reads them).
SCOPE_USAGE_PROPERTIES = {
    'ClusterComputeResource': ('summary.usageSummary',),
    'HostSystem': ('summary.hardware.cpuMhz', 'summary.hardware.numCpuCores', 'summary.hardware.memorySize',
                   'summary.quickStats.overallCpuUsage', 'summary.quickStats.overallMemoryUsage'),
}
USAGE_SUMMARY_FIELDS = ('totalCpuCapacityMhz', 'totalMemCapacityMB', 'cpuDemandMhz', 'memDemandMB')
# runtime.faultToleranceState of a VM outside Fault Tolerance; vCenter may also leave it unset.
FT_NOT_CONFIGURED = 'notConfigured'

# Moid prefixes of the objects a scope may name: vCenter's (domain-c7, group-v4,
# resgroup-9, ...) and the govmomi simulator's (clustercomputeresource-27, folder-3, ...).
# Longest prefixes first, since resgroup-v (a vApp) starts like resgroup- (a pool).
SCOPE_PREFIXES = (
    ('clustercomputeresource-', 'ClusterComputeResource'),
    ('computeresource-', 'ComputeResource'),
    ('datacenter-', 'Datacenter'),
    ('virtualapp-', 'VirtualApp'),
    ('resgroup-v', 'VirtualApp'),
    ('resgroup-', 'ResourcePool'),
    ('domain-c', 'ClusterComputeResource'),
    ('domain-s', 'ComputeResource'),
    ('folder-', 'Folder'),
    ('group-', 'Folder'),
    ('host-', 'HostSystem'),
)


def scope_type(moid):
    """The managed object type of a scope moid, from its prefix; VCenterError when it names no container."""
    for prefix, kind in SCOPE_PREFIXES:
        if moid.startswith(prefix) and len(moid) > len(prefix):
            return kind
    raise VCenterError('scope %r is not the moid of a cluster (domain-c...), host (host-...), resource pool '
                       '(resgroup-...), folder (group-...) or datacenter (datacenter-...).' % moid, retryable=False)


def field_key(fields, name, option='priority_attribute'):
    """The key of the VM custom attribute ``name`` among CustomFieldsManager's ``fields``.

    ``fields`` are dicts ``{key, name, type}`` (``type`` is the managed object
    type the attribute applies to, None for global attributes); ``option`` names
    the module option that gave ``name``, for the error.
    """
    for field in fields:
        if field['name'] == name and field['type'] in (None, 'VirtualMachine'):
            return field['key']
    names = sorted(f['name'] for f in fields if f['type'] in (None, 'VirtualMachine'))
    raise VCenterError('%s %r is not a custom attribute of VMs in vCenter (defined: %s).'
                       % (option, name, ', '.join(repr(n) for n in names) or 'none'), retryable=False)


def _chain(objects, start):
    """``start`` and every ancestor of it, following ``parent`` through ``objects``."""
    seen = []
    while start is not None and start not in seen:
        seen.append(start)
        start = objects.get(start, {}).get('parent')
    return seen


def fault_tolerance(vm):
    """``'primary'``, ``'secondary'`` or the FT state of a Fault Tolerance VM; None for any other VM.

    ``config.ftInfo.role`` is 1 on the primary and 2 or more on secondaries; a VM whose
    FT is configured but disabled or still starting has a state other than notConfigured.
    """
    info = vm.get('config.ftInfo')
    if info is not None:
        return 'primary' if info.get('role') == 1 else 'secondary'
    state = vm.get('runtime.faultToleranceState')
    return None if state in (None, '', FT_NOT_CONFIGURED) else state


def vm_records(objects, moids, scope=None, priority_key=None, attribute_keys=None, usage=False):
    """One record per VM of ``moids`` that exists, from the plain ``objects`` retrieve_objects() returns.

    Record: ``moid, name, power_state, tools_running, host, cluster, template,
    managed_by`` (the extension key of the solution managing the VM, or None),
    ``fault_tolerance`` (see fault_tolerance()), ``priority_raw`` (the custom
    attribute's string, None when unset), with ``attribute_keys`` (``{name: key}``)
    ``attributes`` (``{name: value or None}``), and
    ``in_scope`` (True when ``scope`` is None or the VM's host, folder chain or
    resource pool chain contains it), with ``usage`` ``cpu_mhz`` and
    ``memory_mb`` (what it uses now; 0 when vCenter reports nothing). Raises
    VCenterError when ``scope`` is not in vCenter.
    """
    if scope is not None and 'name' not in objects.get(scope, {}):
        raise VCenterError('scope %r does not exist in vCenter.' % scope, retryable=False)
    records = []
    for moid in moids:
        vm = objects.get(moid, {})
        if vm.get('type') != 'VirtualMachine' or 'name' not in vm:
            # Deleted after it was tagged: vCenter drops such associations lazily.
            continue
        host = objects.get(vm.get('runtime.host'), {})
        compute = objects.get(host.get('parent'), {})
        managed = vm.get('config.managedBy')
        ancestors = set(_chain(objects, vm.get('parent')) + _chain(objects, vm.get('resourcePool'))
                        + _chain(objects, vm.get('runtime.host')))
        records.append({
            'moid': moid,
            'name': vm['name'],
            'power_state': vm.get('runtime.powerState'),
            'tools_running': vm.get('guest.toolsRunningStatus') == TOOLS_RUNNING,
            'host': host.get('name'),
            'cluster': compute.get('name') if compute.get('type') == 'ClusterComputeResource' else None,
            'template': bool(vm.get('config.template')),
            'managed_by': None if managed is None else managed.get('extensionKey', ''),
            'fault_tolerance': fault_tolerance(vm),
            'priority_raw': (vm.get('customValue') or {}).get(priority_key) if priority_key is not None else None,
            'in_scope': scope is None or scope in ancestors,
        })
        if attribute_keys is not None:
            values = vm.get('customValue') or {}
            records[-1]['attributes'] = {name: values.get(key) for name, key in attribute_keys.items()}
        if usage:
            records[-1].update({key: vm.get(path) or 0 for key, path in VM_USAGE_PROPERTIES.items()})
    return records


def _plain(value):
    """A property value as plain Python: managed object references become their moid."""
    if isinstance(value, VmomiSupport.ManagedObject):
        return value._moId
    if isinstance(value, vim.ext.ManagedByInfo):
        return {'extensionKey': value.extensionKey, 'type': value.type}
    if isinstance(value, vim.vm.FaultToleranceConfigInfo):
        return {'role': value.role}
    if isinstance(value, vim.cluster.UsageSummary):
        return {name: getattr(value, name) for name in USAGE_SUMMARY_FIELDS}
    if isinstance(value, list):
        if value and isinstance(value[0], vim.CustomFieldsManager.Value):
            return {item.key: getattr(item, 'value', None) for item in value}
        if value and isinstance(value[0], vim.CustomFieldsManager.FieldDef):
            return [{'key': f.key, 'name': f.name, 'type': f.managedObjectType._wsdlName if f.managedObjectType else None}
                    for f in value]
        return [_plain(item) for item in value]
    return value


def _traversal(name, kind, path, *select):
    return vmodl.query.PropertyCollector.TraversalSpec(
        name=name, type=kind, path=path, skip=False,
        selectSet=[s if not isinstance(s, str) else vmodl.query.PropertyCollector.SelectionSpec(name=s) for s in select])


def _specs(content, moids, scope, with_fields, usage=False):
    pc = vmodl.query.PropertyCollector
    stub = content.propertyCollector._stub
    up = _traversal('up', vim.ManagedEntity, 'parent', 'up')
    to_hosts = _traversal('toHosts', vim.ComputeResource, 'host')
    to_owner = _traversal('toOwner', vim.ResourcePool, 'owner', to_hosts)
    to_pool = _traversal('toPool', vim.VirtualMachine, 'resourcePool', 'up', to_owner)
    object_set = [pc.ObjectSpec(obj=vim.VirtualMachine(moid, stub), skip=False, selectSet=[up, to_pool]) for moid in moids]
    # Custom attribute values only when a priority attribute needs them: they can be long (annotations).
    vm_paths = list(VM_PROPERTIES) + (['customValue'] if with_fields else []) + (list(VM_USAGE_PROPERTIES.values()) if usage else [])
    prop_set = [pc.PropertySpec(type=vim.VirtualMachine, pathSet=vm_paths),
                pc.PropertySpec(type=vim.ManagedEntity, pathSet=['name', 'parent'])]
    if scope is not None:
        kind = scope_type(scope)
        object_set.append(pc.ObjectSpec(obj=getattr(vim, kind)(scope, stub), skip=False))
        if usage and kind in SCOPE_USAGE_PROPERTIES:
            prop_set.append(pc.PropertySpec(type=getattr(vim, kind), pathSet=list(SCOPE_USAGE_PROPERTIES[kind])))
    if with_fields:
        object_set.append(pc.ObjectSpec(obj=content.customFieldsManager, skip=False))
        prop_set.append(pc.PropertySpec(type=vim.CustomFieldsManager, pathSet=['field']))
    # Report objects that do not exist (a deleted VM, a wrong scope) instead of failing the whole call.
    return [pc.FilterSpec(objectSet=object_set, propSet=prop_set, reportMissingObjectsInResults=True)]


def _raise_unreadable(found):
    """A property vCenter could not read (no permission, expired session) must not pass for an absent VM.

    Only ManagedObjectNotFound means the object is gone; any other fault in
    missingSet would otherwise turn into an empty (and wrong) selection.
    """
    for missing in found.missingSet or ():
        if not isinstance(missing.fault, vmodl.fault.ManagedObjectNotFound):
            raise VCenterError('vCenter did not return %s of %s: %s' % (
                missing.path or 'the object', found.obj._moId, getattr(missing.fault, 'msg', None) or missing.fault._wsdlName),
                retryable=fault_retryable(missing.fault))


def _collect(collector, specs):
    """RetrievePropertiesEx (and the continuations of its own answer) as ``{moid: {'type': ..., path: value}}``."""
    objects = {}
    with vcenter_call('answer the PropertyCollector query'):
        result = collector.RetrievePropertiesEx(specSet=specs, options=vmodl.query.PropertyCollector.RetrieveOptions())
        while result is not None:
            for found in result.objects:
                entry = objects.setdefault(found.obj._moId, {'type': found.obj._wsdlName})
                for prop in found.propSet or ():
                    entry[prop.name] = _plain(prop.val)
                _raise_unreadable(found)
            result = collector.ContinueRetrievePropertiesEx(token=result.token) if result.token else None
    return objects


def retrieve_objects(content, moids, scope=None, with_fields=False, usage=False):
    """One RetrievePropertiesEx (plus continuations of its own answer) for the VMs, their ancestors and hosts.

    Returns ``{moid: {'type': ..., property path: plain value}}``; objects that
    do not exist have only ``type``. With ``with_fields``, the custom attribute
    definitions are under the key ``'customFieldsManager'`` as ``{'field': [...]}``. With ``usage``,
    each VM's and the scope's usage (VM_USAGE_PROPERTIES, SCOPE_USAGE_PROPERTIES) too.
    """
    objects = _collect(content.propertyCollector, _specs(content, moids, scope, with_fields, usage))
    if with_fields:
        objects['customFieldsManager'] = objects.pop(content.customFieldsManager._moId, {})
    return objects


def vm_properties(content, moids, paths):
    """``{moid: {'type': ..., 'name': ..., path: plain value}}`` for the VMs ``moids`` that exist (one call)."""
    if not moids:
        return {}
    pc = vmodl.query.PropertyCollector
    stub = content.propertyCollector._stub
    spec = pc.FilterSpec(objectSet=[pc.ObjectSpec(obj=vim.VirtualMachine(moid, stub), skip=False) for moid in moids],
                         propSet=[pc.PropertySpec(type=vim.VirtualMachine, pathSet=['name'] + [p for p in paths if p != 'name'])],
                         reportMissingObjectsInResults=True)
    return {moid: props for moid, props in _collect(content.propertyCollector, [spec]).items() if 'name' in props}


def inventory(content, moids, scope=None, priority_attribute=None, attributes=None):
    """Records (see vm_records) for the VMs ``moids``, in one PropertyCollector retrieve.

    ``attributes``: names of VM custom attributes whose values each record carries (in the same retrieve).

    ``content`` is the ServiceContent (``si.RetrieveContent()``, read once by the caller).
    """
    return _inventory(content, moids, scope, priority_attribute, attributes, False)[0]


def inventory_with_usage(content, moids, scope, priority_attribute=None, attributes=None):
    """``(records, scope properties)``: inventory() plus each VM's ``cpu_mhz``/``memory_mb`` and the scope's
    SCOPE_USAGE_PROPERTIES (``{'type': ..., path: value}``), in the same single retrieve."""
    return _inventory(content, moids, scope, priority_attribute, attributes, True)


def _inventory(content, moids, scope, priority_attribute, attributes, usage):
    if not moids and scope is None and priority_attribute is None and not attributes:
        return [], {}
    with_fields = priority_attribute is not None or bool(attributes)
    objects = retrieve_objects(content, moids, scope=scope, with_fields=with_fields, usage=usage)
    fields = objects['customFieldsManager'].get('field') or [] if with_fields else []
    priority_key = field_key(fields, priority_attribute) if priority_attribute is not None else None
    attribute_keys = {name: field_key(fields, name, 'attributes') for name in attributes} if attributes else None
    records = vm_records(objects, moids, scope=scope, priority_key=priority_key, attribute_keys=attribute_keys, usage=usage)
    return records, objects.get(scope, {}) if scope is not None else {}
