# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures shared by the playbook-level suites.

    sink    a real local CloudEvent receiver (tests/support/event_receiver.py)
    moids   (module) {name: moid} of the module's TAGGED VMs, tagged "preemptible", with the
            custom attributes of its CUSTOM_FIELDS defined (default: the preemption record's)
    front   (module) a FaultProxy in front of the module's simulator (tests/support/fault_proxy.py)
    since   every VM powered on and the TAGGED VMs unannotated: the time the test starts, for
            tests/support/preemption_invariants.py
"""

from __future__ import annotations

import pytest

from tests.support.event_receiver import EventReceiver
from tests.support.fault_proxy import FaultProxy
from tests.support.preempt_helpers import FIELD, tag_vms
from tests.support import preemption_invariants


@pytest.fixture
def sink():
    """A real local CloudEvent receiver, the run's reply_to sink."""
    with EventReceiver() as receiver:
        yield receiver


@pytest.fixture(scope='module')
def moids(request, vcenter):
    names = tag_vms(vcenter, request.module.TAGGED)
    for field in getattr(request.module, 'CUSTOM_FIELDS', (FIELD,)):
        vcenter.add_custom_field(field)
    return {name: names[name] for name in request.module.TAGGED}


@pytest.fixture(scope='module')
def front(vcsim):
    """The proxy the runs talk to vCenter through: faults, delays and a log of what vCenter was asked."""
    with FaultProxy(vcsim) as proxy:
        yield proxy


@pytest.fixture
def since(vcenter, moids):
    return preemption_invariants.reset(vcenter, moids.values())
