# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vsphere.preemption.plugins.filter import preemption
from ansible_collections.vsphere.preemption.plugins.filter.preemption import FilterModule
from ansible_collections.vsphere.preemption.plugins.module_utils._run.request import build_plan, workflow_identity

FILTERS = FilterModule().filters()
REQUEST = dict(tag='preemptible', max_vms=10, parallel=5, retries=3, retry_delay=2, threshold=60, grace_period=30,
               scope='event', vcenter_hostname='vc1.example.com')


def test_every_filter_has_its_documentation_file():
    directory = os.path.dirname(os.path.abspath(preemption.__file__))
    assert sorted(name + '.yml' for name in FILTERS) == sorted(name for name in os.listdir(directory) if name.endswith('.yml'))


def test_results_of_something_else_are_a_filter_error():
    with pytest.raises(AnsibleFilterError, match='^work needs the registered results of the role vsphere.preemption.preempt: KeyError'):
        FILTERS['preemption_work']({'run': {'results': {'plan': {}, 'selected': []}}, 'record': {}}, {'skipped': True})


def test_the_filters_chain_as_the_role_uses_them():
    plan = build_plan(dict(REQUEST, criticality='HIGH'))
    run = {'run_id': 'r1', 'started': '2021-11-05T13:02:34.437444Z', 'event': None,
           'results': {'plan': plan['recorded'], 'selected': [{'moid': 'vm-1', 'name': 'a'}]}}
    start = {'proceed': True, 'run_id': 'r1', 'run': run, 'record': {'run': run, 'unfinished': []}}
    power = {'preempted': [{'moid': 'vm-1', 'name': 'a', 'method': 'hard'}], 'already_off': [], 'failed_vms': []}
    assert FILTERS['preemption_probe'](start, power) == []
    work = FILTERS['preemption_work'](start, power, None)
    assert work['annotations'][0]['vms'] == ['vm-1']
    summary = FILTERS['preemption_summary'](plan, FILTERS['preemption_outcome'](start, {'total': 1}, work, True))
    assert summary['stats']['run_id'] == 'r1'
    assert FILTERS['preemption_power_error'](work, power, plan) == ''
    assert FILTERS['preemption_step_error']({'failed': True, 'msg': 'down.'}, 'select', plan) == (
        "Could not list the VMs tagged 'preemptible' after 1 attempt: down.")
    assert FILTERS['preemption_status']([{'item': 'manual@vc1.example.com', 'record': None, 'state_file': '/s.json'}],
                                        workflow_identity(REQUEST)) == [
        'Workflow manual on vc1.example.com has no record in /s.json.']
