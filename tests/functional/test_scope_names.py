# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Scope by name: a cluster, host, datacenter, folder or resource pool named as administrators know it.

Two datacenters, each with two clusters; the second cluster of each is renamed ``compute``, so that
name is ambiguous while ``DC0_C0`` and the paths are not.
"""

from __future__ import annotations

import pytest

from tests.support.ansible_cli import run_module
from tests.support.preempt_helpers import FIELD, off, playbook, tag_vms

VCSIM_OPTIONS = dict(vms=1, hosts=2, clusters=2, datacenters=2)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C1_RP0_VM0', 'DC0_H0_VM0', 'DC1_C0_RP0_VM0', 'DC1_C1_RP0_VM0']


@pytest.fixture(scope='module')
def inventory(vcenter):
    """Tag the VMs, rename both second clusters ``compute``; return {name: vcenter.vms() row}."""
    from pyVmomi import vim

    tag_vms(vcenter, TAGGED)
    vcenter.add_custom_field(FIELD)
    for cluster in vcenter._view(vim.ClusterComputeResource):
        if cluster.name.endswith('_C1'):
            vcenter._wait(cluster.Rename_Task('compute'))
    return {vm['name']: vm for vm in vcenter.vms()}


def info(vcsim, scope):
    return run_module('vsphere.preemption.tagged_vm_info', {'tag': 'preemptible', 'scope': scope}, env=vcsim.env())


def names(result):
    assert result['_rc'] == 0, result
    return [vm['name'] for vm in result['vms']]


def test_scope_by_cluster_name_and_paths_is_the_cluster_by_moid(vcsim, inventory):
    moid = inventory['DC0_C0_RP0_VM0']['cluster']
    by_moid = info(vcsim, moid)
    assert names(by_moid) == ['DC0_C0_RP0_VM0']
    for scope in ('DC0_C0', '/DC0/host/DC0_C0', 'DC0/host/DC0_C0', 'DC0/DC0_C0', '/DC1/host/compute'):
        result = info(vcsim, scope)
        expected = ['DC1_C1_RP0_VM0'] if scope.endswith('compute') else ['DC0_C0_RP0_VM0']
        assert names(result) == expected, scope
        assert result['scope'] == (inventory[expected[0]]['cluster']), scope


def test_scope_by_host_name_and_datacenter_name(vcsim, inventory):
    standalone = inventory['DC0_H0_VM0']
    assert names(info(vcsim, standalone['host_name'])) == ['DC0_H0_VM0']
    assert info(vcsim, standalone['host_name'])['scope'] == standalone['host']
    assert names(info(vcsim, 'DC1')) == ['DC1_C0_RP0_VM0', 'DC1_C1_RP0_VM0']
    assert names(info(vcsim, 'DC1/compute/Resources')) == ['DC1_C1_RP0_VM0']


def test_an_ambiguous_name_lists_each_candidate_with_path_and_moid(vcsim, inventory):
    result = info(vcsim, 'compute')
    first, second = inventory['DC0_C1_RP0_VM0']['cluster'], inventory['DC1_C1_RP0_VM0']['cluster']
    assert result['failed'] is True and result['retryable'] is False
    assert result['msg'] == ("scope 'compute' names 2 objects: cluster /DC0/host/compute (%s); cluster /DC1/host/compute (%s); "
                             "set preemption_scope (or scope) to the path or moid of one." % (first, second))


def test_an_unknown_name_suggests_the_nearest(vcsim, inventory):
    result = info(vcsim, 'DC0_C9')
    assert result['failed'] is True and result['retryable'] is False
    assert result['msg'].startswith("scope 'DC0_C9' is not the moid, name or inventory path of a cluster, host, datacenter, "
                                    "folder or resource pool in vCenter; did you mean 'DC0_C0'")
    # A moid that vCenter does not have is looked up as a name, and found nowhere.
    assert info(vcsim, 'domain-c999')['msg'].startswith("scope 'domain-c999' is not the moid, name or inventory path")


def test_the_role_preempts_only_the_cluster_it_is_given_by_name(vcsim, vcenter, inventory, tmp_path):
    run = playbook('preempt', vcsim.env(), {'preemption_scope': 'DC1/compute', 'preemption_criticality': 'HIGH',
                                            'preemption_state_file': str(tmp_path / 'state.json')})
    assert run.rc == 0, run
    assert off(vcenter) == ['DC1_C1_RP0_VM0']
    vcenter.power_on(inventory['DC1_C1_RP0_VM0']['moid'])
