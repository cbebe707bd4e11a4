# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The least-privilege vCenter role of the collection's service account, and its grant.

``RUN_PRIVILEGES`` are exactly what a preemption, restore, status, cancel or
alarm watch calls (docs/docsite/rst/guide_privileges.rst has the table of
which step and vSphere API method needs each). vCenter adds
``SYSTEM_PRIVILEGES`` (log in, read the inventory, the tags and the events) to
every role by itself; they are never asked for, nor counted as a difference.
``ensure_role()`` and ``ensure_grant()`` act through the AuthorizationManager.
"""

from __future__ import annotations

from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError, fault_retryable

try:
    from pyVmomi import vim, vmodl
except ImportError:
    # vcenter_soap.PYVMOMI_IMPORT_ERROR carries the traceback; modules check it before calling here.
    vim = vmodl = None

# privilege id: (the step, the vSphere API methods that need it)
RUN_PRIVILEGES = {
    'VirtualMachine.Interact.PowerOff': ('power_off', 'VirtualMachine.PowerOffVM_Task, VirtualMachine.ShutdownGuest'),
    'VirtualMachine.Interact.PowerOn': ('power_on (restore)', 'VirtualMachine.PowerOnVM_Task'),
    'VirtualMachine.Config.AdvancedConfig': ('power_off notice_period, power_on (restore)',
                                             'VirtualMachine.ReconfigVM_Task (extraConfig guestinfo.preemption)'),
    'Global.SetCustomField': ('annotate', 'CustomFieldsManager.SetField'),
    'Global.LogEvent': ('annotate vcenter_event (preempt, restore)', 'EventManager.LogUserEvent, EventManager.PostEvent'),
}
SYSTEM_PRIVILEGES = ('System.Anonymous', 'System.View', 'System.Read')


def _authorization_call(what, call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except vim.fault.NoPermission as fault:
        raise VCenterError('vCenter refused to %s: the user lacks the privilege %s.' % (what, fault.privilegeId), retryable=False) from None
    except vmodl.MethodFault as fault:
        raise VCenterError('vCenter refused to %s: %s' % (what, fault.msg or fault._wsdlName), retryable=fault_retryable(fault)) from None


def role_changes(existing, privileges):
    """``(added, removed)`` privileges between a role's ``existing`` ones and the wanted ``privileges``, vCenter's own left aside."""
    have = set(existing or ()) - set(SYSTEM_PRIVILEGES)
    want = set(privileges) - set(SYSTEM_PRIVILEGES)
    return sorted(want - have), sorted(have - want)


def ensure_role(content, name, privileges, check_mode=False):
    """``{role_id, created, added, removed}``: the role ``name`` holding exactly ``privileges`` (plus vCenter's own)."""
    manager = content.authorizationManager
    role = next((r for r in manager.roleList or () if r.name == name), None)
    if role is None:
        role_id = None if check_mode else _authorization_call(
            'create the role %r' % name, manager.AddAuthorizationRole, name=name, privIds=sorted(privileges))
        return {'role_id': role_id, 'created': True, 'added': sorted(privileges), 'removed': []}
    if role.system:
        raise VCenterError('%r is a system role of vCenter; choose another name for the preemption role.' % name, retryable=False)
    added, removed = role_changes(role.privilege, privileges)
    if (added or removed) and not check_mode:
        _authorization_call('update the role %r' % name, manager.UpdateAuthorizationRole,
                            roleId=role.roleId, newName=name, privIds=sorted(privileges))
    return {'role_id': role.roleId, 'created': False, 'added': added, 'removed': removed}


def ensure_grant(content, role_id, principal, group=False, check_mode=False):
    """True when ``principal`` was (or would be) given ``role_id`` on the root folder, propagating; False when it had it."""
    manager = content.authorizationManager
    root = content.rootFolder
    current = _authorization_call('read the permissions of the root folder', manager.RetrieveEntityPermissions,
                                  entity=root, inherited=False)
    if any(p.principal == principal and p.roleId == role_id and p.propagate and bool(p.group) == group for p in current or ()):
        return False
    if not check_mode:
        permission = vim.AuthorizationManager.Permission(principal=principal, group=group, roleId=role_id, propagate=True)
        _authorization_call('grant the role to %r' % principal, manager.SetEntityPermissions, entity=root, permission=[permission])
    return True
