# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The controller-only actions' shared door: bad options are one failure that no retry cures, before any work."""

from __future__ import annotations

import types

import pytest
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task

from ansible_collections.vsphere.preemption.plugins.action import cloudevent, preempt_books, vcenter_session, workflow_state


def run(plugin, name, **args):
    """Run an action plugin as ansible-core does, on the controller, and return its result."""
    task = Task()
    task.action = 'vsphere.preemption.%s' % name
    task.args = args
    connection = types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir='/nonexistent'))
    action = plugin.ActionModule(task, connection, PlayContext(), loader=None, templar=None, shared_loader_obj=None)
    return action.run(task_vars={})


@pytest.mark.parametrize('plugin, name, args, fragment', [
    (cloudevent, 'cloudevent', {}, 'url'),
    (cloudevent, 'cloudevent', {'url': 'http://sink/', 'mode': 'carrier-pigeon'}, 'carrier-pigeon'),
    (vcenter_session, 'vcenter_session', {'hostname': 'vc', 'username': 'u', 'password': 'p', 'state': 'absent'}, 'session'),
    (workflow_state, 'workflow_state', {'workflow_id': 'wf', 'state': 'progress'}, 'run_id'),
    (preempt_books, 'preempt_books', {'step': 'bogus'}, 'bogus'),
])
def test_bad_options_fail_once_and_are_not_retryable(plugin, name, args, fragment):
    result = run(plugin, name, **args)
    assert result['failed'] is True
    assert result['retryable'] is False
    assert fragment in result['msg']


def test_a_subclass_keeps_the_fields_it_always_returns():
    # cloudevent documents `status` as always returned: None when nothing was sent.
    assert run(cloudevent, 'cloudevent')['status'] is None
