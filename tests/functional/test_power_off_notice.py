# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""power_off's notice: guestinfo.preemption on each VM before it goes off, and the wait it promises."""

from __future__ import annotations

import datetime
import json
import time

import pytest
from pyVmomi import vim

from tests.support.ansible_cli import run_module
from tests.support.guest_notice_view import KEY, Watcher, guest_view

MODULE = 'vsphere.preemption.power_off'
VCSIM_OPTIONS = dict(vms=4, hosts=1)
NOTICE = {'preempted': True, 'criticality': 'HIGH', 'workflowID': 'wf-1', 'runID': 'r-1'}
PERIOD = 3


@pytest.fixture(scope='module')
def moids(vcenter):
    return {vm['name']: vm['moid'] for vm in vcenter.vms()}


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _parse(stamp):
    return datetime.datetime.strptime(stamp, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)


def power_off(vcsim, check=False, **args):
    return run_module(MODULE, dict({'mode': 'hard'}, **args), env=vcsim.env(), check=check)


def test_check_mode_writes_no_notice_and_does_not_wait(vcsim, vcenter, moids):
    # A VM that every other test leaves on without a notice (DC0_H0_VM3 is powered off by the planted-deadline test).
    target = moids['DC0_C0_RP0_VM3']
    result = power_off(vcsim, check=True, vms=[target], notice_period=600, notice=NOTICE)
    assert result['_rc'] == 0, result
    # Waiting out the notice would have returned after its deadline.
    assert _utcnow() < _parse(result['notice']['deadline'])
    assert result['notice']['written'] == [target]
    assert guest_view(vcenter, target) == ('poweredOn', None)


def test_the_notice_is_on_each_vm_before_it_goes_off_and_the_run_takes_the_period(vcsim, vcenter, moids):
    targets = [moids['DC0_C0_RP0_VM0'], moids['DC0_C0_RP0_VM1'], moids['DC0_H0_VM0']]
    already_off = moids['DC0_H0_VM1']
    vcenter.power_off(already_off)
    watcher = Watcher(vcenter, targets)
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    started = time.monotonic()
    watcher.start()
    try:
        result = power_off(vcsim, vms=targets + [already_off], notice_period=PERIOD, notice=NOTICE, parallel=2)
    finally:
        watcher.done.set()
        watcher.join()
    elapsed = time.monotonic() - started
    assert result['_rc'] == 0, result
    assert elapsed >= PERIOD
    assert [vm['moid'] for vm in result['preempted']] == targets
    assert result['already_off'] == [{'moid': already_off, 'name': 'DC0_H0_VM1'}]
    notice = result['notice']
    assert (notice['notified'], notice['written']) == (targets, targets)
    value = json.loads(notice['value'])
    assert value == dict(NOTICE, deadline=notice['deadline'])
    deadline = _parse(notice['deadline'])
    assert before + datetime.timedelta(seconds=PERIOD) <= deadline <= before + datetime.timedelta(seconds=PERIOD + 60)
    for moid in targets:
        # A guest polling the key saw the notice while still running ...
        assert (moid, 'poweredOn', notice['value']) in watcher.seen
        # ... and never saw its VM go off without it.
        assert not [s for s in watcher.seen if s[0] == moid and s[1] == 'poweredOff' and s[2] != notice['value']]
        assert guest_view(vcenter, moid) == ('poweredOff', notice['value'])
    # The VM that was off before gets no notice.
    assert guest_view(vcenter, already_off) == ('poweredOff', None)


def test_a_resumed_notice_keeps_its_deadline_and_waits_only_for_what_is_left(vcsim, vcenter, moids):
    target, fresh = moids['DC0_C0_RP0_VM2'], moids['DC0_H0_VM2']
    notice = dict(NOTICE, runID='r-2')
    deadline = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=4)).strftime('%Y-%m-%dT%H:%M:%SZ')
    given = json.dumps(dict(notice, deadline=deadline), sort_keys=True, separators=(',', ':'))
    # A run that crashed during its notice: the key is on one VM, its deadline a few seconds away.
    spec = vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key=KEY, value=given)])
    vcenter._wait(vcenter.vm(target).ReconfigVM_Task(spec))
    before = _utcnow()
    result = power_off(vcsim, vms=[target, fresh], notice_period=600, notice=notice)
    assert result['_rc'] == 0, result
    # The fresh VM's own 600 s period was not waited: the run kept the planted, nearer deadline.
    assert _utcnow() < before + datetime.timedelta(seconds=600)
    assert result['notice']['deadline'] == deadline
    assert (result['notice']['notified'], result['notice']['written']) == ([target, fresh], [fresh])
    assert _utcnow() >= _parse(deadline)
    assert [guest_view(vcenter, m) for m in (target, fresh)] == [('poweredOff', given)] * 2


def test_a_planted_far_deadline_is_replaced_and_the_run_waits_only_its_own_period(vcsim, vcenter, moids):
    target = moids['DC0_H0_VM3']
    notice = dict(NOTICE, runID='r-far')
    # Anyone who may change the VM's ExtraConfig can plant this run's notice with a deadline in 9999.
    planted = json.dumps(dict(notice, deadline='9999-12-31T23:59:59Z'), sort_keys=True, separators=(',', ':'))
    vcenter._wait(vcenter.vm(target).ReconfigVM_Task(vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key=KEY, value=planted)])))
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    result = power_off(vcsim, vms=[target], notice_period=PERIOD, notice=notice)
    assert result['_rc'] == 0, result
    deadline = _parse(result['notice']['deadline'])
    assert before <= deadline <= before + datetime.timedelta(seconds=PERIOD + 60)
    assert result['notice']['written'] == [target]
    assert guest_view(vcenter, target) == ('poweredOff', result['notice']['value'])


@pytest.mark.parametrize('args, fragment', [
    (dict(notice_period=3601), 'notice_period must be between 0 and 3600 seconds, not 3601.'),
    (dict(notice_period=-5), 'not -5'),
    (dict(notice={'deadline': 'soon'}), "notice must not contain 'deadline'"),
])
def test_bad_notice_input_fails_before_any_vm_is_touched(vcsim, vcenter, moids, args, fragment):
    target = moids['DC0_C0_RP0_VM3']
    result = power_off(vcsim, vms=[target], **args)
    assert result['failed'] is True
    assert fragment in result['msg']
    assert result['retryable'] is False
    assert guest_view(vcenter, target) == ('poweredOn', None)
