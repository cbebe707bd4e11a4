# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""VM custom attributes: encode a value, decide which VMs need it, read and write them.

The decisions (`encode_value`, `plan_changes`, `diff_entries`, `find_field`)
are pure; `CustomAttributes` does the vCenter calls: one PropertyCollector
retrieve reads the current values of all the VMs, and only the VMs whose value
differs are written.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.call import vcenter_call
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError

try:
    from pyVmomi import vim, vmodl
except ImportError:
    # vcenter_soap.PYVMOMI_IMPORT_ERROR carries the traceback; modules check it before calling here.
    vim = vmodl = None

DEFAULT_KEY = 'com.vmware.workflows.vsphere.preemption'


class CustomAttributeError(VCenterError):
    """Invalid input or a vCenter refusal, as one line; invalid input is never retryable."""

    def __init__(self, message, retryable=False):
        super().__init__(message, retryable=retryable)


def encode_value(value):
    """The string to store: a dict or list as compact JSON with sorted keys, a string as it is."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(',', ':'), ensure_ascii=False)
    if isinstance(value, str):
        return value
    raise CustomAttributeError('value must be a dict (stored as JSON) or a string, got %s.' % type(value).__name__)


def plan_changes(current, desired):
    """Split the VMs into ``(changed, unchanged)`` moid lists, keeping the order of ``current``.

    ``current`` maps each moid to its value now ('' when it has none).
    """
    changed = [moid for moid, value in current.items() if value != desired]
    unchanged = [moid for moid, value in current.items() if value == desired]
    return changed, unchanged


def diff_entries(current, desired, changed, key):
    """Ansible diff entries (before/after), one per VM that changes."""
    return [dict(before_header='%s: %s' % (moid, key), after_header='%s: %s' % (moid, key),
                 before=_diff_text(current[moid]), after=_diff_text(desired))
            for moid in changed]


def _diff_text(value):
    return value + '\n' if value else ''


def missing_field_message(key):
    return ('The VM custom attribute %r is not defined in vCenter. Create it once with '
            '`ansible-playbook vsphere.preemption.setup`, or set create_field: true.' % key)


def find_field(fields, key, vm_type):
    """The field definition named ``key`` that applies to VMs, or None when there is none.

    A definition for all object types (no managedObjectType) applies to VMs;
    one for another type is an error, because a VM value cannot be set in it.
    """
    for field in fields:
        if field.name != key:
            continue
        if field.managedObjectType is None or field.managedObjectType == vm_type:
            return field
        raise CustomAttributeError('The custom attribute %r exists for %s objects, not for virtual machines; '
                                   'remove it or choose another key.' % (key, getattr(field.managedObjectType, '__name__', field.managedObjectType)))
    return None


def unique(moids):
    """The moids in their first order, without repeats; empty or non-string entries are an error."""
    seen = []
    for moid in moids:
        if not isinstance(moid, str) or not moid.strip():
            raise CustomAttributeError('vms must list VM managed object ids such as vm-42, got %r.' % (moid,))
        if moid not in seen:
            seen.append(moid)
    return seen


class CustomAttributes:
    """Custom attribute operations through a pyvmomi ServiceContent."""

    def __init__(self, content):
        """``content``: the ServiceContent, read once by the caller."""
        self.manager = content.customFieldsManager
        self.collector = content.propertyCollector

    def field(self, key):
        """The definition of ``key`` for VMs, or None."""
        with vcenter_call('list the custom attributes', error=CustomAttributeError):
            fields = self.manager.field or []
        return find_field(fields, key, vim.VirtualMachine)

    def create_field(self, key):
        """Define ``key`` for VMs; a definition made concurrently by someone else is used as it is."""
        try:
            with vcenter_call('create the custom attribute %r' % key, passthrough=(vim.fault.DuplicateName,), error=CustomAttributeError):
                return self.manager.AddCustomFieldDef(name=key, moType=vim.VirtualMachine)
        except vim.fault.DuplicateName:
            field = self.field(key)
            if field is None:
                raise CustomAttributeError('vCenter says the custom attribute %r exists, but does not list it.' % key) from None
            return field

    def _vm(self, moid):
        return vim.VirtualMachine(moid, getattr(self.collector, '_stub', None))

    def values(self, moids, field_key):
        """``{moid: value}`` of field ``field_key`` ('' when unset) for all ``moids``, in one retrieve.

        ``field_key`` None reads nothing but still checks that the VMs exist.
        Raises CustomAttributeError naming every moid vCenter does not know.
        """
        moids = list(moids)
        unknown = []
        while True:
            try:
                contents = self._retrieve([moid for moid in moids if moid not in unknown])
                break
            except vmodl.fault.ManagedObjectNotFound as exc:
                # vCenter names one missing object per fault: set it aside and ask again, to name them all.
                missing = getattr(exc.obj, '_moId', None)
                if missing is None or missing in unknown:
                    raise CustomAttributeError('vCenter refused to read the custom attributes of the VMs: %s' % exc.msg) from None
                unknown.append(missing)
        found = {}
        for content in contents:
            values = {}
            for prop in content.propSet or []:
                if prop.name == 'customValue':
                    values = {item.key: getattr(item, 'value', '') for item in prop.val or []}
            found[content.obj._moId] = values.get(field_key, '') if field_key is not None else ''
        unknown += [moid for moid in moids if moid not in found and moid not in unknown]
        if unknown:
            raise CustomAttributeError('No virtual machine with moid %s in vCenter; nothing was written.' % ', '.join(unknown))
        return {moid: found[moid] for moid in moids}

    def _retrieve(self, moids):
        if not moids:
            return []
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=self._vm(moid), skip=False) for moid in moids],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.VirtualMachine, pathSet=['customValue'])])
        with vcenter_call('read the custom attributes of the VMs', passthrough=(vmodl.fault.ManagedObjectNotFound,),
                          error=CustomAttributeError):
            result = self.collector.RetrievePropertiesEx([spec], vmodl.query.PropertyCollector.RetrieveOptions())
            contents = list(result.objects) if result else []
            while result is not None and result.token:
                result = self.collector.ContinueRetrievePropertiesEx(result.token)
                contents.extend(result.objects)
        return contents

    def set_value(self, moid, field_key, value):
        with vcenter_call('set the custom attribute of %s' % moid, error=CustomAttributeError):
            self.manager.SetField(entity=self._vm(moid), key=field_key, value=value)

    def set_values(self, moids, field_key, value, parallel=1):
        """``set_value`` on each VM, at most ``parallel`` calls at a time on this one session.

        pyvmomi's SoapStubAdapter takes a pooled connection per call, so the
        calls are safe to share. Every VM is attempted; the first failure is raised after.
        """
        if not moids:
            return
        with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(moids)))) as pool:
            futures = [pool.submit(self.set_value, moid, field_key, value) for moid in moids]
        for future in futures:
            future.result()
