# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one wrapper around a vCenter call: a vSphere fault or a dropped connection becomes one error line.

Every SOAP call of the collection runs inside `vcenter_call` (the login in
soap.connect excepted: its lines name the host and a refused login is never
retried). ``retryable`` is decided here, from the fault's or the transport
error's type.
"""

from __future__ import annotations

from contextlib import contextmanager
from http.client import HTTPException

from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError, fault_retryable, transport_retryable

try:
    from pyVmomi import vmodl
except ImportError:
    # soap.PYVMOMI_IMPORT_ERROR carries the traceback; modules check it before calling here.
    vmodl = None

# The most vCenter calls a module keeps in flight at once (the bound of each module's ``parallel`` option).
MAX_PARALLEL = 50


def fault_text(fault):
    """One line for a vSphere fault: its type name and its message (the name alone when it has none)."""
    text = getattr(fault, 'msg', None) or getattr(fault, 'localizedMessage', None)
    name = getattr(fault, '_wsdlName', None) or fault.__class__.__name__
    return '%s: %s' % (name, text) if text else name


@contextmanager
def vcenter_call(what=None, passthrough=(), error=VCenterError, per_item=False):
    """Run the vCenter call(s) of the ``with`` block; raise a failure as one ``error`` line with its ``retryable`` flag.

    ``what`` ('set the custom attribute of vm-42') makes the line say what vCenter refused; without it
    the line is the fault's own text ('ToolsUnavailable: VMware Tools is not running'), for a per-VM
    result that names the VM already. A VCenterError from a helper called inside becomes ``error``
    with its flag. ``passthrough`` exceptions are raised as they are, for the caller to handle
    (InvalidPowerState meaning 'already off', MethodNotFound meaning 'use the other method').
    ``per_item``: any other exception (a malformed answer too) becomes ``error`` as well, for a call
    about one VM of many, whose failure must fail that VM, not the whole run.
    """
    try:
        yield
    except passthrough:
        raise
    except VCenterError as exc:
        if isinstance(exc, error):
            raise
        raise error(str(exc), retryable=exc.retryable) from None
    except vmodl.MethodFault as fault:
        text = fault_text(fault) if what is None else 'vCenter refused to %s: %s' % (what, fault.msg or fault._wsdlName)
        raise error(text, retryable=fault_retryable(fault)) from None
    except (Exception if per_item else (OSError, HTTPException)) as exc:
        cause = '%s: %s' % (exc.__class__.__name__, exc)
        text = cause if what is None else 'The connection to vCenter failed while trying to %s: %s' % (what, cause)
        raise error(text, retryable=transport_retryable(exc)) from None
