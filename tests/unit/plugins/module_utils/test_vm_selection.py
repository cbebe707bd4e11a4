# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._vm.selection import exclusion_reason, parse_priority, select


def record(moid, name, power_state='poweredOn', priority_raw=None, template=False, in_scope=True, tools_running=False,
           managed_by=None, fault_tolerance=None):
    return dict(moid=moid, name=name, power_state=power_state, tools_running=tools_running, host='esx-1',
                cluster='c1', template=template, managed_by=managed_by, fault_tolerance=fault_tolerance,
                priority_raw=priority_raw, in_scope=in_scope)


@pytest.mark.parametrize('raw, expected', [
    (None, 0), ('', 0), ('   ', 0), ('7', 7), (' 12 ', 12), ('-3', -3), ('+4', 4), ('0010', 10),
])
def test_parse_priority_integers_and_blanks(raw, expected):
    assert parse_priority(raw) == (expected, None)


@pytest.mark.parametrize('raw', ['high', '1.5', '0x10', '3 4'])
def test_parse_priority_non_integer_counts_as_zero_with_a_problem(raw):
    priority, problem = parse_priority(raw)
    assert priority == 0
    assert repr(raw) in problem and 'not an integer' in problem


def test_select_orders_by_priority_then_name_then_moid():
    records = [
        record('vm-1', 'b', priority_raw='5'),
        record('vm-2', 'a', priority_raw='5'),
        record('vm-3', 'z'),
        record('vm-5', 'm', priority_raw='-1'),
        record('vm-4', 'm', priority_raw='-1'),
    ]
    vms, total, warnings, _excluded = select(records)
    assert [vm['moid'] for vm in vms] == ['vm-4', 'vm-5', 'vm-3', 'vm-2', 'vm-1']
    assert [vm['priority'] for vm in vms] == [-1, -1, 0, 5, 5]
    assert total == 5
    assert warnings == []


def test_select_returns_exactly_the_contract_keys():
    vms, _total, _warnings, _excluded = select([record('vm-1', 'a', tools_running=True, priority_raw='2')])
    assert vms == [dict(moid='vm-1', name='a', power_state='poweredOn', tools_running=True, host='esx-1', cluster='c1', priority=2)]


def test_select_drops_templates_and_vms_out_of_scope():
    records = [record('vm-1', 'a', template=True, power_state='poweredOff'), record('vm-2', 'b', in_scope=False), record('vm-3', 'c')]
    vms, total, _warnings, _excluded = select(records)
    assert [vm['moid'] for vm in vms] == ['vm-3']
    assert total == 1


def test_select_filters_power_states():
    records = [record('vm-1', 'a'), record('vm-2', 'b', power_state='poweredOff'), record('vm-3', 'c', power_state='suspended')]
    assert [vm['moid'] for vm in select(records, power_states=['poweredOn'])[0]] == ['vm-1']
    assert [vm['moid'] for vm in select(records, power_states=['poweredOff', 'suspended'])[0]] == ['vm-2', 'vm-3']
    assert len(select(records, power_states=None)[0]) == 3
    assert len(select(records, power_states=[])[0]) == 3


def test_limit_cuts_after_ordering_and_total_counts_all_matches():
    records = [record('vm-%d' % i, 'vm%02d' % i, priority_raw=str(10 - i)) for i in range(10)]
    vms, total, _warnings, _excluded = select(records, limit=3)
    assert [vm['name'] for vm in vms] == ['vm09', 'vm08', 'vm07']
    assert total == 10
    assert len(select(records, limit=0)[0]) == 10
    assert len(select(records, limit=50)[0]) == 10


def test_total_counts_after_filters():
    records = [record('vm-1', 'a'), record('vm-2', 'b', power_state='poweredOff'), record('vm-3', 'c', template=True)]
    vms, total, _warnings, _excluded = select(records, power_states=['poweredOn'], limit=1)
    assert (len(vms), total) == (1, 1)


def test_non_integer_priority_warns_naming_the_vm_and_attribute():
    records = [record('vm-1', 'web', priority_raw='high'), record('vm-2', 'db', priority_raw='1')]
    vms, _total, warnings, _excluded = select(records, priority_attribute='prio')
    assert [(vm['name'], vm['priority']) for vm in vms] == [('web', 0), ('db', 1)]
    assert len(warnings) == 1
    assert "'prio'" in warnings[0] and 'web (vm-1)' in warnings[0] and "'high'" in warnings[0]


def test_no_warning_for_vms_filtered_out():
    records = [record('vm-1', 'web', priority_raw='high', power_state='poweredOff')]
    assert select(records, power_states=['poweredOn'], priority_attribute='prio') == ([], 0, [], [])


def test_select_sets_aside_templates_solution_ft_and_protected_vms_with_their_reason():
    records = [
        record('vm-1', 'plain'),
        record('vm-2', 'vCLS-1', managed_by='com.vmware.vim.eam'),
        record('vm-3', 'ft-primary', fault_tolerance='primary'),
        record('vm-4', 'ft-secondary', fault_tolerance='secondary'),
        record('vm-5', 'keep', priority_raw='not a number'),
        record('vm-6', 'tmpl', template=True, power_state='poweredOff'),
        record('vm-7', 'odd', managed_by=''),
    ]
    vms, total, warnings, excluded = select(records, priority_attribute='prio', protected={'vm-5', 'vm-99'})
    assert [vm['moid'] for vm in vms] == ['vm-1']
    assert total == 1
    # An excluded VM is not parsed for its priority: no warning about it.
    assert warnings == []
    assert excluded == [
        {'moid': 'vm-3', 'name': 'ft-primary', 'reason': 'fault_tolerance'},
        {'moid': 'vm-4', 'name': 'ft-secondary', 'reason': 'fault_tolerance'},
        {'moid': 'vm-5', 'name': 'keep', 'reason': 'protected'},
        {'moid': 'vm-7', 'name': 'odd', 'reason': 'managed_by'},
        {'moid': 'vm-6', 'name': 'tmpl', 'reason': 'template'},
        {'moid': 'vm-2', 'name': 'vCLS-1', 'reason': 'managed_by'},
    ]


def test_excluded_lists_only_vms_in_scope_and_in_the_power_states_asked_for():
    records = [record('vm-1', 'a', managed_by='x', in_scope=False), record('vm-2', 'b', template=True, power_state='poweredOff'),
               record('vm-3', 'c', fault_tolerance='running')]
    _vms, _total, _warnings, excluded = select(records, power_states=['poweredOn'], protected={'vm-1'})
    assert excluded == [{'moid': 'vm-3', 'name': 'c', 'reason': 'fault_tolerance'}]


def test_limit_does_not_cut_the_excluded_list():
    records = [record('vm-%d' % i, 'n%d' % i) for i in range(4)]
    vms, total, _warnings, excluded = select(records, limit=1, protected={'vm-2', 'vm-3'})
    assert ([vm['moid'] for vm in vms], total, len(excluded)) == (['vm-0'], 2, 2)


@pytest.mark.parametrize('overrides, protected, expected', [
    ({}, (), None),
    ({}, ('vm-1',), 'protected'),
    ({'template': True}, ('vm-1',), 'template'),
    ({'managed_by': 'com.vmware.vcHms', 'fault_tolerance': 'primary'}, ('vm-1',), 'managed_by'),
    ({'fault_tolerance': 'secondary'}, ('vm-1',), 'fault_tolerance'),
])
def test_exclusion_reason_takes_the_first_that_applies(overrides, protected, expected):
    assert exclusion_reason(record('vm-1', 'a', **overrides), protected) == expected
