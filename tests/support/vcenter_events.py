# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What vCenter's event log holds (EventManager.QueryEvents), read the same way by every test.

The simulator keeps every event of its life: a test that must see only its own events takes
``last_event_key()`` before it acts and reads the events after that key.
"""

from __future__ import annotations

from pyVmomi import vim


def last_event_key(vcenter):
    """The key of the newest event (0 when there is none): later events have larger keys."""
    events = vcenter.content.eventManager.QueryEvents(vim.event.EventFilterSpec(maxCount=1))
    return max((e.key for e in events or ()), default=0)


def user_events(vcenter, moid, after=0):
    """Messages of the user events (GeneralUserEvent) vCenter holds for the VM ``moid``, newer than the key ``after``."""
    spec = vim.event.EventFilterSpec(entity=vim.event.EventFilterSpec.ByEntity(entity=vcenter.vm(moid), recursion='self'),
                                     eventTypeId=['GeneralUserEvent'], maxCount=1000)
    return [event.message for event in vcenter.content.eventManager.QueryEvents(spec) if event.key > after]


def power_event_times(vcenter, event_type, moids, after):
    """When vCenter recorded ``event_type`` (VmPoweredOnEvent, VmPoweredOffEvent) for the VMs ``moids``, after the key ``after``; sorted."""
    spec = vim.event.EventFilterSpec(eventTypeId=[event_type], maxCount=1000)
    events = vcenter.content.eventManager.QueryEvents(spec)
    return sorted(e.createdTime for e in events if e.key > after and e.vm is not None and e.vm.vm._moId in moids)
