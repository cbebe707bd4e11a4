# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The preemption notice a guest reads with ``vmware-rpctool "info-get guestinfo.preemption"``.

The vSphere form of the AWS spot interruption notice and of GCP's
``preempted`` metadata key: compact JSON in the VM's ExtraConfig key
``guestinfo.preemption``, holding what the caller put in the notice plus the
``deadline`` (RFC 3339, UTC) after which the VM is powered off.

``plan_notice`` (pure) decides what to write: a notice that already carries
the same content (a run that crashed during its notice period, retried)
keeps its deadline, so the notice is resumed rather than restarted.
``GuestInfo`` reads and writes the key.
"""

from __future__ import annotations

import datetime
import json
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.vsphere.preemption.plugins.module_utils._vm import inventory as vm_inventory
from ansible_collections.vsphere.preemption.plugins.module_utils._errors import Failure
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.call import fault_text, vcenter_call
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.task_wait import TASK_ENDED, wait_for_tasks
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError, fault_retryable

try:
    from pyVmomi import vim
except ImportError:
    # vcenter_soap.PYVMOMI_IMPORT_ERROR carries the traceback; modules check it before calling here.
    vim = None

NOTICE_KEY = 'guestinfo.preemption'
DEADLINE = 'deadline'
MAX_NOTICE_PERIOD = 3600
# A reconfiguration that only sets one ExtraConfig key takes well under a second; one this late is a failure.
RECONFIGURE_TIMEOUT = 120


def rfc3339(moment):
    """``2026-12-01T20:15:00Z`` for an aware datetime (seconds precision, UTC)."""
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_rfc3339(text):
    """The aware datetime of an rfc3339() string, or None when ``text`` is not one."""
    try:
        return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def notice_text(notice, deadline):
    """The compact JSON (sorted keys) of ``notice`` plus ``deadline``."""
    return json.dumps(dict(notice, **{DEADLINE: rfc3339(deadline)}), sort_keys=True, separators=(',', ':'), ensure_ascii=False)


def notice_error(notice, period):
    """The message for an invalid ``notice`` or ``period``, or None."""
    if not 0 <= period <= MAX_NOTICE_PERIOD:
        return 'notice_period must be between 0 and %d seconds, not %d.' % (MAX_NOTICE_PERIOD, period)
    if DEADLINE in notice:
        return 'notice must not contain %r: the module sets it to now + notice_period.' % DEADLINE
    try:
        json.dumps(notice)
    except (TypeError, ValueError) as exc:
        return 'notice must hold only JSON values: %s.' % exc
    return None


def _deadline_of_same_notice(text, notice):
    """The deadline of the notice ``text`` when it is ``notice`` plus a deadline, else None."""
    try:
        given = json.loads(text or '')
    except ValueError:
        return None
    if not isinstance(given, dict):
        return None
    deadline = parse_rfc3339(given.pop(DEADLINE, None))
    return deadline if given == json.loads(json.dumps(notice)) else None


def plan_notice(current, notice, period, now):
    """``(text, deadline, to_write)`` for the VMs whose notice is now ``current`` (``{moid: text or None}``).

    The batch gets one deadline: the latest one a VM already carries for this
    same notice (the role's carries the run id: only this run's counts), else
    ``now + period``. A deadline beyond ``now + period`` is not honoured (anyone
    who may change a VM's ExtraConfig can write one for the year 9999): the
    notice is replaced. ``to_write`` lists, in order, the VMs that do not carry
    the notice with that deadline yet.
    """
    latest = now + datetime.timedelta(seconds=period)
    earlier = [d for d in (_deadline_of_same_notice(text, notice) for text in current.values()) if d is not None and d <= latest]
    deadline = max(earlier) if earlier else latest
    text = notice_text(notice, deadline)
    return text, deadline, [moid for moid, value in current.items() if value != text]


def extra_config_value(options, key):
    """The value of ``key`` among ExtraConfig OptionValues (the last one: the simulator appends instead of replacing)."""
    values = [option.value for option in options or () if option.key == key]
    return values[-1] if values else None


class GuestInfo:
    """Read and write ``guestinfo.preemption`` on VMs; ``parallel`` reconfigurations at most in flight."""

    def __init__(self, content, parallel=5):
        self.content = content
        self.parallel = parallel
        self._stub = content.propertyCollector._stub

    def read(self, moids):
        """``{moid: {'name', 'power_state', 'notice'}}`` for the VMs of ``moids`` that exist, in one call."""
        found = vm_inventory.vm_properties(self.content, moids, ('runtime.powerState', 'config.extraConfig'))
        return {moid: {'name': props['name'], 'power_state': props.get('runtime.powerState'),
                       'notice': extra_config_value(props.get('config.extraConfig'), NOTICE_KEY)}
                for moid, props in found.items()}

    def write(self, moids, text):
        """Set the key to ``text`` ('' removes it) on each VM of ``moids``; ``{moid: Failure}`` for those that failed."""
        failed = {}

        def start(moid):
            spec = vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key=NOTICE_KEY, value=text)])
            try:
                with vcenter_call('set %s of %s' % (NOTICE_KEY, moid)):
                    return vim.VirtualMachine(moid, self._stub).ReconfigVM_Task(spec)
            except VCenterError as exc:
                failed[moid] = Failure(str(exc), exc.retryable)
                return None

        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            tasks = dict(zip(moids, pool.map(start, moids)))
        started = {moid: task for moid, task in tasks.items() if task is not None}
        outcomes = wait_for_tasks(self.content, list(started.values()), RECONFIGURE_TIMEOUT)
        for moid, task in started.items():
            state, fault = outcomes[task._moId]
            if state not in TASK_ENDED:
                failed[moid] = Failure('setting %s still running after %d s' % (NOTICE_KEY, RECONFIGURE_TIMEOUT), True)
            elif state == 'error':
                failed[moid] = Failure('setting %s failed: %s' % (NOTICE_KEY, fault_text(fault) if fault is not None else 'task error'),
                                       fault is not None and fault_retryable(fault))
        return {moid: failed[moid] for moid in moids if moid in failed}


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def give_notice(guest, moids, notice, period, check_mode=False, now=_utc_now, sleep=time.sleep):
    """Write the notice on the VMs of ``moids`` that are not off, then wait until its deadline, once for all.

    Returns ``(summary, failed)``: ``summary`` is ``{value, deadline, notified,
    written}`` (``notified``: the VMs that carry the notice; ``written``: those
    this call wrote it on) or None when no VM is on; ``failed`` is ``{moid:
    {'name', 'msg', 'retryable'}}`` for the VMs it could not be written on,
    which must not be powered off without it. Check mode writes nothing and
    does not wait.
    """
    vms = guest.read(moids)
    current = {moid: vms[moid]['notice'] for moid in moids if moid in vms and vms[moid]['power_state'] != 'poweredOff'}
    if not current:
        return None, {}
    text, deadline, to_write = plan_notice(current, notice, period, now())
    errors = {} if check_mode else guest.write(to_write, text)
    if not check_mode:
        sleep(max(0.0, (deadline - now()).total_seconds()))
    summary = {'value': text, 'deadline': rfc3339(deadline), 'notified': [moid for moid in current if moid not in errors],
               'written': [moid for moid in to_write if moid not in errors]}
    return summary, {moid: {'name': vms[moid]['name'], 'msg': failure.msg, 'retryable': failure.retryable}
                     for moid, failure in errors.items()}
