# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vSphere tags through the REST API: find a tag by name, list the VMs it is attached to.

Works with a ``VCenterRest`` session of either flavor (``/api`` or ``/rest``).
vCenter has no search of tags by name, so ``find_tag`` reads as few tags as it
can: with a category, only the categories and that category's tags; with a
tag id found before, that one tag; otherwise every tag. Each set of tags or
categories is read ``READ_PARALLEL`` at a time over the one session.
"""

from __future__ import annotations

import difflib
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.rest import VCenterRestError

# Tags or categories read at once: enough to hide a real vCenter's latency, few enough not to load it.
READ_PARALLEL = 8

# Nearest existing tag names a typo's error suggests.
SUGGESTIONS = 3

# Per flavor: the tag list, one tag, the category list, one category, the tags
# of one category and the tag-association action listing a tag's objects
# (path, query parameters; the tags of a category also name where the id goes).
PATHS = {
    'api': {
        'tags': '/api/cis/tagging/tag',
        'tag': '/api/cis/tagging/tag/%s',
        'categories': '/api/cis/tagging/category',
        'category': '/api/cis/tagging/category/%s',
        'category_tags': ('/api/cis/tagging/tag', {'action': 'list-tags-for-category'}),
        'attached': ('/api/cis/tagging/tag-association/%s', {'action': 'list-attached-objects'}),
    },
    'rest': {
        'tags': '/rest/com/vmware/cis/tagging/tag',
        'tag': '/rest/com/vmware/cis/tagging/tag/id:%s',
        'categories': '/rest/com/vmware/cis/tagging/category',
        'category': '/rest/com/vmware/cis/tagging/category/id:%s',
        'category_tags': ('/rest/com/vmware/cis/tagging/tag/id:%s', {'~action': 'list-tags-for-category'}),
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
        raise TagNotFound('Tag %r does not exist in vCenter.' % name, retryable=False)
    categories = sorted(c['category'] for c in candidates)
    if category is not None:
        chosen = [c for c in candidates if c['category'] == category]
        if not chosen:
            raise TagNotFound('Tag %r does not exist in category %r; it exists in categor%s %s.'
                              % (name, category, 'y' if len(categories) == 1 else 'ies', ', '.join(repr(c) for c in categories)),
                              retryable=False)
        candidates = chosen
    if len(candidates) > 1:
        raise VCenterError('Tag %r exists in several categories (%s); set category to pick one.'
                           % (name, ', '.join(repr(c) for c in categories)), retryable=False)
    return candidates[0]


def _get(client, path):
    """The object at ``path``, or None when vCenter no longer has it (deleted since it was listed)."""
    try:
        return client.request('GET', path) or {}
    except VCenterRestError as exc:
        if exc.status == 404:
            return None
        raise


def _read_all(client, path, ids):
    """``[object]`` at ``path % id`` for each id that still exists, ``READ_PARALLEL`` requests at a time."""
    ids = list(ids or ())
    if not ids:
        return []
    with ThreadPoolExecutor(max_workers=min(READ_PARALLEL, len(ids))) as pool:
        found = pool.map(lambda identifier: _get(client, path % _quoted(identifier)), ids)
        return [item for item in found if item is not None]


def _described(client, tags, category_names=None):
    """``{id, name, category_id, category}`` for each tag dict, reading each unknown category once."""
    paths = PATHS[client.flavor]
    names = dict(category_names or {})
    unknown = sorted({tag.get('category_id') for tag in tags} - set(names))
    for category in _read_all(client, paths['category'], unknown):
        names[category.get('id')] = category.get('name')
    return [{'id': tag.get('id'), 'name': tag.get('name'), 'category_id': tag.get('category_id'),
             'category': names.get(tag.get('category_id'))} for tag in tags]


def _tags_named(client, name):
    """Every tag called ``name``, described: reads every tag of vCenter.

    None of them raises TagNotFound suggesting the nearest names of the tags read.
    """
    paths = PATHS[client.flavor]
    every = _read_all(client, paths['tag'], client.request('GET', paths['tags']))
    tags = [tag for tag in every if tag.get('name') == name]
    if not tags:
        raise TagNotFound('Tag %r does not exist in vCenter%s' % (name, nearest_names(name, (tag.get('name') for tag in every)) or '.'),
                          retryable=False)
    return _described(client, tags)


def nearest_names(name, names):
    """``'; did you mean 'a', 'b'?'`` naming the ``names`` closest to ``name`` (difflib), or '' when none is close."""
    near = difflib.get_close_matches(name, sorted({n for n in names if isinstance(n, str)}), n=SUGGESTIONS)
    return '; did you mean %s?' % ', '.join(repr(n) for n in near) if near else ''


def categories_named(client, name):
    """Every category called ``name`` (dicts with ``id``, ``name``...): reads every category."""
    paths = PATHS[client.flavor]
    return [c for c in _read_all(client, paths['category'], client.request('GET', paths['categories'])) if c.get('name') == name]


def _tag_in_category(client, name, category):
    """The tag ``name`` of the category named ``category``, or None: reads the categories and that category's tags only."""
    paths = PATHS[client.flavor]
    for found in categories_named(client, category):
        path, params = paths['category_tags']
        if client.flavor == 'api':
            tag_ids = client.request('POST', path, body={'category_id': found['id']}, params=params)
        else:
            tag_ids = client.request('POST', path % _quoted(found['id']), body={}, params=params)
        tags = [tag for tag in _read_all(client, paths['tag'], tag_ids) if tag.get('name') == name]
        if tags:
            return _described(client, tags, {found['id']: category})[0]
    return None


def _known_tag(client, tag_id, name, category):
    """The tag ``tag_id``, described, when it still is ``name`` (in ``category`` when given); else None.

    One GET for the tag, one more for its category when ``category`` is given.
    """
    tag = _get(client, PATHS[client.flavor]['tag'] % _quoted(tag_id))
    if not tag or tag.get('name') != name:
        return None
    if category is None:
        return {'id': tag.get('id') or tag_id, 'name': name, 'category_id': tag.get('category_id'), 'category': None}
    described = _described(client, [dict(tag, id=tag.get('id') or tag_id)])[0]
    return described if described['category'] == category else None


def find_tag(client, name, category=None, tag_id=None):
    """Return ``{id, name, category_id, category}`` of the tag called ``name``.

    ``tag_id``, a tag id found by an earlier call, is used when it still names
    that tag; a renamed, deleted or other category's tag is looked up again by
    name instead, never used. With ``category``, only that category's tags are
    read. Without, every tag is read (then the categories of those called ``name``),
    and ``category`` of the answer is None when found through ``tag_id``.
    Where the tag is not in ``category``, every tag is read to say where it is.
    """
    if tag_id:
        known = _known_tag(client, tag_id, name, category)
        if known is not None:
            return known
    if category is not None:
        found = _tag_in_category(client, name, category)
        if found is not None:
            return found
    return pick_tag(name, category, _tags_named(client, name))


def attached_vm_moids(client, tag_id):
    """Moids of the VirtualMachine objects the tag is attached to (one call), sorted, without duplicates."""
    path, params = PATHS[client.flavor]['attached']
    # The simulator rejects an empty body on this POST; vCenter accepts {}.
    objects = client.request('POST', path % _quoted(tag_id), body={}, params=params) or []
    return sorted({obj['id'] for obj in objects if isinstance(obj, dict) and obj.get('type') == 'VirtualMachine' and obj.get('id')})
