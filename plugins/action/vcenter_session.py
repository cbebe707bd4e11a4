# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vsphere.preemption.vcenter_session: a run's vCenter sessions, opened and closed on the controller (documented in plugins/modules)."""

from __future__ import annotations

from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.connection import close_run_session, encode_session, open_run_session
from ansible_collections.vsphere.preemption.plugins.module_utils._module.vcenter_args import base_argument_spec
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.soap import PYVMOMI_IMPORT_ERROR
from ansible_collections.vsphere.preemption.plugins.plugin_utils._controller_action import ControllerAction


ARGUMENT_SPEC = base_argument_spec(
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    rest=dict(type='bool', default=True),
    rest_flavor=dict(type='str', choices=['api', 'rest']),
)


class ActionModule(ControllerAction):
    # A login is a few HTTPS calls: no module process, nothing sent anywhere.
    ARGUMENT_SPEC = ARGUMENT_SPEC
    REQUIRED_IF = (('state', 'absent', ['session']),)

    def act(self, params, no_log_values, task_vars):
        if PYVMOMI_IMPORT_ERROR:
            return dict(failed=True, msg='The Python library pyvmomi is needed on the controller.', retryable=False)
        try:
            if params['state'] == 'absent':
                return dict(changed=False, closed=close_run_session(params))
            session = open_run_session(params, rest=params['rest'])
        except VCenterError as exc:
            return dict(failed=True, msg=str(exc), retryable=exc.retryable)
        # The session ids are secrets: this result is shown censored at any verbosity, whatever the task says;
        # it reaches later steps only through the variable it is registered in.
        return dict(changed=False, session=encode_session(session), rest_flavor=(session['rest'] or {}).get('flavor'), _ansible_no_log=True)
