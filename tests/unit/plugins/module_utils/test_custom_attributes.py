# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import pytest
from pyVmomi import vim, vmodl

from ansible_collections.vsphere.preemption.plugins.module_utils._vm.attributes import (
    CustomAttributeError,
    CustomAttributes,
    diff_entries,
    encode_value,
    find_field,
    missing_field_message,
    plan_changes,
    unique,
)

KEY = 'com.vmware.workflows.vsphere.preemption'


# ---------------------------------------------------------------- value encoding

def test_a_dict_becomes_compact_json_with_sorted_keys():
    value = {'workflowID': 'wf', 'preempted': True, 'event': {'b': 1, 'a': [1, 2]}, 'criticality': 'HIGH'}
    assert encode_value(value) == '{"criticality":"HIGH","event":{"a":[1,2],"b":1},"preempted":true,"workflowID":"wf"}'
    assert json.loads(encode_value(value)) == value


def test_the_same_data_always_gives_the_same_text():
    assert encode_value({'a': 1, 'b': 2}) == encode_value({'b': 2, 'a': 1})


def test_text_is_kept_readable_and_strings_stored_as_they_are():
    assert encode_value({'owner': 'Jürgen'}) == '{"owner":"Jürgen"}'
    assert encode_value('  batch team ') == '  batch team '
    assert encode_value('{"b":1, "a":2}') == '{"b":1, "a":2}'
    assert encode_value([{'b': 1, 'a': 2}]) == '[{"a":2,"b":1}]'


@pytest.mark.parametrize('value, kind', [(5, 'int'), (None, 'NoneType'), (True, 'bool'), (1.5, 'float')])
def test_other_values_are_refused(value, kind):
    with pytest.raises(CustomAttributeError, match=r'^value must be a dict \(stored as JSON\) or a string, got %s\.$' % kind):
        encode_value(value)


# ---------------------------------------------------------------- diff computation

def test_plan_changes_splits_by_current_value_in_order():
    current = {'vm-3': 'new', 'vm-1': '', 'vm-2': 'old', 'vm-4': 'new'}
    assert plan_changes(current, 'new') == (['vm-1', 'vm-2'], ['vm-3', 'vm-4'])
    assert plan_changes({}, 'x') == ([], [])


def test_diff_entries_one_per_changed_vm():
    current = {'vm-1': '', 'vm-2': 'old', 'vm-3': 'new'}
    assert diff_entries(current, 'new', ['vm-1', 'vm-2'], KEY) == [
        dict(before_header='vm-1: %s' % KEY, after_header='vm-1: %s' % KEY, before='', after='new\n'),
        dict(before_header='vm-2: %s' % KEY, after_header='vm-2: %s' % KEY, before='old\n', after='new\n'),
    ]


def test_unique_keeps_order_and_refuses_empty_moids():
    assert unique(['vm-2', 'vm-1', 'vm-2']) == ['vm-2', 'vm-1']
    with pytest.raises(CustomAttributeError, match=r"^vms must list VM managed object ids such as vm-42, got ' '\.$"):
        unique(['vm-1', ' '])


# ---------------------------------------------------------------- field definitions

def field(name, mo_type, key=1):
    return SimpleNamespace(name=name, managedObjectType=mo_type, key=key)


def test_find_field_for_vms_or_all_types():
    fields = [field('other', vim.VirtualMachine, 1), field(KEY, vim.VirtualMachine, 2)]
    assert find_field(fields, KEY, vim.VirtualMachine).key == 2
    assert find_field([field(KEY, None, 3)], KEY, vim.VirtualMachine).key == 3
    assert find_field(fields, 'missing', vim.VirtualMachine) is None


def test_a_field_for_another_type_is_an_error():
    with pytest.raises(CustomAttributeError, match=r"^The custom attribute 'owner' exists for vim.HostSystem objects, not for virtual machines"):
        find_field([field('owner', vim.HostSystem)], 'owner', vim.VirtualMachine)


def test_the_missing_field_message_says_how_to_create_it():
    message = missing_field_message(KEY)
    assert KEY in message
    assert 'ansible-playbook vsphere.preemption.setup' in message
    assert 'create_field: true' in message


# ---------------------------------------------------------------- reading values (the PropertyCollector replaced)

class Collector:
    """Answers RetrievePropertiesEx like vCenter: a fault for the first unknown VM, else the values."""

    def __init__(self, values):
        self.values = values
        self.calls = []

    def RetrievePropertiesEx(self, specs, options):
        moids = [spec.obj._moId for spec in specs[0].objectSet]
        self.calls.append(moids)
        for moid in moids:
            if moid not in self.values:
                raise vmodl.fault.ManagedObjectNotFound(obj=vim.VirtualMachine(moid))
        return SimpleNamespace(token=None, objects=[
            SimpleNamespace(obj=vim.VirtualMachine(moid), propSet=[
                SimpleNamespace(name='customValue', val=[vim.CustomFieldsManager.StringValue(key=key, value=value)
                                                         for key, value in self.values[moid].items()])])
            for moid in moids])


def attributes_with(collector):
    content = SimpleNamespace(customFieldsManager=None, propertyCollector=collector)
    return CustomAttributes(content)


def test_values_reads_all_vms_in_one_call():
    collector = Collector({'vm-1': {7: 'x', 8: 'other field'}, 'vm-2': {}, 'vm-3': {8: 'y'}})
    assert attributes_with(collector).values(['vm-2', 'vm-1', 'vm-3'], 7) == {'vm-2': '', 'vm-1': 'x', 'vm-3': ''}
    assert collector.calls == [['vm-2', 'vm-1', 'vm-3']]


def test_values_names_every_unknown_moid():
    collector = Collector({'vm-1': {}})
    with pytest.raises(CustomAttributeError, match=r'^No virtual machine with moid vm-8, vm-9 in vCenter; nothing was written\.$'):
        attributes_with(collector).values(['vm-8', 'vm-1', 'vm-9'], 7)


# ---------------------------------------------------------------- writing values (the CustomFieldsManager replaced)

class Manager:
    """Records SetField calls and the most ever in flight; fails for the moids in ``refuse``."""

    def __init__(self, refuse=()):
        self.refuse = refuse
        self.written = []
        self.lock = threading.Lock()
        self.in_flight = self.most = 0

    def SetField(self, entity, key, value):
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        try:
            time.sleep(0.02)
            if entity._moId in self.refuse:
                raise vim.fault.TaskInProgress(msg='busy')
            with self.lock:
                self.written.append((entity._moId, key, value))
        finally:
            with self.lock:
                self.in_flight -= 1


def attributes_writing(manager):
    content = SimpleNamespace(customFieldsManager=manager, propertyCollector=None)
    return CustomAttributes(content)


def test_set_values_writes_every_vm_at_most_parallel_at_a_time():
    manager = Manager()
    moids = ['vm-%d' % i for i in range(12)]
    attributes_writing(manager).set_values(moids, 7, 'v', parallel=4)
    assert sorted(manager.written) == sorted((moid, 7, 'v') for moid in moids)
    assert manager.most == 4


def test_set_values_tries_every_vm_then_raises_the_first_failure_with_its_flag():
    manager = Manager(refuse={'vm-3'})
    moids = ['vm-%d' % i for i in range(6)]
    with pytest.raises(CustomAttributeError, match='vm-3') as caught:
        attributes_writing(manager).set_values(moids, 7, 'v', parallel=3)
    assert caught.value.retryable is True
    assert len(manager.written) == 5


def test_what_xml_cannot_carry_is_written_escaped_and_stays_json():
    from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.soap import soap_text
    value = encode_value({'workflowID': 'a\x01b\ufffec\x00', 'note': 'tab\tline\nok'})
    safe = soap_text(value)
    assert safe == '{"note":"tab\\tline\\nok","workflowID":"a\\u0001b\\ufffec\\u0000"}'
    assert json.loads(safe) == json.loads(value)
    assert soap_text('Preempted: workflow CPU\x07 > 80%') == 'Preempted: workflow CPU\\u0007 > 80%'
    assert soap_text('tab\there\nok\r') == 'tab\there\nok\r'
