# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vsphere.preemption.vm_power_events run by the real ansible CLI against the simulator: events and power states in one read."""

from __future__ import annotations

import datetime

from tests.support.ansible_cli import run_module

VCSIM_OPTIONS = dict(vms=2, hosts=1, clusters=1)
SINCE = '2000-01-01T00:00:00.000000Z'


def test_the_power_states_now_come_with_the_events(vcsim, vcenter):
    first, second = sorted(vm['moid'] for vm in vcenter.vms())[:2]
    vcenter.power_on(first)
    vcenter.power_on(second)
    vcenter.power_off(first)
    result = run_module('vsphere.preemption.vm_power_events', {'vms': [first, second, 'vm-404'], 'since': SINCE}, env=vcsim.env())
    assert result['_rc'] == 0, result
    # The preempt role counts a VM whose power-off outcome is unknown as powered off only when it is off now.
    assert result['power_states'] == {first: 'poweredOff', second: 'poweredOn'}
    assert result['events'][first][-1]['type'] == 'VmPoweredOffEvent' and result['events']['vm-404'] == []
    assert datetime.datetime.strptime(result['events'][first][-1]['created'], '%Y-%m-%dT%H:%M:%S.%fZ')


def test_no_vms_is_no_read(vcsim):
    result = run_module('vsphere.preemption.vm_power_events', {'vms': [' '], 'since': SINCE}, env=vcsim.env())
    assert result['_rc'] == 0, result
    assert (result['events'], result['power_states']) == ({}, {})
