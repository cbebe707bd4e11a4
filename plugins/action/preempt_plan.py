# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vsphere.preemption.preempt_plan: the one door through which the trigger event enters the role (documented in plugins/modules)."""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase

from ansible_collections.vsphere.preemption.plugins.module_utils._run.request import (
    REQUEST_KEYS,
    ROLE_DEFAULTS,
    PreemptionRequestError,
    build_plan,
    plain_data,
    run_settings,
    scope_keys,
    workflow_identity,
)
from ansible_collections.vsphere.preemption.plugins.module_utils._run.restore import AmbiguousWorkflow, restore_key
from ansible_collections.vsphere.preemption.plugins.module_utils._run.bookkeeping import known_tag_id
from ansible_collections.vsphere.preemption.plugins.module_utils._state.records import StateError
from ansible_collections.vsphere.preemption.plugins.module_utils._state.store import open_state

EVENT_VARIABLE = 'preemption_event'
PURPOSES = ('preempt', 'setup', 'cancel', 'status', 'restore')
ARGUMENT_SPEC = dict(
    {key: dict(type='raw') for key in REQUEST_KEYS if key != 'event'},
    purpose=dict(type='str', choices=list(PURPOSES), default='preempt'),
    state_file=dict(type='path'),
    state_url=dict(type='str', no_log=True),
)


def _trigger(task_vars):
    """What started the run, from variables whose presence (never their content) says so."""
    if 'ansible_eda' in task_vars:
        return 'eda'
    if 'awx_job_id' in task_vars:
        return 'awx'
    return 'manual'


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        validation, params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        del validation
        request = {key: params.get(key) for key in REQUEST_KEYS if key != 'event'}
        # The event is read as it was given, never rendered: ansible-core trusts extra vars as templates, and
        # an event's text is anybody's (VEBA, a webhook, any vCenter user who names a VM). plain_data drops the
        # template trust, so nothing later renders it either.
        try:
            request['event'] = plain_data(task_vars.get(EVENT_VARIABLE), EVENT_VARIABLE)
            for key in ('vcenter_hostname', 'vcenter_port'):
                if request[key] in (None, ''):
                    request[key] = os.environ.get('VMWARE_HOST' if key == 'vcenter_hostname' else 'VMWARE_PORT')
            purpose = params['purpose']
            if purpose in ('setup', 'restore'):
                # Setup and restore preempt nothing, so they need no criticality; a restore is one whatever the alarm says.
                plan = build_plan(dict(request, criticality=request['criticality'] or 'LOW'))
                if purpose == 'restore':
                    plan['action'] = 'restore'
            elif purpose == 'preempt':
                plan = build_plan(request)
                if plan['action'] == 'cancel':
                    # An alarm that dropped is a cancel, planned here as one so that the role does not plan it again.
                    purpose, plan = 'cancel', dict(workflow_identity(request), action='cancel')
            else:
                plan = dict(workflow_identity(request), action=purpose)
            plan['trigger'] = _trigger(task_vars)
            plan.update(run_settings(request, plan['trigger']))
        except PreemptionRequestError as exc:
            return dict(result, failed=True, msg=str(exc), retryable=False)
        # The file is no credential and the role's tasks take it from here; the URL may hold one and never is.
        plan['state_file'] = params['state_file'] or os.path.expanduser(ROLE_DEFAULTS['state_file'])
        # A state that cannot be read stops the run here, before anything talks to vCenter.
        try:
            store = open_state(plan['state_file'], params['state_url'])
            if purpose in ('cancel', 'status', 'restore'):
                plan['state_keys'] = scope_keys(request, store.workflow_ids())
            records = [store.query(key) for key in plan.get('state_keys') or [plan['state_key']]]
            if purpose == 'restore':
                plan['state_key'] = restore_key(plan['workflow_id'], plan['state_keys'], records)
        except StateError as exc:
            return dict(result, failed=True, msg=str(exc), retryable=exc.retryable)
        except AmbiguousWorkflow as exc:
            return dict(result, failed=True, msg=str(exc), retryable=False)
        if purpose == 'preempt':
            plan['tag_id'] = known_tag_id(records[0], plan['tag'])
        result.update(plan, changed=False)
        return result
