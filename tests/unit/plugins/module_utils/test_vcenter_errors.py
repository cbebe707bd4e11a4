# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import socket
import ssl

import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import describe_connection_error
from ansible_collections.vsphere.preemption.plugins.module_utils._module.vcenter_args import base_argument_spec, connection_params


class WrappedError(Exception):
    """Like urllib3's MaxRetryError: the real cause sits in `reason`."""

    def __init__(self, reason):
        super().__init__('wrapped')
        self.reason = reason


def _cert_error():
    error = ssl.SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed')
    error.verify_message = 'unable to get local issuer certificate'
    return error


@pytest.mark.parametrize('exc, expected', [
    (_cert_error(), 'Cannot verify the TLS certificate of vCenter vc.example:443 (unable to get local issuer certificate)'),
    (WrappedError(WrappedError(_cert_error())), 'Cannot verify the TLS certificate of vCenter vc.example:443'),
    (socket.gaierror(-2, 'Name or service not known'), "Cannot resolve the vCenter host name 'vc.example'."),
    (ConnectionRefusedError(111, 'Connection refused'), 'Cannot connect to vCenter vc.example:443: connection refused.'),
    (socket.timeout('timed out'), 'Cannot connect to vCenter vc.example:443: timed out.'),
    (ssl.SSLError(1, 'wrong version number'), 'TLS handshake with vCenter vc.example:443 failed: SSLError.'),
    (ValueError('odd'), 'Cannot connect to vCenter vc.example:443: ValueError.'),
])
def test_describe_connection_error_is_one_clear_line(exc, expected):
    message = describe_connection_error(exc, 'vc.example', 443)
    assert message.startswith(expected)
    assert '\n' not in message


def test_an_untrusted_certificate_names_what_a_playbook_user_sets():
    assert describe_connection_error(_cert_error(), 'vc.example', 443).endswith(
        'or turn verification off: vcenter_validate_certs: false (role), VMWARE_VALIDATE_CERTS=false (environment) '
        'or validate_certs: false (module).')


def test_error_chained_through_cause_is_found():
    try:
        try:
            raise ConnectionRefusedError(111, 'Connection refused')
        except ConnectionRefusedError as inner:
            raise RuntimeError('outer') from inner
    except RuntimeError as exc:
        assert describe_connection_error(exc, 'vc', 443) == 'Cannot connect to vCenter vc:443: connection refused.'


def test_connection_options_follow_the_contract():
    spec = base_argument_spec()
    assert spec['password']['no_log'] is True
    assert spec['validate_certs']['default'] is True
    assert spec['port']['default'] == 443
    # The run's session is handed over by the role only, never read from the environment, and never shown.
    assert spec['session'] == dict(type='str', no_log=True)
    fallbacks = {name: option['fallback'][1] for name, option in spec.items() if name != 'session'}
    assert fallbacks == {
        'hostname': ['VMWARE_HOST'], 'username': ['VMWARE_USER'], 'password': ['VMWARE_PASSWORD'],
        'port': ['VMWARE_PORT'], 'validate_certs': ['VMWARE_VALIDATE_CERTS'],
    }
    # Each call returns a copy modules may extend without affecting the others.
    spec['hostname']['required'] = False
    assert base_argument_spec()['hostname']['required'] is True
    params = dict(hostname='h', username='u', password='p', port=1, validate_certs=False, tag='x')
    assert connection_params(params) == dict(hostname='h', username='u', password='p', port=1, validate_certs=False)
