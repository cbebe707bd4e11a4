# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one skeleton of the collection's vCenter modules.

A module's ``main`` is ``run_module(OPTIONS, check, work)``: ``OPTIONS`` is its
own argument spec (the connection options are added here); ``check`` rejects
input by raising VCenterError before vCenter is touched (``check_moids`` and
``check_parallel`` for the options several modules share); ``work`` does the
job over a VCenterConnection and returns the result, or raises VCenterError
(``StepFailed`` when it still returns what it did; ``per_vm_result`` for a
module that acts on each VM of a list). The sessions it opened are logged out
whatever happened.
"""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.connection import VCenterConnection
from ansible_collections.vsphere.preemption.plugins.module_utils._module.preemption_module import PreemptionModule
from ansible_collections.vsphere.preemption.plugins.module_utils._module.vcenter_args import base_argument_spec
from ansible_collections.vsphere.preemption.plugins.module_utils._errors import PreemptionError
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.call import MAX_PARALLEL
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.rest import REQUESTS_IMPORT_ERROR
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.soap import PYVMOMI_IMPORT_ERROR

LIBRARIES = dict(pyvmomi=PYVMOMI_IMPORT_ERROR, requests=REQUESTS_IMPORT_ERROR)


class StepFailed(VCenterError):
    """The module failed and still returns ``result`` (what it did, what failed)."""

    def __init__(self, message, retryable=False, **result):
        super().__init__(message, retryable=retryable)
        self.result = result


def check_moids(params):
    """Reject a ``vms`` option that lists no moid, or an empty one."""
    if not params['vms']:
        raise VCenterError('vms must list at least one VM moid.')
    if any(not (moid or '').strip() for moid in params['vms']):
        raise VCenterError('vms must not contain empty moids.')


def check_parallel(params):
    """Reject a ``parallel`` option outside 1 to MAX_PARALLEL (it also sizes the connection pool)."""
    if not 1 <= params['parallel'] <= MAX_PARALLEL:
        raise VCenterError('parallel must be between 1 and %d, not %d.' % (MAX_PARALLEL, params['parallel']))


def per_vm_result(action, count, failed, retryable, changed, **lists):
    """The result of a module that did ``action`` to each of ``count`` VMs; StepFailed naming each VM of ``failed``.

    ``failed`` travels as ``failed_vms``, also on failure: fail_json sets ``failed`` to true
    (ansible-core would anyway), so the list is then only there.
    """
    lists['failed_vms'] = failed
    if failed:
        details = '; '.join('%s (%s): %s' % (vm['moid'], vm['name'] or 'no such VM', vm['msg']) for vm in failed)
        raise StepFailed('Could not %s %d of %d VMs: %s' % (action, len(failed), count, details),
                         retryable=retryable, changed=changed, **lists)
    return dict(changed=changed, failed=failed, **lists)


def run_module(options, check, work, libraries=('pyvmomi',)):
    """Parse the connection options and ``options``, check them, connect (the run's session or a login), run ``work(module, vcenter)``, exit."""
    module = PreemptionModule(argument_spec=base_argument_spec(**options), supports_check_mode=True)
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
