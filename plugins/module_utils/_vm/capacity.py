# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Capacity targets: what a scope must free, and the fewest, lowest-priority VMs that free it (pure functions).

A target (``capacity_target``) is a dict with any of ``cpu_percent`` and
``memory_percent`` (the scope's usage after the preemption at or below this
share of its capacity) and ``cpu_mhz`` and ``memory_mb`` (at least this much
freed). `check_target` validates one; `scope_usage` reads a cluster's or a
host's capacity and usage from the plain objects vm_inventory retrieves;
`to_free` turns both into what must be freed; `select_to_free` chooses the
VMs, as schedulers that preempt do (Nomad, Kubernetes): priority groups from
the lowest, a higher one only when the lower ones together cannot free
enough; within that the fewest VMs (closest fit, then a pass dropping every
victim the others make unnecessary, then replacing two victims by one where
one suffices); ``max_vms`` caps. `restore_fits` is the other direction: which
preempted VMs may come back while the scope stays at or below the target.
"""

from __future__ import annotations

import math

from ansible_collections.vsphere.preemption.plugins.module_utils._errors import PreemptionError

DIMENSIONS = ('cpu_mhz', 'memory_mb')
PERCENT_KEYS = {'cpu_percent': 'cpu_mhz', 'memory_percent': 'memory_mb'}
TARGET_KEYS = ('cpu_percent', 'memory_percent', 'cpu_mhz', 'memory_mb')
# Scope types whose capacity and usage vCenter reports: a cluster (DRS's usage summary) and a host (its quickStats).
MEASURED_SCOPES = ('ClusterComputeResource', 'HostSystem')
# Beyond this many (victims x victims x candidates) the pass replacing two victims by one is skipped: it only refines.
_SWAP_BUDGET = 500000


class CapacityError(PreemptionError, ValueError):
    """A target that cannot be used, or a scope without the numbers it needs; the message names value and what is allowed."""


def _number(name, key, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise CapacityError('%s %s %r is not a number.' % (name, key, value))
    try:
        number = float(value)
    except ValueError:
        raise CapacityError('%s %s %r is not a number.' % (name, key, value)) from None
    if not math.isfinite(number):
        raise CapacityError('%s %s %r is not a finite number.' % (name, key, value))
    return number


def check_target(target, name='capacity_target'):
    """The target as ``{key: number}`` (percentages float, MHz/MB int), or None when not set; CapacityError when bad.

    Percentages lie in 1..100; amounts are positive whole numbers. Numbers
    given as text (``-e``, a rulebook) are accepted. ``name`` is the option
    or variable the target came from, for the message.
    """
    if target in (None, '', {}):
        return None
    if not isinstance(target, dict):
        raise CapacityError('%s must be a dict with any of %s, not %r.' % (name, ', '.join(TARGET_KEYS), target))
    unknown = sorted(str(key) for key in target if key not in TARGET_KEYS)
    if unknown:
        raise CapacityError('%s has unknown keys %s; allowed: %s.' % (name, ', '.join(repr(k) for k in unknown), ', '.join(TARGET_KEYS)))
    checked = {}
    for key in TARGET_KEYS:
        if target.get(key) in (None, ''):
            continue
        number = _number(name, key, target[key])
        if key in PERCENT_KEYS:
            if not 1 <= number <= 100:
                raise CapacityError('%s %s %r is outside 1..100 (a share of the scope\'s capacity, in percent).' % (name, key, target[key]))
            checked[key] = number
        else:
            if number <= 0 or not number.is_integer():
                raise CapacityError('%s %s %r must be a positive whole number (%s to free).'
                                    % (name, key, target[key], 'MHz' if key == 'cpu_mhz' else 'MB'))
            checked[key] = int(number)
    if not checked:
        raise CapacityError('%s %r sets none of %s.' % (name, target, ', '.join(TARGET_KEYS)))
    return checked


def check_scope_kind(kind, scope, name='capacity_target'):
    """CapacityError unless the scope (its managed object type ``kind``, None for all of vCenter) has a measured capacity."""
    if kind not in MEASURED_SCOPES:
        raise CapacityError('%s needs a scope with a capacity: a cluster or a host, not %s.'
                            % (name, 'all of vCenter' if scope is None else '%s (%s)' % (scope, kind)))


def scope_usage(kind, scope, props):
    """``{capacity: {cpu_mhz, memory_mb}, usage: {cpu_mhz, memory_mb}}`` of a scope from its retrieved properties.

    A cluster: ``summary.usageSummary`` (``totalCpuCapacityMhz``,
    ``totalMemCapacityMB``, ``cpuDemandMhz``, ``memDemandMB``), what DRS keeps
    and the vSphere Client shows. A host: ``summary.hardware`` (cores x MHz,
    bytes) and ``summary.quickStats`` (``overallCpuUsage`` MHz,
    ``overallMemoryUsage`` MB). CapacityError when vCenter reports no usage
    (statistics not collected yet, or DRS off): a target cannot be measured then.
    """
    check_scope_kind(kind, scope)
    if kind == 'ClusterComputeResource':
        summary = props.get('summary.usageSummary') or {}
        capacity = {'cpu_mhz': summary.get('totalCpuCapacityMhz') or 0, 'memory_mb': summary.get('totalMemCapacityMB') or 0}
        usage = {'cpu_mhz': summary.get('cpuDemandMhz') or 0, 'memory_mb': summary.get('memDemandMB') or 0}
        source = "the cluster's summary.usageSummary (kept by DRS)"
    else:
        capacity = {'cpu_mhz': (props.get('summary.hardware.cpuMhz') or 0) * (props.get('summary.hardware.numCpuCores') or 0),
                    'memory_mb': (props.get('summary.hardware.memorySize') or 0) // (1024 * 1024)}
        usage = {'cpu_mhz': props.get('summary.quickStats.overallCpuUsage') or 0,
                 'memory_mb': props.get('summary.quickStats.overallMemoryUsage') or 0}
        source = "the host's summary.quickStats"
    if not all(capacity.values()) or not any(usage.values()):
        raise CapacityError('capacity_target cannot be measured on %s: vCenter reports no usage for it in %s '
                            '(capacity %s, usage %s; statistics not collected yet, or DRS is off). Run without a '
                            'target, or when vCenter reports the usage.' % (scope, source, capacity, usage))
    return {'capacity': capacity, 'usage': usage}


def to_free(target, measured):
    """``{cpu_mhz, memory_mb}`` the scope must free to meet ``target`` (check_target's) given scope_usage's ``measured``."""
    need = {dim: 0 for dim in DIMENSIONS}
    for key, value in target.items():
        dim = PERCENT_KEYS.get(key, key)
        if key in PERCENT_KEYS:
            allowed = measured['capacity'][dim] * value / 100.0
            amount = max(0, math.ceil(measured['usage'][dim] - allowed - 1e-9))
        else:
            amount = value
        need[dim] = max(need[dim], amount)
    return need


# ---------------------------------------------------------------- selection

def _sum(vms):
    return {dim: sum(vm[dim] for vm in vms) for dim in DIMENSIONS}


def _meets(freed, need):
    return all(freed[dim] >= need[dim] for dim in DIMENSIONS)


def _left(need, vms):
    freed = _sum(vms)
    return {dim: max(0, need[dim] - freed[dim]) for dim in DIMENSIONS}


def _gain(vm, left):
    """How much of what is still needed ``vm`` frees, each dimension as a share of its need (0..2)."""
    return sum(min(vm[dim], left[dim]) / left[dim] for dim in DIMENSIONS if left[dim] > 0)


def _overshoot(vm, left, need):
    """How far ``vm`` frees beyond what is still needed, as shares of the need: the smallest is the closest fit."""
    return sum((vm[dim] - left[dim]) / need[dim] for dim in DIMENSIONS if need[dim] > 0)


def _closest_fit(pool, need):
    """Greedy: the closest single fit when one VM finishes the job, else the VM freeing most of what is left."""
    chosen, rest = [], list(pool)
    while rest and not _meets(_sum(chosen), need):
        left = _left(need, chosen)
        finishing = [vm for vm in rest if all(vm[dim] >= left[dim] for dim in DIMENSIONS)]
        if finishing:
            best = min(finishing, key=lambda vm: (_overshoot(vm, left, need), vm['_rank']))
        else:
            best = max(rest, key=lambda vm: (_gain(vm, left), -vm['_rank']))
        chosen.append(best)
        rest.remove(best)
    return chosen


def _drop_unneeded(chosen, need):
    """Drop every victim the others make unnecessary: highest priority first, then the smallest."""
    for vm in sorted(chosen, key=lambda vm: (-vm['priority'], _gain(vm, need), -vm['_rank'])):
        others = [other for other in chosen if other is not vm]
        if _meets(_sum(others), need):
            chosen = others
    return chosen


def _two_for_one(chosen, pool, need):
    """Replace two victims by one VM that, with the others, still frees enough, while one can be found."""
    improved = True
    while improved and len(chosen) >= 2 and len(chosen) ** 2 * len(pool) <= _SWAP_BUDGET:
        improved = False
        unused = sorted((vm for vm in pool if vm not in chosen), key=lambda vm: vm['_rank'])
        for i, first in enumerate(chosen):
            for second in chosen[i + 1:]:
                kept = [vm for vm in chosen if vm is not first and vm is not second]
                left = _left(need, kept)
                fits = [vm for vm in unused if all(vm[dim] >= left[dim] for dim in DIMENSIONS)]
                if fits:
                    chosen = kept + [min(fits, key=lambda vm: (vm['priority'], _overshoot(vm, left, need), vm['_rank']))]
                    improved = True
                    break
            if improved:
                break
    return chosen


def _fewest(pool, need):
    return _drop_unneeded(_two_for_one(_drop_unneeded(_closest_fit(pool, need), need), pool, need), need)


def select_to_free(candidates, need, max_vms=0):
    """The VMs of ``candidates`` to preempt so that ``need`` (``{cpu_mhz, memory_mb}``) is freed.

    ``candidates``: dicts with ``priority``, ``cpu_mhz``, ``memory_mb`` (what
    each VM uses now), in preemption order (lowest priority first, then name).
    Priority groups are walked from the lowest: the group of priority p joins
    only when the VMs of lower priority cannot free ``need`` within
    ``max_vms`` (0: no cap); among the VMs up to that group, the fewest that
    free it. When no group can, every VM it may take that frees some of what
    is needed, lowest priority first, up to ``max_vms``: a shortfall. Returns the chosen candidates in their given order.
    """
    ranked = [dict(vm, _rank=rank) for rank, vm in enumerate(candidates)]
    chosen = None
    for priority in sorted({vm['priority'] for vm in ranked}):
        pool = [vm for vm in ranked if vm['priority'] <= priority]
        if not _meets(_sum(pool), need):
            continue
        fewest = _fewest(pool, need)
        if not max_vms or len(fewest) <= max_vms:
            chosen = fewest
            break
    if chosen is None:
        # A VM that frees none of what is needed would be preempted for nothing.
        helping = [vm for vm in ranked if _gain(vm, need) > 0]
        chosen = helping[:max_vms] if max_vms else helping
    order = sorted(vm['_rank'] for vm in chosen)
    return [candidates[rank] for rank in order]


def report(measured, target, need, chosen):
    """The ``capacity`` result: capacity, usage, target, to_free, frees, shortfall and the usage after, per dimension."""
    frees = _sum(chosen)
    return {
        'capacity': dict(measured['capacity']),
        'usage': dict(measured['usage']),
        'target': dict(target),
        'to_free': dict(need),
        'frees': frees,
        'shortfall': {dim: max(0, need[dim] - frees[dim]) for dim in DIMENSIONS},
        'usage_after': {dim: max(0, measured['usage'][dim] - frees[dim]) for dim in DIMENSIONS},
    }


# ---------------------------------------------------------------- words

_UNITS = {'cpu_mhz': 'MHz', 'memory_mb': 'MB'}


def target_dimensions(target):
    """The dimensions a target speaks of, CPU first."""
    return [dim for dim in DIMENSIONS if any(PERCENT_KEYS.get(key, key) == dim for key in target)]


def vm_usage(vms):
    """``{moid: {cpu_mhz, memory_mb}}`` of the VMs (tagged_vm_info's, with a target) that carry their usage."""
    return {vm['moid']: {dim: vm[dim] for dim in DIMENSIONS} for vm in vms if all(dim in vm for dim in DIMENSIONS)}


def _percent(part, whole):
    return '%d%%' % round(100.0 * part / whole) if whole else '?'


def phrase(result, freed, count, check_mode=False):
    """What a run with a target did, for its summary line.

    ``result``: tagged_vm_info's ``capacity``; ``freed``: ``{cpu_mhz, memory_mb}``
    the VMs actually powered off used; ``count``: how many. For example
    ``would free 31,200 MHz with 3 VMs; CPU usage 92% -> 74% of 84,000 MHz (target cpu_percent 75)``.
    """
    dims = target_dimensions(result['target']) or list(DIMENSIONS)
    target = ', '.join('%s %s' % (key, ('%g' % value)) for key, value in sorted(result['target'].items()))
    names = {'cpu_mhz': 'CPU', 'memory_mb': 'memory'}
    if not any(result['to_free'].values()):
        return 'usage %s is at or below the target (%s): nothing to free' % (
            ', '.join('%s %s of %s %s' % (names[dim], _percent(result['usage'][dim], result['capacity'][dim]),
                                          '{:,}'.format(result['capacity'][dim]), _UNITS[dim]) for dim in dims), target)
    amounts = ' and '.join('{:,} {}'.format(freed.get(dim, 0), _UNITS[dim]) for dim in dims)
    parts = ['%s %s with %d VM%s' % ('would free' if check_mode else 'freed', amounts, count, '' if count == 1 else 's')]
    parts.append(', '.join('%s usage %s -> %s of %s %s' % (
        names[dim], _percent(result['usage'][dim], result['capacity'][dim]),
        _percent(max(0, result['usage'][dim] - freed.get(dim, 0)), result['capacity'][dim]),
        '{:,}'.format(result['capacity'][dim]), _UNITS[dim]) for dim in dims) + ' (target %s)' % target)
    short = {dim: result['to_free'][dim] - freed.get(dim, 0) for dim in DIMENSIONS if result['to_free'][dim] > freed.get(dim, 0)}
    if short:
        parts.append('SHORT of the target by %s: no other VM may be taken' % ' and '.join(
            '{:,} {}'.format(amount, _UNITS[dim]) for dim, amount in short.items()))
    return '; '.join(parts)


# ---------------------------------------------------------------- restore

def restore_fits(target, measured, preempted):
    """Which preempted VMs may be powered back on while the scope stays at or below ``target``.

    ``preempted``: dicts with ``cpu_mhz`` and ``memory_mb`` (what each VM used
    when it was powered off), highest priority first (the restore order).
    Projected usage is the scope's usage now plus what each VM restored before
    it used. Percentages cap the projected usage at their share of the
    capacity; ``cpu_mhz``/``memory_mb`` keep that much headroom free. A VM that
    does not fit waits; later, smaller VMs may still fit. Returns ``(fit, wait)``.
    """
    limit = dict(measured['capacity'])
    for key, value in target.items():
        dim = PERCENT_KEYS.get(key, key)
        bound = measured['capacity'][dim] * value / 100.0 if key in PERCENT_KEYS else measured['capacity'][dim] - value
        limit[dim] = min(limit[dim], bound)
    projected = dict(measured['usage'])
    fit, wait = [], []
    for vm in preempted:
        after = {dim: projected[dim] + (vm.get(dim) or 0) for dim in DIMENSIONS}
        if all(after[dim] <= limit[dim] + 1e-9 for dim in DIMENSIONS):
            fit.append(vm)
            projected = after
        else:
            wait.append(vm)
    return fit, wait
