# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests of the vsphere.preemption.normalize_cloudevent event filter."""

from __future__ import annotations

import copy
import json
import os

from ansible_collections.vsphere.preemption.extensions.eda.plugins.event_filter.normalize_cloudevent import main
from ansible_collections.vsphere.preemption.plugins.module_utils._run.alarm import alarm_change

# What the filter adds to an event that is not a readable alarm status change.
NOTHING = {'alarm': None, 'change': 'none', 'criticality': None, 'scope': 'all', 'lock': 'all', 'restore_on_clear': None}
FIXTURE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'fixtures', 'veba-alarm-red.json')


def fixture():
    with open(FIXTURE, encoding='utf-8') as handle:
        return json.load(handle)


def webhook_event(payload, headers=None):
    """What eda.builtin.webhook puts on the queue for a POST."""
    return {'payload': payload, 'meta': {'endpoint': '', 'headers': dict({'Host': 'eda:5000', 'Content-Length': '1234'}, **(headers or {}))}}


def binary_headers(cloudevent, case=str.title):
    headers = {case('ce-' + name): str(value) for name, value in cloudevent.items() if name not in ('data', 'datacontenttype')}
    headers[case('content-type')] = cloudevent['datacontenttype']
    return headers


def test_structured_cloudevent_passes_unchanged_with_what_it_means_added():
    event = webhook_event(fixture(), {'Content-Type': 'application/cloudevents+json'})
    got = main(copy.deepcopy(event))
    assert got.pop('preemption') == {'alarm': 'cluster-cpu-above-80', 'change': 'raised', 'criticality': 'HIGH', 'scope': 'domain-c7',
                                     'lock': 'domain-c7', 'restore_on_clear': None}
    assert got == event


def test_binary_cloudevent_becomes_the_structured_one():
    cloudevent = fixture()
    got = main(webhook_event(cloudevent['data'], binary_headers(cloudevent)))
    assert got['payload'] == cloudevent
    # What it means is read from the rebuilt CloudEvent: the alarm, not the bare body, which is no CloudEvent.
    assert got['preemption'] == alarm_change(cloudevent) and got['preemption']['change'] == 'raised'
    assert got['meta']['headers']['Ce-Id'] == cloudevent['id']  # the request as received stays in meta


def test_binary_header_names_in_any_case_and_percent_encoded_values():
    cloudevent = fixture()
    cloudevent['subject'] = 'Alarm ändert sich'
    headers = binary_headers(cloudevent, case=str.lower)
    headers['ce-subject'] = 'Alarm%20%C3%A4ndert%20sich'
    headers['CE-SPECVERSION'] = headers.pop('ce-specversion')
    assert main(webhook_event(cloudevent['data'], headers))['payload'] == cloudevent


def test_binary_extension_attributes_are_kept_and_content_type_is_optional():
    headers = {'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': 's', 'ce-type': 't', 'ce-vsphereapiversion': '8.0.3'}
    assert main(webhook_event({'To': 'red'}, headers))['payload'] == {
        'specversion': '1.0', 'id': '1', 'source': 's', 'type': 't', 'vsphereapiversion': '8.0.3', 'data': {'To': 'red'}}


def test_other_events_pass_unchanged():
    for event in (webhook_event({'foo': 1}), webhook_event([1, 2]), webhook_event('text'), {'payload': {'a': 1}}, {'i': 3},
                  {'payload': {}, 'meta': {'headers': None}}, {'payload': {}, 'meta': 'x'}):
        assert main(copy.deepcopy(event)) == dict(event, preemption=NOTHING)


def test_a_cleared_alarm_carries_what_a_restore_on_clear_runs():
    cloudevent = fixture()
    cloudevent['data']['From'], cloudevent['data']['To'] = 'red', 'green'
    got = main(webhook_event(cloudevent['data'], binary_headers(cloudevent)))['preemption']
    assert (got['change'], got['lock'], got['restore_on_clear']) == ('cleared', 'domain-c7', {'playbook': 'restore', 'lock': 'restore:domain-c7'})


def test_hostile_payloads_never_raise_and_stay_data():
    cloudevent = fixture()
    cloudevent['data']['Alarm']['Name'] = "{{ lookup('pipe', 'id') }}"
    cloudevent['data']['From'] = {'not': 'a colour'}
    for payload in (cloudevent, {'specversion': '1.0', 'subject': 'AlarmStatusChangedEvent', 'data': None}, None, 'x' * 100000):
        got = main(webhook_event(copy.deepcopy(payload)))['preemption']
        assert (got['alarm'], got['change'], got['criticality'], got['restore_on_clear']) == (None, 'none', None, None)
    cloudevent['data']['From'] = 'green'
    assert main(webhook_event(cloudevent))['preemption']['alarm'] == "{{ lookup('pipe', 'id') }}"
