# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Role requests and the VEBA red-alarm fixture, shared by the unit tests of the role's Python."""

from __future__ import annotations

import copy
import json
import os

FIXTURE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'fixtures', 'veba-alarm-red.json')
# The vCenter preempt_plan resolves from VMWARE_*; every role variable left out is the plan's default (ROLE_DEFAULTS).
VCENTER = dict(vcenter_hostname='vc1.example.com', vcenter_port='')


def red_alarm():
    """VEBA's red-alarm CloudEvent, as delivered (a fresh copy)."""
    with open(FIXTURE) as handle:
        return json.load(handle)


def request(**overrides):
    """The role's variables without their preemption_ prefix, as preempt_plan hands them to build_plan."""
    return dict(VCENTER, **overrides)


def alarm(event, old, new):
    """``event`` changed to an alarm going from ``old`` to ``new``."""
    changed = copy.deepcopy(event)
    changed['data']['From'], changed['data']['To'] = old, new
    return changed
