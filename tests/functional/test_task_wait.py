# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""No task is polled: power_off's requests do not grow with how long vCenter takes.

The simulator answers PowerOffVM_Task and ShutdownGuest at once and completes
them later (``task_duration``, as vCenter does); every request power_off makes
is counted by the bench's proxy, for short and for long tasks.
"""

from __future__ import annotations

import time

import pytest

from bench.request_counter import RequestCounter
from tests.support.ansible_cli import run_module
from tests.support.vcsim.harness import Simulator, VCenterClient

VMS = 4
SHORT, LONG = 500, 3000       # ms


@pytest.fixture(scope='module')
def simulators(vcsim_binary, tmp_path_factory):
    """``{ms: (Simulator, VCenterClient)}``: one simulator per task duration, its power-offs and shutdowns taking that long."""
    started = {}
    try:
        for ms in (SHORT, LONG):
            sim = Simulator(vms=VMS // 2, hosts=1, tools_running='all', binary=vcsim_binary,
                            workdir=str(tmp_path_factory.mktemp('vcsim-%d' % ms)),
                            task_duration={'PowerOffVM_Task': ms, 'ShutdownGuest': ms}).start()
            started[ms] = (sim, VCenterClient(sim))
        yield started
    finally:
        for sim, client in started.values():
            client.close()
            sim.stop()


def counted_power_off(sim, client, mode):
    """Power on every VM, then power them all off through the counting proxy: (result, seconds, request counts)."""
    moids = sorted(vm['moid'] for vm in client.vms())
    for moid in moids:
        if client.power_state(moid) != 'poweredOn':
            client.power_on(moid)
    with RequestCounter(sim) as counter:
        started = time.monotonic()
        result = run_module('vsphere.preemption.power_off', dict(vms=moids, mode=mode, parallel=VMS, grace_period=20),
                            env=dict(sim.env(), VMWARE_PORT=str(counter.port)))
        return result, time.monotonic() - started, counter.summary()


@pytest.mark.parametrize('mode, method', [('hard', 'hard'), ('soft', 'soft')])
def test_requests_do_not_grow_with_how_long_the_tasks_take(simulators, mode, method):
    runs = {}
    for ms, (sim, client) in simulators.items():
        result, seconds, calls = counted_power_off(sim, client, mode)
        assert result['_rc'] == 0, result
        assert {vm['method'] for vm in result['preempted']} == {method} and len(result['preempted']) == VMS
        assert {client.power_state(vm['moid']) for vm in result['preempted']} == {'poweredOff'}
        assert seconds >= ms / 1000.0       # it did wait for the work to end
        runs[ms] = calls
    assert runs[SHORT] == runs[LONG]
    calls = runs[LONG]
    # The only property read is power_off's describe; task and VM states arrive through one filter.
    assert calls.get('SOAP RetrievePropertiesEx') == 1
    assert calls.get('SOAP CreateFilter') == 1
    assert calls.get('SOAP WaitForUpdatesEx', 0) <= 3


def _session(sim, counter, monkeypatch):
    """A pyvmomi session through the counting proxy, trusting the simulator's CA."""
    from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.soap import connect
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', sim.ca_file)
    return connect(sim.host, sim.username, sim.password, port=counter.port)


def test_a_task_past_its_timeout_is_reported_running_after_the_timeout_not_polled(simulators, monkeypatch):
    from pyVmomi import vim

    from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.task_wait import wait_for_tasks
    from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.soap import disconnect

    sim, client = simulators[LONG]
    moid = sorted(vm['moid'] for vm in client.vms())[0]
    client.power_on(moid)
    with RequestCounter(sim) as counter:
        si = _session(sim, counter, monkeypatch)
        try:
            task = vim.VirtualMachine(moid, si._stub).PowerOffVM_Task()
            counter.reset()
            started = time.monotonic()
            outcome = wait_for_tasks(si.RetrieveContent(), [task], timeout=1)
            waited = time.monotonic() - started
            calls = counter.summary()
            assert outcome[task._moId].state in ('queued', 'running')
            assert waited >= 1
            assert waited < LONG / 1000.0
            assert calls.get('SOAP WaitForUpdatesEx') <= 2 and 'SOAP RetrievePropertiesEx' not in calls
            later = wait_for_tasks(si.RetrieveContent(), [task], timeout=10)
            assert later[task._moId].state == 'success'
        finally:
            disconnect(si)
    assert client.power_state(moid) == 'poweredOff'


def test_a_property_that_never_settles_is_returned_at_its_deadline(simulators, monkeypatch):
    from pyVmomi import vim

    from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.task_wait import wait_for_property
    from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.soap import disconnect

    sim, client = simulators[SHORT]
    moid = sorted(vm['moid'] for vm in client.vms())[-1]
    client.power_on(moid)
    with RequestCounter(sim) as counter:
        si = _session(sim, counter, monkeypatch)
        try:
            counter.reset()
            started = time.monotonic()
            states = wait_for_property(si.RetrieveContent(), [vim.VirtualMachine(moid, si._stub)], 'runtime.powerState', 'poweredOff',
                                       {moid: started + 2})
            waited = time.monotonic() - started
        finally:
            disconnect(si)
        calls = counter.summary()
    assert states == {moid: 'poweredOn'}
    assert 2 <= waited < 4
    assert calls.get('SOAP WaitForUpdatesEx') <= 3 and 'SOAP RetrievePropertiesEx' not in calls
