# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The vCenter connection options every module of the collection shares.

Documented once in the ``vsphere.preemption.vcenter`` doc fragment.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback


def base_argument_spec(**options):
    """A fresh argument spec: the connection options, then a module's own ``options``."""
    spec = dict(
        hostname=dict(type='str', required=True, fallback=(env_fallback, ['VMWARE_HOST'])),
        username=dict(type='str', required=True, aliases=['user', 'admin'], fallback=(env_fallback, ['VMWARE_USER'])),
        password=dict(type='str', required=True, aliases=['pass', 'pwd'], no_log=True, fallback=(env_fallback, ['VMWARE_PASSWORD'])),
        port=dict(type='int', default=443, fallback=(env_fallback, ['VMWARE_PORT'])),
        validate_certs=dict(type='bool', default=True, fallback=(env_fallback, ['VMWARE_VALIDATE_CERTS'])),
        # The run's sessions (vcenter_session); no_log: its ids are masked in every output, -vvv invocation included.
        session=dict(type='str', no_log=True),
    )
    spec.update(options)
    return spec


def connection_params(params):
    """Pick the connection options out of a module's params."""
    return {key: params[key] for key in ('hostname', 'username', 'password', 'port', 'validate_certs')}
