# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils.tagging import TagNotFound, attached_vm_moids, find_tag, pick_tag, split_tag_reference
from ansible_collections.vsphere.preemption.plugins.module_utils.vcenter_errors import VCenterError

TAG_A = 'urn:vmomi:InventoryServiceTag:aaaa:GLOBAL'
TAG_B = 'urn:vmomi:InventoryServiceTag:bbbb:GLOBAL'
TAG_C = 'urn:vmomi:InventoryServiceTag:cccc:GLOBAL'
CAT_1 = 'urn:vmomi:InventoryServiceCategory:1111:GLOBAL'
CAT_2 = 'urn:vmomi:InventoryServiceCategory:2222:GLOBAL'


class FakeRest:
    """A VCenterRest stand-in answering from a table of (method, path) -> value, recording calls."""

    def __init__(self, flavor, answers):
        self.flavor = flavor
        self.answers = answers
        self.calls = []

    def request(self, method, path, body=None, params=None):
        self.calls.append((method, path, body, params))
        return self.answers[(method, path)]


def tagging(flavor):
    if flavor == 'api':
        tag, category = '/api/cis/tagging/tag/%s', '/api/cis/tagging/category/%s'
        tags = '/api/cis/tagging/tag'
    else:
        tag, category = '/rest/com/vmware/cis/tagging/tag/id:%s', '/rest/com/vmware/cis/tagging/category/id:%s'
        tags = '/rest/com/vmware/cis/tagging/tag'
    return FakeRest(flavor, {
        ('GET', tags): [TAG_A, TAG_B, TAG_C],
        ('GET', tag % TAG_A): {'id': TAG_A, 'name': 'preemptible', 'category_id': CAT_1},
        ('GET', tag % TAG_B): {'id': TAG_B, 'name': 'preemptible', 'category_id': CAT_2},
        ('GET', tag % TAG_C): {'id': TAG_C, 'name': 'gold', 'category_id': CAT_1},
        ('GET', category % CAT_1): {'id': CAT_1, 'name': 'preemption'},
        ('GET', category % CAT_2): {'id': CAT_2, 'name': 'legacy'},
    })


@pytest.mark.parametrize('flavor', ['api', 'rest'])
def test_find_tag_by_name(flavor):
    rest = tagging(flavor)
    assert find_tag(rest, 'gold') == {'id': TAG_C, 'name': 'gold', 'category_id': CAT_1, 'category': 'preemption'}
    # Every tag once, then only the category of the match.
    assert [c[1].rsplit('/', 1)[-1] for c in rest.calls] == ['tag', 'id:' * (flavor == 'rest') + TAG_A, 'id:' * (flavor == 'rest') + TAG_B,
                                                             'id:' * (flavor == 'rest') + TAG_C, 'id:' * (flavor == 'rest') + CAT_1]


@pytest.mark.parametrize('flavor', ['api', 'rest'])
def test_find_tag_picks_the_category(flavor):
    assert find_tag(tagging(flavor), 'preemptible', 'legacy')['id'] == TAG_B
    assert find_tag(tagging(flavor), 'preemptible', 'preemption')['id'] == TAG_A


def test_ambiguous_tag_names_the_categories():
    with pytest.raises(VCenterError) as caught:
        find_tag(tagging('api'), 'preemptible')
    assert str(caught.value) == "Tag 'preemptible' exists in several categories ('legacy', 'preemption'); set category to pick one."


def test_missing_tag_is_named():
    with pytest.raises(VCenterError, match=r"^Tag 'nope' does not exist in vCenter\.$"):
        find_tag(tagging('rest'), 'nope')


def test_tag_names_are_matched_exactly():
    with pytest.raises(VCenterError, match='does not exist'):
        find_tag(tagging('rest'), 'Gold')


def test_tag_in_another_category_says_where_it_is():
    with pytest.raises(VCenterError) as caught:
        find_tag(tagging('api'), 'gold', 'legacy')
    assert str(caught.value) == "Tag 'gold' does not exist in category 'legacy'; it exists in category 'preemption'."


def test_pick_tag_is_pure():
    only = {'id': 'x', 'name': 't', 'category': 'c'}
    assert pick_tag('t', None, [only]) is only
    assert pick_tag('t', 'c', [only]) is only
    with pytest.raises(VCenterError, match='categories'):
        pick_tag('t', 'z', [only, {'id': 'y', 'name': 't', 'category': 'd'}])


@pytest.mark.parametrize('flavor, path, params', [
    ('api', '/api/cis/tagging/tag-association/%s' % TAG_A, {'action': 'list-attached-objects'}),
    ('rest', '/rest/com/vmware/cis/tagging/tag-association/id:%s' % TAG_A, {'~action': 'list-attached-objects'}),
])
def test_attached_vm_moids_keeps_only_vms_in_one_call(flavor, path, params):
    rest = FakeRest(flavor, {('POST', path): [
        {'type': 'VirtualMachine', 'id': 'vm-9'},
        {'type': 'HostSystem', 'id': 'host-1'},
        {'type': 'VirtualMachine', 'id': 'vm-10'},
        {'type': 'Datastore', 'id': 'datastore-3'},
        {'type': 'VirtualMachine', 'id': 'vm-9'},
    ]})
    assert attached_vm_moids(rest, TAG_A) == ['vm-10', 'vm-9']
    assert rest.calls == [('POST', path, {}, params)]


def test_attached_vm_moids_of_an_unused_tag():
    rest = FakeRest('rest', {('POST', '/rest/com/vmware/cis/tagging/tag-association/id:t'): None})
    assert attached_vm_moids(rest, 't') == []


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
        pick_tag('keep', 'other', [{'id': TAG_A, 'name': 'keep', 'category': 'preemption'}])
    with pytest.raises(VCenterError) as info:
        pick_tag('keep', None, [{'id': TAG_A, 'name': 'keep', 'category': 'a'}, {'id': TAG_B, 'name': 'keep', 'category': 'b'}])
    assert not isinstance(info.value, TagNotFound)
