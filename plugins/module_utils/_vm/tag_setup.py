# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Create the tag category and the tag the collection selects VMs by, when vCenter lacks them.

Works over a ``VCenterRest`` session of either flavor: ``/api`` takes the
create spec as the body, ``/rest`` wraps it in ``create_spec``.
"""

from __future__ import annotations

from ansible_collections.vsphere.preemption.plugins.module_utils._vm.tagging import PATHS, TagNotFound, categories_named, find_tag
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError


def _create(client, kind, spec):
    """POST a create spec to the list ``kind`` (``tags`` or ``categories``); the new object's id."""
    body = spec if client.flavor == 'api' else {'create_spec': spec}
    return client.request('POST', PATHS[client.flavor][kind], body=body)


def ensure_tag(client, name, category, description, check_mode=False):
    """``{tag_id, category_id, created: [what]}`` for the tag ``name`` in the category ``category``, creating what is missing.

    A new category is of cardinality MULTIPLE (a VM may also carry a protect tag of the same category) and
    associable with VirtualMachine objects only. In check mode nothing is created and the ids of what would be are None.
    """
    categories = categories_named(client, category)
    if len(categories) > 1:
        raise VCenterError('Category %r exists %d times in vCenter; remove the duplicates first.' % (category, len(categories)),
                           retryable=False)
    created = []
    if categories:
        category_id = categories[0]['id']
        try:
            return {'tag_id': find_tag(client, name, category)['id'], 'category_id': category_id, 'created': created}
        except TagNotFound:
            pass
    else:
        created.append('category')
        category_id = None if check_mode else _create(client, 'categories', {
            'name': category, 'description': description, 'cardinality': 'MULTIPLE', 'associable_types': ['VirtualMachine']})
    created.append('tag')
    tag_id = None if check_mode else _create(client, 'tags', {'name': name, 'description': description, 'category_id': category_id})
    return {'tag_id': tag_id, 'category_id': category_id, 'created': created}
