# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tagged_vm_info's tag lookup against the simulator with many tags, every vCenter request counted.

With ``category`` only that category's tags are read; a ``tag_id`` handed back
is checked with one call, and a stale one (renamed, deleted, another
category's) is never used: the tag is found again by name, or reported missing.
"""

from __future__ import annotations

import pytest

from bench.request_counter import RequestCounter
from tests.support.ansible_cli import run_module

MODULE = 'vsphere.preemption.tagged_vm_info'
VCSIM_OPTIONS = dict(vms=2, hosts=1)
NOISE_CATEGORIES = 3
NOISE_TAGS = 20             # per noise category
TAG_GET = 'HTTP GET /rest/com/vmware/cis/tagging/tag/id:*'
TAG_LIST = 'HTTP GET /rest/com/vmware/cis/tagging/tag'
FOR_CATEGORY = 'HTTP POST /rest/com/vmware/cis/tagging/tag/id:*?~action=list-tags-for-category'


@pytest.fixture(scope='module')
def tags(vcenter):
    """``{'category': id, 'preemptible': id, 'vm': moid}``: the tag attached to one VM, among 60 others."""
    category = vcenter.create_category('preemption')
    tag = vcenter.create_tag('preemptible', category)
    vm = vcenter.vms()[0]['moid']
    vcenter.attach_tag(tag, vm)
    for index in range(NOISE_CATEGORIES):
        noise = vcenter.create_category('noise-%d' % index)
        for number in range(NOISE_TAGS):
            vcenter.create_tag('tag-%d' % number, noise)
    return {'category': category, 'preemptible': tag, 'vm': vm}


@pytest.fixture(scope='module')
def counter(vcsim):
    with RequestCounter(vcsim) as proxy:
        yield proxy


def info(vcsim, counter, **args):
    counter.reset()
    result = run_module(MODULE, args, env=dict(vcsim.env(), VMWARE_PORT=str(counter.port)))
    return result, counter.summary()


def all_tags(vcenter):
    return len(vcenter.rest('GET', '/tagging/tag'))


def test_a_category_lookup_reads_only_that_category_tags(vcsim, vcenter, counter, tags):
    result, calls = info(vcsim, counter, tag='preemptible', category='preemption')
    assert result['_rc'] == 0, result
    assert [vm['moid'] for vm in result['vms']] == [tags['vm']]
    assert result['tag_id'] == tags['preemptible']
    assert calls.get(FOR_CATEGORY) == 1
    assert calls.get(TAG_GET) == 1          # the one tag of 'preemption', not the 61 of vCenter
    assert TAG_LIST not in calls


def test_without_category_every_tag_is_read(vcsim, vcenter, counter, tags):
    result, calls = info(vcsim, counter, tag='preemptible')
    assert result['_rc'] == 0, result
    assert result['tag_id'] == tags['preemptible']
    assert calls.get(TAG_LIST) == 1
    assert calls.get(TAG_GET) == all_tags(vcenter) > NOISE_CATEGORIES * NOISE_TAGS


@pytest.mark.parametrize('category', [None, 'preemption'])
def test_a_known_tag_id_is_checked_with_one_call(vcsim, counter, tags, category):
    args = dict(tag='preemptible', tag_id=tags['preemptible'])
    if category:
        args['category'] = category
    result, calls = info(vcsim, counter, **args)
    assert result['_rc'] == 0, result
    assert result['tag_id'] == tags['preemptible']
    assert [vm['moid'] for vm in result['vms']] == [tags['vm']]
    assert calls.get(TAG_GET) == 1
    assert TAG_LIST not in calls and FOR_CATEGORY not in calls


def test_a_renamed_tag_behind_a_stale_id_is_reported_missing_then_found_again_by_name(vcsim, vcenter, counter, tags):
    category = vcenter.create_category('renames')
    stale = vcenter.create_tag('spot', category)
    vcenter.attach_tag(stale, tags['vm'])
    vcenter.rest('PATCH', '/tagging/tag/id:%s' % stale, json={'update_spec': {'name': 'spot-old'}})
    result, _calls = info(vcsim, counter, tag='spot', tag_id=stale)
    assert result['_rc'] != 0
    # The renamed tag is the nearest name (the suggestion every missing tag gets since issue 26).
    assert result['msg'] == "Tag 'spot' does not exist in vCenter; did you mean 'spot-old'?"
    assert result['retryable'] is False
    fresh = vcenter.create_tag('spot', category)
    result, _calls = info(vcsim, counter, tag='spot', category='renames', tag_id=stale)
    assert result['_rc'] == 0, result
    assert result['tag_id'] == fresh != stale
    assert result['vms'] == []              # the VMs of the renamed tag are not those of 'spot'


def test_a_deleted_tag_behind_a_stale_id_is_found_again_by_name(vcsim, vcenter, counter, tags):
    category = vcenter.create_category('deletes')
    stale = vcenter.create_tag('burst', category)
    vcenter.rest('DELETE', '/tagging/tag/id:%s' % stale)
    result, _calls = info(vcsim, counter, tag='burst', tag_id=stale)
    assert result['_rc'] != 0 and result['msg'] == "Tag 'burst' does not exist in vCenter."
    fresh = vcenter.create_tag('burst', category)
    vcenter.attach_tag(fresh, tags['vm'])
    result, _calls = info(vcsim, counter, tag='burst', tag_id=stale)
    assert result['_rc'] == 0, result
    assert result['tag_id'] == fresh
    assert [vm['moid'] for vm in result['vms']] == [tags['vm']]


def test_a_tag_id_of_another_category_is_not_used(vcsim, vcenter, counter, tags):
    # A name of its own in two categories: a second 'preemptible' would make the lookups without a category ambiguous.
    wanted = vcenter.create_tag('relocated', vcenter.create_category('relocated-to'))
    vcenter.attach_tag(wanted, tags['vm'])
    elsewhere = vcenter.create_tag('relocated', vcenter.create_category('relocated-from'))
    result, _calls = info(vcsim, counter, tag='relocated', category='relocated-to', tag_id=elsewhere)
    assert result['_rc'] == 0, result
    assert result['tag_id'] == wanted
    assert [vm['moid'] for vm in result['vms']] == [tags['vm']]
