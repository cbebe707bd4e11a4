# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""VCenterRest against a tiny scripted HTTPS server (real sockets, real TLS, real requests)."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.rest import VCenterRest, VCenterRestError, vapi_error_message
from tests.support.machine import free_port
from tests.support.vcsim.harness import generate_ca

PASSWORD = 's3cr3t-Pa55'


def client(server, **kwargs):
    kwargs.setdefault('validate_certs', True)
    return VCenterRest('127.0.0.1', 'admin', PASSWORD, port=server.port, **kwargs)


def basic(user, password):
    return 'Basic ' + base64.b64encode(('%s:%s' % (user, password)).encode()).decode()


def test_api_session_and_unwrapped_answers(server):
    server.on('POST', '/api/session', (201, 'token-1'))
    server.on('GET', '/api/cis/tagging/tag', (200, ['t1', 't2']))
    with client(server) as rest:
        assert rest.flavor == 'api'
        assert rest.request('GET', '/api/cis/tagging/tag') == ['t1', 't2']
    login, = server.calls('POST', '/api/session')
    assert login['headers']['Authorization'] == basic('admin', PASSWORD)
    get, = server.calls('GET', '/api/cis/tagging/tag')
    assert get['headers']['vmware-api-session-id'] == 'token-1'
    assert 'Authorization' not in get['headers']
    logout, = server.calls('DELETE', '/api/session')
    assert logout['headers']['vmware-api-session-id'] == 'token-1'


def test_falls_back_to_rest_when_api_is_404_and_removes_the_value_envelope(server):
    server.on('POST', '/rest/com/vmware/cis/session', (200, {'value': 'token-r'}))
    server.on('GET', '/rest/com/vmware/cis/tagging/tag', (200, {'value': ['t1']}))
    server.on('POST', '/rest/com/vmware/cis/tagging/tag-association/id:t1', (200, {}))
    with client(server) as rest:
        assert rest.flavor == 'rest'
        assert rest.request('GET', '/rest/com/vmware/cis/tagging/tag') == ['t1']
        assert rest.request('POST', '/rest/com/vmware/cis/tagging/tag-association/id:t1', body={},
                            params={'~action': 'list-attached-objects'}) is None
    assert len(server.calls('POST', '/api/session')) == 1
    assert server.calls('GET', '/rest/com/vmware/cis/tagging/tag')[0]['headers']['vmware-api-session-id'] == 'token-r'
    association, = server.calls('POST', '/rest/com/vmware/cis/tagging/tag-association/id:t1')
    assert association['query'] == '~action=list-attached-objects' and association['body'] == b'{}'
    assert len(server.calls('DELETE', '/rest/com/vmware/cis/session')) == 1


def test_an_expired_session_logs_in_again_once(server):
    server.on('POST', '/api/session', (201, 'old'), (201, 'new'))
    server.on('GET', '/api/cis/tagging/tag', (401, None), (200, ['t1']))
    rest = client(server)
    rest.login()
    assert rest.request('GET', '/api/cis/tagging/tag') == ['t1']
    assert len(server.calls('POST', '/api/session')) == 2
    assert [c['headers']['vmware-api-session-id'] for c in server.calls('GET', '/api/cis/tagging/tag')] == ['old', 'new']


def test_a_second_401_is_an_error_not_a_loop(server):
    server.on('POST', '/api/session', (201, 'tok'))
    server.on('GET', '/api/cis/tagging/tag', (401, None))
    with pytest.raises(VCenterRestError, match='HTTP 401') as caught:
        with client(server) as rest:
            rest.request('GET', '/api/cis/tagging/tag')
    assert caught.value.status == 401
    assert len(server.calls('POST', '/api/session')) == 2
    assert len(server.calls('GET', '/api/cis/tagging/tag')) == 2


def test_wrong_password_is_one_line_without_the_password(server):
    server.on('POST', '/api/session', (401, {'error_type': 'UNAUTHENTICATED', 'messages': []}))
    with pytest.raises(VCenterRestError) as caught:
        client(server).login()
    message = str(caught.value)
    assert message == "vCenter 127.0.0.1:%d refused the login of user 'admin': wrong user name or password." % server.port
    assert PASSWORD not in message


@pytest.mark.parametrize('api', [True, False])
def test_server_errors_name_the_status_path_and_vcenter_message(server, api):
    if api:
        server.on('POST', '/api/session', (201, 'tok'))
        path, body = '/api/cis/tagging/tag', {'error_type': 'SERVICE_UNAVAILABLE', 'messages': [{'default_message': 'Tagging is starting', 'id': 'x'}]}
    else:
        server.on('POST', '/rest/com/vmware/cis/session', (200, {'value': 'tok'}))
        path = '/rest/com/vmware/cis/tagging/tag'
        body = {'type': 'com.vmware.vapi.std.errors.service_unavailable', 'value': {'messages': [{'default_message': 'Tagging is starting'}]}}
    server.on('GET', path, (503, body))
    with pytest.raises(VCenterRestError) as caught:
        client(server).request('GET', path)
    assert str(caught.value) == 'vCenter 127.0.0.1:%d answered GET %s with HTTP 503 (server error): Tagging is starting.' % (server.port, path)
    assert caught.value.status == 503
    assert '\n' not in str(caught.value)


def test_5xx_on_login_is_a_clear_error(server):
    server.on('POST', '/api/session', (503, None))
    with pytest.raises(VCenterRestError, match=r'answered POST /api/session with HTTP 503 \(server error\)\.$'):
        client(server).login()


def test_no_rest_endpoint_at_all(server):
    with pytest.raises(VCenterRestError, match='serves neither /api nor /rest'):
        client(server).login()


def test_validate_certs_false_works_with_an_unrelated_requests_ca_bundle(server, tmp_path, monkeypatch):
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', generate_ca(tmp_path))
    server.on('POST', '/api/session', (201, 'tok'))
    rest = client(server, validate_certs=False)
    rest.login()
    assert rest.flavor == 'api'


def test_validate_certs_true_with_the_wrong_ca_fails_with_a_certificate_message(server, tmp_path, monkeypatch):
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', generate_ca(tmp_path))
    server.on('POST', '/api/session', (201, 'tok'))
    with pytest.raises(VCenterError, match='Cannot verify the TLS certificate of vCenter 127.0.0.1:%d' % server.port):
        client(server).login()
    assert server.calls('POST', '/api/session') == []


def test_connection_refused_is_one_line():
    port = free_port()
    with pytest.raises(VCenterError, match=r'^Cannot connect to vCenter 127.0.0.1:%d: connection refused\.$' % port):
        VCenterRest('127.0.0.1', 'admin', PASSWORD, port=port, validate_certs=False).login()


def test_logout_is_best_effort(server):
    server.on('POST', '/api/session', (201, 'tok'), (201, 'tok-2'))
    server.on('DELETE', '/api/session', (500, None))
    rest = client(server)
    rest.login()
    rest.logout()  # vCenter failing the logout is no error ...
    rest.logout()  # ... and the session is forgotten all the same: no second DELETE
    assert [call['headers']['vmware-api-session-id'] for call in server.calls('DELETE', '/api/session')] == ['tok']
    rest.login()
    server.close()
    rest.logout()  # vCenter gone: no error either


def test_ipv6_hosts_are_bracketed():
    assert VCenterRest('::1', 'u', 'p', port=8443).base_url == 'https://[::1]:8443'
    assert VCenterRest('vc.example.com', 'u', 'p').base_url == 'https://vc.example.com:443'


@pytest.mark.parametrize('body, expected', [
    ({'error_type': 'NOT_FOUND', 'messages': [{'default_message': 'Tag not found'}]}, 'Tag not found'),
    ({'type': 'com.vmware.vapi.std.errors.not_found', 'value': {'messages': [{'default_message': 'gone'}]}}, 'gone'),
    ({'error_type': 'NOT_FOUND', 'messages': []}, 'NOT_FOUND'),
    ({'type': 'com.vmware.vapi.std.errors.already_exists'}, 'com.vmware.vapi.std.errors.already_exists'),
    ('plain text', ''),
    (None, ''),
])
def test_vapi_error_message(body, expected):
    assert vapi_error_message(body) == expected
