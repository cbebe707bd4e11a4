# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one wrapper around vCenter calls: what it turns into which error, and what it lets through."""

from __future__ import annotations

import pytest
from pyVmomi import vim, vmodl

from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.call import fault_text, vcenter_call
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError


class OneVMError(VCenterError):
    pass


def test_a_fault_names_what_was_refused_and_keeps_the_fault_message():
    with pytest.raises(VCenterError, match=r'^vCenter refused to read the events of vm-7: Permission denied\.$') as caught:
        with vcenter_call('read the events of vm-7'):
            raise vim.fault.NoPermission(msg='Permission denied.')
    assert caught.value.retryable is False


def test_without_what_the_line_is_the_fault_text():
    with pytest.raises(OneVMError, match=r'^TaskInProgress: busy$') as caught:
        with vcenter_call(error=OneVMError):
            raise vim.fault.TaskInProgress(msg='busy')
    assert caught.value.retryable is True


def test_a_dropped_connection_names_what_was_tried():
    with pytest.raises(VCenterError, match=r'^The connection to vCenter failed while trying to x: ConnectionResetError: ') as caught:
        with vcenter_call('x'):
            raise ConnectionResetError(104, 'reset')
    assert caught.value.retryable is True


def test_a_vcenter_error_from_a_helper_becomes_the_callers_error_with_its_flag():
    with pytest.raises(OneVMError, match='^inner$') as caught:
        with vcenter_call(error=OneVMError):
            raise VCenterError('inner', retryable=True)
    assert caught.value.retryable is True
    inner = OneVMError('same type')
    with pytest.raises(OneVMError) as caught:
        with vcenter_call(error=OneVMError):
            raise inner
    assert caught.value is inner


def test_passthrough_faults_reach_the_caller_unchanged():
    with pytest.raises(vim.fault.InvalidPowerState):
        with vcenter_call(passthrough=(vim.fault.InvalidPowerState,)):
            raise vim.fault.InvalidPowerState(existingState='poweredOff')


def test_other_exceptions_fail_one_vm_only_when_per_item():
    with pytest.raises(KeyError):
        with vcenter_call('x'):
            raise KeyError('malformed answer')
    with pytest.raises(OneVMError, match=r"^KeyError: 'malformed answer'$") as caught:
        with vcenter_call(error=OneVMError, per_item=True):
            raise KeyError('malformed answer')
    assert caught.value.retryable is False


def test_fault_text():
    assert fault_text(vmodl.fault.InvalidArgument(msg='bad')) == 'InvalidArgument: bad'
    assert fault_text(vim.fault.InvalidPowerState()) == 'InvalidPowerState'
