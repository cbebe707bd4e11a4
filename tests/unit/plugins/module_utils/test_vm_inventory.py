# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The pure half of vm_inventory: scope moids, custom attribute keys, records from plain objects."""

from __future__ import annotations

import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.inventory import fault_tolerance, field_key, scope_type, vm_records

# A datacenter with a cluster (two hosts, a root pool with a child pool) and a standalone host,
# VMs in a sub-folder, shaped as retrieve_objects() returns them.
OBJECTS = {
    'group-d1': {'type': 'Folder', 'name': 'Datacenters'},
    'datacenter-2': {'type': 'Datacenter', 'name': 'DC0', 'parent': 'group-d1'},
    'group-v3': {'type': 'Folder', 'name': 'vm', 'parent': 'datacenter-2'},
    'group-v9': {'type': 'Folder', 'name': 'batch', 'parent': 'group-v3'},
    'group-h4': {'type': 'Folder', 'name': 'host', 'parent': 'datacenter-2'},
    'domain-c7': {'type': 'ClusterComputeResource', 'name': 'C0', 'parent': 'group-h4'},
    'host-10': {'type': 'HostSystem', 'name': 'esx-10', 'parent': 'domain-c7'},
    'host-11': {'type': 'HostSystem', 'name': 'esx-11', 'parent': 'domain-c7'},
    'resgroup-8': {'type': 'ResourcePool', 'name': 'Resources', 'parent': 'domain-c7'},
    'resgroup-20': {'type': 'ResourcePool', 'name': 'low', 'parent': 'resgroup-8'},
    'domain-s5': {'type': 'ComputeResource', 'name': 'esx-30', 'parent': 'group-h4'},
    'host-30': {'type': 'HostSystem', 'name': 'esx-30', 'parent': 'domain-s5'},
    'resgroup-31': {'type': 'ResourcePool', 'name': 'Resources', 'parent': 'domain-s5'},
    'vm-1': {'type': 'VirtualMachine', 'name': 'one', 'parent': 'group-v9', 'resourcePool': 'resgroup-20', 'runtime.host': 'host-11',
             'runtime.powerState': 'poweredOn', 'guest.toolsRunningStatus': 'guestToolsRunning', 'config.template': False,
             'customValue': {101: '5', 102: 'x'}},
    'vm-2': {'type': 'VirtualMachine', 'name': 'two', 'parent': 'group-v3', 'resourcePool': 'resgroup-31', 'runtime.host': 'host-30',
             'runtime.powerState': 'poweredOff', 'guest.toolsRunningStatus': 'guestToolsNotRunning', 'config.template': False,
             'customValue': {}},
    'vm-3': {'type': 'VirtualMachine', 'name': 'tmpl', 'parent': 'group-v3', 'runtime.host': 'host-10',
             'runtime.powerState': 'poweredOff', 'config.template': True},
    'vm-4': {'type': 'VirtualMachine'},  # deleted: reported missing, no properties
}


def in_scope(scope):
    return {r['moid']: r['in_scope'] for r in vm_records(OBJECTS, ['vm-1', 'vm-2', 'vm-3'], scope=scope)}


def test_records_carry_host_cluster_state_and_priority():
    records = vm_records(OBJECTS, ['vm-1', 'vm-2', 'vm-3', 'vm-4', 'vm-404'], priority_key=101)
    assert records == [
        dict(moid='vm-1', name='one', power_state='poweredOn', tools_running=True, host='esx-11', cluster='C0', template=False,
             managed_by=None, fault_tolerance=None, priority_raw='5', in_scope=True),
        dict(moid='vm-2', name='two', power_state='poweredOff', tools_running=False, host='esx-30', cluster=None, template=False,
             managed_by=None, fault_tolerance=None, priority_raw=None, in_scope=True),
        dict(moid='vm-3', name='tmpl', power_state='poweredOff', tools_running=False, host='esx-10', cluster='C0', template=True,
             managed_by=None, fault_tolerance=None, priority_raw=None, in_scope=True),
    ]


def test_records_carry_the_managing_solution_and_fault_tolerance_role():
    objects = dict(OBJECTS)
    objects['vm-5'] = dict(OBJECTS['vm-2'], name='vCLS', **{'config.managedBy': {'extensionKey': 'com.vmware.vim.eam', 'type': 'cluster-agent'}})
    objects['vm-6'] = dict(OBJECTS['vm-2'], name='ft2', **{'config.ftInfo': {'role': 2}, 'runtime.faultToleranceState': 'running'})
    records = {r['moid']: r for r in vm_records(objects, ['vm-2', 'vm-5', 'vm-6'])}
    assert [(records[m]['managed_by'], records[m]['fault_tolerance']) for m in ('vm-2', 'vm-5', 'vm-6')] == [
        (None, None), ('com.vmware.vim.eam', None), (None, 'secondary')]


@pytest.mark.parametrize('vm, expected', [
    ({}, None),
    ({'runtime.faultToleranceState': 'notConfigured'}, None),
    ({'runtime.faultToleranceState': ''}, None),
    ({'runtime.faultToleranceState': 'disabled'}, 'disabled'),
    ({'runtime.faultToleranceState': 'needSecondary'}, 'needSecondary'),
    ({'config.ftInfo': {'role': 1}, 'runtime.faultToleranceState': 'running'}, 'primary'),
    ({'config.ftInfo': {'role': 3}}, 'secondary'),
])
def test_fault_tolerance_from_ft_info_or_state(vm, expected):
    assert fault_tolerance(vm) == expected


def test_records_without_priority_attribute_have_no_raw_priority():
    assert {r['priority_raw'] for r in vm_records(OBJECTS, ['vm-1', 'vm-2'])} == {None}


@pytest.mark.parametrize('scope, expected', [
    ('domain-c7', {'vm-1': True, 'vm-2': False, 'vm-3': True}),
    ('host-11', {'vm-1': True, 'vm-2': False, 'vm-3': False}),
    ('host-30', {'vm-1': False, 'vm-2': True, 'vm-3': False}),
    ('domain-s5', {'vm-1': False, 'vm-2': True, 'vm-3': False}),
    ('resgroup-8', {'vm-1': True, 'vm-2': False, 'vm-3': False}),
    ('resgroup-20', {'vm-1': True, 'vm-2': False, 'vm-3': False}),
    ('group-v9', {'vm-1': True, 'vm-2': False, 'vm-3': False}),
    ('group-v3', {'vm-1': True, 'vm-2': True, 'vm-3': True}),
    ('datacenter-2', {'vm-1': True, 'vm-2': True, 'vm-3': True}),
    (None, {'vm-1': True, 'vm-2': True, 'vm-3': True}),
])
def test_scope_is_the_host_or_any_folder_or_pool_ancestor(scope, expected):
    assert in_scope(scope) == expected


def test_unknown_scope_is_an_error():
    with pytest.raises(VCenterError, match=r"^scope 'domain-c99' does not exist in vCenter\.$"):
        vm_records(OBJECTS, ['vm-1'], scope='domain-c99')
    with pytest.raises(VCenterError, match='does not exist'):
        vm_records(dict(OBJECTS, **{'domain-c99': {'type': 'ClusterComputeResource'}}), [], scope='domain-c99')


def test_a_parent_loop_does_not_hang():
    objects = dict(OBJECTS, **{'group-v3': {'type': 'Folder', 'name': 'vm', 'parent': 'group-v9'}})
    assert vm_records(objects, ['vm-2'], scope='group-v9')[0]['in_scope'] is True
    assert vm_records(objects, ['vm-2'], scope='host-11')[0]['in_scope'] is False


@pytest.mark.parametrize('moid, kind', [
    ('domain-c7', 'ClusterComputeResource'), ('clustercomputeresource-27', 'ClusterComputeResource'),
    ('domain-s5', 'ComputeResource'), ('computeresource-23', 'ComputeResource'),
    ('host-12', 'HostSystem'), ('resgroup-9', 'ResourcePool'), ('resgroup-v14', 'VirtualApp'), ('virtualapp-3', 'VirtualApp'),
    ('group-v4', 'Folder'), ('folder-3', 'Folder'), ('datacenter-3', 'Datacenter'),
])
def test_scope_type_from_the_moid_prefix(moid, kind):
    assert scope_type(moid) == kind


@pytest.mark.parametrize('moid', ['vm-12', 'DC0_C0', 'host-', 'datastore-5', ''])
def test_scope_type_rejects_what_is_no_container(moid):
    with pytest.raises(VCenterError, match=r'is not the moid of a cluster \(domain-c\.\.\.\), host'):
        scope_type(moid)


def test_field_key_finds_vm_and_global_attributes():
    fields = [{'key': 1, 'name': 'prio', 'type': 'HostSystem'}, {'key': 2, 'name': 'prio', 'type': 'VirtualMachine'},
              {'key': 3, 'name': 'owner', 'type': None}]
    assert field_key(fields, 'prio') == 2
    assert field_key(fields, 'owner') == 3


def test_field_key_missing_lists_the_defined_attributes():
    fields = [{'key': 1, 'name': 'host-only', 'type': 'HostSystem'}, {'key': 2, 'name': 'b', 'type': 'VirtualMachine'},
              {'key': 3, 'name': 'a', 'type': None}]
    with pytest.raises(VCenterError) as caught:
        field_key(fields, 'prio')
    assert str(caught.value) == "priority_attribute 'prio' is not a custom attribute of VMs in vCenter (defined: 'a', 'b')."
    with pytest.raises(VCenterError, match=r'\(defined: none\)'):
        field_key([], 'prio')


def _answer(*missing_faults):
    """A RetrievePropertiesEx answer for vm-1 whose properties vCenter could not read."""
    from pyVmomi import vim, vmodl
    pc = vmodl.query.PropertyCollector
    found = pc.ObjectContent(obj=vim.VirtualMachine('vm-1'), propSet=[vmodl.DynamicProperty(name='name', val='one')],
                             missingSet=[pc.MissingProperty(path='runtime.powerState', fault=fault) for fault in missing_faults])
    return pc.RetrieveResult(objects=[found])


class OneAnswerCollector:
    def __init__(self, answer):
        self.answer = answer

    def RetrievePropertiesEx(self, specSet, options):  # noqa: N802 pylint: disable=invalid-name  # pyvmomi's name
        return self.answer


def test_a_property_vcenter_could_not_read_is_an_error_not_an_absent_vm():
    from pyVmomi import vim
    from ansible_collections.vsphere.preemption.plugins.module_utils._vm.inventory import _collect
    with pytest.raises(VCenterError, match='did not return runtime.powerState of vm-1: .*NotAuthenticated'):
        _collect(OneAnswerCollector(_answer(vim.fault.NotAuthenticated())), specs=[])


def test_an_object_that_does_not_exist_is_reported_as_absent():
    from pyVmomi import vmodl
    from ansible_collections.vsphere.preemption.plugins.module_utils._vm.inventory import _collect
    objects = _collect(OneAnswerCollector(_answer(vmodl.fault.ManagedObjectNotFound())), specs=[])
    assert objects == {'vm-1': {'type': 'VirtualMachine', 'name': 'one'}}
