# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import re
import uuid

import pytest
import requests

from ansible_collections.vsphere.preemption.plugins.module_utils._cloudevent.sender import (
    DEFAULT_SOURCE,
    DEFAULT_TYPE,
    CloudEventError,
    DeliveryError,
    build_event,
    encode_event,
    send_event,
    validate_extensions,
    validate_headers,
    validate_url,
)

from cloudevents.core.bindings.http import HTTPMessage, from_http_event

DATA = {'preempted': True, 'criticality': 'HIGH', 'virtualMachines': [{'Type': 'VirtualMachine', 'Value': 'vm-58'}]}


def sample_event(**overrides):
    options = dict(event_id='wf-1', subject='cluster-cpu-above-80', data=DATA, extensions={'workflowid': 'wf', 'attempt': 2},
                   time='2021-11-05T13:02:34.437444Z')
    options.update(overrides)
    return build_event(**options)


def parsed(headers, body):
    """What a receiver built on the SDK (2.x) sees: attributes (``time`` as the sender wrote it) plus data."""
    event = from_http_event(HTTPMessage(headers, body))
    result = dict(event.get_attributes())
    result['time'] = result['time'].strftime('%Y-%m-%dT%H:%M:%S.%fZ')
    result['data'] = event.get_data()
    return result


# ---------------------------------------------------------------- building

def test_build_event_defaults():
    event = build_event(data={'a': 1})
    assert event['type'] == DEFAULT_TYPE == 'com.vmware.workflows.vsphere.VmPreemptedEvent.v0'
    assert event['source'] == DEFAULT_SOURCE
    assert event['specversion'] == '1.0'
    assert event['datacontenttype'] == 'application/json'
    assert uuid.UUID(event['id']).version == 4
    assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$', event['time'])
    assert 'subject' not in event
    assert event['data'] == {'a': 1}


def test_build_event_with_everything():
    assert sample_event() == {
        'specversion': '1.0', 'id': 'wf-1', 'source': '/vsphere.preemption', 'type': DEFAULT_TYPE,
        'time': '2021-11-05T13:02:34.437444Z', 'datacontenttype': 'application/json', 'subject': 'cluster-cpu-above-80',
        'attempt': '2', 'workflowid': 'wf', 'data': DATA,
    }


@pytest.mark.parametrize('options, message', [
    (dict(event_type=''), 'CloudEvent type must be a non-empty string.'),
    (dict(source=None), 'CloudEvent source must be a non-empty string.'),
    (dict(event_id=''), 'CloudEvent id must be a non-empty string.'),
    (dict(subject=3), 'CloudEvent subject must be a non-empty string.'),
])
def test_build_event_rejects_empty_attributes(options, message):
    with pytest.raises(CloudEventError, match='^%s$' % re.escape(message)):
        build_event(**options)


@pytest.mark.parametrize('name', ['WorkflowID', 'workflow-id', 'workflow_id', 'a' * 21, '', 'é'])
def test_extension_names_must_be_short_lowercase_alphanumerics(name):
    with pytest.raises(CloudEventError, match=r'^CloudEvent extension name .* is invalid: use 1 to 20 lowercase letters a-z or digits 0-9\.$'):
        validate_extensions({name: 'x'})


@pytest.mark.parametrize('name', ['id', 'source', 'type', 'subject', 'time', 'specversion', 'datacontenttype', 'dataschema', 'data'])
def test_extension_names_cannot_be_context_attributes(name):
    with pytest.raises(CloudEventError, match=r"^CloudEvent extension name '%s' is a context attribute" % name):
        validate_extensions({name: 'x'})


def test_extension_values_are_sent_as_strings():
    assert validate_extensions({'a': 'x', 'b': 7, 'c': True, 'd': False, 'a' * 20: ''}) == {
        'a': 'x', 'b': '7', 'c': 'true', 'd': 'false', 'a' * 20: ''}
    for value in (1.5, None, {'x': 1}, ['x']):
        with pytest.raises(CloudEventError, match=r"^CloudEvent extension 'e' must be a string, an integer or a boolean, got "):
            validate_extensions({'e': value})


# ---------------------------------------------------------------- encoding

def test_binary_mode_puts_attributes_in_headers_and_data_in_the_body():
    headers, body = encode_event(sample_event(), 'binary')
    assert headers == {
        'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': 'wf-1', 'ce-source': '/vsphere.preemption',
        'ce-type': DEFAULT_TYPE, 'ce-time': '2021-11-05T13:02:34.437444Z', 'ce-subject': 'cluster-cpu-above-80',
        'ce-workflowid': 'wf', 'ce-attempt': '2',
    }
    assert json.loads(body) == DATA
    assert parsed(headers, body) == sample_event()


def test_structured_mode_sends_one_json_document():
    headers, body = encode_event(sample_event(), 'structured')
    assert headers == {'content-type': 'application/cloudevents+json'}
    assert json.loads(body) == sample_event()
    assert parsed(headers, body) == sample_event()


def test_an_event_without_data_has_an_empty_body():
    headers, body = encode_event(sample_event(data=None), 'binary')
    assert not body
    assert parsed(headers, body)['data'] is None


NAMES = ['Cluster CPU > 80%', 'CPU-Überlast', 'line one\nline two', 'tab\there', '"quoted" \'name\'', 'a/b@c', '%41%zz',
         ' padded ', 'emoji 🔥', 'עומס מעבד', 'x' * 3000]


@pytest.mark.parametrize('name', NAMES, ids=range(len(NAMES)))
def test_binary_mode_percent_encodes_what_a_header_cannot_carry(name):
    event = sample_event(event_id=name + '-e-1', subject=name)
    headers, body = encode_event(event, 'binary')
    # Section 3.1.3.2 of the HTTP binding: printable ASCII but space, '"' and '%' travel as they are, all else as %XX of UTF-8.
    assert all(re.match(r'^(?:[!#$&-~]|%[0-9A-F]{2})*$', headers[key]) for key in ('ce-id', 'ce-subject'))
    assert parsed(headers, body) == parsed(*encode_event(event, 'structured')) == event


def test_headers_too_large_for_http_servers_go_structured():
    event = sample_event(event_id='x' * 9000)
    headers, body = encode_event(event, 'binary')
    assert headers == {'content-type': 'application/cloudevents+json'}
    assert parsed(headers, body) == event


def test_unknown_mode():
    with pytest.raises(CloudEventError, match=r"^mode must be one of binary, structured, got 'json'\.$"):
        encode_event(sample_event(), 'json')


# ---------------------------------------------------------------- URL and headers

@pytest.mark.parametrize('url', ['ftp://example.com/x', 'example.com:8080', '', 'http://', 'file:///etc/passwd'])
def test_only_http_urls(url):
    with pytest.raises(CloudEventError, match=r'^url must be an http:// or https:// URL with a host name, got '):
        validate_url(url)


def test_a_bad_port_is_named():
    with pytest.raises(CloudEventError, match=r"^url 'http://example.com:99999/x' has an invalid port\.$"):
        validate_url('http://example.com:99999/x')


def test_headers_cannot_replace_the_event():
    assert validate_headers({'Authorization': 'Bearer x', 'X-Retry': 3}) == {'Authorization': 'Bearer x', 'X-Retry': '3'}
    for name in ('Content-Type', 'ce-id', 'CE-Source'):
        with pytest.raises(CloudEventError, match=r'^Header .* would change the CloudEvent itself'):
            validate_headers({name: 'x'})
    with pytest.raises(CloudEventError, match=r"^Header 'X' must have a string value\.$"):
        validate_headers({'X': None})


# ---------------------------------------------------------------- sending (the HTTP client replaced)

class Response:
    def __init__(self, status_code, text='', reason='Reason'):
        self.status_code = status_code
        self.text = text
        self.reason = reason


class Session:
    """Records post() calls; answers with the given response or raises the given exception."""

    def __init__(self, answer):
        self.answer = answer
        self.calls = []

    def post(self, url, **kwargs):
        self.calls.append(dict(kwargs, url=url))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize('validate_certs', [True, False])
def test_send_passes_verify_and_timeout_on_the_request(validate_certs):
    session = Session(Response(202))
    status = send_event('https://sink.example.com/x', sample_event(), headers={'Authorization': 'Bearer t'}, timeout=3,
                        validate_certs=validate_certs, session=session)
    assert status == 202
    call, = session.calls
    # verify= on every request: a session-level verify=False is ignored when REQUESTS_CA_BUNDLE is set.
    assert call['verify'] is validate_certs
    assert call['timeout'] == 3
    assert call['headers']['Authorization'] == 'Bearer t'
    assert call['headers']['ce-id'] == 'wf-1'
    assert json.loads(call['data']) == DATA
    assert call['allow_redirects'] is False


@pytest.mark.parametrize('status', [301, 302, 303, 307, 308])
def test_a_redirect_is_a_failure_naming_only_its_host(status):
    answer = Response(status, reason='Moved')
    answer.headers = {'Location': 'https://user:pw@elsewhere.example:8443/steal?token=abc'}
    session = Session(answer)
    with pytest.raises(DeliveryError) as caught:
        send_event('http://sink:8080/x', sample_event(), session=session)
    assert len(session.calls) == 1
    assert (caught.value.status, caught.value.retryable) == (status, False)
    assert str(caught.value) == ('The CloudEvent sink http://sink:8080/x answered HTTP %d Moved, a redirect to elsewhere.example:8443; '
                                 'redirects are not followed, so the event was not sent. Set the URL the sink really receives on.' % status)


def test_a_non_2xx_answer_carries_status_and_snippet():
    session = Session(Response(503, text='  upstream\n  unavailable  ', reason='Service Unavailable'))
    with pytest.raises(DeliveryError) as caught:
        send_event('http://user:pw@sink:8080/x?token=abc', sample_event(), session=session)
    assert caught.value.status == 503
    assert str(caught.value) == 'The CloudEvent sink http://***@sink:8080/x?token=*** answered HTTP 503 Service Unavailable: upstream unavailable'


def test_a_long_body_is_cut_and_an_empty_one_omitted():
    with pytest.raises(DeliveryError, match=r'answered HTTP 500 Reason: x{200}\.\.\.$'):
        send_event('http://sink/', sample_event(), session=Session(Response(500, text='x' * 5000)))
    with pytest.raises(DeliveryError, match=r'answered HTTP 404 Reason\.$'):
        send_event('http://sink/', sample_event(), session=Session(Response(404)))


@pytest.mark.parametrize('exc, message', [
    (requests.exceptions.ConnectionError('HTTPConnectionPool: Max retries exceeded ([Errno 111] Connection refused)'),
     'Cannot send the CloudEvent to http://sink:8080/x?token=***: connection refused.'),
    (requests.exceptions.ConnectionError('Failed to resolve: [Errno -2] Name or service not known'),
     "Cannot send the CloudEvent to http://sink:8080/x?token=***: cannot resolve the host name 'sink'."),
    (requests.exceptions.ReadTimeout('read timed out'),
     'Cannot send the CloudEvent to http://sink:8080/x?token=***: no answer within 10 seconds.'),
    (requests.exceptions.SSLError('[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed'),
     'Cannot verify the TLS certificate of the CloudEvent sink http://sink:8080/x?token=***. Trust its CA with REQUESTS_CA_BUNDLE, '
     'or set validate_certs: false.'),
    (requests.exceptions.ChunkedEncodingError('broken'),
     'Cannot send the CloudEvent to http://sink:8080/x?token=***: ChunkedEncodingError.'),
])
def test_transport_failures_are_one_line(exc, message):
    with pytest.raises(DeliveryError) as caught:
        send_event('http://sink:8080/x?token=secret', sample_event(), session=Session(exc))
    assert str(caught.value) == message
    assert caught.value.status is None
