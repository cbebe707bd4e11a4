# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""alarm.alarm_change: what an alarm CloudEvent means, the one decision the rulebooks route on and the plan makes."""

from __future__ import annotations

import copy
import itertools

import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._run.alarm import ALARM_COLORS, alarm_change
from ansible_collections.vsphere.preemption.plugins.module_utils._run.request import alarm_action, build_plan

from tests.support.preemption_requests import alarm, red_alarm, request

# Every colour pair, written out: (from, to) -> (change, criticality).
EXPECTED = {
    ('green', 'yellow'): ('raised', 'MEDIUM'), ('gray', 'yellow'): ('raised', 'MEDIUM'),
    ('green', 'red'): ('raised', 'HIGH'), ('yellow', 'red'): ('raised', 'HIGH'), ('gray', 'red'): ('raised', 'HIGH'),
    ('red', 'yellow'): ('eased', None),
    ('yellow', 'green'): ('cleared', None), ('red', 'green'): ('cleared', None), ('gray', 'green'): ('cleared', None),
    ('green', 'gray'): ('cleared', None), ('yellow', 'gray'): ('cleared', None), ('red', 'gray'): ('cleared', None),
}
ACTIONS = {'raised': 'preempt', 'eased': 'cancel', 'cleared': 'cancel', 'none': 'ignore'}


@pytest.mark.parametrize('old, new', list(itertools.product(ALARM_COLORS, repeat=2)))
def test_every_colour_pair(old, new):
    change, criticality = EXPECTED.get((old, new), ('none', None))
    got = alarm_change(alarm(red_alarm(), old, new))
    assert (got['alarm'], got['change'], got['criticality']) == ((None if change == 'none' else 'cluster-cpu-above-80'), change, criticality)
    assert (got['scope'], got['lock']) == ('domain-c7', 'domain-c7')
    assert got['restore_on_clear'] == {'cleared': {'playbook': 'restore', 'lock': 'restore:domain-c7'},
                                       'eased': {'playbook': 'status', 'lock': 'domain-c7'}}.get(change)
    # The plan decides from the same function: its action and criticality follow the change.
    assert alarm_action(old, new) == (ACTIONS[change], criticality)


def test_colours_in_any_case_and_padding():
    got = alarm_change(alarm(red_alarm(), ' Green', 'RED '))
    assert (got['change'], got['criticality']) == ('raised', 'HIGH')


@pytest.mark.parametrize('data, scope', [
    ({}, 'domain-c7'),
    ({'ComputeResource': None}, 'host-21'),
    ({'ComputeResource': {'ComputeResource': {'Value': '  '}}}, 'host-21'),
    ({'ComputeResource': None, 'Host': None}, 'all'),
    ({'ComputeResource': 'domain-c9', 'Host': {'Host': {'Value': 7}}}, 'all'),
    ({'ComputeResource': {'ComputeResource': {'Type': 'ClusterComputeResource', 'Value': ' domain-c9 '}}}, 'domain-c9'),
])
def test_scope_is_the_cluster_else_the_host_else_all(data, scope):
    event = red_alarm()
    event['data'].update(data)
    got = alarm_change(event)
    assert (got['scope'], got['lock'], got['change']) == (scope, scope, 'raised')


def test_the_plan_scope_is_the_same_as_the_lock():
    event = red_alarm()
    event['data']['ComputeResource'] = None
    assert build_plan(request(event=event))['scope'] == alarm_change(event)['scope'] == 'host-21'
    event['data']['Host'] = None
    assert build_plan(request(event=event))['scope'] is None and alarm_change(event)['scope'] == 'all'


def test_binary_mode_type_counts_as_an_alarm_event():
    event = red_alarm()
    del event['subject']
    event['type'] = 'com.vmware.vsphere.AlarmStatusChangedEvent.v0'
    assert alarm_change(event)['change'] == 'raised'


def _without(path):
    event = red_alarm()
    holder = event
    for key in path[:-1]:
        holder = holder[key]
    del holder[path[-1]]
    return event


def _with(path, value):
    event = red_alarm()
    holder = event
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    return event


HOSTILE = [
    None, 'text', 42, [], [red_alarm()], {}, {'data': None},
    _without(['subject']), _with(['subject'], 'VmPoweredOffEvent'), _with(['subject'], ['AlarmStatusChangedEvent']),
    _without(['data']), _with(['data'], 'data'), _with(['data'], [1]),
    _without(['data', 'Alarm']), _with(['data', 'Alarm'], 'cluster-cpu-above-80'), _with(['data', 'Alarm'], {'Name': None}),
    _with(['data', 'Alarm'], {'Name': ['cluster-cpu-above-80']}), _with(['data', 'Alarm'], {'Name': '   '}),
    _without(['data', 'From']), _without(['data', 'To']), _with(['data', 'To'], 'purple'), _with(['data', 'To'], 1),
    _with(['data', 'To'], {'red': True}), _with(['data', 'From'], None), _with(['data', 'To'], 'red' * 100000),
]


@pytest.mark.parametrize('payload', HOSTILE, ids=range(len(HOSTILE)))
def test_what_it_cannot_read_is_no_change_and_never_raises(payload):
    got = alarm_change(copy.deepcopy(payload))
    assert (got['alarm'], got['change'], got['criticality'], got['restore_on_clear']) == (None, 'none', None, None)
    assert isinstance(got['lock'], str) and got['lock']


def test_a_mapping_whose_reads_fail_is_no_change():
    class Broken(dict):
        def get(self, *args):
            raise RuntimeError('boom')
    assert alarm_change(Broken(subject='AlarmStatusChangedEvent'))['change'] == 'none'


def test_names_are_data_never_templates():
    name = "{{ lookup('pipe', 'id') }}"
    event = red_alarm()
    event['data']['Alarm']['Name'] = name
    event['data']['ComputeResource']['ComputeResource']['Value'] = "{{ 7 * 7 }}"
    got = alarm_change(event)
    assert (got['alarm'], got['scope'], got['restore_on_clear']) == (name, '{{ 7 * 7 }}', None)


def test_a_huge_name_is_read_whole():
    name = 'a' * 1000000
    got = alarm_change(_with(['data', 'Alarm'], {'Name': name}))
    assert (got['alarm'], got['change']) == (name, 'raised')
