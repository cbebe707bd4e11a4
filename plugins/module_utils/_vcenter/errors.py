# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One-line, password-free failures of vCenter calls, each saying whether another attempt may cure it.

``retryable`` is decided where an error is caught, from the exception's type
(or the HTTP status, or the vSphere fault's type), never from its message.
`VCenterError` is the vCenter branch of the collection's one error hierarchy
(`_errors.PreemptionError`); `call.vcenter_call` turns faults into it.
"""

from __future__ import annotations

import socket
import ssl

# transport_retryable is imported from here too, by the callers that classify vCenter errors.
from ansible_collections.vsphere.preemption.plugins.module_utils._errors import PreemptionError, root_cause, transport_retryable

try:
    from pyVmomi import vim, vmodl
except ImportError:
    # vcenter_soap.PYVMOMI_IMPORT_ERROR carries the traceback; modules check it before calling here.
    vim = vmodl = None


class VCenterError(PreemptionError):
    """A failure worth one clear line to the user; never carries the password.

    ``retryable`` is True when another attempt may pass (vCenter busy or
    unreachable for a while), False when it cannot (a refused login, an
    unknown object, invalid input). It defaults to False: an error nobody
    classified is not retried, so it cannot lock an account out.
    """


def _busy_faults():
    # vCenter or a host busy or briefly unreachable; an expired session (NotAuthenticated) is cured by a new login.
    return (vim.fault.NotAuthenticated, vim.fault.TaskInProgress, vim.fault.ConcurrentAccess, vim.fault.Timedout,
            vmodl.fault.HostCommunication, vmodl.fault.SystemError, vmodl.fault.RequestCanceled)


def fault_retryable(fault):
    """Whether a vSphere fault may pass on another attempt; any fault not known to be transient is not."""
    return isinstance(fault, _busy_faults())


def connection_error(exc, hostname, port):
    """The VCenterError for a transport-level exception: one line naming vCenter, retryable by its cause."""
    return VCenterError(describe_connection_error(exc, hostname, port), retryable=transport_retryable(exc))


def describe_connection_error(exc, hostname, port):
    """Turn a transport-level exception into one clear line naming vCenter."""
    where = 'vCenter %s:%s' % (hostname, port)
    cause = root_cause(exc)
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
