# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""User events on VMs (the VM's Monitor > Events tab), logged at most once per VM per message.

Whether a VM already has the message is read from vCenter's own event log
(one QueryEvents of user events for all the VMs of a call) rather than inferred from
anything this collection wrote: an event logged by a run that was then
killed, or whose annotation was already in place, is found there, and one
that was never logged is not, so a retried or resumed call logs exactly the
missing ones.

`VmEvents.power_history` reads, the same way, what happened to the power of
VMs since a time: restore trusts vCenter's own history, not our records, to
decide whether a VM is still ours.
"""

from __future__ import annotations

import datetime

from ansible_collections.vsphere.preemption.plugins.module_utils._vm import inventory as vm_inventory
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.call import vcenter_call
from ansible_collections.vsphere.preemption.plugins.module_utils._timestamps import format_timestamp

try:
    from pyVmomi import vim, vmodl
except ImportError:
    # vcenter_soap.PYVMOMI_IMPORT_ERROR carries the traceback; modules check it before calling here.
    vim = vmodl = None

USER_EVENT = 'GeneralUserEvent'
# The most events QueryEvents returns in one answer; a VM has far fewer user events than this.
MAX_EVENTS = 1000
# The events that say a VM's power changed, or that it was registered anew (another VM under the same moid's name).
POWER_EVENTS = ('VmPoweredOnEvent', 'DrsVmPoweredOnEvent', 'VmStartingEvent', 'VmPoweredOffEvent', 'VmStoppingEvent',
                'VmGuestShutdownEvent', 'VmResettingEvent', 'VmGuestRebootEvent', 'VmSuspendedEvent', 'VmGuestStandbyEvent',
                'VmRegisteredEvent', 'VmRemovedEvent')


def event_record(event):
    """A power event as plain data: ``{key, chain_id, type, created, user, vm}``."""
    vm = getattr(getattr(event, 'vm', None), 'vm', None)
    return {'key': event.key, 'chain_id': event.chainId, 'type': type(event).__name__.rpartition('.')[2],
            'created': format_timestamp(event.createdTime), 'user': event.userName or '', 'vm': getattr(vm, '_moId', None)}


def missing(logged, message):
    """The moids of ``logged`` (``{moid: [messages already logged on it]}``) that lack ``message``, in order."""
    return [moid for moid, messages in logged.items() if message not in messages]


def _vm_moid(event):
    """The moid of the VM an event is about, or None."""
    argument = getattr(event, 'vm', None) or getattr(event, 'entity', None)
    target = getattr(argument, 'vm', None) or getattr(argument, 'entity', None)
    return getattr(target, '_moId', None)


class VmEvents:
    """Query and log user events on VMs through a ServiceInstance's EventManager."""

    def __init__(self, content):
        self.content = content
        self.manager = content.eventManager
        self._stub = content.propertyCollector._stub
        # LogUserEvent until the server says it has none (the govmomi simulator): then PostEvent.
        self._log_user_event = True

    def _vm(self, moid):
        return vim.VirtualMachine(moid, self._stub)

    def logged(self, moids):
        """``{moid: [message of each user event on the VM]}``: one QueryEvents for all the VMs.

        The user events of the whole inventory, up to MAX_EVENTS; only when vCenter holds that many (the
        answer may have left one of ours out) is each VM asked for by itself.
        """
        spec = vim.event.EventFilterSpec(eventTypeId=[USER_EVENT], maxCount=MAX_EVENTS)
        with vcenter_call('read the user events'):
            events = self.manager.QueryEvents(spec) or []
        result = {moid: [] for moid in moids}
        for event in events:
            moid = _vm_moid(event)
            if moid in result:
                result[moid].append(getattr(event, 'message', None))
        if len(events) >= MAX_EVENTS:
            result = {moid: self._logged_on(moid) for moid in moids}
        return result

    def _logged_on(self, moid):
        spec = vim.event.EventFilterSpec(
            entity=vim.event.EventFilterSpec.ByEntity(entity=self._vm(moid), recursion='self'),
            eventTypeId=[USER_EVENT], maxCount=MAX_EVENTS)
        with vcenter_call('read the events of %s' % moid):
            return [getattr(event, 'message', None) for event in self.manager.QueryEvents(spec) or []]

    def power_history(self, moids, since):
        """``{moid: [event_record, ...]}`` oldest first: the power events of each VM since ``since`` (aware datetime).

        One QueryEvents for the whole batch; when its answer is full (it may have been cut), one per VM.
        """
        wanted = set(moids)
        events = self._power_events(since, None)
        if len(events) >= MAX_EVENTS:
            events = [event for moid in moids for event in self._power_events(since, moid)]
        result = {moid: [] for moid in moids}
        for record in sorted((event_record(event) for event in events), key=lambda record: record['key']):
            # The simulator ignores the time filter; real vCenter applies it.
            if record['vm'] in wanted and record['created'] >= format_timestamp(since):
                result[record['vm']].append(record)
        return result

    def _power_events(self, since, moid):
        spec = vim.event.EventFilterSpec(eventTypeId=list(POWER_EVENTS), maxCount=MAX_EVENTS,
                                         time=vim.event.EventFilterSpec.ByTime(beginTime=since))
        if moid:
            spec.entity = vim.event.EventFilterSpec.ByEntity(entity=self._vm(moid), recursion='self')
        with vcenter_call('read the power events of %s' % (moid or 'the VMs')):
            return list(self.manager.QueryEvents(spec) or [])

    def log(self, moids, message):
        """Log ``message`` as a user event on each VM of ``moids``."""
        names = {}
        for moid in moids:
            if self._log_user_event:
                try:
                    with vcenter_call('log an event on %s' % moid, passthrough=(vmodl.fault.MethodNotFound,)):
                        self.manager.LogUserEvent(entity=self._vm(moid), msg=message)
                    continue
                except vmodl.fault.MethodNotFound:
                    self._log_user_event = False
            if not names:
                names = {m: props['name'] for m, props in vm_inventory.vm_properties(self.content, moids, ()).items()}
            with vcenter_call('post an event on %s' % moid):
                self.manager.PostEvent(eventToPost=self._user_event(moid, names.get(moid, moid), message))

    def _user_event(self, moid, name, message):
        """The GeneralUserEvent LogUserEvent would create; vCenter fills in key, chain, time and user."""
        vm = self._vm(moid)
        return vim.event.GeneralUserEvent(
            key=0, chainId=0, createdTime=datetime.datetime.now(datetime.timezone.utc), userName='',
            message=message, fullFormattedMessage=message,
            vm=vim.event.VmEventArgument(vm=vm, name=name),
            entity=vim.event.ManagedEntityEventArgument(entity=vm, name=name))
