# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The vSphere SOAP (pyvmomi) session shared by the modules."""

from __future__ import annotations

import os
import re
import ssl
import traceback

from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError, connection_error, fault_retryable

PYVMOMI_IMPORT_ERROR = None
try:
    from pyVim.connect import Disconnect, SmartStubAdapter
    from pyVmomi import SoapStubAdapter, vim, vmodl
except ImportError:
    PYVMOMI_IMPORT_ERROR = traceback.format_exc()

# Characters XML 1.0 cannot carry, so no SOAP request can: C0 controls but tab, newline and CR; U+FFFE, U+FFFF; lone surrogates.
NOT_XML = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]')

# Seconds any SOAP call may wait for vCenter (the REST read timeout): without one, a vCenter that never answers hangs the run.
SOAP_TIMEOUT = 120


def soap_text(text):
    """``text`` with what XML cannot carry written as ``\\uXXXX`` escapes (readable, and still valid inside a JSON string)."""
    return NOT_XML.sub(lambda match: '\\u%04x' % ord(match.group()), text)


def trusted_ca_file():
    """The CA bundle the user pointed at, if any; requests reads the same variable."""
    return os.environ.get('REQUESTS_CA_BUNDLE') or os.environ.get('SSL_CERT_FILE') or None


def ssl_context(validate_certs):
    if not validate_certs:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=trusted_ca_file())


def login(hostname, username, password, port=443, validate_certs=True, pool_size=None):
    """Log in to vCenter over SOAP; return the ServiceInstance and its ServiceContent (read once, by the login).

    ``pool_size``: connections kept open for reuse, at least as many as the
    calls a module makes at once (pyvmomi keeps 5; each call beyond opens and
    closes a TLS connection of its own).

    Raises VCenterError with one line naming the host (never the password);
    a refused login is never retryable: vCenter SSO locks an account after a few.
    """
    try:
        # SmartConnect's steps (the API version, the ServiceContent, Login) without reading the ServiceContent twice.
        stub = SmartStubAdapter(host=hostname, port=port, sslContext=ssl_context(validate_certs), httpConnectionTimeout=SOAP_TIMEOUT)
        service_instance = vim.ServiceInstance('ServiceInstance', stub)
        content = service_instance.RetrieveContent()
        content.sessionManager.Login(username, password, None)
    except vim.fault.InvalidLogin:
        raise VCenterError('vCenter %s:%s refused the login of user %r: wrong user name or password.'
                           % (hostname, port, username), retryable=False) from None
    except vmodl.MethodFault as exc:
        raise VCenterError('vCenter %s:%s refused the login: %s' % (hostname, port, exc.msg or exc._wsdlName),
                           retryable=fault_retryable(exc)) from None
    except Exception as exc:  # transport errors come in many shapes; describe them all the same way
        raise connection_error(exc, hostname, port) from None
    if pool_size is not None:
        stub.poolSize = max(stub.poolSize, pool_size)
    return service_instance, content


def connect(hostname, username, password, port=443, validate_certs=True, pool_size=None):
    """Log in to vCenter over SOAP and return the ServiceInstance (see ``login``)."""
    return login(hostname, username, password, port=port, validate_certs=validate_certs, pool_size=pool_size)[0]


def attach(hostname, session_id, version, port=443, validate_certs=True, pool_size=None):
    """A ServiceInstance on the existing session ``session_id`` (API ``version`` as negotiated by its login): no login, no request."""
    stub = SoapStubAdapter(host=hostname, port=port, version=version, sslContext=ssl_context(validate_certs),
                           httpConnectionTimeout=SOAP_TIMEOUT, sessionId=session_id)
    if pool_size is not None:
        stub.poolSize = max(stub.poolSize, pool_size)
    return vim.ServiceInstance('ServiceInstance', stub)


def session_of(service_instance):
    """What another process needs to use this session: its id and API version (the id is a secret)."""
    stub = service_instance._stub
    return dict(id=stub.GetSessionId(), version=stub.version)


def logout(service_instance, content=None):
    """Log out with the ServiceContent already read; best effort, like ``disconnect``."""
    try:
        (content or service_instance.RetrieveContent()).sessionManager.Logout()
    except Exception:  # logging out is best effort, the work is done
        pass
    service_instance._stub.DropConnections()


def disconnect(service_instance):
    """Log out; a session that already expired is not an error."""
    try:
        Disconnect(service_instance)
    except Exception:  # logging out is best effort, the work is done
        pass
