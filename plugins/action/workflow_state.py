# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vsphere.preemption.workflow_state: the workflow's state, kept on the controller (documented in plugins/modules)."""

from __future__ import annotations

from ansible_collections.vsphere.preemption.plugins.module_utils._state.file import DEFAULT_STATE_PATH
from ansible_collections.vsphere.preemption.plugins.module_utils._state.records import StateError
from ansible_collections.vsphere.preemption.plugins.module_utils._state.store import open_state
from ansible_collections.vsphere.preemption.plugins.module_utils._state.workflow_state import STATES, check_params, run_state
from ansible_collections.vsphere.preemption.plugins.plugin_utils._controller_action import ControllerAction

ARGUMENT_SPEC = dict(
    path=dict(type='path', default=DEFAULT_STATE_PATH),
    url=dict(type='str', no_log=True),
    workflow_id=dict(type='str', required=True),
    state=dict(type='str', choices=list(STATES), default='query'),
    threshold=dict(type='int', default=60),
    run_id=dict(type='str'),
    results=dict(type='dict'),
    tag=dict(type='str'),
    criticality=dict(type='str'),
    trigger=dict(type='str'),
    event=dict(type='dict'),
    event_id=dict(type='str'),
)


class ActionModule(ControllerAction):
    # The state is the controller's, like a fact cache: no module is sent anywhere.
    ARGUMENT_SPEC = ARGUMENT_SPEC
    REQUIRED_IF = (('state', 'progress', ['run_id']), ('state', 'finished', ['run_id']), ('state', 'ledger', ['results']))

    def act(self, params, no_log_values, task_vars):
        problem = check_params(params)
        if problem:
            return dict(failed=True, msg=problem, retryable=False)
        try:
            store = open_state(params['path'], params['url'])
            changed, fields = run_state(store, params, self._task.check_mode)
        except StateError as exc:
            return dict(failed=True, msg=str(exc), retryable=exc.retryable)
        # Not returned as `path`: a module's result with `path` gets the file's stat fields, `state: file` among them.
        return dict(fields, changed=changed, state_file=store.path, ansible_facts=dict(preemption_state=fields['record']))
