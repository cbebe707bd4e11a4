# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vsphere.preemption.annotate run by the real ansible CLI against the simulator.

Each test defines (or removes) the custom attribute and writes the values it starts from: they
pass in any order.
"""

from __future__ import annotations

import json

from tests.support.ansible_cli import run_module

MODULE = 'vsphere.preemption.annotate'
KEY = 'com.vmware.workflows.vsphere.preemption'
RECORD = {'preempted': True, 'tag': 'preemptible', 'forcedShutdown': True, 'criticality': 'HIGH',
          'workflowID': 'cluster-cpu-above-80', 'workflowStarted': '2021-11-05T13:02:34.437444Z', 'runID': 'r-1',
          'event': {'id': 'e-1', 'data': {'AlarmName': 'cluster-cpu-above-80'}}}
RECORD_TEXT = json.dumps(RECORD, sort_keys=True, separators=(',', ':'))


def annotate(vcsim, check=False, diff=False, env=None, **args):
    return run_module(MODULE, args, env=dict(vcsim.env(), **(env or {})), check=check, diff=diff)


def written(vcenter, values):
    """The attribute defined, and ``{vm name: value}`` written; returns the moids, in order."""
    vcenter.add_custom_field(KEY)
    for name, value in values.items():
        vcenter.set_custom_value(vcenter.moid(name), KEY, value)
    return [vcenter.moid(name) for name in values]


def test_a_missing_field_is_a_clear_error(vcsim, vcenter):
    vcenter.remove_custom_field(KEY)
    vm = vcenter.moid('DC0_C0_RP0_VM0')
    result = annotate(vcsim, vms=[vm], value=RECORD)
    assert result['failed'] is True
    assert result['msg'] == ("The VM custom attribute '%s' is not defined in vCenter. Create it once with "
                             "`ansible-playbook vsphere.preemption.setup`, or set create_field: true." % KEY)
    assert vcenter.custom_value(vm, KEY) is None


def test_check_mode_does_not_create_the_field(vcsim, vcenter):
    vcenter.remove_custom_field(KEY)
    vms = [vcenter.moid('DC0_C0_RP0_VM0'), vcenter.moid('DC0_C0_RP0_VM1')]
    result = annotate(vcsim, check=True, vms=vms, value=RECORD, create_field=True)
    assert result['changed'] is True
    assert result['field_created'] is True
    assert result['changed_vms'] == vms
    assert vcenter._field_key(KEY) is None


def test_create_field_creates_it_and_writes_compact_json(vcsim, vcenter):
    vcenter.remove_custom_field(KEY)
    vms = [vcenter.moid('DC0_C0_RP0_VM0'), vcenter.moid('DC0_C0_RP0_VM1')]
    result = annotate(vcsim, vms=vms, value=RECORD, create_field=True)
    assert result['_rc'] == 0, result
    assert result['changed'] is True
    assert result['field_created'] is True
    assert result['changed_vms'] == vms
    assert result['unchanged_vms'] == []
    assert result['value'] == RECORD_TEXT
    for vm in vms:
        assert vcenter.custom_value(vm, KEY) == RECORD_TEXT
    assert json.loads(vcenter.custom_value(vms[0], KEY)) == RECORD


def test_the_same_value_again_is_not_a_change(vcsim, vcenter):
    vms = written(vcenter, {'DC0_C0_RP0_VM0': RECORD_TEXT, 'DC0_C0_RP0_VM1': RECORD_TEXT})
    # Same data, keys in another order: the same text, so nothing to do.
    result = annotate(vcsim, vms=vms, value=dict(reversed(list(RECORD.items()))), create_field=True)
    assert result['changed'] is False
    assert result['field_created'] is False
    assert result['changed_vms'] == []
    assert result['unchanged_vms'] == vms


def test_diff_shows_only_the_vms_that_change(vcsim, vcenter):
    vms = written(vcenter, {'DC0_C0_RP0_VM0': RECORD_TEXT, 'DC0_C0_RP0_VM1': 'edited by hand', 'DC0_H0_VM0': ''})
    result = annotate(vcsim, diff=True, vms=vms, value=RECORD)
    assert result['changed'] is True
    assert result['changed_vms'] == vms[1:]
    assert result['unchanged_vms'] == vms[:1]
    assert result['diff'] == [
        {'before_header': '%s: %s' % (vms[1], KEY), 'after_header': '%s: %s' % (vms[1], KEY),
         'before': 'edited by hand\n', 'after': RECORD_TEXT + '\n'},
        {'before_header': '%s: %s' % (vms[2], KEY), 'after_header': '%s: %s' % (vms[2], KEY),
         'before': '', 'after': RECORD_TEXT + '\n'},
    ]
    assert [vcenter.custom_value(vm, KEY) for vm in vms] == [RECORD_TEXT] * 3
    # The simulator appends values instead of replacing them: the last one is what counts.
    assert annotate(vcsim, vms=vms, value=RECORD)['changed'] is False


def test_check_mode_writes_nothing(vcsim, vcenter):
    [vm] = written(vcenter, {'DC0_C0_RP0_VM0': RECORD_TEXT})
    result = annotate(vcsim, check=True, diff=True, vms=[vm], value='a plain string')
    assert result['changed'] is True
    assert result['changed_vms'] == [vm]
    assert result['value'] == 'a plain string'
    assert result['diff'][0]['before'] == RECORD_TEXT + '\n'
    assert vcenter.custom_value(vm, KEY) == RECORD_TEXT


def test_a_string_is_written_as_it_is_under_another_key(vcsim, vcenter):
    vcenter.add_custom_field('owner')
    [vm] = written(vcenter, {'DC0_H0_VM1': 'left alone'})
    result = annotate(vcsim, vms=[vm], key='owner', value='{"not": "re-encoded"}')
    assert result['changed'] is True
    assert vcenter.custom_value(vm, 'owner') == '{"not": "re-encoded"}'
    assert vcenter.custom_value(vm, KEY) == 'left alone'


def test_an_unknown_moid_is_named_before_anything_is_written(vcsim, vcenter):
    [vm] = written(vcenter, {'DC0_H0_VM1': ''})
    result = annotate(vcsim, vms=[vm, 'vm-99999', 'vm-99998'], value=RECORD)
    assert result['failed'] is True
    assert result['msg'] == 'No virtual machine with moid vm-99999, vm-99998 in vCenter; nothing was written.'
    assert vcenter.custom_value(vm, KEY) == ''


def test_bad_input_fails_before_vcenter_is_touched(vcsim):
    # Port 1 refuses connections: a message about the value proves vCenter was never contacted.
    result = annotate(vcsim, env={'VMWARE_PORT': '1'}, vms=['vm-1'], value=5)
    assert result['failed'] is True
    assert result['msg'] == 'value must be a dict (stored as JSON) or a string, got int.'


def test_create_field_with_no_vms_only_defines_it(vcsim, vcenter):
    key = 'com.example.only.defined'
    checked = annotate(vcsim, check=True, vms=[], value='', key=key, create_field=True)
    assert checked['changed'] is True and checked['field_created'] is True
    assert vcenter._field_key(key) is None
    result = annotate(vcsim, vms=[], value='', key=key, create_field=True)
    assert result['_rc'] == 0, result
    assert result['changed'] is True and result['field_created'] is True and result['changed_vms'] == []
    assert vcenter._field_key(key) is not None
    again = annotate(vcsim, vms=[], value='', key=key, create_field=True)
    assert again['changed'] is False and again['field_created'] is False
    # Without create_field, no VMs means nothing to do: vCenter is not even contacted.
    untouched = annotate(vcsim, vms=[], value='', key='com.example.never', env={'VMWARE_HOST': '127.0.0.1', 'VMWARE_PORT': '1'})
    assert untouched['_rc'] == 0 and untouched['changed'] is False
