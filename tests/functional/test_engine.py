# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The role's engine stays lean: module processes, tasks and task files of a successful run with a sink.

Module steps are counted as Ansible leaves them with ANSIBLE_KEEP_REMOTE_FILES
in a private remote temp directory: one AnsiballZ file per module run.
workflow_state, preempt_plan, vcenter_session and cloudevent are controller-only actions and have none.
(ANSIBLE_KEEP_REMOTE_FILES runs the vCenter modules as module processes, which they are not by default
(test_security.py, test_in_controller_results.py), and turns the role's pipelining off, so the files are written.)
"""

from __future__ import annotations

import glob
import os

import pytest

from tests.support.preempt_helpers import FIELD, REPO, alarm_event, playbook, tag_vms

VCSIM_OPTIONS = dict(vms=2, hosts=1, clusters=1)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1']
TASK_FILES = os.path.join(REPO, 'roles', 'preempt', 'tasks')


@pytest.fixture(scope='module')
def tagged(vcenter):
    tag_vms(vcenter, TAGGED)
    vcenter.add_custom_field(FIELD)


@pytest.fixture
def powered_on(vcenter, tagged):
    for vm in vcenter.vms():
        if vm['power_state'] != 'poweredOn':
            vcenter.power_on(vm['moid'])


def test_a_run_starts_three_module_processes_and_at_most_twenty_tasks(vcsim, vcenter, powered_on, sink, tmp_path):
    remote_tmp = tmp_path / 'remote-tmp'
    run = playbook('preempt', vcsim.env(), {'preemption_event': alarm_event(vcenter, 'DC0_C0'), 'preemption_reply_to': sink.url,
                                            'preemption_state_file': str(tmp_path / 'state.json')},
                   env={'ANSIBLE_KEEP_REMOTE_FILES': '1', 'ANSIBLE_REMOTE_TMP': str(remote_tmp)})
    assert run.rc == 0, run
    assert 'powered off 2 VMs' in run.summary() and len(sink.events) == 1

    modules = sorted(os.path.basename(path) for path in glob.glob(str(remote_tmp / '**' / 'AnsiballZ_*.py'), recursive=True))
    # vm_power_events reads which vCenter event our power-off caused, for the ledger (0.3.0).
    assert modules == ['AnsiballZ_annotate.py', 'AnsiballZ_power_off.py', 'AnsiballZ_tagged_vm_info.py', 'AnsiballZ_vm_power_events.py']
    executed = [task['task']['name'] for play in run.output['plays'] for task in play['tasks']
                if not all(result.get('skipped') for result in task['hosts'].values())]
    assert len(executed) <= 20, executed


def test_the_role_has_at_most_ten_task_files():
    # 0.3.0 added forget.yml (a dropped alarm planned once) and restore_wait.yml (a restore that waits out the window).
    assert len([name for name in os.listdir(TASK_FILES) if name.endswith('.yml')]) <= 10


def test_the_next_run_hands_the_tag_id_back(vcsim, vcenter, powered_on, tmp_path):
    variables = {'preemption_criticality': 'HIGH', 'preemption_threshold': 0, 'preemption_state_file': str(tmp_path / 'state.json')}
    first = playbook('preempt', vcsim.env(), variables)
    assert first.rc == 0, first
    [found] = first.results('Find the powered-on VMs tagged for preemption')
    assert found['invocation']['module_args']['tag_id'] is None
    second = playbook('preempt', vcsim.env(), variables)
    assert second.rc == 0, second
    [again] = second.results('Find the powered-on VMs tagged for preemption')
    assert again['invocation']['module_args']['tag_id'] == found['tag_id']
