# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""`retryable` for each class of error, decided from its type (or HTTP status), never from its message.

Real sockets, TLS and HTTP servers where the failure can be produced; faults
pyvmomi raises are built as pyvmomi builds them.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from http.client import RemoteDisconnected
from types import SimpleNamespace

import pytest
import requests
from ansible.module_utils.testing import patch_module_args
from pyVmomi import vim, vmodl

from ansible_collections.vsphere.preemption.plugins.module_utils._cloudevent import sender as cloudevent_sender
from ansible_collections.vsphere.preemption.plugins.module_utils._vm import attributes as custom_attributes
from ansible_collections.vsphere.preemption.plugins.module_utils._vm import power_off as power
from ansible_collections.vsphere.preemption.plugins.module_utils._vm import tagging
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter import soap as vcenter_soap
from ansible_collections.vsphere.preemption.plugins.module_utils._vm import inventory as vm_inventory
from ansible_collections.vsphere.preemption.plugins.module_utils._cloudevent.sender import CloudEventError, DeliveryError, build_event, send_event
from ansible_collections.vsphere.preemption.plugins.module_utils._errors import retryable_status
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.call import vcenter_call
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError, fault_retryable, transport_retryable
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.rest import VCenterRest, VCenterRestError
from ansible_collections.vsphere.preemption.plugins.modules import power_off
from tests.support.json_server import JsonServer, ScriptedServer
from tests.support.machine import free_port


# ---------------------------------------------------------------- vSphere faults

@pytest.mark.parametrize('fault, retryable', [
    (vim.fault.NotAuthenticated(), True),       # an expired session: a new login cures it
    (vim.fault.TaskInProgress(), True),
    (vim.fault.ConcurrentAccess(), True),
    (vim.fault.Timedout(), True),
    (vmodl.fault.HostCommunication(), True),
    (vmodl.fault.SystemError(), True),
    (vmodl.fault.RequestCanceled(), True),
    (vim.fault.InvalidLogin(), False),
    (vim.fault.NoPermission(), False),
    (vmodl.fault.ManagedObjectNotFound(), False),
    (vmodl.fault.InvalidArgument(), False),
    (vim.fault.ToolsUnavailable(), False),
    (vim.fault.InvalidPowerState(), False),
])
def test_fault_retryable_by_type(fault, retryable):
    assert fault_retryable(fault) is retryable


# ---------------------------------------------------------------- transport

def _wrapped(cause):
    """Like requests around urllib3: the cause sits in `reason` of an exception in args."""
    inner = Exception('max retries')
    inner.reason = cause
    return requests.exceptions.ConnectionError(inner)


def _cert_error():
    return ssl.SSLCertVerificationError(1, 'certificate verify failed')


@pytest.mark.parametrize('exc, retryable', [
    (ConnectionRefusedError(111, 'x'), True),
    (ConnectionResetError(104, 'x'), True),
    (RemoteDisconnected('x'), True),
    (socket.timeout('x'), True),
    (TimeoutError(), True),
    (ssl.SSLEOFError(8, 'x'), True),
    (_wrapped(ConnectionRefusedError(111, 'x')), True),
    (socket.gaierror(socket.EAI_AGAIN, 'x'), True),
    (socket.gaierror(socket.EAI_NONAME, 'x'), False),
    (_cert_error(), False),
    (_wrapped(_cert_error()), False),
    (ssl.SSLError(1, 'wrong version number'), False),
    (requests.exceptions.InvalidURL('x'), False),
    (RuntimeError('x'), False),
])
def test_transport_retryable_by_the_type_of_the_cause(exc, retryable):
    assert transport_retryable(exc) is retryable


def test_the_message_plays_no_part():
    assert transport_retryable(ConnectionRefusedError(111, 'certificate verify failed')) is True
    assert transport_retryable(_wrapped(ssl.SSLCertVerificationError(1, 'Connection refused'))) is False


@pytest.mark.parametrize('status, retryable', [
    (500, True), (502, True), (503, True), (504, True), (408, True), (429, True),
    (400, False), (401, False), (403, False), (404, False), (409, False), (413, False), (302, False), (None, False),
])
def test_retryable_status(status, retryable):
    assert retryable_status(status) is retryable


def test_an_unclassified_error_is_not_retried():
    assert VCenterError('something').retryable is False


# ---------------------------------------------------------------- SOAP login

@pytest.mark.parametrize('fault, retryable', [
    (vim.fault.InvalidLogin(msg='Cannot complete login due to an incorrect user name or password.'), False),
    (vim.fault.NoPermission(msg='no'), False),
    (vim.fault.NotAuthenticated(msg='expired'), True),
])
def test_soap_login_faults(monkeypatch, fault, retryable):
    def refuse(**kwargs):
        raise fault
    monkeypatch.setattr(vcenter_soap, 'SmartStubAdapter', refuse)
    with pytest.raises(VCenterError) as caught:
        vcenter_soap.connect('vc.example', 'admin', 'pw')
    assert caught.value.retryable is retryable


def test_soap_connection_refused_is_retryable():
    with pytest.raises(VCenterError) as caught:
        vcenter_soap.connect('127.0.0.1', 'admin', 'pw', port=free_port())
    assert 'connection refused' in str(caught.value)
    assert caught.value.retryable is True


# ---------------------------------------------------------------- REST

def test_rest_login_refused_is_not_retryable(server):
    server.on('POST', '/api/session', (401, None))
    with pytest.raises(VCenterRestError) as caught:
        VCenterRest('127.0.0.1', 'admin', 'pw', port=server.port).login()
    assert caught.value.retryable is False


@pytest.mark.parametrize('status, retryable', [(500, True), (503, True), (408, True), (429, True),
                                               (400, False), (403, False), (404, False)])
def test_rest_http_errors(server, status, retryable):
    server.on('POST', '/api/session', (201, 'token'))
    server.on('GET', '/api/cis/tagging/tag', (status, {'error_type': 'X'}))
    rest = VCenterRest('127.0.0.1', 'admin', 'pw', port=server.port)
    with pytest.raises(VCenterRestError) as caught:
        rest.request('GET', '/api/cis/tagging/tag')
    assert (caught.value.status, caught.value.retryable) == (status, retryable)


def test_rest_untrusted_certificate_is_not_retryable(server, monkeypatch):
    monkeypatch.delenv('REQUESTS_CA_BUNDLE')
    with pytest.raises(VCenterError) as caught:
        VCenterRest('127.0.0.1', 'admin', 'pw', port=server.port).login()
    assert 'Cannot verify the TLS certificate' in str(caught.value)
    assert caught.value.retryable is False


def test_rest_connection_refused_is_retryable():
    with pytest.raises(VCenterError) as caught:
        VCenterRest('127.0.0.1', 'admin', 'pw', port=free_port()).login()
    assert caught.value.retryable is True


# ---------------------------------------------------------------- unknown tag, scope, attribute, moid; bad values

@pytest.mark.parametrize('call', [
    lambda: tagging.pick_tag('p', None, []),
    lambda: tagging.pick_tag('p', 'other', [{'id': 't1', 'name': 'p', 'category': 'c1'}]),
    lambda: tagging.pick_tag('p', None, [{'id': 't1', 'name': 'p', 'category': 'c1'}, {'id': 't2', 'name': 'p', 'category': 'c2'}]),
    lambda: vm_inventory.scope_type('vm-1'),
    lambda: vm_inventory.vm_records({}, [], scope='domain-c7'),
    lambda: vm_inventory.field_key([], 'priority'),
    lambda: custom_attributes.encode_value(3),
    lambda: custom_attributes.unique(['']),
    lambda: custom_attributes.find_field([SimpleNamespace(name='k', managedObjectType=vim.HostSystem)], 'k', vim.VirtualMachine),
], ids=['unknown-tag', 'tag-in-another-category', 'ambiguous-tag', 'scope-not-a-container', 'unknown-scope',
        'unknown-priority-attribute', 'value-not-text', 'empty-moid', 'attribute-of-another-type'])
def test_unknown_names_and_bad_values_are_not_retryable(call):
    with pytest.raises(VCenterError) as caught:
        call()
    assert caught.value.retryable is False


# What a vCenter call may raise, and whether another attempt may pass: the same for every call.
CALL_ERRORS = [
    (vim.fault.TaskInProgress(), True),
    (vim.fault.NotAuthenticated(), True),
    (vmodl.fault.SystemError(), True),
    (vim.fault.NoPermission(), False),
    (vmodl.fault.InvalidArgument(), False),
    (ConnectionResetError(104, 'reset'), True),
]


class FailingCollector:
    def __init__(self, error):
        self.error = error

    def RetrievePropertiesEx(self, specSet, options):
        raise self.error


@pytest.mark.parametrize('error, retryable', CALL_ERRORS)
def test_property_collector_failures(error, retryable):
    with pytest.raises(VCenterError) as caught:
        vm_inventory._collect(FailingCollector(error), [])
    assert caught.value.retryable is retryable


@pytest.mark.parametrize('fault, retryable', [(vim.fault.NoPermission(), False), (vim.fault.NotAuthenticated(), True)])
def test_an_unreadable_property_carries_its_fault(fault, retryable):
    found = SimpleNamespace(obj=SimpleNamespace(_moId='vm-1'), missingSet=[SimpleNamespace(path='name', fault=fault)])
    with pytest.raises(VCenterError) as caught:
        vm_inventory._raise_unreadable(found)
    assert caught.value.retryable is retryable


# ---------------------------------------------------------------- vcenter_call (custom attributes, events, notice, waits)

@pytest.mark.parametrize('error, retryable', CALL_ERRORS)
def test_vcenter_calls(error, retryable):
    with pytest.raises(VCenterError) as caught:
        with vcenter_call('set the custom attribute of vm-1'):
            raise error
    assert caught.value.retryable is retryable
    with pytest.raises(custom_attributes.CustomAttributeError) as caught:
        with vcenter_call('set the custom attribute of vm-1', error=custom_attributes.CustomAttributeError):
            raise error
    assert caught.value.retryable is retryable


# ---------------------------------------------------------------- power operations

class RaisingVM:
    def __init__(self, error):
        self.error = error

    def PowerOffVM_Task(self):
        raise self.error


@pytest.mark.parametrize('error, retryable', [
    (vim.fault.TaskInProgress(msg='busy'), True),
    (vim.fault.ToolsUnavailable(msg='no tools'), False),
    (vmodl.fault.ManagedObjectNotFound(msg='gone'), False),
    (ConnectionResetError(104, 'reset'), True),
    (VCenterError('x', retryable=True), True),
])
def test_power_calls(monkeypatch, error, retryable):
    ops = power.VSpherePowerOps.__new__(power.VSpherePowerOps)
    monkeypatch.setattr(ops, '_vm', lambda moid: RaisingVM(error), raising=False)
    with pytest.raises(power.PowerOpError) as caught:
        ops.start_power_off('vm-1')
    assert caught.value.retryable is retryable


def test_a_plan_that_cannot_work_is_not_retryable():
    for vm, mode in ((None, 'hard'), ({'power_state': 'poweredOn', 'tools_running': False}, 'soft'),
                     ({'power_state': 'suspended', 'tools_running': True}, 'soft')):
        action, failure = power.plan(vm, mode)
        assert action == 'failed' and failure.retryable is False


# ---------------------------------------------------------------- CloudEvent sink

class Sink(JsonServer):
    """Answers every request with ``status`` after ``delay`` seconds."""

    def __init__(self, status, delay=0.0):
        self.status, self.delay = status, delay
        super().__init__(self._answer)
        self.url = 'http://127.0.0.1:%d/events' % self.port

    def _answer(self, request):
        time.sleep(self.delay)
        return self.status, None


def event():
    return build_event(event_id='wf-1', data={'a': 1})


@pytest.mark.parametrize('status, retryable', [(500, True), (503, True), (408, True), (429, True),
                                               (400, False), (401, False), (404, False), (413, False)])
def test_sink_status(status, retryable):
    sink = Sink(status)
    try:
        with pytest.raises(DeliveryError) as caught:
            send_event(sink.url, event())
    finally:
        sink.close()
    assert (caught.value.status, caught.value.retryable) == (status, retryable)


def test_sink_connection_refused_and_timeout_are_retryable():
    with pytest.raises(DeliveryError) as caught:
        send_event('http://127.0.0.1:%d/' % free_port(), event())
    assert caught.value.retryable is True
    sink = Sink(202, delay=1.0)
    try:
        with pytest.raises(DeliveryError) as caught:
            send_event(sink.url, event(), timeout=0.2)
    finally:
        sink.close()
    assert caught.value.retryable is True


def test_sink_untrusted_certificate_is_not_retryable(tls, monkeypatch):
    monkeypatch.delenv('REQUESTS_CA_BUNDLE', raising=False)
    monkeypatch.delenv('SSL_CERT_FILE', raising=False)
    server = ScriptedServer(tls)
    try:
        with pytest.raises(DeliveryError) as caught:
            send_event('https://127.0.0.1:%d/' % server.port, event())
    finally:
        server.close()
    assert 'Cannot verify the TLS certificate' in str(caught.value)
    assert caught.value.retryable is False


def test_invalid_cloudevent_input_is_not_retryable():
    with pytest.raises(CloudEventError) as caught:
        cloudevent_sender.validate_url('ftp://sink')
    assert caught.value.retryable is False


# ---------------------------------------------------------------- module failures

def run_power_off(capsys, **args):
    with patch_module_args(dict(dict(hostname='127.0.0.1', username='u', password='p', vms=['vm-1']), **args)):
        with pytest.raises(SystemExit):
            power_off.main()
    return json.loads(capsys.readouterr().out)


def test_module_option_errors_are_not_retryable(capsys):
    # One rejected by the module, one by AnsibleModule's own validation.
    assert run_power_off(capsys, parallel=0)['retryable'] is False
    result = run_power_off(capsys, grace_period='soon')
    assert result['failed'] is True and result['retryable'] is False


def test_module_passes_the_flag_of_the_error(capsys):
    result = run_power_off(capsys, port=free_port())
    assert 'connection refused' in result['msg']
    assert result['retryable'] is True


def test_power_off_run_is_retryable_while_one_failed_vm_may_still_go_off():
    from tests.unit.plugins.module_utils.test_power import FakeVM, engine
    eng, _ops, _clock = engine({'vm-1': FakeVM('a', tools_running=False)})
    assert eng.run(['vm-1', 'vm-9'], 'soft')['retryable'] is False      # no tools, no such VM: nothing to gain
    eng, _ops, _clock = engine({'vm-1': FakeVM('a', tools_running=False), 'vm-2': FakeVM('b', tools_running=True)}, grace_period=5)
    result = eng.run(['vm-1', 'vm-2'], 'soft')                          # vm-2 still on after its grace period
    assert len(result['failed']) == 2 and result['retryable'] is True


@pytest.mark.parametrize('api_version, flavor', [('8.0.3.0', 'api'), ('7.0.2.0', 'api'), ('7.0.1.0', 'rest'), ('6.7', 'rest'),
                                                 ('', None), (None, None)])
def test_the_rest_flavour_follows_the_soap_api_version(api_version, flavor):
    from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.connection import rest_flavor
    assert rest_flavor(api_version) == flavor
