# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tagged_vm_info never returns protected, solution-managed or template VMs, and says which it left out."""

from __future__ import annotations

import pytest
from pyVmomi import vim

from tests.support.ansible_cli import run_module

MODULE = 'vsphere.preemption.tagged_vm_info'
# DC0_C0_RP0_VM0..4 in the cluster, DC0_H0_VM0..4 on the standalone host.
FT_PRIMARY, FT_SECONDARY = 'DC0_C0_RP0_VM3', 'DC0_H0_VM3'  # the harness gives them vCenter's Fault Tolerance properties
VCSIM_OPTIONS = dict(vms=4, hosts=1, extra_args=['-fault-tolerance', '%s:1,%s:2' % (FT_PRIMARY, FT_SECONDARY)])
PLAIN = ['DC0_C0_RP0_VM0', 'DC0_H0_VM0']
PROTECTED = 'DC0_C0_RP0_VM1'  # carries both tags
MANAGED = 'DC0_C0_RP0_VM2'  # managedBy set with ReconfigVM, as vCenter's EAM does for vCLS agents
TEMPLATE = 'DC0_H0_VM1'
PROTECTED_UNTAGGED = 'DC0_H0_VM2'  # carries only the protect tag
TAGGED = PLAIN + [PROTECTED, MANAGED, TEMPLATE, FT_PRIMARY, FT_SECONDARY]


@pytest.fixture(scope='module')
def moids(vcenter):
    preemption = vcenter.create_category('preemption')
    tag = vcenter.create_tag('preemptible', preemption)
    keep = vcenter.create_tag('do-not-preempt', vcenter.create_category('protection'))
    for name in TAGGED:
        vcenter.attach_tag(tag, vcenter.moid(name))
    for name in (PROTECTED, PROTECTED_UNTAGGED):
        vcenter.attach_tag(keep, vcenter.moid(name))
    spec = vim.vm.ConfigSpec(managedBy=vim.ext.ManagedByInfo(extensionKey='com.vmware.vim.eam', type='cluster-agent'))
    vcenter._wait(vcenter.vm(MANAGED).ReconfigVM_Task(spec))
    vcenter.mark_template(vcenter.moid(TEMPLATE))
    return {vm['name']: vm['moid'] for vm in vcenter.vms()}


def info(vcsim, **args):
    return run_module(MODULE, dict({'tag': 'preemptible'}, **args), env=vcsim.env())


def test_protected_managed_and_template_vms_are_left_out_with_their_reason(vcsim, vcenter, moids):
    assert vcenter.get(vcenter.vm(MANAGED), 'config.managedBy').extensionKey == 'com.vmware.vim.eam'
    result = info(vcsim, protect_tag='protection:do-not-preempt')
    assert result['_rc'] == 0, result
    assert [vm['name'] for vm in result['vms']] == sorted(PLAIN)
    assert result['total'] == 2
    assert result['excluded'] == sorted([
        {'moid': moids[PROTECTED], 'name': PROTECTED, 'reason': 'protected'},
        {'moid': moids[MANAGED], 'name': MANAGED, 'reason': 'managed_by'},
        {'moid': moids[TEMPLATE], 'name': TEMPLATE, 'reason': 'template'},
        {'moid': moids[FT_PRIMARY], 'name': FT_PRIMARY, 'reason': 'fault_tolerance'},
        {'moid': moids[FT_SECONDARY], 'name': FT_SECONDARY, 'reason': 'fault_tolerance'},
    ], key=lambda vm: vm['name'])


def test_fault_tolerance_vms_are_read_from_vcenter_as_it_shows_them(vcenter, moids):
    """The simulator VMs carry what vCenter shows on an FT pair, so a request that stopped asking for it would let them through."""
    primary, secondary = (vcenter.get(vcenter.vm(name), 'config.ftInfo') for name in (FT_PRIMARY, FT_SECONDARY))
    assert (primary.role, secondary.role) == (1, 2)
    assert vcenter.get(vcenter.vm(FT_SECONDARY), 'runtime.faultToleranceState') == 'running'


@pytest.mark.parametrize('protect_tag', ['protection:do-not-preempt', 'do-not-preempt'])
def test_protect_tag_holds_when_the_tag_is_given_with_its_category(vcsim, moids, protect_tag):
    result = info(vcsim, category='preemption', protect_tag=protect_tag, power_state=['poweredOn'])
    assert result['_rc'] == 0, result
    assert [vm['name'] for vm in result['vms']] == sorted(PLAIN)
    assert (PROTECTED, 'protected') in [(vm['name'], vm['reason']) for vm in result['excluded']]


def test_a_bare_protect_tag_name_works_and_limit_leaves_the_exclusions_whole(vcsim, moids):
    result = info(vcsim, protect_tag='do-not-preempt', power_state=['poweredOn'], limit=1)
    assert result['_rc'] == 0, result
    assert [vm['name'] for vm in result['vms']] == [sorted(PLAIN)[0]]
    assert result['total'] == 2
    # The template is off, so under a poweredOn filter it is not a candidate at all.
    assert [(vm['name'], vm['reason']) for vm in result['excluded']] == [
        (PROTECTED, 'protected'), (MANAGED, 'managed_by'), (FT_PRIMARY, 'fault_tolerance'), (FT_SECONDARY, 'fault_tolerance')]


def test_without_protect_tag_the_protected_vm_is_a_candidate_but_managed_stays_out(vcsim, moids):
    result = info(vcsim)
    assert result['_rc'] == 0, result
    assert [vm['name'] for vm in result['vms']] == sorted(PLAIN + [PROTECTED])
    assert [vm['reason'] for vm in result['excluded']] == ['managed_by', 'fault_tolerance', 'template', 'fault_tolerance']


@pytest.mark.parametrize('protect_tag', ['do-not-preempt-typo', 'preemption:do-not-preempt'])
def test_a_protect_tag_that_does_not_exist_fails_closed_saying_how_to_create_it(vcsim, moids, protect_tag):
    result = info(vcsim, protect_tag=protect_tag)
    assert result['_rc'] != 0 and result['failed'] is True
    assert repr(protect_tag) in result['msg']
    assert 'does not exist' in result['msg'] and 'govc tags.create' in result['msg']
    assert result['retryable'] is False
    assert 'vms' not in result


def test_an_empty_protect_tag_name_is_bad_input(vcsim, moids):
    result = info(vcsim, protect_tag='protection:')
    assert result['_rc'] != 0
    assert "protect_tag must be a tag name or category:name, not 'protection:'" in result['msg']
