# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""annotate's vcenter_event: one user event per VM per message, read back with QueryEvents."""

from __future__ import annotations

from pyVmomi import vim

from tests.support.ansible_cli import run_module
from tests.support.vcenter_events import user_events

MODULE = 'vsphere.preemption.annotate'
# vCenter keeps every event: each test works on VMs of its own, whose events are all its doing.
VCSIM_OPTIONS = dict(vms=6, hosts=1)
RECORD = {'preempted': True, 'criticality': 'HIGH', 'workflowID': 'wf-1', 'runID': 'r-1'}
MESSAGE = 'Preempted by workflow wf-1, run r-1: criticality HIGH, hard power-off'
NAMES = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1']


def pair(vcenter, first, second):
    return [vcenter.moid(first), vcenter.moid(second)]


def logged(vcsim, vcenter, moids):
    """The VMs ``moids`` annotated with RECORD and their event logged once, as a finished run leaves them."""
    result = annotate(vcsim, vms=moids, value=RECORD, vcenter_event=MESSAGE)
    assert (result['_rc'], result['events_logged']) == (0, moids), result
    return moids


def annotate(vcsim, check=False, **args):
    return run_module(MODULE, dict({'create_field': True}, **args), env=vcsim.env(), check=check)


def test_check_mode_reports_the_events_and_logs_none(vcsim, vcenter):
    moids = pair(vcenter, 'DC0_C0_RP0_VM2', 'DC0_C0_RP0_VM3')
    result = annotate(vcsim, check=True, vms=moids, value=RECORD, vcenter_event=MESSAGE)
    assert result['_rc'] == 0, result
    assert result['events_logged'] == moids
    assert [user_events(vcenter, moid) for moid in moids] == [[], []]


def test_one_event_per_vm_naming_the_vm_and_the_user(vcsim, vcenter):
    moids = pair(vcenter, *NAMES)
    # A run of its own, so that the events with its message are this test's wherever they are.
    message = MESSAGE.replace('r-1', 'r-0')
    result = annotate(vcsim, vms=moids, value=dict(RECORD, runID='r-0'), vcenter_event=message)
    assert result['_rc'] == 0, result
    assert result['changed'] is True
    assert result['events_logged'] == moids
    assert [user_events(vcenter, moid) for moid in moids] == [[message], [message]]
    spec = vim.event.EventFilterSpec(eventTypeId=['GeneralUserEvent'], maxCount=1000)
    events = [e for e in vcenter.content.eventManager.QueryEvents(spec) if e.message == message]
    assert sorted(e.vm.vm._moId for e in events) == sorted(moids)
    assert sorted(e.vm.name for e in events) == sorted(NAMES)
    assert {e.userName for e in events} == {vcsim.username}


def test_a_retried_call_logs_nothing_again(vcsim, vcenter):
    moids = logged(vcsim, vcenter, pair(vcenter, 'DC0_C0_RP0_VM4', 'DC0_C0_RP0_VM5'))
    result = annotate(vcsim, vms=moids, value=RECORD, vcenter_event=MESSAGE)
    assert result['_rc'] == 0, result
    assert (result['changed'], result['events_logged'], result['changed_vms']) == (False, [], [])
    assert [user_events(vcenter, moid) for moid in moids] == [[MESSAGE], [MESSAGE]]


def test_a_resumed_call_logs_the_event_missing_although_the_annotation_is_in_place(vcsim, vcenter):
    moids = logged(vcsim, vcenter, pair(vcenter, 'DC0_H0_VM0', 'DC0_H0_VM1'))
    third = vcenter.moid('DC0_H0_VM2')
    # A run killed after the annotation and before the event: the value is there, the event is not.
    assert annotate(vcsim, vms=[third], value=RECORD)['changed_vms'] == [third]
    result = annotate(vcsim, vms=moids + [third], value=RECORD, vcenter_event=MESSAGE)
    assert result['_rc'] == 0, result
    assert result['changed_vms'] == []
    assert (result['changed'], result['events_logged']) == (True, [third])
    assert [user_events(vcenter, moid) for moid in moids + [third]] == [[MESSAGE]] * 3


def test_another_run_logs_its_own_event(vcsim, vcenter):
    moids = logged(vcsim, vcenter, pair(vcenter, 'DC0_H0_VM3', 'DC0_H0_VM4'))
    message = MESSAGE.replace('r-1', 'r-2')
    result = annotate(vcsim, vms=moids[:1], value=dict(RECORD, runID='r-2'), vcenter_event=message)
    assert result['events_logged'] == moids[:1]
    assert sorted(user_events(vcenter, moids[0])) == sorted([MESSAGE, message])
    assert user_events(vcenter, moids[1]) == [MESSAGE]


def test_an_event_for_an_unknown_vm_is_never_logged(vcsim, vcenter):
    moids = [vcenter.moid('DC0_H0_VM5')]
    result = annotate(vcsim, vms=[moids[0], 'vm-404'], value=dict(RECORD, runID='r-3'), vcenter_event='never')
    assert result['failed'] is True
    assert 'vm-404' in result['msg']
    assert 'never' not in user_events(vcenter, moids[0])
