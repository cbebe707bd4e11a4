# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests of the vsphere.preemption.alarms event source: CloudEvent shape, options, cursor, reconnection."""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import os

import pytest
from pyVmomi import vim

from ansible_collections.vsphere.preemption.extensions.eda.plugins.event_source import alarms
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError

FIXTURE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'fixtures', 'veba-alarm-red.json')
UTC = datetime.timezone.utc
T0 = datetime.datetime(2021, 11, 5, 13, 13, 49, 993999, tzinfo=UTC)


def fixture():
    with open(FIXTURE, encoding='utf-8') as handle:
        return json.load(handle)


def alarm_event(key=15227, created=T0, frm='green', to='red', name='cluster-cpu-above-80', **extra):
    """An AlarmStatusChangedEvent as vCenter sent the one in the VEBA fixture."""
    cluster = vim.ClusterComputeResource('domain-c7')
    host = vim.HostSystem('host-21')
    fields = dict(
        key=key, chainId=key, createdTime=created, userName='',
        datacenter=vim.event.DatacenterEventArgument(name='vcqaDC', datacenter=vim.Datacenter('datacenter-2')),
        computeResource=vim.event.ComputeResourceEventArgument(name='cls', computeResource=cluster),
        host=vim.event.HostEventArgument(name='10.161.166.252', host=host),
        fullFormattedMessage="Alarm '%s' on 10.161.166.252 changed from Green to Red" % name,
        changeTag='',
        alarm=vim.event.AlarmEventArgument(name=name, alarm=vim.alarm.Alarm('alarm-282')),
        source=vim.event.ManagedEntityEventArgument(name='cls', entity=cluster),
        entity=vim.event.ManagedEntityEventArgument(name='10.161.166.252', entity=host),
        to=to,
    )
    fields.update(extra)
    fields['from'] = frm
    return vim.event.AlarmStatusChangedEvent(**fields)


# --------------------------------------------------------------------------- CloudEvent

def test_cloudevent_is_the_veba_delivery_of_the_same_vcenter_event():
    expected = fixture()
    got = alarms.to_cloudevent(alarm_event(), 'https://10.161.164.224/sdk', '6.7.3')
    assert got.pop('id') != expected.pop('id')  # VEBA's is random, ours derived from the event
    assert got == expected


def test_cloudevent_id_is_stable_per_vcenter_event():
    source = alarms.vcenter_source('vc.example.com')
    first = alarms.to_cloudevent(alarm_event(), source)['id']
    assert alarms.to_cloudevent(alarm_event(), source)['id'] == first
    assert alarms.to_cloudevent(alarm_event(key=15228), source)['id'] != first
    assert alarms.to_cloudevent(alarm_event(), alarms.vcenter_source('other.example.com'))['id'] != first
    assert alarms.to_cloudevent(alarm_event(created=T0 + datetime.timedelta(seconds=1)), source)['id'] != first


def test_cloudevent_vm_and_storage_arguments_and_missing_api_version():
    event = alarm_event(vm=vim.event.VmEventArgument(name='web-1', vm=vim.VirtualMachine('vm-58')),
                        ds=vim.event.DatastoreEventArgument(name='ds1', datastore=vim.Datastore('datastore-11')),
                        host=None, frm='yellow', to='gray')
    got = alarms.to_cloudevent(event, 'https://vc/sdk')
    assert got['data']['Vm'] == {'Name': 'web-1', 'Vm': {'Type': 'VirtualMachine', 'Value': 'vm-58'}}
    assert got['data']['Ds'] == {'Name': 'ds1', 'Datastore': {'Type': 'Datastore', 'Value': 'datastore-11'}}
    assert got['data']['Host'] is None
    assert (got['data']['From'], got['data']['To']) == ('yellow', 'gray')
    assert 'vsphereapiversion' not in got


def test_cloudevent_time_is_utc_with_z():
    created = datetime.datetime(2021, 11, 5, 15, 13, 49, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    got = alarms.to_cloudevent(alarm_event(created=created), 'https://vc/sdk')
    assert got['time'] == got['data']['CreatedTime'] == '2021-11-05T13:13:49.000005Z'


@pytest.mark.parametrize('port, expected', [(443, 'https://vc.example.com/sdk'), ('8443', 'https://vc.example.com:8443/sdk')])
def test_vcenter_source(port, expected):
    assert alarms.vcenter_source('vc.example.com', port) == expected


# --------------------------------------------------------------------------- options

ENV = {'VMWARE_HOST': 'vc.example.com', 'VMWARE_USER': 'administrator@vsphere.local', 'VMWARE_PASSWORD': 'S3cret!',
       'VMWARE_PORT': '8443', 'VMWARE_VALIDATE_CERTS': 'no'}


def test_options_fall_back_to_the_vmware_environment():
    assert alarms.source_options({}, ENV) == {
        'hostname': 'vc.example.com', 'username': 'administrator@vsphere.local', 'password': 'S3cret!', 'port': 8443,
        'validate_certs': False, 'alarm_names': frozenset(), 'poll_interval': 5, 'max_reconnect_delay': 60.0,
        'checkpoint': None, 'checkpoint_max_age': 3600.0}


def test_options_win_over_the_environment():
    got = alarms.source_options({'hostname': 'vc2', 'username': 'u', 'password': 'p', 'port': 443, 'validate_certs': True,
                                 'alarm_names': 'cluster-cpu-above-80', 'poll_interval': '2', 'max_reconnect_delay': 10,
                                 'eda_feedback_queue': object()}, ENV)
    assert (got['hostname'], got['username'], got['password'], got['port'], got['validate_certs']) == ('vc2', 'u', 'p', 443, True)
    assert got['alarm_names'] == frozenset(['cluster-cpu-above-80'])
    assert (got['poll_interval'], got['max_reconnect_delay']) == (2, 10.0)


def test_options_defaults_without_environment():
    got = alarms.source_options({'hostname': 'vc', 'username': 'u', 'password': 'p', 'alarm_names': ['a', 'b']}, {})
    assert (got['port'], got['validate_certs'], got['alarm_names']) == (443, True, frozenset(['a', 'b']))


@pytest.mark.parametrize('args, message', [
    ({'hostname': None}, 'hostname is required (the option, or the environment variable VMWARE_HOST)'),
    ({'password': ''}, 'password is required'),
    ({'port': 'https'}, "port must be a number >= 1, got 'https'"),
    ({'port': 0}, 'port must be a number >= 1, got 0'),
    ({'validate_certs': 'maybe'}, "validate_certs must be a boolean (true/false), got 'maybe'"),
    ({'poll_interval': 0}, 'poll_interval must be a number >= 1, got 0'),
    ({'poll_interval': '0.5'}, "poll_interval must be a number >= 1, got '0.5'"),
    ({'max_reconnect_delay': 0.5}, 'max_reconnect_delay must be a number >= 1.0, got 0.5'),
    ({'alarm_names': [1]}, 'alarm_names must be a list of alarm names, got [1]'),
    ({'alarm_names': {'a': 1}}, 'alarm_names must be a list of alarm names'),
    ({'alarm_name': 'x'}, 'unknown option(s) alarm_name; known: hostname, username, password'),
])
def test_bad_options_are_one_clear_line_without_the_password(args, message):
    with pytest.raises(ValueError) as info:
        alarms.source_options(dict({'hostname': 'vc', 'username': 'u', 'password': 'S3cret!'}, **args), {})
    assert message in str(info.value)
    assert str(info.value).startswith('vsphere.preemption.alarms: ')
    assert 'S3cret!' not in str(info.value)


# --------------------------------------------------------------------------- cursor

def at(seconds):
    return T0 + datetime.timedelta(seconds=seconds)


def keys(events):
    return [e.key for e in events]


def test_cursor_skips_events_from_before_the_start_and_orders_by_key():
    cursor = alarms.EventCursor(since=at(10))
    page = [alarm_event(key=3, created=at(12)), alarm_event(key=1, created=at(9)), alarm_event(key=2, created=at(10))]
    assert keys(cursor.fresh(page)) == [2, 3]
    assert cursor.newest == at(12)


def test_cursor_emits_each_event_once_across_pages():
    cursor = alarms.EventCursor(since=at(0))
    assert keys(cursor.fresh([alarm_event(key=1, created=at(1))])) == [1]
    assert keys(cursor.fresh([alarm_event(key=2, created=at(2)), alarm_event(key=1, created=at(1))])) == [2]
    assert keys(cursor.fresh([alarm_event(key=2, created=at(2)), alarm_event(key=2, created=at(2))])) == []
    assert keys(cursor.fresh(None)) == []


def test_cursor_takes_a_reused_key_from_a_new_vcenter_history():
    cursor = alarms.EventCursor(since=at(0))
    cursor.fresh([alarm_event(key=1, created=at(1))])
    assert keys(cursor.fresh([alarm_event(key=1, created=at(30))])) == [1]


def test_cursor_memory_is_bounded():
    cursor = alarms.EventCursor(since=at(0), memory=2)
    cursor.fresh([alarm_event(key=k, created=at(k)) for k in (1, 2, 3)])
    assert keys(cursor.fresh([alarm_event(key=1, created=at(1)), alarm_event(key=3, created=at(3))])) == [1]


def test_cursor_warns_when_a_whole_page_is_new(caplog):
    cursor = alarms.EventCursor(since=at(0), page_size=2)
    with caplog.at_level(logging.WARNING, logger='vsphere.preemption.alarms'):
        cursor.fresh([alarm_event(key=1, created=at(1)), alarm_event(key=2, created=at(2))])
        assert not caplog.records  # the first read is the collector's initial page
        cursor.fresh([alarm_event(key=3, created=at(3)), alarm_event(key=4, created=at(4))])
    assert 'More than 2 alarm status changes arrived between two reads' in caplog.text


def test_reconnect_delays_double_up_to_the_cap():
    delays = alarms.reconnect_delays(1.0, 10.0)
    assert [next(delays) for _attempt in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


# --------------------------------------------------------------------------- the source loop, with a fake vCenter

class Done(Exception):
    """Ends a scripted run."""


class FakeStream:
    """What VCenterEventStream offers: a collector history since ``begin`` (``history``, one page), then
    scripted wait() results (a list of pages, or an exception)."""

    source = 'https://vc/sdk'
    api_version = '8.0.3'

    def __init__(self, begin, script, history=None):
        self.begin = begin or at(0)
        self.script = list(script)
        self.history = history
        self.closed = False

    def backlog(self):
        return [list(self.history)] if self.history is not None else []

    def wait(self):
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step

    def close(self):
        self.closed = True


def login_error():
    try:
        raise vim.fault.InvalidLogin()
    except vim.fault.InvalidLogin:
        try:
            raise VCenterError("vCenter vc:443 refused the login of user 'u': wrong user name or password.") from None
        except VCenterError as exc:
            return exc


def run_source(connects, options=None, until=Done):
    """Run AlarmSource until it raises ``until``; return (events put, delays slept, begins asked)."""
    begins, delays, queue = [], [], asyncio.Queue()
    connects = list(connects)

    def open_stream(begin):
        begins.append(begin)
        step = connects.pop(0)
        if isinstance(step, BaseException):
            raise step
        return FakeStream(begin, step)

    async def sleep(seconds):
        delays.append(seconds)

    opts = dict({'hostname': 'vc', 'port': 443, 'alarm_names': frozenset(), 'poll_interval': 1, 'max_reconnect_delay': 4.0}, **(options or {}))
    source = alarms.AlarmSource(opts, open_stream=open_stream, sleep=sleep)
    with pytest.raises(until):
        asyncio.run(source.run(queue))
    events = []
    while not queue.empty():
        events.append(queue.get_nowait())
    return events, delays, begins


def test_source_retries_with_backoff_reconnects_and_resumes_after_the_newest_event(caplog):
    e1, e2, e3 = alarm_event(key=1, created=at(1)), alarm_event(key=2, created=at(2), to='green', frm='red'), alarm_event(key=3, created=at(3))
    connects = [
        VCenterError('Cannot connect to vCenter vc:443: connection refused.'),
        ConnectionRefusedError(),
        [[[e1]], [], [[e2, e1]], ConnectionResetError()],   # vCenter restarts
        VCenterError('Cannot connect to vCenter vc:443: connection refused.'),
        [[[e2, e1, e3]], Done()],                           # the new collector's page repeats what was seen
    ]
    with caplog.at_level(logging.INFO, logger='vsphere.preemption.alarms'):
        events, delays, begins = run_source(connects)
    assert [e['payload']['data']['Key'] for e in events] == [1, 2, 3]
    assert events[1]['payload']['data']['To'] == 'green'
    # Each event carries what it means (alarm.alarm_change of its CloudEvent), for the rulebooks to route on.
    assert [(e['preemption']['change'], e['preemption']['criticality'], e['preemption']['lock']) for e in events] == [
        ('raised', 'HIGH', 'domain-c7'), ('cleared', None, 'domain-c7'), ('raised', 'HIGH', 'domain-c7')]
    assert events[0]['payload']['source'] == 'https://vc/sdk' and events[0]['payload']['vsphereapiversion'] == '8.0.3'
    assert delays == [1.0, 2.0, 1.0]  # the backoff starts over after a good connection
    assert begins == [None, None, None, at(2), at(2)]  # "now" at first, then the newest event seen
    assert 'connection refused. Retrying in 1 s.' in caplog.text
    assert 'vCenter vc:443: ConnectionRefusedError Retrying in 2 s.' in caplog.text
    assert 'Lost vCenter vc:443 (ConnectionResetError); reconnecting.' in caplog.text


def test_source_backoff_is_capped():
    refused = VCenterError('Cannot connect to vCenter vc:443: connection refused.')
    _events, delays, _begins = run_source([refused] * 5 + [[Done()]])
    assert delays == [1.0, 2.0, 4.0, 4.0, 4.0]


def test_source_filters_alarm_names():
    page = [alarm_event(key=1, created=at(1), name='other'), alarm_event(key=2, created=at(2))]
    events, _delays, _begins = run_source([[[page], Done()]], {'alarm_names': frozenset(['cluster-cpu-above-80'])})
    assert [e['payload']['data']['Key'] for e in events] == [2]


def test_source_stops_on_a_wrong_password_at_start():
    _events, delays, _begins = run_source([login_error()], until=VCenterError)
    assert delays == []


def test_source_retries_a_wrong_password_after_it_once_worked():
    events, delays, _begins = run_source([[ConnectionResetError()], login_error(), [Done()]])
    assert (events, delays) == ([], [1.0])


def test_main_explains_a_missing_pyvmomi(monkeypatch):
    monkeypatch.setattr(alarms, 'HAS_PYVMOMI', False)
    with pytest.raises(ImportError, match='vsphere.preemption.alarms needs the pyvmomi Python library .*pip install pyvmomi'):
        asyncio.run(alarms.main(asyncio.Queue(), {}))


def test_main_rejects_bad_options_before_connecting(monkeypatch):
    monkeypatch.delenv('VMWARE_HOST', raising=False)
    with pytest.raises(ValueError, match='hostname is required'):
        asyncio.run(alarms.main(asyncio.Queue(), {'username': 'u', 'password': 'p'}))
