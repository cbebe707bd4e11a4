# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vsphere.preemption.cloudevent run by the real ansible CLI against a real local HTTP receiver."""

from __future__ import annotations

import json
import socket
import uuid

import pytest

from tests.support.ansible_cli import run_module, run_playbook
from tests.support.event_receiver import EventReceiver

MODULE = 'vsphere.preemption.cloudevent'
TYPE = 'com.vmware.workflows.vsphere.VmPreemptedEvent.v0'
TOKEN = 'tok-3f9c1a7e5b'
DATA = {'preempted': True, 'tag': 'preemptible', 'forcedShutdown': True, 'criticality': 'HIGH',
        'workflowID': 'cluster-cpu-above-80', 'virtualMachines': [{'Type': 'VirtualMachine', 'Value': 'vm-58'}]}


def send(check=False, env=None, **args):
    return run_module(MODULE, args, check=check, env=env)


@pytest.mark.parametrize('mode, content_type', [('binary', 'application/json'), ('structured', 'application/cloudevents+json')])
def test_the_event_arrives_complete(mode, content_type):
    with EventReceiver(token=TOKEN) as sink:
        result = send(url=sink.url + 'hooks/vsphere', mode=mode, id='cluster-cpu-above-80-e1', source='/vcenter/vc01',
                      subject='cluster-cpu-above-80', data=DATA, extensions={'workflowid': 'cluster-cpu-above-80', 'attempt': 1},
                      headers={'Authorization': 'Bearer ' + TOKEN, 'X-Preemption-Run': 'r-1'})
        request, = sink.requests
    assert result['_rc'] == 0, result
    assert result['changed'] is True
    assert result['status'] == 204
    assert (request.method, request.path, request.status) == ('POST', '/hooks/vsphere', 204)
    assert request.headers['Content-Type'] == content_type
    assert request.headers['X-Preemption-Run'] == 'r-1'
    assert request.event == {
        'specversion': '1.0', 'id': 'cluster-cpu-above-80-e1', 'source': '/vcenter/vc01', 'type': TYPE,
        'subject': 'cluster-cpu-above-80', 'datacontenttype': 'application/json', 'time': result['event']['time'],
        'workflowid': 'cluster-cpu-above-80', 'attempt': '1', 'data': DATA,
    }
    assert result['event'] == request.event
    assert sink.events == [request.event]


def test_defaults_type_source_and_a_random_id():
    with EventReceiver() as sink:
        result = send(url=sink.url, data={'a': 1})
    event, = sink.events
    assert (event['type'], event['source']) == (TYPE, '/vsphere.preemption')
    assert uuid.UUID(event['id']).version == 4
    assert 'subject' not in event
    assert result['event']['id'] == event['id']


def test_header_values_are_never_shown():
    with EventReceiver(token=TOKEN) as sink:
        result = send(url=sink.url, data={'a': 1}, headers={'Authorization': 'Bearer ' + TOKEN})
    assert result['status'] == 204
    assert TOKEN not in json.dumps(result)
    assert sink.requests[0].headers['Authorization'] == 'Bearer ' + TOKEN


def test_a_500_fails_with_the_status_and_the_body():
    with EventReceiver(responses=[(500, 'database is down\n')]) as sink:
        result = send(url=sink.url, data={'a': 1})
    assert result['failed'] is True
    assert result['status'] == 500
    assert result['msg'] == 'The CloudEvent sink %s answered HTTP 500 Internal Server Error: database is down' % sink.url


def test_a_refused_token_fails_with_401():
    with EventReceiver(token=TOKEN) as sink:
        result = send(url=sink.url, data={'a': 1}, headers={'Authorization': 'Bearer wrong'})
    assert result['failed'] is True
    assert result['status'] == 401
    assert sink.events == []


def test_retries_in_a_play_deliver_one_event_with_a_stable_id(tmp_path):
    """503 twice then 204: `retries`/`until` resend the same event id, so a receiver can deduplicate."""
    with EventReceiver(responses=[503, 503]) as sink:
        playbook = tmp_path / 'send.yml'
        playbook.write_text(json.dumps([{
            'hosts': 'localhost', 'gather_facts': False,
            'tasks': [{'vsphere.preemption.cloudevent': {'url': sink.url, 'id': 'wf-run-1', 'data': DATA},
                       'register': 'sent', 'retries': 3, 'delay': 0, 'until': 'sent is succeeded'}],
        }]))
        process = run_playbook(str(playbook), inventory='localhost,', args=['-c', 'local'])
        requests = sink.requests
    assert process.returncode == 0, process.stdout + process.stderr
    assert [request.status for request in requests] == [503, 503, 204]
    assert {request.event['id'] for request in requests} == {'wf-run-1'}
    assert [event['id'] for event in sink.events] == ['wf-run-1']


def test_check_mode_sends_nothing():
    with EventReceiver() as sink:
        result = send(check=True, url=sink.url, id='wf-run-1', data=DATA)
        assert sink.requests == []
    assert result['changed'] is True
    assert result['status'] is None
    assert result['event']['id'] == 'wf-run-1'
    assert result['event']['data'] == DATA


def test_connection_refused_is_one_clear_line():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    result = send(url='http://127.0.0.1:%d/events?token=secret' % port, data={'a': 1})
    assert result['failed'] is True
    assert result['status'] is None
    assert result['msg'] == 'Cannot send the CloudEvent to http://127.0.0.1:%d/events?token=***: connection refused.' % port
    assert 'secret' not in json.dumps(result)


def test_a_slow_sink_times_out():
    with EventReceiver(delay=3) as sink:
        result = send(url=sink.url, data={'a': 1}, timeout=1)
        # The request did arrive; only the answer came too late.
        sink.wait_for(1)
    assert result['failed'] is True
    assert result['msg'] == 'Cannot send the CloudEvent to %s: no answer within 1.0 seconds.' % sink.url


@pytest.mark.parametrize('args, message', [
    (dict(url='ftp://127.0.0.1/x'), "url must be an http:// or https:// URL with a host name, got 'ftp://127.0.0.1/x'."),
    (dict(url='http://127.0.0.1:1/', extensions={'WorkflowID': 'x'}),
     "CloudEvent extension name 'WorkflowID' is invalid: use 1 to 20 lowercase letters a-z or digits 0-9."),
    (dict(url='http://127.0.0.1:1/', headers={'ce-id': 'x'}),
     "Header 'ce-id' would change the CloudEvent itself; set the event through the other options."),
])
def test_bad_input_is_rejected_before_sending(args, message):
    result = send(check=True, data={'a': 1}, **args)
    assert result['failed'] is True
    assert result['msg'] == message


NAMES = ['Cluster CPU > 80%', 'CPU-Überlast', 'Host CPU usage\nline two\ttab', '"quoted" \'name\' a/b@c', '%41%zz 100%',
         '🔥 עומס מעבד', ' padded ', 'x' * 80000]


def test_any_text_arrives_the_same_in_binary_and_structured_mode(tmp_path):
    """The HTTP binding (3.1.3.2) percent-encodes header values; a receiver on the Python SDK 2.x decodes them."""
    with EventReceiver() as sink:
        (tmp_path / 'names.json').write_text(json.dumps({'names': NAMES, 'sink': sink.url}))
        playbook = tmp_path / 'send.yml'
        playbook.write_text(json.dumps([{
            'hosts': 'localhost', 'gather_facts': False, 'vars_files': [str(tmp_path / 'names.json')],
            'tasks': [{'vsphere.preemption.cloudevent': {'url': '{{ sink }}', 'mode': '{{ item[1] }}', 'id': '{{ item[0] }}-e-1',
                                                         'subject': '{{ item[0] }}', 'data': {'workflowID': '{{ item[0] }}'}},
                       'loop': "{{ names | product(['binary', 'structured']) | list }}", 'loop_control': {'label': 'x'}}],
        }]))
        process = run_playbook(str(playbook), inventory='localhost,', args=['-c', 'local'])
        requests = sink.requests
    assert process.returncode == 0, process.stdout[-3000:]
    assert [request.status for request in requests] == [204] * 2 * len(NAMES)
    assert [(request.event['id'], request.event['subject'], request.event['data']) for request in requests] == [
        (name + '-e-1', name, {'workflowID': name}) for name in NAMES for _mode in (1, 2)]
    # Binary mode really is binary (ce-* headers), but for the 80,000 characters no HTTP server takes in a header.
    assert ['ce-id' in request.headers for request in requests[::2]] == [True] * (len(NAMES) - 1) + [False]


@pytest.mark.parametrize('status', [301, 302, 307, 308])
def test_a_redirecting_sink_fails_and_nothing_reaches_the_other_host(status):
    with EventReceiver() as elsewhere:
        target = elsewhere.url + 'steal?token=abc'
        with EventReceiver(responses=[(status, '', {'Location': target})]) as sink:
            result = send(url=sink.url, id='wf-e-1', data={'a': 1}, headers={'X-Api-Key': 'k-123'})
            assert len(sink.requests) == 1
        assert elsewhere.requests == []
    host = '127.0.0.1:%s' % elsewhere.url.rsplit(':', 1)[1].strip('/')
    assert (result['failed'], result['status'], result['retryable']) == (True, status, False)
    assert result['msg'].startswith('The CloudEvent sink %s answered HTTP %d ' % (sink.url, status))
    assert 'a redirect to %s; redirects are not followed, so the event was not sent.' % host in result['msg']
    assert 'steal' not in result['msg'] and 'abc' not in result['msg']


def test_https_certificates():
    with EventReceiver(tls=True) as sink:
        untrusted = send(url=sink.url, data={'a': 1})
        # REQUESTS_CA_BUNDLE names the system bundle in this environment; validate_certs: false must still work.
        unverified = send(url=sink.url, data={'a': 1}, validate_certs=False, env={'REQUESTS_CA_BUNDLE': '/etc/ssl/certs/ca-certificates.crt'})
        trusted = send(url=sink.url, data={'a': 1}, env={'REQUESTS_CA_BUNDLE': sink.ca_file})
        statuses = [request.status for request in sink.requests]
    assert untrusted['failed'] is True
    assert untrusted['msg'] == ('Cannot verify the TLS certificate of the CloudEvent sink %s. Trust its CA with REQUESTS_CA_BUNDLE, '
                                'or set validate_certs: false.' % sink.url)
    assert (unverified['status'], trusted['status']) == (204, 204)
    assert statuses == [204, 204]
