# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import itertools
import random

import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._vm.capacity import (
    DIMENSIONS,
    CapacityError,
    check_scope_kind,
    check_target,
    report,
    restore_fits,
    scope_usage,
    select_to_free,
    to_free,
)


def vm(name, cpu, mem, priority=0):
    return {'moid': 'vm-' + name, 'name': name, 'priority': priority, 'cpu_mhz': cpu, 'memory_mb': mem}


def names(vms):
    return [v['name'] for v in vms]


def _meets(vms, need):
    return all(sum(v[dim] for v in vms) >= need[dim] for dim in DIMENSIONS)


def _brute_force(candidates, need, max_vms):
    """(highest priority it must use, fewest VMs with it) over every subset, or None when none frees ``need``."""
    best = None
    for size in range(1, (max_vms or len(candidates)) + 1):
        for subset in itertools.combinations(candidates, size):
            if _meets(subset, need):
                key = (max(v['priority'] for v in subset), size)
                best = key if best is None or key < best else best
    return best


def _random_case(rng):
    style = rng.choice(['uniform', 'heavy-tailed', 'few sizes'])
    candidates = []
    for index in range(rng.randint(0, 12)):
        if style == 'uniform':
            cpu, mem = rng.randint(0, 4000), rng.randint(0, 16384)
        elif style == 'heavy-tailed':
            cpu, mem = int(rng.paretovariate(1.2) * 300), int(rng.paretovariate(1.2) * 1024)
        else:
            cpu, mem = rng.choice([0, 100, 500, 2000, 8000]), rng.choice([0, 512, 2048, 8192])
        candidates.append(vm('n%02d' % index, cpu, mem, rng.choice([0, 0, 1, 2, 5])))
    candidates.sort(key=lambda v: (v['priority'], v['name']))
    totals = {dim: sum(v[dim] for v in candidates) for dim in DIMENSIONS}
    need = {dim: rng.randint(0, int(totals[dim] * 1.2) + 10) if rng.random() < 0.8 else 0 for dim in DIMENSIONS}
    return candidates, need, rng.choice([0, 0, rng.randint(1, 6)])


def test_selection_against_brute_force_on_random_inputs():
    rng = random.Random(20261204)
    checked = {'met': 0, 'shortfall': 0, 'nothing to free': 0}
    for _case in range(2500):
        candidates, need, max_vms = _random_case(rng)
        chosen = select_to_free(candidates, need, max_vms)
        context = (candidates, need, max_vms, names(chosen))
        assert all(v in candidates for v in chosen) and len({v['moid'] for v in chosen}) == len(chosen), context
        assert not max_vms or len(chosen) <= max_vms, context
        if not any(need.values()):
            assert chosen == [], context
            checked['nothing to free'] += 1
            continue
        best = _brute_force(candidates, need, max_vms)
        if best is None:
            # Shortfall: everything it may take that frees some of the need, lowest priority first.
            helping = [v for v in candidates if any(v[dim] and need[dim] for dim in DIMENSIONS)]
            assert chosen == (helping[:max_vms] if max_vms else helping), context
            checked['shortfall'] += 1
            continue
        highest, fewest = best
        assert _meets(chosen, need), context
        assert max(v['priority'] for v in chosen) == highest, context
        assert len(chosen) <= fewest + 1, context
        checked['met'] += 1
    # The generator reaches every branch often enough to mean something.
    assert checked['met'] > 1000 and min(checked.values()) > 50, checked


def test_lower_priority_group_first_then_fewest():
    small = [vm('small%d' % i, 100, 0, priority=0) for i in range(10)]
    big = vm('big', 10000, 0, priority=1)
    candidates = small + [big]
    # The low group can free 1,000 MHz: all of it is used, the higher priority VM is not.
    assert names(select_to_free(candidates, {'cpu_mhz': 1000, 'memory_mb': 0})) == names(small)
    # It cannot free 1,500: one VM of the higher group does it alone, and the low ones it makes unnecessary stay.
    assert names(select_to_free(candidates, {'cpu_mhz': 1500, 'memory_mb': 0})) == ['big']


def test_closest_fit_and_order_of_result():
    candidates = [vm('a', 900, 0), vm('b', 5000, 0), vm('c', 1200, 0), vm('d', 1000, 0)]
    # One VM suffices: the one freeing least beyond the need.
    assert names(select_to_free(candidates, {'cpu_mhz': 1000, 'memory_mb': 0})) == ['d']
    # Two needed, both dimensions: the result keeps the candidates' order.
    candidates = [vm('a', 2000, 100), vm('b', 100, 8000), vm('c', 2000, 8000)]
    assert names(select_to_free(candidates, {'cpu_mhz': 2100, 'memory_mb': 8100})) in (['a', 'c'], ['b', 'c'], ['a', 'b'])


def test_the_drop_pass_removes_a_victim_the_others_make_unnecessary():
    candidates = [vm('v0', 7000, 2000), vm('v1', 6000, 0), vm('v2', 3000, 1000), vm('v3', 0, 10000), vm('v4', 5000, 5000)]
    # Closest fit takes v4 (most of both), then v0, then v3 for the memory; v4 is then unnecessary.
    assert names(select_to_free(candidates, {'cpu_mhz': 6000, 'memory_mb': 9000})) == ['v0', 'v3']


def test_two_victims_give_way_to_one_that_does_their_work():
    candidates = [vm('v0', 1000, 8000), vm('v1', 5000, 3000), vm('v2', 1000, 3000), vm('v3', 4000, 4000)]
    # Closest fit and the drop pass leave v1, v0, v2; v3 does the work of v1 and v2.
    assert names(select_to_free(candidates, {'cpu_mhz': 5000, 'memory_mb': 12000})) == ['v0', 'v3']


def test_max_vms_caps_and_reaches_higher_priority_only_when_the_cap_demands():
    low = [vm('low%d' % i, 500, 0, priority=0) for i in range(4)]
    high = [vm('high', 2000, 0, priority=3)]
    # 4 low VMs free 2,000, but a cap of 2 cannot reach it with them: the higher priority VM then serves.
    assert names(select_to_free(low + high, {'cpu_mhz': 2000, 'memory_mb': 0}, max_vms=2)) == ['high']
    assert names(select_to_free(low + high, {'cpu_mhz': 2000, 'memory_mb': 0}, max_vms=4)) == names(low)
    # Shortfall under the cap: lowest priority first, up to the cap.
    assert names(select_to_free(low + high, {'cpu_mhz': 9000, 'memory_mb': 0}, max_vms=2)) == ['low0', 'low1']


def test_nothing_to_free_selects_none():
    assert select_to_free([vm('a', 100, 100)], {'cpu_mhz': 0, 'memory_mb': 0}) == []


@pytest.mark.parametrize('target, expected', [
    (None, None), ({}, None), ('', None),
    ({'cpu_percent': 75}, {'cpu_percent': 75.0}),
    ({'cpu_percent': '75.5', 'memory_mb': '2048'}, {'cpu_percent': 75.5, 'memory_mb': 2048}),
    ({'memory_percent': 100, 'cpu_mhz': 1.0}, {'memory_percent': 100.0, 'cpu_mhz': 1}),
    ({'cpu_percent': 1, 'memory_percent': None}, {'cpu_percent': 1.0}),
])
def test_check_target_accepts(target, expected):
    assert check_target(target) == expected


@pytest.mark.parametrize('target, words', [
    ({'cpu': 75}, ["'cpu'", 'allowed: cpu_percent, memory_percent, cpu_mhz, memory_mb']),
    ({'cpu_percent': 0}, ['cpu_percent 0', '1..100']),
    ({'cpu_percent': 100.5}, ['cpu_percent 100.5', '1..100']),
    ({'memory_percent': -5}, ['memory_percent -5', '1..100']),
    ({'cpu_mhz': 0}, ['cpu_mhz 0', 'positive whole number']),
    ({'memory_mb': -1}, ['memory_mb -1', 'positive whole number']),
    ({'memory_mb': 1.5}, ['memory_mb 1.5', 'positive whole number']),
    ({'cpu_mhz': True}, ['cpu_mhz True', 'not a number']),
    ({'cpu_mhz': 'lots'}, ["cpu_mhz 'lots'", 'not a number']),
    ({'cpu_percent': 'nan'}, ["cpu_percent 'nan'", 'finite']),
    ({'cpu_percent': None}, ['sets none of']),
    ('75%', ["'75%'", 'must be a dict']),
    ([75], ['must be a dict']),
])
def test_check_target_refuses_naming_value_and_what_is_allowed(target, words):
    with pytest.raises(CapacityError) as raised:
        check_target(target)
    for word in words:
        assert word in str(raised.value)


@pytest.mark.parametrize('kind, scope', [(None, None), ('Folder', 'group-v4'), ('Datacenter', 'datacenter-2'), ('ResourcePool', 'resgroup-9')])
def test_target_needs_a_cluster_or_host_scope(kind, scope):
    with pytest.raises(CapacityError) as raised:
        check_scope_kind(kind, scope)
    assert 'a cluster or a host' in str(raised.value)
    assert ('all of vCenter' if scope is None else scope) in str(raised.value)


def test_scope_usage_of_cluster_and_host():
    cluster = {'summary.usageSummary': {'totalCpuCapacityMhz': 84000, 'totalMemCapacityMB': 393216,
                                        'cpuDemandMhz': 77280, 'memDemandMB': 200000}}
    assert scope_usage('ClusterComputeResource', 'domain-c7', cluster) == {
        'capacity': {'cpu_mhz': 84000, 'memory_mb': 393216}, 'usage': {'cpu_mhz': 77280, 'memory_mb': 200000}}
    host = {'summary.hardware.cpuMhz': 2000, 'summary.hardware.numCpuCores': 8, 'summary.hardware.memorySize': 64 * 1024 ** 3,
            'summary.quickStats.overallCpuUsage': 9000, 'summary.quickStats.overallMemoryUsage': 30000}
    assert scope_usage('HostSystem', 'host-12', host) == {
        'capacity': {'cpu_mhz': 16000, 'memory_mb': 65536}, 'usage': {'cpu_mhz': 9000, 'memory_mb': 30000}}


@pytest.mark.parametrize('props', [
    {},
    {'summary.usageSummary': {'totalCpuCapacityMhz': 0, 'totalMemCapacityMB': 0, 'cpuDemandMhz': 0, 'memDemandMB': 0}},
    {'summary.usageSummary': {'totalCpuCapacityMhz': 84000, 'totalMemCapacityMB': 1000, 'cpuDemandMhz': 0, 'memDemandMB': 0}},
])
def test_scope_without_reported_usage_is_an_error(props):
    with pytest.raises(CapacityError) as raised:
        scope_usage('ClusterComputeResource', 'domain-c7', props)
    assert 'domain-c7' in str(raised.value) and 'no usage' in str(raised.value)


def test_to_free_and_report():
    measured = {'capacity': {'cpu_mhz': 84000, 'memory_mb': 100000}, 'usage': {'cpu_mhz': 77280, 'memory_mb': 50000}}
    # 92% of 84,000 MHz down to 75%: 77,280 - 63,000.
    assert to_free({'cpu_percent': 75}, measured) == {'cpu_mhz': 14280, 'memory_mb': 0}
    # Under the target: nothing to free; an amount asked for on top is the larger need.
    assert to_free({'memory_percent': 60}, measured) == {'cpu_mhz': 0, 'memory_mb': 0}
    assert to_free({'cpu_percent': 75, 'cpu_mhz': 20000, 'memory_mb': 1}, measured) == {'cpu_mhz': 20000, 'memory_mb': 1}
    # A fraction of a MHz still counts: round up.
    assert to_free({'cpu_percent': 91.999}, measured)['cpu_mhz'] == 1  # 0.84 MHz over
    chosen = [vm('a', 10000, 1000), vm('b', 2000, 0)]
    result = report(measured, {'cpu_percent': 75.0}, {'cpu_mhz': 14280, 'memory_mb': 0}, chosen)
    assert result['frees'] == {'cpu_mhz': 12000, 'memory_mb': 1000}
    assert result['shortfall'] == {'cpu_mhz': 2280, 'memory_mb': 0}
    assert result['usage_after'] == {'cpu_mhz': 65280, 'memory_mb': 49000}
    assert result['capacity'] == measured['capacity'] and result['usage'] == measured['usage']


def test_restore_fits_highest_priority_first_while_under_target():
    measured = {'capacity': {'cpu_mhz': 10000, 'memory_mb': 10000}, 'usage': {'cpu_mhz': 5000, 'memory_mb': 1000}}
    preempted = [vm('p9', 2000, 100, 9), vm('p5', 1500, 100, 5), vm('p3', 500, 100, 3), vm('p1', 100, 100, 1)]
    fit, wait = restore_fits({'cpu_percent': 80}, measured, preempted)
    # 5,000 + 2,000 = 7,000; + 1,500 = 8,500 > 8,000 waits; + 500 = 7,500 fits; + 100 = 7,600 fits.
    assert names(fit) == ['p9', 'p3', 'p1'] and names(wait) == ['p5']
    # Exactly at the target fits.
    fit, wait = restore_fits({'cpu_percent': 70}, measured, preempted)
    assert names(fit) == ['p9'] and names(wait) == ['p5', 'p3', 'p1']
    # An amount keeps that much headroom free; memory counts too.
    fit, wait = restore_fits({'cpu_mhz': 4500}, measured, preempted)
    assert names(fit) == ['p3'] and names(wait) == ['p9', 'p5', 'p1']
    fit, wait = restore_fits({'memory_percent': 11}, measured, preempted)
    assert names(fit) == ['p9'] and names(wait) == ['p5', 'p3', 'p1']
    # Over the target already: nothing comes back.
    assert restore_fits({'cpu_percent': 40}, measured, preempted) == ([], preempted)
