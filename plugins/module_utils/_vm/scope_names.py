# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A scope given by name or inventory path, turned into the moid of its container.

Administrators know their clusters by name. ``resolve_scope()`` takes a moid
(used as is when vCenter has it), a name, or an inventory path, either as
vCenter writes it (``/DC0/host/DC0_C0``, the form of ``govc`` and
SearchIndex.FindByInventoryPath) or as the vSphere Client shows it, without
the datacenter's hidden folders (``DC0/DC0_C0``). The names and parents of
the containers (folders, datacenters, clusters, hosts, resource pools: never
the VMs) are read in one PropertyCollector retrieve, only when the scope is
not a moid. ``matches()`` and ``path_of()`` are pure.
"""

from __future__ import annotations

import difflib
import re

from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.inventory import SCOPE_PREFIXES, _collect

try:
    from pyVmomi import vim, vmodl
except ImportError:
    # vcenter_soap.PYVMOMI_IMPORT_ERROR carries the traceback; modules check it before calling here.
    vim = vmodl = None

# The containers a scope may name, as the error calls them; a standalone host's ComputeResource is named
# by its host, so it is read (a host's path runs through it) but never matched.
KINDS = {
    'ClusterComputeResource': 'cluster',
    'HostSystem': 'host',
    'Datacenter': 'datacenter',
    'Folder': 'folder',
    'ResourcePool': 'resource pool',
    'VirtualApp': 'vApp',
}
# Moids are a prefix and a number (vCenter's domain-c7, resgroup-v12; the simulator's host-21).
_MOID_SUFFIX = re.compile(r'^[a-z]?\d+$')
SUGGESTIONS = 3


class ScopeNotFound(VCenterError):
    """No container of that moid, name or path, or several: never worth another attempt."""

    def __init__(self, message):
        super().__init__(message, retryable=False)


def looks_like_moid(text):
    return any(text.startswith(prefix) and _MOID_SUFFIX.match(text[len(prefix):]) for prefix, _kind in SCOPE_PREFIXES)


def path_of(containers, moid):
    """The inventory path of ``moid`` (``/DC0/host/DC0_C0``): names from below the root folder down to it."""
    names = []
    while moid in containers:
        names.append(containers[moid]['name'])
        moid = containers[moid].get('parent')
    return '/' + '/'.join(reversed(names))


def _client_path(containers, moid):
    """The path without the datacenter's hidden folders (vm, host, network, datastore), as the vSphere Client shows it."""
    names = []
    while moid in containers:
        entry = containers[moid]
        parent = containers.get(entry.get('parent'), {})
        if not (entry['type'] == 'Folder' and parent.get('type') == 'Datacenter'):
            names.append(entry['name'])
        moid = entry.get('parent')
    return '/'.join(reversed(names))


def matches(containers, text):
    """The moids of the containers ``text`` names: by path when it holds a slash, else by name."""
    wanted = text.strip('/') if '/' in text else text
    found = []
    for moid, entry in containers.items():
        if entry['type'] not in KINDS:
            continue
        if '/' in text:
            hit = wanted in (path_of(containers, moid).strip('/'), _client_path(containers, moid))
        else:
            hit = entry['name'] == wanted
        if hit:
            found.append(moid)
    return sorted(found, key=lambda moid: path_of(containers, moid))


def describe(containers, moid):
    return '%s %s (%s)' % (KINDS[containers[moid]['type']], path_of(containers, moid), moid)


def pick(containers, text):
    """The one moid ``text`` names; ScopeNotFound listing the candidates, or the nearest names, otherwise."""
    found = matches(containers, text)
    if len(found) == 1:
        return found[0]
    if found:
        raise ScopeNotFound('scope %r names %d objects: %s; set preemption_scope (or scope) to the path or moid of one.'
                            % (text, len(found), '; '.join(describe(containers, moid) for moid in found)))
    names = sorted({entry['name'] for entry in containers.values() if entry['type'] in KINDS})
    near = difflib.get_close_matches(text.rpartition('/')[2], names, n=SUGGESTIONS)
    raise ScopeNotFound('scope %r is not the moid, name or inventory path of a cluster, host, datacenter, folder or '
                        'resource pool in vCenter%s' % (text, '; did you mean %s?' % ', '.join(repr(n) for n in near) if near else '.'))


def _containers(content):
    """``{moid: {type, name, parent}}`` of every folder, datacenter, compute resource, host and resource pool."""
    pc = vmodl.query.PropertyCollector
    view = content.viewManager.CreateContainerView(
        content.rootFolder, [vim.Folder, vim.Datacenter, vim.ComputeResource, vim.HostSystem, vim.ResourcePool], True)
    try:
        spec = pc.FilterSpec(
            objectSet=[pc.ObjectSpec(obj=view, skip=True, selectSet=[
                pc.TraversalSpec(name='view', type=vim.view.ContainerView, path='view', skip=False)])],
            propSet=[pc.PropertySpec(type=vim.ManagedEntity, pathSet=['name', 'parent'])])
        found = _collect(content.propertyCollector, [spec])
    finally:
        view.DestroyView()
    root = content.rootFolder._moId
    # The root folder ("Datacenters") is no part of a path.
    return {moid: dict(entry, parent=None if entry.get('parent') == root else entry.get('parent'))
            for moid, entry in found.items() if moid != root and 'name' in entry}


def _exists(content, moid):
    kind = next(kind for prefix, kind in SCOPE_PREFIXES if moid.startswith(prefix))
    pc = vmodl.query.PropertyCollector
    spec = pc.FilterSpec(objectSet=[pc.ObjectSpec(obj=getattr(vim, kind)(moid, content.propertyCollector._stub), skip=False)],
                         propSet=[pc.PropertySpec(type=vim.ManagedEntity, pathSet=['name'])], reportMissingObjectsInResults=True)
    return 'name' in _collect(content.propertyCollector, [spec]).get(moid, {})


def resolve_scope(content, scope):
    """The moid of the container ``scope`` names (a moid vCenter has, a name or an inventory path)."""
    if looks_like_moid(scope) and _exists(content, scope):
        return scope
    return pick(_containers(content), scope)
