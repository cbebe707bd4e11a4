# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One-line, password-free failures of vCenter calls, each saying whether another attempt may cure it.

``retryable`` is decided where an error is caught, from the exception's type
(or the HTTP status, or the vSphere fault's type), never from its message.
"""

from __future__ import annotations

import socket
import ssl
from http.client import HTTPException

try:
    from pyVmomi import vim, vmodl
except ImportError:
    # vcenter_soap.PYVMOMI_IMPORT_ERROR carries the traceback; modules check it before calling here.
    vim = vmodl = None


class VCenterError(Exception):
    """A failure worth one clear line to the user; never carries the password.

    ``retryable`` is True when another attempt may pass (vCenter busy or
    unreachable for a while), False when it cannot (a refused login, an
    unknown object, invalid input). It defaults to False: an error nobody
    classified is not retried, so it cannot lock an account out.
    """

    def __init__(self, message, retryable=False):
        super().__init__(message)
        self.retryable = retryable


def retryable_status(status):
    """Whether an HTTP status may pass on another attempt: 5xx, 408 (timeout) and 429 (too many requests)."""
    return status is not None and (status >= 500 or status in (408, 429))


def _busy_faults():
    # vCenter or a host busy or briefly unreachable; an expired session (NotAuthenticated) is cured by a new login.
    return (vim.fault.NotAuthenticated, vim.fault.TaskInProgress, vim.fault.ConcurrentAccess, vim.fault.Timedout,
            vmodl.fault.HostCommunication, vmodl.fault.SystemError, vmodl.fault.RequestCanceled)


def fault_retryable(fault):
    """Whether a vSphere fault may pass on another attempt; any fault not known to be transient is not."""
    return isinstance(fault, _busy_faults())


def _root_cause(exc):
    """Walk __cause__/__context__ and wrapped `reason` attributes to the innermost error."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, 'reason', None)
        if isinstance(inner, BaseException):
            exc = inner
            continue
        nested = [a for a in getattr(exc, 'args', ()) if isinstance(a, BaseException)]
        if nested:
            exc = nested[0]
            continue
        if exc.__cause__ is not None:
            exc = exc.__cause__
            continue
        break
    return exc


def transport_retryable(exc):
    """Whether a transport failure may pass on another attempt, from the type of its innermost cause.

    An untrusted certificate or a failed TLS negotiation stays so; a name that
    does not resolve too, unless the resolver itself was unavailable (EAI_AGAIN).
    Refused, reset, dropped and timed-out connections may pass.
    """
    cause = _root_cause(exc)
    if isinstance(cause, socket.gaierror):
        return cause.errno == socket.EAI_AGAIN
    if isinstance(cause, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return True
    # ValueError: an invalid URL or header (requests' InvalidURL is both an OSError and a ValueError).
    if isinstance(cause, (ssl.SSLError, ValueError)):
        return False
    return isinstance(cause, (OSError, HTTPException))


def connection_error(exc, hostname, port):
    """The VCenterError for a transport-level exception: one line naming vCenter, retryable by its cause."""
    return VCenterError(describe_connection_error(exc, hostname, port), retryable=transport_retryable(exc))


def describe_connection_error(exc, hostname, port):
    """Turn a transport-level exception into one clear line naming vCenter."""
    where = 'vCenter %s:%s' % (hostname, port)
    cause = _root_cause(exc)
    text = str(exc) + ' ' + str(cause)
    if isinstance(cause, ssl.SSLCertVerificationError) or 'CERTIFICATE_VERIFY_FAILED' in text or 'certificate verify failed' in text:
        reason = getattr(cause, 'verify_message', None) or 'certificate verify failed'
        # Named as the user sets it: the role's variable and the environment, beside the module option.
        return ('Cannot verify the TLS certificate of %s (%s). Trust its CA with REQUESTS_CA_BUNDLE or SSL_CERT_FILE, '
                'or turn verification off: vcenter_validate_certs: false (role), VMWARE_VALIDATE_CERTS=false (environment) '
                'or validate_certs: false (module).' % (where, reason))
    if isinstance(cause, socket.gaierror) or 'Name or service not known' in text or 'nodename nor servname' in text:
        return 'Cannot resolve the vCenter host name %r.' % hostname
    if isinstance(cause, ConnectionRefusedError) or 'Connection refused' in text:
        return 'Cannot connect to %s: connection refused.' % where
    if isinstance(cause, (socket.timeout, TimeoutError)) or 'timed out' in text:
        return 'Cannot connect to %s: timed out.' % where
    if isinstance(cause, ssl.SSLError):
        return 'TLS handshake with %s failed: %s.' % (where, cause.__class__.__name__)
    return 'Cannot connect to %s: %s.' % (where, cause.__class__.__name__)
