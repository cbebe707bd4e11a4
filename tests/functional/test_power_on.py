# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vsphere.preemption.power_on run by the real ansible CLI against the simulator."""

from __future__ import annotations

import pytest
from pyVmomi import vim

from tests.support.ansible_cli import run_module, run_playbook
from tests.support.vcenter_events import last_event_key, power_event_times

MODULE = 'vsphere.preemption.power_on'
KEY = 'guestinfo.preemption'
DELAY_MS = 500
# Every PowerOnVM_Task takes DELAY_MS, so how many run at once shows in the times vCenter records them.
VCSIM_OPTIONS = dict(vms=5, hosts=1, method_delay={'PowerOnVM_Task': DELAY_MS})
NOTICE = {'preempted': True, 'runID': 'r-1'}
BATCH = ['DC0_C0_RP0_VM%d' % i for i in range(5)] + ['DC0_H0_VM0']


@pytest.fixture(scope='module')
def moids(vcenter):
    return {vm['name']: vm['moid'] for vm in vcenter.vms()}


def run(vcsim, module=MODULE, check=False, **args):
    return run_module(module, args, env=vcsim.env(), check=check)


def notice(vcenter, moid):
    """What a guest reads: the key's last value (the simulator appends instead of replacing), None when unset."""
    values = [o.value for o in vcenter.get(vcenter.vm(moid), 'config.extraConfig') or () if o.key == KEY]
    return values[-1] if values else None


@pytest.fixture(scope='module')
def preemption(vcsim, vcenter, moids):
    """The notice power_off gives when it preempts the batch (once per module: the batch ends powered off)."""
    result = run(vcsim, 'vsphere.preemption.power_off', vms=[moids[n] for n in BATCH], mode='hard', notice=NOTICE)
    assert result['_rc'] == 0, result
    assert {vcenter.power_state(moids[n]) for n in BATCH} == {'poweredOff'}
    return result['notice']['value']


@pytest.fixture
def preempted(vcenter, moids, preemption):
    """The batch as that preemption left it, put back by hand whatever a test did since: powered off, the notice in place."""
    spec = vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key=KEY, value=preemption)])
    for name in BATCH:
        vcenter.power_off(moids[name])
        if notice(vcenter, moids[name]) != preemption:
            vcenter._wait(vcenter.vm(moids[name]).ReconfigVM_Task(spec))
    return preemption


def test_check_mode_reports_and_touches_nothing(vcsim, vcenter, moids, preempted):
    targets = [moids['DC0_C0_RP0_VM0'], moids['DC0_H0_VM1']]
    result = run(vcsim, check=True, vms=targets)
    assert result['_rc'] == 0, result
    assert result['changed'] is True
    assert result['powered_on'] == [{'moid': targets[0], 'name': 'DC0_C0_RP0_VM0'}]
    assert result['already_on'] == [{'moid': targets[1], 'name': 'DC0_H0_VM1'}]
    assert result['notice_cleared'] == [targets[0]]
    assert (vcenter.power_state(targets[0]), notice(vcenter, targets[0])) == ('poweredOff', preempted)


def test_powers_on_at_most_parallel_at_once_with_the_notice_cleared_first(vcsim, vcenter, moids, preempted):
    targets = [moids[n] for n in BATCH]
    before = last_event_key(vcenter)
    result = run(vcsim, vms=targets + [moids['DC0_H0_VM1']], parallel=2)
    assert result['_rc'] == 0, result
    assert result['changed'] is True
    assert result['powered_on'] == [{'moid': moids[n], 'name': n} for n in BATCH]
    assert result['already_on'] == [{'moid': moids['DC0_H0_VM1'], 'name': 'DC0_H0_VM1'}]
    assert (result['failed_vms'], result['notice_cleared']) == ([], targets)
    for moid in targets:
        assert vcenter.power_state(moid) == 'poweredOn'
        assert not notice(vcenter, moid)
    times = power_event_times(vcenter, 'VmPoweredOnEvent', set(targets), before)
    assert len(times) == 6
    # Two workers, each waiting DELAY_MS inside every PowerOnVM_Task: any 3 consecutive power-ons span at least DELAY_MS ...
    assert min((times[i + 2] - times[i]).total_seconds() for i in range(4)) >= DELAY_MS / 1000.0 * 0.98
    # ... and two did overlap.
    assert min((times[i + 1] - times[i]).total_seconds() for i in range(5)) < DELAY_MS / 1000.0 / 2


def test_again_is_not_a_change(vcsim, moids, preempted):
    restored = run(vcsim, vms=[moids[n] for n in BATCH])
    assert (restored['_rc'], restored['changed']) == (0, True), restored
    result = run(vcsim, vms=[moids[n] for n in BATCH])
    assert result['_rc'] == 0, result
    assert (result['changed'], result['powered_on'], result['notice_cleared']) == (False, [], [])
    assert len(result['already_on']) == len(BATCH)


def test_clear_notice_false_leaves_the_notice(vcsim, vcenter, moids):
    target = moids['DC0_H0_VM2']
    assert run(vcsim, 'vsphere.preemption.power_off', vms=[target], mode='hard', notice=NOTICE)['_rc'] == 0
    given = notice(vcenter, target)
    result = run(vcsim, vms=[target], clear_notice=False)
    assert result['_rc'] == 0, result
    assert (result['powered_on'][0]['moid'], result['notice_cleared']) == (target, [])
    assert (vcenter.power_state(target), notice(vcenter, target)) == ('poweredOn', given)


def test_an_unknown_moid_fails_not_retryable_and_the_others_still_power_on(vcsim, vcenter, moids):
    target = moids['DC0_H0_VM3']
    vcenter.power_off(target)
    result = run(vcsim, vms=['vm-404', target])
    assert result['_rc'] != 0 and result['failed'] is True
    assert result['retryable'] is False
    assert result['failed_vms'] == [{'moid': 'vm-404', 'name': None, 'msg': result['failed_vms'][0]['msg']}]
    assert 'no VM with this moid' in result['failed_vms'][0]['msg']
    assert result['powered_on'] == [{'moid': target, 'name': 'DC0_H0_VM3'}]
    assert 'Could not power on 1 of 2 VMs' in result['msg']


@pytest.mark.parametrize('args, fragment', [
    (dict(vms=[]), 'vms must list at least one VM moid.'),
    (dict(vms=['']), 'vms must not contain empty moids.'),
    (dict(vms=['vm-1'], parallel=0), 'parallel must be between 1 and 50, not 0.'),
])
def test_bad_input_fails_before_vcenter_is_touched(vcsim, args, fragment):
    result = run(vcsim, **args)
    assert result['failed'] is True
    assert result['msg'] == fragment
    assert result['retryable'] is False


def test_the_vcenter_action_group_sets_the_connection(vcsim, vcenter, moids, tmp_path):
    target = moids['DC0_H0_VM4']
    vcenter.power_off(target)
    env = vcsim.env()
    playbook = tmp_path / 'group.yml'
    playbook.write_text('''- hosts: localhost
  gather_facts: false
  module_defaults:
    group/vsphere.preemption.vcenter:
      hostname: %s
      port: %s
      username: %s
      password: %s
  tasks:
    - vsphere.preemption.power_on:
        vms: [%s]
''' % (env['VMWARE_HOST'], env['VMWARE_PORT'], env['VMWARE_USER'], env['VMWARE_PASSWORD'], target))
    proc = run_playbook(str(playbook), env={'REQUESTS_CA_BUNDLE': env['REQUESTS_CA_BUNDLE'], 'SSL_CERT_FILE': env['SSL_CERT_FILE']})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert vcenter.power_state(target) == 'poweredOn'
