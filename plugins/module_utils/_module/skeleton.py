# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one skeleton of the collection's vCenter modules.

A module's ``main`` is ``run_module(argument_spec(), check, work)``: ``check``
rejects input by raising VCenterError before vCenter is touched; ``work``
does the job over a VCenterConnection and returns the result, or raises
VCenterError (``StepFailed`` when it still returns what it did). The sessions
it opened are logged out whatever happened.
"""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.connection import VCenterConnection
from ansible_collections.vsphere.preemption.plugins.module_utils._module.preemption_module import PreemptionModule
from ansible_collections.vsphere.preemption.plugins.module_utils._errors import PreemptionError
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.rest import REQUESTS_IMPORT_ERROR
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.soap import PYVMOMI_IMPORT_ERROR

LIBRARIES = dict(pyvmomi=PYVMOMI_IMPORT_ERROR, requests=REQUESTS_IMPORT_ERROR)


class StepFailed(VCenterError):
    """The module failed and still returns ``result`` (what it did, what failed)."""

    def __init__(self, message, retryable=False, **result):
        super().__init__(message, retryable=retryable)
        self.result = result


def run_module(argument_spec, check, work, libraries=('pyvmomi',)):
    """Parse the options, check them, connect (the run's session or a login), run ``work(module, vcenter)``, exit."""
    module = PreemptionModule(argument_spec=argument_spec, supports_check_mode=True)
    for library in libraries:
        if LIBRARIES[library]:
            module.fail_json(msg=missing_required_lib(library), exception=LIBRARIES[library])
    params = module.params
    handed = bool(params.get('session'))
    vcenter = None
    try:
        check(params)
        with VCenterConnection(params, pool_size=params.get('parallel')) as vcenter:
            module.no_log_values.update(vcenter.secrets)
            result = work(module, vcenter)
    except PreemptionError as exc:
        extra = dict(getattr(exc, 'result', {}))
        if handed and vcenter is not None:
            extra['session_renewed'] = vcenter.renewed
        module.fail_json(msg=str(exc), retryable=exc.retryable, **extra)
    if handed:
        result['session_renewed'] = vcenter.renewed
    module.exit_json(**result)
