# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The bottom layer: the one error base class of the collection and the retry classification every layer shares.

Every error the collection raises is a `PreemptionError`: one line for the
user (never a password or a header value) and ``retryable``, decided where the
error is caught from the exception's type (or the HTTP status, or the vSphere
fault's type), never from its message. A per-item failure that does not stop
the others (one VM of many) is a `Failure` with the same two fields.

Private: may change in any release. Imports nothing of the collection.
"""

from __future__ import annotations

import socket
import ssl
from collections import namedtuple
from http.client import HTTPException


class PreemptionError(Exception):
    """A failure worth one clear line to the user; ``retryable`` says whether another attempt may pass.

    It defaults to False: an error nobody classified is not retried, so it
    cannot lock an account out or repeat a refused change.
    """

    def __init__(self, message='', retryable=False):
        super().__init__(message)
        self.retryable = retryable


# Why one item (a VM) failed, in one line, and whether another attempt may cure it.
Failure = namedtuple('Failure', 'msg retryable')


def retryable_status(status):
    """Whether an HTTP status may pass on another attempt: 5xx, 408 (timeout) and 429 (too many requests)."""
    return status is not None and (status >= 500 or status in (408, 429))


def root_cause(exc):
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
    cause = root_cause(exc)
    if isinstance(cause, socket.gaierror):
        return cause.errno == socket.EAI_AGAIN
    if isinstance(cause, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return True
    # ValueError: an invalid URL or header (requests' InvalidURL is both an OSError and a ValueError).
    if isinstance(cause, (ssl.SSLError, ValueError)):
        return False
    return isinstance(cause, (OSError, HTTPException))
