# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Where a vCenter module runs: in the controller's process only where its module process would be the controller.

tests/functional/test_in_controller_results.py holds the results of both ways equal on the simulator.
"""

from __future__ import annotations

import importlib
import json
import sys
import types

import pytest
from ansible import constants as C
from ansible.playbook.play_context import PlayContext
from ansible.plugins.action import ActionBase
from ansible.playbook.task import Task
from ansible.template import Templar, trust_as_template

from ansible_collections.vsphere.preemption.plugins.action import power_off, tagged_vm_info
from ansible_collections.vsphere.preemption.plugins.plugin_utils._module_in_controller import ModuleInController

MODULE_RESULT = {'preempted': [], 'changed': False}


class Shell:
    tmpdir = None

    def env_prefix(self, **environment):
        return ' '.join('%s=%s' % item for item in environment.items())


def action(plugin=power_off, transport='local', become=False, async_val=0, environment=None, delegate_to=None, args=None, task_vars=None):
    task = Task()
    task.action = 'vsphere.preemption.power_off'
    task.args = dict(args or {})
    task.async_val = async_val
    task.environment = environment
    task.delegate_to = delegate_to
    play_context = PlayContext()
    play_context.become = become
    connection = types.SimpleNamespace(transport=transport, _shell=Shell(), has_native_async=False, socket_path=None, become=None)
    templar = Templar(variables=task_vars or {})
    return plugin.ActionModule(task, connection, play_context, loader=None, templar=templar, shared_loader_obj=None)


CONTROLLER = {'ansible_python_interpreter': sys.executable}


@pytest.mark.parametrize('where, task_vars', [
    ({}, CONTROLLER),
    # as the collection's playbooks set it (a playbook's template, trusted)
    ({}, {'ansible_python_interpreter': trust_as_template('{{ ansible_playbook_python }}'), 'ansible_playbook_python': sys.executable}),
    ({}, {'ansible_python_interpreter': 'auto_silent', 'ansible_facts': {'discovered_interpreter_python': sys.executable}}),
    ({'environment': [{}]}, CONTROLLER),  # what ad-hoc `ansible` sets: no variable at all
    ({'transport': 'ansible.builtin.local'}, CONTROLLER),
    ({'delegate_to': 'localhost'}, {'ansible_delegated_vars': {'localhost': CONTROLLER}}),
])
def test_a_module_that_would_run_as_the_controller_runs_in_it(where, task_vars):
    assert action(task_vars=task_vars, **where)._runs_in_controller(task_vars) is True


@pytest.mark.parametrize('where, task_vars', [
    ({'transport': 'ssh'}, CONTROLLER),  # another host
    ({'become': True}, CONTROLLER),  # another user
    ({'async_val': 30}, CONTROLLER),  # async_wrapper's process outlives the task
    ({'environment': [{'HTTPS_PROXY': 'http://proxy:3128'}]}, CONTROLLER),  # an environment the controller has not
    ({}, {'ansible_python_interpreter': '/usr/bin/python3.9'}),  # another Python
    ({}, {'ansible_python_interpreter': 'auto'}),  # a Python still to be discovered
    ({}, {}),  # config default: discovery
    ({'delegate_to': 'jump'}, {'ansible_python_interpreter': sys.executable,  # the delegated host's Python counts
                               'ansible_delegated_vars': {'jump': {'ansible_python_interpreter': '/opt/py/bin/python'}}}),
])
def test_anything_else_runs_the_module_process(where, task_vars):
    assert action(task_vars=task_vars, **where)._runs_in_controller(task_vars) is False


def test_keeping_the_remote_files_runs_the_module_process(monkeypatch):
    # ANSIBLE_KEEP_REMOTE_FILES is how a module is debugged: it must exist as a file to be debugged.
    monkeypatch.setattr(C, 'DEFAULT_KEEP_REMOTE_FILES', True)
    assert action()._runs_in_controller(CONTROLLER) is False


def test_the_module_process_is_the_usual_module_run(monkeypatch):
    executed = []
    plugin = action(transport='ssh', args={'vms': ['vm-1']})
    monkeypatch.setattr(ActionBase, '_execute_module', lambda self, **kwargs: executed.append(kwargs) or dict(MODULE_RESULT))
    monkeypatch.setattr(plugin, '_remove_tmp_path', lambda tmpdir: None)
    assert plugin.run(task_vars=CONTROLLER)['preempted'] == []
    assert executed == [{'module_name': None, 'module_args': None, 'task_vars': CONTROLLER, 'wrap_async': 0}]


def test_in_the_controller_the_modules_main_gets_the_task_args_and_its_printed_result_is_the_result(monkeypatch):
    plugin = action(plugin=tagged_vm_info, args={'tag': 'preemptible', 'hostname': 'vc', 'username': 'u', 'password': 's3cr3t', 'limit': 'x'})
    monkeypatch.setattr(ActionBase, '_execute_module', pytest.fail)
    result = plugin.run(task_vars=CONTROLLER)
    # AnsibleModule itself parsed the arguments: its own message, the password masked, no retry.
    assert result['failed'] is True and result['retryable'] is False
    assert "argument 'limit' is of type str" in result['msg']
    assert 's3cr3t' not in json.dumps(result, default=str)
    assert not [key for key in result if key.startswith('_ansible_')]


def test_every_vcenter_module_has_its_action():
    # A module without its action would silently run as a process again: the four steps of a run and setup's two.
    for name in ('annotate', 'power_off', 'power_on', 'tagged_vm_info', 'vcenter_role', 'vcenter_tag', 'vm_power_events'):
        plugin = importlib.import_module('ansible_collections.vsphere.preemption.plugins.action.' + name)
        assert issubclass(plugin.ActionModule, ModuleInController)
        assert plugin.ActionModule.MODULE.__name__.endswith('.modules.' + name)
