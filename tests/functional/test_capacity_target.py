# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tagged_vm_info capacity_target run by the real ansible CLI against the simulator, usage set by the harness."""

from __future__ import annotations

import pytest

from tests.support.ansible_cli import run_module

MODULE = 'vsphere.preemption.tagged_vm_info'
PRIORITY = 'preemption.priority'
# Cluster DC0_C0 (2 hosts) with DC0_C0_RP0_VM0..3; standalone host DC0_H0 with DC0_H0_VM0..3.
VCSIM_OPTIONS = dict(vms=4, hosts=2)
CLUSTER_VMS = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_C0_RP0_VM2', 'DC0_C0_RP0_VM3']
VM_USAGE = {'DC0_C0_RP0_VM0': (3000, 4096), 'DC0_C0_RP0_VM1': (1000, 1024), 'DC0_C0_RP0_VM2': (2000, 2048),
            'DC0_C0_RP0_VM3': (500, 8192), 'DC0_H0_VM0': (1500, 1024), 'DC0_H0_VM1': (700, 512)}
PROTECTED = 'DC0_C0_RP0_VM3'


@pytest.fixture(scope='module')
def cluster(vcsim, vcenter):
    """Tag every VM, protect one, set usage: the cluster at 92% of 10,000 MHz, 50% of 32,768 MB."""
    category = vcenter.create_category('preemption')
    tag = vcenter.create_tag('preemptible', category)
    protect = vcenter.create_tag('do-not-preempt', category)
    for vm in vcenter.vms():
        vcenter.attach_tag(tag, vm['moid'])
    vcenter.attach_tag(protect, vcenter.moid(PROTECTED))
    vcenter.add_custom_field(PRIORITY)
    vcenter.set_custom_value(vcenter.moid('DC0_C0_RP0_VM2'), PRIORITY, '5')
    vcsim.set_usage(vms={name: {'cpu_mhz': cpu, 'memory_mb': mem} for name, (cpu, mem) in VM_USAGE.items()},
                    clusters={'DC0_C0': {'cpu_mhz': 9200, 'memory_mb': 16384, 'cpu_capacity_mhz': 10000, 'memory_capacity_mb': 32768}},
                    hosts={'DC0_H0': {'cpu_mhz': 4000, 'memory_mb': 2000}})
    return {vm['name']: vm for vm in vcenter.vms()}


def info(vcsim, cluster, target, scope='DC0_C0', **args):
    scope_moid = cluster['DC0_C0_RP0_VM0']['cluster'] if scope == 'DC0_C0' else cluster['DC0_H0_VM0']['host'] if scope == 'DC0_H0' else scope
    params = dict(tag='preemptible', power_state=['poweredOn'], priority_attribute=PRIORITY, protect_tag='do-not-preempt',
                  capacity_target=target, **args)
    if scope_moid is not None:
        params['scope'] = scope_moid
    return run_module(MODULE, params, env=vcsim.env())


def names(result):
    return [vm['name'] for vm in result['vms']]


def test_cluster_over_target_returns_the_fewest_lowest_priority_vms(vcsim, cluster):
    # 9,200 of 10,000 MHz down to 75%: 1,700 MHz. The priority 0 VMs can free it (VM0 3,000 + VM1 1,000;
    # VM3 is protected); VM2 (priority 5, 2,000 MHz, the closest fit overall) is not touched.
    result = info(vcsim, cluster, {'cpu_percent': 75})
    assert result['_rc'] == 0, result
    assert names(result) == ['DC0_C0_RP0_VM0']
    assert result['vms'][0]['cpu_mhz'] == 3000 and result['vms'][0]['memory_mb'] == 4096
    assert result['capacity'] == {
        'capacity': {'cpu_mhz': 10000, 'memory_mb': 32768}, 'usage': {'cpu_mhz': 9200, 'memory_mb': 16384},
        'target': {'cpu_percent': 75.0}, 'to_free': {'cpu_mhz': 1700, 'memory_mb': 0},
        'frees': {'cpu_mhz': 3000, 'memory_mb': 4096}, 'shortfall': {'cpu_mhz': 0, 'memory_mb': 0},
        'usage_after': {'cpu_mhz': 6200, 'memory_mb': 12288}}
    assert [vm['name'] for vm in result['excluded']] == [PROTECTED]
    assert result['total'] == 3


def test_higher_priority_only_when_the_lower_cannot(vcsim, cluster):
    # 5,000 MHz: VM0 + VM1 free 4,000, so VM2 (priority 5) joins, and VM1 is then unnecessary.
    result = info(vcsim, cluster, {'cpu_mhz': 5000})
    assert names(result) == ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM2'], result
    assert result['capacity']['frees']['cpu_mhz'] == 5000


def test_under_target_returns_none(vcsim, cluster):
    result = info(vcsim, cluster, {'cpu_percent': 95, 'memory_percent': 60})
    assert result['_rc'] == 0, result
    assert result['vms'] == [] and result['total'] == 3
    assert result['capacity']['to_free'] == {'cpu_mhz': 0, 'memory_mb': 0}


def test_shortfall_returns_every_helping_vm_and_says_by_how_much(vcsim, cluster):
    result = info(vcsim, cluster, {'cpu_percent': 10})
    assert names(result) == ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_C0_RP0_VM2']
    assert PROTECTED not in names(result)
    assert result['capacity']['to_free']['cpu_mhz'] == 8200
    assert result['capacity']['shortfall'] == {'cpu_mhz': 2200, 'memory_mb': 0}
    # The cap still caps.
    capped = info(vcsim, cluster, {'cpu_percent': 10}, limit=1)
    assert names(capped) == ['DC0_C0_RP0_VM0'] and capped['capacity']['shortfall']['cpu_mhz'] == 5200


def test_host_scope_uses_its_own_hardware_and_quickstats(vcsim, cluster, vcenter):
    host = cluster['DC0_H0_VM0']['host']
    hardware = {path: vcenter.get(_host(vcenter, host), path) for path in ('summary.hardware.cpuMhz', 'summary.hardware.numCpuCores')}
    capacity = hardware['summary.hardware.cpuMhz'] * hardware['summary.hardware.numCpuCores']
    result = info(vcsim, cluster, {'cpu_mhz': 1000}, scope='DC0_H0')
    assert result['_rc'] == 0, result
    assert result['capacity']['capacity']['cpu_mhz'] == capacity
    assert result['capacity']['usage'] == {'cpu_mhz': 4000, 'memory_mb': 2000}
    # 1,000 MHz: DC0_H0_VM0 (1,500) fits closest alone; the cluster's VMs are out of scope.
    assert names(result) == ['DC0_H0_VM0']


def _host(vcenter, moid):
    from pyVmomi import vim

    return vim.HostSystem(moid, vcenter.si._stub)


@pytest.mark.parametrize('target, scope, words', [
    ({'cpu': 75}, 'DC0_C0', ["unknown keys 'cpu'", 'allowed: cpu_percent, memory_percent, cpu_mhz, memory_mb']),
    ({'cpu_percent': 0}, 'DC0_C0', ['capacity_target cpu_percent 0', '1..100']),
    ({'cpu_percent': 101}, 'DC0_C0', ['cpu_percent 101', '1..100']),
    ({'memory_mb': -5}, 'DC0_C0', ['memory_mb -5', 'positive whole number']),
    ({'cpu_percent': 75}, None, ['a cluster or a host', 'all of vCenter']),
    # A folder moid this simulator does not have: its kind is in its prefix, so it fails before vCenter is asked for it.
    ({'cpu_percent': 75}, 'group-v4', ['a cluster or a host', 'group-v4 (Folder)']),
    ({'cpu_percent': 75}, 'datacenter-2', ['a cluster or a host', 'datacenter-2 (Datacenter)']),
])
def test_bad_targets_fail_before_reading_vcenter(vcsim, cluster, target, scope, words):
    result = info(vcsim, cluster, target, scope=scope)
    assert result['_rc'] != 0 and result['failed'] is True
    assert result['retryable'] is False
    for word in words:
        assert word in result['msg'], result['msg']


def test_a_folder_scope_selects_without_a_target_and_has_no_capacity_by_moid_or_path(vcsim, cluster, vcenter):
    folder = vcenter.content.rootFolder.childEntity[0].vmFolder._moId
    result = info(vcsim, cluster, None, scope=folder)
    assert result['_rc'] == 0, result
    assert result['scope'] == folder and sorted(names(result)) == sorted(set(cluster) - {PROTECTED})
    # By path the folder is found first (scope by name), then refused for the target, naming its moid.
    for scope in (folder, 'DC0/vm'):
        result = info(vcsim, cluster, {'cpu_percent': 75}, scope=scope)
        assert result['_rc'] != 0 and result['retryable'] is False, result
        assert 'a cluster or a host, not %s (Folder)' % folder in result['msg'], result['msg']


def test_scope_without_reported_usage_is_an_error(vcsim, cluster):
    # The standalone host's compute resource is no cluster; a cluster host with usage cleared reports none.
    host = cluster['DC0_C0_RP0_VM0']['host']
    vcsim.set_usage(hosts={cluster['DC0_C0_RP0_VM0']['host_name']: {'cpu_mhz': 0, 'memory_mb': 0}})
    result = info(vcsim, cluster, {'cpu_percent': 75}, scope=host)
    assert result['_rc'] != 0, result
    assert 'no usage' in result['msg'] and host in result['msg'] and result['retryable'] is False


def test_the_harness_refuses_unknown_names_and_keys(vcsim, cluster):
    from tests.support.vcsim.harness import VcsimError

    with pytest.raises(VcsimError, match='no VirtualMachine named "nope"'):
        vcsim.set_usage(vms={'nope': {'cpu_mhz': 1}})
    with pytest.raises(VcsimError, match='HTTP 400.*cpu'):
        vcsim.set_usage(hosts={'DC0_H0': {'cpu': 1}})
