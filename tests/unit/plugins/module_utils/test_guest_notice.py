# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The preemption notice: its text, its deadline, resuming it, and the order write -> wait -> (caller) power off."""

from __future__ import annotations

import datetime
import json
from types import SimpleNamespace

import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._vm.notice import (
    extra_config_value,
    give_notice,
    notice_error,
    notice_text,
    parse_rfc3339,
    plan_notice,
    rfc3339,
)
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.power_off import Failure

NOW = datetime.datetime(2026, 12, 1, 20, 15, 0, 250000, tzinfo=datetime.timezone.utc)
NOTICE = {'preempted': True, 'runID': 'r-1', 'criticality': 'HIGH'}


def test_rfc3339_is_utc_with_seconds_and_round_trips():
    local = NOW.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    assert rfc3339(local) == '2026-12-01T20:15:00Z'
    assert parse_rfc3339('2026-12-01T20:15:00Z') == NOW.replace(microsecond=0)
    assert parse_rfc3339('tomorrow') is None and parse_rfc3339(None) is None


def test_notice_text_is_compact_sorted_json_with_the_deadline():
    assert notice_text(NOTICE, NOW) == '{"criticality":"HIGH","deadline":"2026-12-01T20:15:00Z","preempted":true,"runID":"r-1"}'


@pytest.mark.parametrize('notice, period, fragment', [
    ({}, -1, 'notice_period must be between 0 and 3600 seconds, not -1.'),
    ({}, 3601, 'not 3601'),
    ({'deadline': 'x'}, 10, "must not contain 'deadline'"),
    ({'when': datetime.date(2026, 1, 1)}, 10, 'only JSON values'),
])
def test_bad_notice_input_is_named(notice, period, fragment):
    assert fragment in notice_error(notice, period)


def test_good_notice_input_passes():
    assert notice_error(NOTICE, 0) is None and notice_error({}, 3600) is None


def test_a_fresh_notice_gets_now_plus_period_on_every_vm():
    text, deadline, to_write = plan_notice({'vm-1': None, 'vm-2': '{"other":1}'}, NOTICE, 120, NOW)
    assert deadline == NOW + datetime.timedelta(seconds=120)
    assert json.loads(text)['deadline'] == '2026-12-01T20:17:00Z'
    assert to_write == ['vm-1', 'vm-2']


def test_the_same_notice_already_given_is_resumed_with_its_deadline():
    earlier = notice_text(NOTICE, NOW - datetime.timedelta(seconds=30))
    text, deadline, to_write = plan_notice({'vm-1': earlier, 'vm-2': None, 'vm-3': ''}, NOTICE, 120, NOW)
    assert (text, deadline) == (earlier, NOW.replace(microsecond=0) - datetime.timedelta(seconds=30))
    assert to_write == ['vm-2', 'vm-3']


def test_another_runs_notice_is_not_resumed():
    other = notice_text(dict(NOTICE, runID='r-0'), NOW - datetime.timedelta(seconds=30))
    _text, deadline, to_write = plan_notice({'vm-1': other}, NOTICE, 60, NOW)
    assert (deadline, to_write) == (NOW + datetime.timedelta(seconds=60), ['vm-1'])


@pytest.mark.parametrize('far', [NOW + datetime.timedelta(seconds=121), datetime.datetime(2200, 1, 1, tzinfo=datetime.timezone.utc),
                                 datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc)])
def test_a_deadline_beyond_the_period_is_replaced_not_honoured(far):
    planted = notice_text(NOTICE, far)
    text, deadline, to_write = plan_notice({'vm-1': planted, 'vm-2': None}, NOTICE, 120, NOW)
    assert deadline == NOW + datetime.timedelta(seconds=120)
    assert json.loads(text)['deadline'] == '2026-12-01T20:17:00Z'
    assert to_write == ['vm-1', 'vm-2']


def test_extra_config_value_takes_the_last_entry_of_the_key():
    options = [SimpleNamespace(key='guestinfo.preemption', value='a'), SimpleNamespace(key='x', value='b'),
               SimpleNamespace(key='guestinfo.preemption', value='')]
    assert extra_config_value(options, 'guestinfo.preemption') == ''
    assert extra_config_value(options, 'missing') is None and extra_config_value(None, 'x') is None


class FakeGuest:
    def __init__(self, vms, fail=()):
        self.vms, self.fail, self.calls = vms, fail, []

    def read(self, moids):
        self.calls.append(('read', list(moids)))
        return {m: self.vms[m] for m in moids if m in self.vms}

    def write(self, moids, text):
        self.calls.append(('write', list(moids), text))
        return {m: Failure('refused', True) for m in moids if m in self.fail}


def vm(name, power_state='poweredOn', notice=None):
    return {'name': name, 'power_state': power_state, 'notice': notice}


def test_give_notice_writes_the_vms_that_are_on_then_waits_once_until_the_deadline():
    guest = FakeGuest({'vm-1': vm('a'), 'vm-2': vm('b', 'poweredOff'), 'vm-3': vm('c', 'suspended')}, fail={'vm-3'})
    clock = iter([NOW, NOW + datetime.timedelta(seconds=2)])
    slept = []
    summary, failed = give_notice(guest, ['vm-1', 'vm-2', 'vm-3', 'vm-404'], NOTICE, 10, now=lambda: next(clock), sleep=slept.append)
    assert [c[:2] for c in guest.calls] == [('read', ['vm-1', 'vm-2', 'vm-3', 'vm-404']), ('write', ['vm-1', 'vm-3'])]
    assert slept == [8.0]
    assert summary == {'value': notice_text(NOTICE, NOW + datetime.timedelta(seconds=10)), 'deadline': '2026-12-01T20:15:10Z',
                       'notified': ['vm-1'], 'written': ['vm-1']}
    assert failed == {'vm-3': {'name': 'c', 'msg': 'refused', 'retryable': True}}


def test_give_notice_past_its_deadline_does_not_wait_and_check_mode_neither_writes_nor_waits():
    given = notice_text(NOTICE, NOW - datetime.timedelta(seconds=5))
    slept = []
    summary, _failed = give_notice(FakeGuest({'vm-1': vm('a', notice=given)}), ['vm-1'], NOTICE, 60, now=lambda: NOW, sleep=slept.append)
    assert (slept, summary['written'], summary['notified']) == ([0.0], [], ['vm-1'])
    guest = FakeGuest({'vm-1': vm('a')})
    summary, _failed = give_notice(guest, ['vm-1'], NOTICE, 60, check_mode=True, now=lambda: NOW, sleep=slept.append)
    assert [c[0] for c in guest.calls] == ['read'] and slept == [0.0]
    assert summary['written'] == ['vm-1']


def test_no_vm_on_means_no_notice():
    assert give_notice(FakeGuest({'vm-1': vm('a', 'poweredOff')}), ['vm-1'], NOTICE, 60, sleep=pytest.fail) == (None, {})
