# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vSphere tags through the REST API: find a tag by name, list the VMs it is attached to.

Works with a ``VCenterRest`` session of either flavor (``/api`` or ``/rest``).
"""

from __future__ import annotations

from urllib.parse import quote

from ansible_collections.vsphere.preemption.plugins.module_utils.vcenter_errors import VCenterError

# Per flavor: the tag list, one tag, one category, and the tag-association
# action listing a tag's objects (path, query parameters).
PATHS = {
    'api': {
        'tags': '/api/cis/tagging/tag',
        'tag': '/api/cis/tagging/tag/%s',
        'category': '/api/cis/tagging/category/%s',
        'attached': ('/api/cis/tagging/tag-association/%s', {'action': 'list-attached-objects'}),
    },
    'rest': {
        'tags': '/rest/com/vmware/cis/tagging/tag',
        'tag': '/rest/com/vmware/cis/tagging/tag/id:%s',
        'category': '/rest/com/vmware/cis/tagging/category/id:%s',
        'attached': ('/rest/com/vmware/cis/tagging/tag-association/id:%s', {'~action': 'list-attached-objects'}),
    },
}


class TagNotFound(VCenterError):
    """No tag of that name (in that category) exists in vCenter."""


def split_tag_reference(text):
    """``(category, name)`` of ``category:name`` (split at the first colon), ``(None, name)`` of a bare name."""
    category, sep, name = text.partition(':')
    return (category.strip() or None, name.strip()) if sep else (None, text.strip())


def _quoted(identifier):
    # Tag ids look like urn:vmomi:InventoryServiceTag:<uuid>:GLOBAL; colons are legal in a path segment.
    return quote(identifier, safe=':')


def pick_tag(name, category, candidates):
    """Choose the tag named ``name`` (in ``category`` when given) among ``candidates``.

    ``candidates`` are the tags with that name: dicts with ``id``, ``name`` and
    ``category`` (the category's name). Returns the chosen dict; raises
    VCenterError naming the tag when there is none, or naming the categories
    when the choice is ambiguous.
    """
    if not candidates:
        raise TagNotFound('Tag %r does not exist in vCenter.' % name)
    categories = sorted(c['category'] for c in candidates)
    if category is not None:
        chosen = [c for c in candidates if c['category'] == category]
        if not chosen:
            raise TagNotFound('Tag %r does not exist in category %r; it exists in categor%s %s.'
                              % (name, category, 'y' if len(categories) == 1 else 'ies', ', '.join(repr(c) for c in categories)))
        candidates = chosen
    if len(candidates) > 1:
        raise VCenterError('Tag %r exists in several categories (%s); set category to pick one.'
                           % (name, ', '.join(repr(c) for c in categories)))
    return candidates[0]


def find_tag(client, name, category=None):
    """Return ``{id, name, category_id, category}`` of the tag called ``name``.

    Reads every tag once (vCenter has no search by name), then the categories
    of the tags with that name only.
    """
    paths = PATHS[client.flavor]
    matches = []
    for tag_id in client.request('GET', paths['tags']) or []:
        tag = client.request('GET', paths['tag'] % _quoted(tag_id)) or {}
        if tag.get('name') == name:
            matches.append({'id': tag.get('id') or tag_id, 'name': name, 'category_id': tag.get('category_id')})
    category_names = {}
    for match in matches:
        category_id = match['category_id']
        if category_id not in category_names:
            category_names[category_id] = (client.request('GET', paths['category'] % _quoted(category_id)) or {}).get('name')
        match['category'] = category_names[category_id]
    return pick_tag(name, category, matches)


def attached_vm_moids(client, tag_id):
    """Moids of the VirtualMachine objects the tag is attached to (one call), sorted, without duplicates."""
    path, params = PATHS[client.flavor]['attached']
    # The simulator rejects an empty body on this POST; vCenter accepts {}.
    objects = client.request('POST', path % _quoted(tag_id), body={}, params=params) or []
    return sorted({obj['id'] for obj in objects if isinstance(obj, dict) and obj.get('type') == 'VirtualMachine' and obj.get('id')})
