# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Wait for a batch of vCenter tasks with the PropertyCollector, not by polling each task.

One private PropertyCollector with one filter on every task's ``info.state``
and ``info.error``; ``WaitForUpdatesEx`` returns when any of them changes, so
the calls made do not grow with how long vCenter takes.
"""

from __future__ import annotations

import time
from http.client import HTTPException

from ansible_collections.vsphere.preemption.plugins.module_utils.vcenter_errors import VCenterError, fault_retryable, transport_retryable

try:
    from pyVmomi import vim, vmodl
except ImportError:
    # vcenter_soap.PYVMOMI_IMPORT_ERROR carries the traceback; modules check it before calling here.
    vim = vmodl = None

# Longest single WaitForUpdatesEx, below the SOAP read timeout (vcenter_soap.SOAP_TIMEOUT).
MAX_WAIT_SECONDS = 60
DONE = ('success', 'error')


def _apply(update_set, states):
    for filter_update in update_set.filterSet or ():
        for object_update in filter_update.objectSet or ():
            entry = states.setdefault(object_update.obj._moId, {})
            for change in object_update.changeSet or ():
                entry[change.name] = change.val


def wait_for_tasks(content, tasks, timeout, clock=time.monotonic):
    """``{task moid: (state, fault)}`` once every task ended or ``timeout`` seconds passed.

    ``state`` is ``success``, ``error`` (``fault`` is the task's error, when vCenter gave one) or ``timeout``.

    Raises VCenterError when vCenter cannot be asked (the tasks' outcome is then unknown).
    """
    if not tasks:
        return {}
    pc = vmodl.query.PropertyCollector
    deadline = clock() + timeout
    states = {}
    try:
        collector = content.propertyCollector.CreatePropertyCollector()
        try:
            collector.CreateFilter(pc.FilterSpec(
                objectSet=[pc.ObjectSpec(obj=task, skip=False) for task in tasks],
                propSet=[pc.PropertySpec(type=vim.Task, pathSet=['info.state', 'info.error'])]), partialUpdates=False)
            version = ''
            while any(states.get(task._moId, {}).get('info.state') not in DONE for task in tasks):
                remaining = deadline - clock()
                if remaining <= 0:
                    break
                update = collector.WaitForUpdatesEx(version, pc.WaitOptions(maxWaitSeconds=max(1, min(MAX_WAIT_SECONDS, int(remaining)))))
                if update is not None:
                    version = update.version
                    _apply(update, states)
        finally:
            collector.DestroyPropertyCollector()
    except vmodl.MethodFault as fault:
        raise VCenterError('vCenter refused to report the state of its tasks: %s' % (fault.msg or fault._wsdlName),
                           retryable=fault_retryable(fault)) from None
    except (OSError, HTTPException) as exc:
        raise VCenterError('The connection to vCenter failed while waiting for its tasks: %s: %s' % (exc.__class__.__name__, exc),
                           retryable=transport_retryable(exc)) from None
    result = {}
    for task in tasks:
        state = states.get(task._moId, {})
        result[task._moId] = (state.get('info.state') if state.get('info.state') in DONE else 'timeout', state.get('info.error'))
    return result
