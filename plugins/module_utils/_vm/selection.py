# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which tagged VMs to return and in what order: pure functions over vm_inventory records."""

from __future__ import annotations

POWER_STATES = ('poweredOn', 'poweredOff', 'suspended')
RETURNED_KEYS = ('moid', 'name', 'power_state', 'tools_running', 'host', 'cluster', 'priority')
# Why a tagged VM is never returned, whatever its tags: the values of ``excluded[].reason``.
EXCLUSION_REASONS = ('template', 'managed_by', 'fault_tolerance', 'protected')


def exclusion_reason(record, protected=()):
    """Why the VM of ``record`` must never be preempted (one of EXCLUSION_REASONS), or None.

    A template cannot run; a VM managed by a solution (vCLS, SRM, NSX, Supervisor) is
    the solution's to power; a Fault Tolerance VM powered off would take its
    partner's protection with it; a VM in ``protected`` (moids) carries the protect tag.
    """
    if record['template']:
        return 'template'
    if record['managed_by'] is not None:
        return 'managed_by'
    if record['fault_tolerance'] is not None:
        return 'fault_tolerance'
    if record['moid'] in protected:
        return 'protected'
    return None


def parse_priority(raw):
    """The integer priority of a custom attribute value, and a problem description or None.

    Unset or blank counts as 0. A value that is not an integer also counts as 0,
    with a problem to warn about, so that one mistyped attribute does not stop
    a preemption run (the VM is simply among the first candidates, as an
    unprioritised VM would be).
    """
    text = (raw or '').strip()
    if not text:
        return 0, None
    try:
        return int(text, 10), None
    except ValueError:
        return 0, 'is %r, not an integer; counted as 0' % raw


def select(records, power_states=None, limit=0, priority_attribute=None, protected=()):
    """Filter, order and cut the records of vm_inventory.vm_records().

    Drops VMs outside the scope and keeps the power states listed (all when
    ``power_states`` is empty); of those, sets aside every VM with an
    exclusion_reason() (``protected``: moids carrying the protect tag); orders
    the rest by priority (lowest first), then name, then moid, and keeps the
    first ``limit`` (0 = all).
    Returns ``(vms, total, warnings, excluded)``: the VMs as returned by
    tagged_vm_info, the number of matches before ``limit``, one warning per VM
    whose priority attribute is not an integer, and ``[{moid, name, reason}]``
    for the VMs set aside, by name then moid.
    """
    matches, warnings, excluded = [], [], []
    for record in records:
        if not record['in_scope']:
            continue
        # A template is always off: under a power-state filter it is left out for that, not as excluded.
        if power_states and record['power_state'] not in power_states:
            continue
        reason = exclusion_reason(record, protected)
        if reason is not None:
            excluded.append({'moid': record['moid'], 'name': record['name'], 'reason': reason})
            continue
        priority, problem = parse_priority(record['priority_raw'])
        if problem:
            warnings.append('Custom attribute %r of VM %s (%s) %s.' % (priority_attribute, record['name'], record['moid'], problem))
        vm = {key: record[key] for key in RETURNED_KEYS if key != 'priority'}
        vm['priority'] = priority
        for key in ('attributes', 'cpu_mhz', 'memory_mb'):
            if key in record:
                vm[key] = record[key]
        matches.append(vm)
    matches.sort(key=lambda vm: (vm['priority'], vm['name'], vm['moid']))
    excluded.sort(key=lambda vm: (vm['name'], vm['moid']))
    return (matches[:limit] if limit else matches), len(matches), warnings, excluded
