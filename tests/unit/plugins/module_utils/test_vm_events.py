# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""VmEvents: LogUserEvent where vCenter has it (the simulator has not, so a fake stands in), PostEvent otherwise."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pyVmomi import vim, vmodl

from ansible_collections.vsphere.preemption.plugins.module_utils._vm import events as vm_events
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError


class FakeEventManager:
    def __init__(self, has_log_user_event=True, fault=None):
        self.has_log_user_event = has_log_user_event
        self.fault = fault
        self.calls = []

    def LogUserEvent(self, entity, msg):
        self.calls.append(('LogUserEvent', entity._moId, msg))
        if not self.has_log_user_event:
            raise vmodl.fault.MethodNotFound(method='LogUserEvent')
        if self.fault is not None:
            raise self.fault

    def PostEvent(self, eventToPost):
        self.calls.append(('PostEvent', eventToPost.vm.vm._moId, eventToPost.message))


def events(manager):
    return vm_events.VmEvents(SimpleNamespace(eventManager=manager, propertyCollector=SimpleNamespace(_stub=None)))


def test_missing_keeps_order_and_skips_vms_that_have_the_message():
    assert vm_events.missing({'vm-2': ['a', 'b'], 'vm-1': [], 'vm-3': ['b']}, 'a') == ['vm-1', 'vm-3']


def test_log_user_event_is_used_where_vcenter_has_it():
    manager = FakeEventManager()
    events(manager).log(['vm-1', 'vm-2'], 'hello')
    assert manager.calls == [('LogUserEvent', 'vm-1', 'hello'), ('LogUserEvent', 'vm-2', 'hello')]


def test_without_log_user_event_post_event_is_used_from_then_on(monkeypatch):
    monkeypatch.setattr(vm_events.vm_inventory, 'vm_properties', lambda content, moids, paths: {m: {'name': m.upper()} for m in moids})
    manager = FakeEventManager(has_log_user_event=False)
    events(manager).log(['vm-1', 'vm-2'], 'hello')
    assert manager.calls == [('LogUserEvent', 'vm-1', 'hello'), ('PostEvent', 'vm-1', 'hello'), ('PostEvent', 'vm-2', 'hello')]


def test_another_refusal_is_an_error_naming_the_vm():
    with pytest.raises(VCenterError) as info:
        events(FakeEventManager(fault=vim.fault.NoPermission(msg='Permission to perform this operation was denied.'))).log(['vm-7'], 'x')
    assert 'vm-7' in str(info.value) and 'Permission' in str(info.value)


def user_event(moid, message):
    vm = vim.VirtualMachine(moid)
    return vim.event.GeneralUserEvent(message=message, vm=vim.event.VmEventArgument(vm=vm, name=moid),
                                      entity=vim.event.ManagedEntityEventArgument(entity=vm, name=moid))


class QueryingEventManager:
    def __init__(self, events):
        self.events = events
        self.specs = []

    def QueryEvents(self, spec):
        self.specs.append(spec)
        if spec.entity is not None:
            return [event for event in self.events if event.vm.vm._moId == spec.entity.entity._moId]
        return self.events[:spec.maxCount]


def test_one_query_answers_for_every_vm():
    manager = QueryingEventManager([user_event('vm-1', 'run a'), user_event('vm-3', 'run b'), user_event('vm-9', 'run a')])
    logged = events(manager).logged(['vm-1', 'vm-2', 'vm-3'])
    assert logged == {'vm-1': ['run a'], 'vm-2': [], 'vm-3': ['run b']}
    assert vm_events.missing(logged, 'run a') == ['vm-2', 'vm-3']
    assert len(manager.specs) == 1
    assert manager.specs[0].entity is None and manager.specs[0].eventTypeId == ['GeneralUserEvent']


def test_a_full_answer_is_checked_vm_by_vm(monkeypatch):
    monkeypatch.setattr(vm_events, 'MAX_EVENTS', 2)
    # vm-2's event is beyond the first answer: asked for by itself, it is found, and not logged twice.
    manager = QueryingEventManager([user_event('vm-7', 'x'), user_event('vm-8', 'y'), user_event('vm-2', 'run a')])
    logged = events(manager).logged(['vm-1', 'vm-2'])
    assert logged == {'vm-1': [], 'vm-2': ['run a']}
    assert [spec.entity.entity._moId for spec in manager.specs[1:]] == ['vm-1', 'vm-2']
