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


def test_structured_cloudevent_passes_unchanged():
    event = webhook_event(fixture(), {'Content-Type': 'application/cloudevents+json'})
    assert main(copy.deepcopy(event)) == event


def test_binary_cloudevent_becomes_the_structured_one():
    cloudevent = fixture()
    got = main(webhook_event(cloudevent['data'], binary_headers(cloudevent)))
    assert got['payload'] == cloudevent
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
        assert main(copy.deepcopy(event)) == event
