# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One-line, password-free messages for failures to reach vCenter."""

from __future__ import annotations

import socket
import ssl


class VCenterError(Exception):
    """A failure worth one clear line to the user; never carries the password."""


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


def describe_connection_error(exc, hostname, port):
    """Turn a transport-level exception into one clear line naming vCenter."""
    where = 'vCenter %s:%s' % (hostname, port)
    cause = _root_cause(exc)
    text = str(exc) + ' ' + str(cause)
    if isinstance(cause, ssl.SSLCertVerificationError) or 'CERTIFICATE_VERIFY_FAILED' in text or 'certificate verify failed' in text:
        reason = getattr(cause, 'verify_message', None) or 'certificate verify failed'
        return ('Cannot verify the TLS certificate of %s (%s). Trust its CA with REQUESTS_CA_BUNDLE or SSL_CERT_FILE, '
                'or set validate_certs: false.' % (where, reason))
    if isinstance(cause, socket.gaierror) or 'Name or service not known' in text or 'nodename nor servname' in text:
        return 'Cannot resolve the vCenter host name %r.' % hostname
    if isinstance(cause, ConnectionRefusedError) or 'Connection refused' in text:
        return 'Cannot connect to %s: connection refused.' % where
    if isinstance(cause, (socket.timeout, TimeoutError)) or 'timed out' in text:
        return 'Cannot connect to %s: timed out.' % where
    if isinstance(cause, ssl.SSLError):
        return 'TLS handshake with %s failed: %s.' % (where, cause.__class__.__name__)
    return 'Cannot connect to %s: %s.' % (where, cause.__class__.__name__)
