# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tag lookup against a small vCenter tagging service (real HTTPS, real requests), in both /api and /rest flavours."""

from __future__ import annotations

import json
import threading
from urllib.parse import parse_qs, unquote

import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._vm import tagging
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.tagging import TagNotFound, attached_vm_moids, find_tag, pick_tag, split_tag_reference
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.rest import VCenterRest
from tests.support.json_server import JsonServer


def tag_urn(name):
    return 'urn:vmomi:InventoryServiceTag:%s:GLOBAL' % name


def category_urn(name):
    return 'urn:vmomi:InventoryServiceCategory:%s:GLOBAL' % name


class TaggingService(JsonServer):
    """vCenter's tagging endpoints over HTTPS, ``/api`` or ``/rest``, from an editable model; records requests."""

    def __init__(self, tls, flavor):
        self.flavor = flavor
        self.categories = {}     # id -> name
        self.tags = {}           # id -> {'name', 'category_id'}
        self.attached = {}       # tag id -> [{'type', 'id'}]
        super().__init__(self._answer, tls)

    def _answer(self, request):
        return self.answer(request['method'], unquote(request['path']), parse_qs(request['query']), json.loads(request['body'] or b'null'))

    def add(self, name, category):
        category_id = category_urn(category)
        self.categories[category_id] = category
        tag_id = tag_urn('%s-%s' % (category, name))
        self.tags[tag_id] = {'name': name, 'category_id': category_id}
        return tag_id

    def answer(self, method, path, query, body):
        prefix = '/api/cis/tagging/' if self.flavor == 'api' else '/rest/com/vmware/cis/tagging/'
        sep = '' if self.flavor == 'api' else 'id:'
        wrap = (lambda value: value) if self.flavor == 'api' else (lambda value: {'value': value})
        if path in ('/api/session', '/rest/com/vmware/cis/session'):
            if not path.startswith('/' + self.flavor):
                return 404, None
            return (200, None) if method == 'DELETE' else (201, wrap('token'))
        if not path.startswith(prefix):
            return 404, None
        rest = path[len(prefix):]
        action = (query.get('action') or query.get('~action') or [None])[0]
        if action == 'list-tags-for-category':
            category_id = body['category_id'] if self.flavor == 'api' else rest[len('tag/' + sep):]
            return 200, wrap([tid for tid, tag in self.tags.items() if tag['category_id'] == category_id])
        if action == 'list-attached-objects':
            return 200, wrap(self.attached.get(rest[len('tag-association/' + sep):], []))
        if rest == 'tag':
            return 200, wrap(list(self.tags))
        if rest == 'category':
            return 200, wrap(list(self.categories))
        if rest.startswith('tag/' + sep) and rest[len('tag/' + sep):] in self.tags:
            tag_id = rest[len('tag/' + sep):]
            return 200, wrap(dict(self.tags[tag_id], id=tag_id))
        if rest.startswith('category/' + sep) and rest[len('category/' + sep):] in self.categories:
            category_id = rest[len('category/' + sep):]
            return 200, wrap({'id': category_id, 'name': self.categories[category_id]})
        return 404, wrap({'error_type': 'NOT_FOUND'})

    def reads(self, kind):
        """The GETs of single tags (``tag``) or categories (``category``)."""
        marker = '/%s/' % kind
        return [unquote(r['path']) for r in self.requests if r['method'] == 'GET' and marker in r['path']]


@pytest.fixture(params=['api', 'rest'])
def service(request, tls, monkeypatch):
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', tls.ca_file)
    monkeypatch.delenv('SSL_CERT_FILE', raising=False)
    srv = TaggingService(tls, request.param)
    srv.add('preemptible', 'preemption')
    srv.add('preemptible', 'legacy')
    srv.add('gold', 'preemption')
    for index in range(40):
        srv.add('other-%d' % index, 'noise-%d' % (index % 4))
    yield srv
    srv.close()


def lookup(service, *args, **kwargs):
    with VCenterRest('127.0.0.1', 'admin', 'pw', port=service.port) as rest:
        assert rest.flavor == service.flavor
        return find_tag(rest, *args, **kwargs)


def test_without_category_every_tag_is_read_once_then_the_match_category(service):
    assert lookup(service, 'gold') == {'id': tag_urn('preemption-gold'), 'name': 'gold',
                                       'category_id': category_urn('preemption'), 'category': 'preemption'}
    assert sorted(service.reads('tag')) == sorted(set(service.reads('tag')))
    assert len(service.reads('tag')) == len(service.tags)
    assert len(service.reads('category')) == 1


def test_with_category_only_that_category_tags_are_read(service):
    tag = lookup(service, 'preemptible', 'legacy')
    assert tag['id'] == tag_urn('legacy-preemptible') and tag['category'] == 'legacy'
    read = [path.rsplit('/', 1)[-1].replace('id:', '') for path in service.reads('tag')]
    assert read == [tag_urn('legacy-preemptible')]
    assert len(service.reads('category')) == len(service.categories)
    listed = [r for r in service.requests if 'list-tags-for-category' in r['query']]
    assert len(listed) == 1


def test_reads_run_in_parallel_but_bounded(service, monkeypatch):
    in_flight, most = [0], [0]
    lock = threading.Lock()
    original = tagging._get

    def counting(client, path):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        try:
            threading.Event().wait(0.01)
            return original(client, path)
        finally:
            with lock:
                in_flight[0] -= 1
    monkeypatch.setattr(tagging, '_get', counting)
    lookup(service, 'gold')
    assert most[0] > 1
    assert most[0] <= tagging.READ_PARALLEL


def test_ambiguous_tag_names_the_categories(service):
    with pytest.raises(VCenterError) as caught:
        lookup(service, 'preemptible')
    assert str(caught.value) == "Tag 'preemptible' exists in several categories ('legacy', 'preemption'); set category to pick one."
    assert caught.value.retryable is False


def test_missing_tag_is_named(service):
    with pytest.raises(VCenterError, match=r"^Tag 'nope' does not exist in vCenter\.$"):
        lookup(service, 'nope')


def test_tag_typo_suggests_the_nearest_tag_names(service):
    with pytest.raises(TagNotFound) as caught:
        lookup(service, 'Gold')
    assert str(caught.value) == "Tag 'Gold' does not exist in vCenter; did you mean 'gold'?"
    with pytest.raises(TagNotFound, match=r"^Tag 'preemtible' does not exist in vCenter; did you mean 'preemptible'\?$"):
        lookup(service, 'preemtible')
    assert caught.value.retryable is False


def test_tag_in_another_category_says_where_it_is(service):
    with pytest.raises(VCenterError) as caught:
        lookup(service, 'gold', 'legacy')
    assert str(caught.value) == "Tag 'gold' does not exist in category 'legacy'; it exists in category 'preemption'."
    with pytest.raises(VCenterError, match="does not exist in category 'nowhere'; it exists in category 'preemption'"):
        lookup(service, 'gold', 'nowhere')


@pytest.mark.parametrize('category', [None, 'legacy'])
def test_a_known_tag_id_is_checked_with_one_call(service, category):
    known = tag_urn('legacy-preemptible')
    tag = lookup(service, 'preemptible', category, tag_id=known)
    assert tag['id'] == known
    assert len(service.reads('tag')) == 1
    assert len(service.reads('category')) == (0 if category is None else 1)
    assert not [r for r in service.requests if r['path'].endswith('/tag') or r['path'].endswith('/category')]


def test_a_renamed_tag_id_is_not_used(service):
    stale = tag_urn('preemption-gold')
    service.tags[stale]['name'] = 'platinum'
    with pytest.raises(VCenterError, match=r"^Tag 'gold' does not exist in vCenter\.$"):
        lookup(service, 'gold', tag_id=stale)
    renewed = service.add('gold', 'preemption2')
    assert lookup(service, 'gold', tag_id=stale)['id'] == renewed


def test_a_deleted_tag_id_falls_back_to_the_name(service):
    stale = tag_urn('preemption-gold')
    del service.tags[stale]
    fresh = service.add('gold', 'tiers')
    assert lookup(service, 'gold', 'tiers', tag_id=stale)['id'] == fresh
    assert lookup(service, 'gold', tag_id=stale)['id'] == fresh


def test_a_tag_id_of_another_category_is_not_used(service):
    other = tag_urn('legacy-preemptible')
    assert lookup(service, 'preemptible', 'preemption', tag_id=other)['id'] == tag_urn('preemption-preemptible')


def test_pick_tag_is_pure():
    only = {'id': 'x', 'name': 't', 'category': 'c'}
    assert pick_tag('t', None, [only]) is only
    assert pick_tag('t', 'c', [only]) is only
    with pytest.raises(VCenterError, match='categories'):
        pick_tag('t', 'z', [only, {'id': 'y', 'name': 't', 'category': 'd'}])


def test_attached_vm_moids_keeps_only_vms_in_one_call(service):
    tag_id = tag_urn('preemption-gold')
    service.attached[tag_id] = [
        {'type': 'VirtualMachine', 'id': 'vm-9'},
        {'type': 'HostSystem', 'id': 'host-1'},
        {'type': 'VirtualMachine', 'id': 'vm-10'},
        {'type': 'Datastore', 'id': 'datastore-3'},
        {'type': 'VirtualMachine', 'id': 'vm-9'},
    ]
    with VCenterRest('127.0.0.1', 'admin', 'pw', port=service.port) as rest:
        assert attached_vm_moids(rest, tag_id) == ['vm-10', 'vm-9']
        assert attached_vm_moids(rest, tag_urn('preemption-preemptible')) == []
    assert len([r for r in service.requests if 'list-attached-objects' in r['query']]) == 2


@pytest.mark.parametrize('text, expected', [
    ('keep', (None, 'keep')),
    ('preemption:keep', ('preemption', 'keep')),
    (' preemption : keep ', ('preemption', 'keep')),
    (':keep', (None, 'keep')),
    ('a:b:c', ('a', 'b:c')),
])
def test_split_tag_reference(text, expected):
    assert split_tag_reference(text) == expected


def test_a_missing_tag_is_its_own_error_type_but_ambiguity_is_not():
    with pytest.raises(TagNotFound):
        pick_tag('keep', None, [])
    with pytest.raises(TagNotFound):
        pick_tag('keep', 'other', [{'id': tag_urn('a'), 'name': 'keep', 'category': 'preemption'}])
    with pytest.raises(VCenterError) as info:
        pick_tag('keep', None, [{'id': tag_urn('a'), 'name': 'keep', 'category': 'a'}, {'id': tag_urn('b'), 'name': 'keep', 'category': 'b'}])
    assert not isinstance(info.value, TagNotFound)
