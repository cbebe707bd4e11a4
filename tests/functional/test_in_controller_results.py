# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A vCenter module says the same whether it runs in the controller's process or as a module process.

Each call runs twice on the simulator: with the controller's own Python (the module's main() runs in the
task's worker, plugins/plugin_utils/_module_in_controller.py) and with another interpreter (a module process,
counted by the interpreter script). The results must be equal, successes, refusals and bad options alike.
"""

from __future__ import annotations

import os

import pytest

from tests.support.ansible_cli import other_python, run_module
from tests.support.preempt_helpers import FIELD

VCSIM_OPTIONS = dict(vms=2, hosts=1, clusters=1)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1']
SINCE = '2020-01-01T00:00:00.000000Z'


def vm(name):
    return lambda moids: moids[name]


VM0, VM1 = vm('DC0_C0_RP0_VM0'), vm('DC0_C0_RP0_VM1')

# (module, args (VMs resolved by moids), check mode, None for success or what the failure says): calls that leave
# vCenter as they found it.
CALLS = {
    'read the tagged VMs': ('tagged_vm_info', {'tag': 'preemptible'}, False, None),
    'an unknown tag': ('tagged_vm_info', {'tag': 'no-such-tag'}, False, "Tag 'no-such-tag' does not exist"),
    'a limit that is no number': ('tagged_vm_info', {'tag': 'preemptible', 'limit': 'many'}, False, "argument 'limit' is of type str"),
    'a required option missing': ('tagged_vm_info', {'limit': 3}, False, 'missing required arguments: tag'),
    'an unknown option': ('tagged_vm_info', {'tag': 'preemptible', 'unknown_option': 1}, False,
                          'Unsupported parameters for (vsphere.preemption.tagged_vm_info) module: unknown_option'),
    'power off in check mode': ('power_off', {'vms': [VM0, VM1], 'mode': 'hard'}, True, None),
    'a mode not among the choices': ('power_off', {'vms': [VM0], 'mode': 'gentle'}, False, 'value of mode must be one of'),
    'a moid that names no VM': ('power_off', {'vms': ['vm-999999'], 'mode': 'hard'}, False, 'vm-999999 (no such VM)'),
    'power on VMs already on': ('power_on', {'vms': [VM0]}, False, None),
    'annotate with a template as data': ('annotate', {'vms': [VM0], 'key': FIELD,
                                                      'value': {'preempted': True, 'by': "{{ lookup('pipe', 'id') }}"}}, True, None),
    'read power events': ('vm_power_events', {'vms': [VM0, VM1], 'since': SINCE}, False, None),
    'a since that is no time': ('vm_power_events', {'vms': [VM0], 'since': 'yesterday'}, False, "not 'yesterday'"),
    'a tag that exists': ('vcenter_tag', {'tag': 'preemptible', 'category': 'preemption'}, True, None),
    'a role in check mode': ('vcenter_role', {'name': 'vsphere-preemption-test'}, True, None),
}


def resolved(value, moids):
    if callable(value):
        return value(moids)
    if isinstance(value, list):
        return [resolved(item, moids) for item in value]
    return value


def comparable(result):
    """The result without what differs between any two runs (rc and stderr of the CLI)."""
    return {key: value for key, value in result.items() if key not in ('_rc', '_stderr')}


@pytest.fixture(scope='module')
def module_python(tmp_path_factory):
    return other_python(tmp_path_factory.mktemp('module-python'))


def starts(module_python):
    """How many module processes the other interpreter has started."""
    path = module_python + '.starts'
    return open(path).read().count('\n') if os.path.exists(path) else 0


@pytest.mark.parametrize('call', CALLS)
def test_the_same_result_in_the_controller_and_in_a_module_process(call, vcsim, moids, module_python):
    module, args, check, failure = CALLS[call]
    args = {key: resolved(value, moids) for key, value in args.items()}
    name = 'vsphere.preemption.' + module
    before = starts(module_python)
    here = run_module(name, args, env=vcsim.env(), check=check)
    there = run_module(name, args, env=vcsim.env(), check=check, variables={'ansible_python_interpreter': module_python})
    assert starts(module_python) == before + 1  # one module process, for the second call only
    if failure is None:
        assert here['_rc'] == 0 and not here.get('failed'), here
    else:
        assert here['failed'] is True and here['retryable'] is False and failure in here['msg'], here
    assert comparable(here) == comparable(there)
    assert here['_rc'] == there['_rc']
