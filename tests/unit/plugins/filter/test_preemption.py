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

FILTERS = FilterModule().filters()
REQUEST = dict(tag='preemptible', max_vms=10, parallel=5, retries=3, retry_delay=2, threshold=60, grace_period=30,
               scope='event', vcenter_hostname='vc1.example.com')


def test_every_filter_has_its_documentation_file():
    directory = os.path.dirname(os.path.abspath(preemption.__file__))
    assert sorted(name + '.yml' for name in FILTERS) == sorted(name for name in os.listdir(directory) if name.endswith('.yml'))


def test_a_bad_request_is_a_filter_error_with_the_plain_message():
    with pytest.raises(AnsibleFilterError) as error:
        FILTERS['preemption_plan'](dict(REQUEST, criticality='SUPER'))
    assert error.value.message == "preemption_criticality 'SUPER' is not valid: use LOW, MEDIUM or HIGH (any case)."
    assert FILTERS['preemption_plan_error'](dict(REQUEST, criticality='SUPER')) == error.value.message
    with pytest.raises(AnsibleFilterError, match='No vCenter to connect to'):
        FILTERS['preemption_workflow'](dict(REQUEST, vcenter_hostname=''))


def test_a_report_of_something_else_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match='^preemption_report needs a run from vsphere.preemption.workflow_state'):
        FILTERS['preemption_report']({'run_id': 'r'}, {}, [{'moid': 'vm-1'}])


def test_the_filters_chain_as_the_role_uses_them():
    plan = FILTERS['preemption_plan'](dict(REQUEST, criticality='HIGH'))
    assert FILTERS['preemption_workflow'](REQUEST)['state_key'] == plan['state_key'] == 'manual@vc1.example.com'
    run = {'run_id': 'r1', 'started': '2021-11-05T13:02:34.437444Z', 'event': None}
    report = FILTERS['preemption_report'](run, plan['recorded'], [{'moid': 'vm-1', 'name': 'a', 'method': 'hard'}])
    assert report['event']['id'] == 'manual-r1'
    summary = FILTERS['preemption_summary'](plan, {'status': 'finished', 'run_id': 'r1', 'powered_off': [{'moid': 'vm-1', 'name': 'a'}]})
    assert summary['stats']['run_id'] == 'r1'
    assert FILTERS['preemption_status'](None, FILTERS['preemption_workflow'](REQUEST), '/s.json') == [
        'Workflow manual on vc1.example.com has no record in /s.json.']
