# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Wait for vCenter tasks and property values without polling, as ``pyVim.task.WaitForTasks`` does.

One private PropertyCollector holds one filter on the objects; each
``WaitForUpdatesEx`` call returns when something changed or at the next
deadline. So the requests a wait makes grow with the changes vCenter reports,
never with how long vCenter takes:

    outcomes = wait_for_tasks(content, [vm.PowerOnVM_Task() for vm in vms], timeout=600)
    # {'task-41': TaskOutcome(state='success', error=None), ...}

The collector is private so that concurrent waits (and the session's own
collector) never see each other's updates; it is destroyed at the end, with
its filter.
"""

from __future__ import annotations

import math
import time
from collections import namedtuple

from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.call import vcenter_call
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError, fault_retryable

try:
    from pyVmomi import vmodl
except ImportError:
    # vcenter_soap.PYVMOMI_IMPORT_ERROR carries the traceback; modules check it before calling here.
    vmodl = None

# A task's end: state 'success' or 'error' (then ``error`` is its vSphere fault);
# 'queued' or 'running' when it had not ended by the timeout; None when vCenter no longer knows it.
TaskOutcome = namedtuple('TaskOutcome', 'state error')
TASK_ENDED = ('success', 'error')


def wait_for_tasks(content, tasks, timeout, clock=time.monotonic):
    """``{task moid: TaskOutcome}`` once every task has ended, or ``timeout`` seconds passed.

    ``content`` is the ServiceContent. Raises VCenterError (with ``retryable``)
    when vCenter refuses the wait or the connection fails.
    """
    deadline = clock() + timeout
    values = _watch(content, tasks, ('info.state', 'info.error'), lambda seen: seen.get('info.state') in TASK_ENDED,
                    {task._moId: deadline for task in tasks}, clock)
    return {moid: TaskOutcome(seen.get('info.state'), seen.get('info.error')) if seen is not None else TaskOutcome(None, None)
            for moid, seen in values.items()}


def wait_for_property(content, objects, path, value, deadlines, clock=time.monotonic):
    """``{moid: value of path}`` once each object's ``path`` equals ``value`` or its deadline passed.

    ``deadlines`` maps each object's moid to a ``clock()`` time. The value is
    the last one vCenter reported; None for an object that no longer exists.
    """
    values = _watch(content, objects, (path,), lambda seen: seen.get(path) == value, deadlines, clock)
    return {moid: seen.get(path) if seen is not None else None for moid, seen in values.items()}


def _watch(content, objects, paths, settled, deadlines, clock):
    """Follow ``paths`` of ``objects`` until ``settled(values)`` holds for each, or it is past its deadline.

    Returns ``{moid: {path: value}}`` as last reported, None for an object that left.
    """
    if not objects:
        return {}
    with vcenter_call('report the progress of %s' % _what(objects)):
        collector = content.propertyCollector.CreatePropertyCollector()
        try:
            return _follow(collector, objects, paths, settled, deadlines, clock)
        finally:
            collector.DestroyPropertyCollector()


def _what(objects):
    return 'its tasks' if objects[0]._wsdlName == 'Task' else 'the VMs'


def _follow(collector, objects, paths, settled, deadlines, clock):
    pc = vmodl.query.PropertyCollector
    spec = pc.FilterSpec(objectSet=[pc.ObjectSpec(obj=obj, skip=False) for obj in objects],
                         propSet=[pc.PropertySpec(type=type(objects[0]), pathSet=list(paths))])
    collector.CreateFilter(spec, partialUpdates=True)
    values = {obj._moId: {} for obj in objects}
    # The first call (no version) answers at once with the current values.
    update = collector.WaitForUpdatesEx('', pc.WaitOptions(maxWaitSeconds=0))
    version = ''
    while True:
        if update is not None:
            version = update.version
            _apply(update, values)
        now = clock()
        pending = [moid for moid, seen in values.items() if seen is not None and not settled(seen) and deadlines[moid] > now]
        if not pending:
            return values
        # Whole seconds: vCenter's unit. A wait may end up to a second after a deadline, never before it.
        wait = max(1, math.ceil(min(deadlines[moid] for moid in pending) - now))
        update = collector.WaitForUpdatesEx(version, pc.WaitOptions(maxWaitSeconds=wait))


def _apply(update, values):
    for filter_set in update.filterSet or ():
        for object_update in filter_set.objectSet or ():
            moid = object_update.obj._moId
            if moid not in values:
                continue
            if object_update.kind == 'leave':
                values[moid] = None
                continue
            seen = values[moid]
            if seen is None:
                continue
            for change in object_update.changeSet or ():
                if change.op in ('remove', 'indirectRemove'):
                    seen.pop(change.name, None)
                else:
                    seen[change.name] = change.val
            for missing in object_update.missingSet or ():
                if isinstance(missing.fault, vmodl.fault.ManagedObjectNotFound):
                    values[moid] = None
                else:
                    raise VCenterError('vCenter did not report %s of %s: %s' % (
                        missing.path, moid, getattr(missing.fault, 'msg', None) or missing.fault._wsdlName),
                        retryable=fault_retryable(missing.fault))
