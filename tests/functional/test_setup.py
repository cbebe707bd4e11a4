# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""`ansible-playbook vsphere.preemption.setup` prepares vCenter end to end, each step optional and idempotent.

What it creates is read back from vCenter: the category and tag through /rest, the role's privileges and its
grant through the AuthorizationManager.
"""

from __future__ import annotations

import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.roles import RUN_PRIVILEGES, SYSTEM_PRIVILEGES
from tests.support.ansible_cli import run_module
from tests.support.preempt_helpers import FIELD, playbook
from tests.support.vcsim import harness

VCSIM_OPTIONS = dict(vms=1, hosts=1)
ROLE = 'vsphere-preemption'
PRINCIPAL = 'VSPHERE.LOCAL\\svc-preemption'
EVERYTHING = {'preemption_setup_create_tag': True, 'preemption_setup_role': ROLE, 'preemption_setup_role_principal': PRINCIPAL}


@pytest.fixture
def fresh(vcsim_binary, tmp_path):
    """A simulator of its own that no setup has touched, and a client on it: the module's vcsim holds what other tests set up."""
    with harness.Simulator(binary=vcsim_binary, workdir=str(tmp_path / 'vcsim'), **VCSIM_OPTIONS) as sim, harness.VCenterClient(sim) as client:
        yield sim, client


@pytest.fixture(scope='module')
def prepared(vcsim):
    """The module's vcsim set up once (field, category and tag, role granted), whatever test ran before."""
    said(playbook('setup', vcsim.env(), EVERYTHING))
    return vcsim


def said(run):
    assert run.rc == 0, run
    [result] = run.results('Say how the vCenter stands')
    return result['msg']


def categories(vcenter):
    return {c['name']: c for c in (vcenter.rest('GET', '/tagging/category/id:%s' % i) for i in vcenter.rest('GET', '/tagging/category') or ())}


def tags(vcenter):
    return {(t['name'], t['category_id']) for t in (vcenter.rest('GET', '/tagging/tag/id:%s' % i) for i in vcenter.rest('GET', '/tagging/tag') or ())}


def role(vcenter, name=ROLE):
    return next((r for r in vcenter.content.authorizationManager.roleList if r.name == name), None)


def grants(vcenter):
    manager = vcenter.content.authorizationManager
    return [(p.principal, p.roleId, p.propagate, p.group) for p in manager.RetrieveEntityPermissions(vcenter.content.rootFolder, False)
            if p.principal == PRINCIPAL]


def test_setup_in_check_mode_creates_nothing(fresh):
    vcsim, vcenter = fresh
    message = said(playbook('setup', vcsim.env(), EVERYTHING, check=True))
    assert message == ('Custom attribute com.vmware.workflows.vsphere.preemption would be created; category preemption and tag '
                       'preemptible would be created; role %s would be created, granted to %s on the root folder.' % (ROLE, PRINCIPAL))
    assert categories(vcenter) == {} and role(vcenter) is None and grants(vcenter) == [] and vcenter._field_key(FIELD) is None


def test_setup_creates_category_tag_and_least_privilege_role_then_changes_nothing(fresh):
    vcsim, vcenter = fresh
    message = said(playbook('setup', vcsim.env(), EVERYTHING))
    assert message == ('Custom attribute com.vmware.workflows.vsphere.preemption created; category preemption and tag preemptible '
                       'created; tag preemptible is attached to 0 VMs (0 powered on); role %s created, granted to %s on the '
                       'root folder.' % (ROLE, PRINCIPAL))
    category = categories(vcenter)['preemption']
    assert (category['cardinality'], category['associable_types']) == ('MULTIPLE', ['VirtualMachine'])
    assert tags(vcenter) == {('preemptible', category['id'])}
    created = role(vcenter)
    assert set(created.privilege) == set(RUN_PRIVILEGES) | set(SYSTEM_PRIVILEGES)
    assert grants(vcenter) == [(PRINCIPAL, created.roleId, True, False)]

    again = playbook('setup', vcsim.env(), EVERYTHING)
    assert said(again) == ('Custom attribute com.vmware.workflows.vsphere.preemption already defined; tag preemptible is attached '
                           'to 0 VMs (0 powered on); role %s unchanged.' % ROLE)
    assert again.output['stats']['localhost']['changed'] == 0
    assert len(categories(vcenter)) == 1 and len(tags(vcenter)) == 1 and len(grants(vcenter)) == 1


def test_setup_takes_back_a_privilege_the_role_should_not_hold(prepared, vcsim, vcenter):
    existing = role(vcenter)
    vcenter.content.authorizationManager.UpdateAuthorizationRole(
        roleId=existing.roleId, newName=ROLE, privIds=list(existing.privilege) + ['VirtualMachine.Inventory.Delete'])
    assert said(playbook('setup', vcsim.env(), {'preemption_setup_role': ROLE})).endswith('role %s updated.' % ROLE)
    assert set(role(vcenter).privilege) == set(RUN_PRIVILEGES) | set(SYSTEM_PRIVILEGES)


def test_a_tag_in_another_category_creates_only_what_is_missing(prepared, vcsim, vcenter):
    variables = {'preemption_setup_create_tag': True, 'preemption_tag': 'spot', 'preemption_tag_category': 'preemption'}
    assert said(playbook('setup', vcsim.env(), variables)).startswith(
        'Custom attribute com.vmware.workflows.vsphere.preemption already defined; tag spot created; tag spot is attached to 0 VMs')
    assert tags(vcenter) == {('preemptible', categories(vcenter)['preemption']['id']), ('spot', categories(vcenter)['preemption']['id'])}


def test_without_create_tag_a_missing_tag_is_an_error_saying_how_to_create_it(prepared, vcsim, vcenter):
    run = playbook('setup', vcsim.env(), {'preemption_tag': 'preemtible'})
    assert run.rc != 0
    assert run.failures() == ["Tag 'preemtible' does not exist in vCenter; did you mean 'preemptible'?"]


def test_a_system_role_is_never_changed(vcsim, vcenter):
    result = run_module('vsphere.preemption.vcenter_role', {'name': 'Admin'}, env=vcsim.env())
    assert result['failed'] is True and result['retryable'] is False
    assert result['msg'] == "'Admin' is a system role of vCenter; choose another name for the preemption role."


@pytest.mark.parametrize('option', ['tag', 'category'])
def test_an_empty_tag_or_category_name_is_refused(vcsim, option):
    result = run_module('vsphere.preemption.vcenter_tag', dict({'tag': 'preemptible'}, **{option: ' '}), env=vcsim.env())
    assert result['failed'] is True and result['msg'] == '%s must be a name, not an empty string.' % option
