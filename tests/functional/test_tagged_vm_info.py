# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vsphere.preemption.tagged_vm_info run by the real ansible CLI against the simulator."""

from __future__ import annotations

import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._vm import inventory as vm_inventory
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.tagging import attached_vm_moids, find_tag
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.rest import VCenterRest
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.soap import connect, disconnect
from tests.support.ansible_cli import run_module, run_playbook
from tests.support.vcsim.harness import generate_ca

MODULE = 'vsphere.preemption.tagged_vm_info'
PRIORITY = 'preemption.priority'
BAD_PRIORITY = 'preemption.priority.bad'
# Cluster DC0_C0 (2 hosts) with VMs DC0_C0_RP0_VM0..2, standalone host DC0_H0 with DC0_H0_VM0..2.
VCSIM_OPTIONS = dict(vms=3, hosts=2)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_C0_RP0_VM2', 'DC0_H0_VM0']
TEMPLATE = 'DC0_H0_VM2'
UNTAGGED = 'DC0_H0_VM1'
PRIORITIES = {'DC0_C0_RP0_VM0': '10', 'DC0_C0_RP0_VM1': '-1', 'DC0_H0_VM0': '3'}  # DC0_C0_RP0_VM2: unset
POWERED_OFF = 'DC0_C0_RP0_VM2'


@pytest.fixture(scope='module')
def inventory(vcenter):
    """Tag the VMs, make a template, set priorities; return {name: vcenter.vms() row}."""
    category = vcenter.create_category('preemption')
    tag = vcenter.create_tag('preemptible', category)
    for name in TAGGED + [TEMPLATE]:
        vcenter.attach_tag(tag, vcenter.moid(name))
    host = vcenter.vms()[0]['host']
    vcenter.attach_tag(tag, host, object_type='HostSystem')
    vcenter.mark_template(vcenter.moid(TEMPLATE))
    vcenter.power_off(vcenter.moid(POWERED_OFF))
    # The same tag name in two categories, attached to nothing.
    vcenter.create_tag('dup', category)
    vcenter.create_tag('dup', vcenter.create_category('legacy'))
    vcenter.add_custom_field(PRIORITY)
    vcenter.add_custom_field(BAD_PRIORITY)
    for name, value in PRIORITIES.items():
        vcenter.set_custom_value(vcenter.moid(name), PRIORITY, value)
    vcenter.set_custom_value(vcenter.moid('DC0_C0_RP0_VM0'), BAD_PRIORITY, 'high')
    return {vm['name']: vm for vm in vcenter.vms()}


def info(vcsim, check=False, env=None, **args):
    return run_module(MODULE, dict({'tag': 'preemptible'}, **args), env=dict(vcsim.env(), **(env or {})), check=check)


def names(result):
    return [vm['name'] for vm in result['vms']]


def test_returns_exactly_the_tagged_vms_without_templates_or_other_objects(vcsim, inventory):
    result = info(vcsim)
    assert result['_rc'] == 0, result
    assert result['changed'] is False
    assert names(result) == sorted(TAGGED)
    assert result['total'] == 4
    for vm in result['vms']:
        row = inventory[vm['name']]
        assert vm == {'moid': row['moid'], 'name': row['name'], 'power_state': row['power_state'], 'tools_running': False,
                      'host': row['host_name'], 'cluster': row['cluster_name'], 'priority': 0}
    assert {vm['cluster'] for vm in result['vms']} == {'DC0_C0', None}
    assert UNTAGGED not in names(result) and TEMPLATE not in names(result)


def test_priority_attribute_orders_lowest_first_then_by_name(vcsim, inventory):
    result = info(vcsim, priority_attribute=PRIORITY)
    assert [(vm['name'], vm['priority']) for vm in result['vms']] == [
        ('DC0_C0_RP0_VM1', -1), ('DC0_C0_RP0_VM2', 0), ('DC0_H0_VM0', 3), ('DC0_C0_RP0_VM0', 10)]
    assert 'warnings' not in result


def test_a_non_integer_priority_counts_as_zero_with_a_warning(vcsim, inventory):
    result = info(vcsim, priority_attribute=BAD_PRIORITY)
    assert result['_rc'] == 0, result
    assert {vm['priority'] for vm in result['vms']} == {0}
    assert result['warnings'] == ["Custom attribute '%s' of VM DC0_C0_RP0_VM0 (%s) is 'high', not an integer; counted as 0."
                                  % (BAD_PRIORITY, inventory['DC0_C0_RP0_VM0']['moid'])]


def test_an_undefined_priority_attribute_is_an_error(vcsim, inventory):
    result = info(vcsim, priority_attribute='no.such.attribute')
    assert result['failed'] is True
    assert "priority_attribute 'no.such.attribute' is not a custom attribute of VMs" in result['msg']
    assert repr(PRIORITY) in result['msg']


def test_power_state_filter(vcsim, inventory):
    assert names(info(vcsim, power_state=['poweredOff'])) == [POWERED_OFF]
    on = info(vcsim, power_state=['poweredOn'])
    assert names(on) == sorted(set(TAGGED) - {POWERED_OFF})
    assert on['total'] == 3


def test_limit_keeps_the_first_and_total_counts_all(vcsim, inventory):
    result = info(vcsim, priority_attribute=PRIORITY, limit=2)
    assert names(result) == ['DC0_C0_RP0_VM1', 'DC0_C0_RP0_VM2']
    assert result['total'] == 4
    negative = info(vcsim, limit=-1)
    assert negative['failed'] is True and negative['msg'] == 'limit must be 0 (all VMs) or a positive number, not -1.'


def test_scope_cluster(vcsim, inventory):
    result = info(vcsim, scope=inventory['DC0_C0_RP0_VM0']['cluster'])
    assert names(result) == ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_C0_RP0_VM2']


def test_scope_host(vcsim, inventory):
    assert names(info(vcsim, scope=inventory['DC0_H0_VM0']['host'])) == ['DC0_H0_VM0']
    cluster_host = inventory['DC0_C0_RP0_VM0']['host']
    on_it = sorted(name for name in TAGGED if inventory[name]['host'] == cluster_host)
    assert names(info(vcsim, scope=cluster_host)) == on_it


def test_unknown_scopes_are_errors(vcsim, inventory):
    result = info(vcsim, scope='domain-c999')
    assert result['failed'] is True and result['msg'] == ("scope 'domain-c999' is not the moid, name or inventory path of a "
                                                          "cluster, host, datacenter, folder or resource pool in vCenter.")
    result = info(vcsim, scope='DC0_C0')
    assert result['_rc'] == 0 and result['scope'] == inventory['DC0_C0_RP0_VM0']['cluster']


def test_unknown_tag_is_an_error_naming_it(vcsim, inventory):
    result = info(vcsim, tag='no-such-tag')
    assert result['_rc'] != 0 and result['failed'] is True
    assert result['msg'] == "Tag 'no-such-tag' does not exist in vCenter."
    result = info(vcsim, tag='preemtible')
    assert result['msg'] == "Tag 'preemtible' does not exist in vCenter; did you mean 'preemptible'?"


def test_category_picks_between_tags_of_the_same_name(vcsim, inventory):
    ambiguous = info(vcsim, tag='dup')
    assert ambiguous['failed'] is True
    assert ambiguous['msg'] == "Tag 'dup' exists in several categories ('legacy', 'preemption'); set category to pick one."
    picked = info(vcsim, tag='dup', category='legacy')
    assert (picked['vms'], picked['total']) == ([], 0)
    assert names(info(vcsim, category='preemption')) == sorted(TAGGED)


def test_require_field_fails_only_when_vms_are_found_and_the_attribute_is_not_defined(vcsim, inventory):
    assert names(info(vcsim, require_field=PRIORITY)) == sorted(TAGGED)
    missing = info(vcsim, require_field='no.such.attribute')
    assert missing['_rc'] != 0 and missing['failed'] is True
    assert missing['msg'] == ("The VM custom attribute 'no.such.attribute' is not defined in vCenter. Create it once with "
                              "`ansible-playbook vsphere.preemption.setup`, or set create_field: true.")
    # Nothing found, nothing to annotate: no error.
    none = info(vcsim, tag='dup', category='legacy', require_field='no.such.attribute')
    assert (none['vms'], none['total']) == ([], 0)


def test_check_mode_gives_the_same_answer(vcsim, inventory):
    result = info(vcsim, check=True, priority_attribute=PRIORITY)
    assert result['changed'] is False
    assert names(result) == ['DC0_C0_RP0_VM1', 'DC0_C0_RP0_VM2', 'DC0_H0_VM0', 'DC0_C0_RP0_VM0']


def test_validate_certs_false_works_with_an_unrelated_ca_bundle(vcsim, inventory, tmp_path):
    other = generate_ca(tmp_path)
    result = run_module(MODULE, {'tag': 'preemptible'},
                        env=dict(vcsim.env(validate_certs=False), REQUESTS_CA_BUNDLE=other, SSL_CERT_FILE=other))
    assert result['_rc'] == 0, result
    assert names(result) == sorted(TAGGED)


def test_validate_certs_true_with_the_wrong_ca_fails_on_the_certificate(vcsim, inventory, tmp_path):
    other = generate_ca(tmp_path)
    result = info(vcsim, env={'REQUESTS_CA_BUNDLE': other, 'SSL_CERT_FILE': other})
    assert result['failed'] is True
    assert result['msg'].startswith('Cannot verify the TLS certificate of vCenter 127.0.0.1:%d' % vcsim.port)


def test_wrong_password_is_one_line_without_the_password(vcsim, inventory):
    result = info(vcsim, env={'VMWARE_PASSWORD': 'Wr0ng-Secret'})
    assert result['failed'] is True
    assert result['msg'] == "vCenter 127.0.0.1:%d refused the login of user 'user': wrong user name or password." % vcsim.port
    assert 'Wr0ng-Secret' not in result['msg'] + result['_stderr']


class Counter:
    """Counts the SOAP methods a pyvmomi stub invokes and the HTTP requests a requests session sends."""

    def __init__(self):
        self.soap = []
        self.http = []

    def wrap_stub(self, stub):
        invoke = stub.InvokeMethod

        def counted(mo, info, args, *rest):
            self.soap.append(info.wsdlName)
            return invoke(mo, info, args, *rest)
        stub.InvokeMethod = counted

    def wrap_session(self, session):
        request = session.request

        def counted(method, url, **kwargs):
            self.http.append((method, url.split('/', 3)[3], kwargs.get('params')))
            return request(method, url, **kwargs)
        session.request = counted


def lookup(vcsim, monkeypatch, tag_name, scope):
    """What the module does, in process: tag id, tagged moids, REST and SOAP calls after login, retrieved objects."""
    for key, value in vcsim.env().items():
        monkeypatch.setenv(key, value)
    counter = Counter()
    with VCenterRest(vcsim.host, vcsim.username, vcsim.password, port=vcsim.port) as rest:
        counter.wrap_session(rest._http)
        tag = find_tag(rest, tag_name)
        moids = attached_vm_moids(rest, tag['id'])
    si = connect(vcsim.host, vcsim.username, vcsim.password, port=vcsim.port)
    try:
        content = si.RetrieveContent()
        counter.wrap_stub(si._stub)
        objects = vm_inventory.retrieve_objects(content, moids, scope=scope, with_fields=True)
        soap_calls = list(counter.soap)
    finally:
        disconnect(si)
    return tag['id'], moids, counter.http, soap_calls, objects


def test_cost_is_one_association_call_and_one_property_collector_call(vcsim, vcenter, inventory, monkeypatch):
    cluster = inventory['DC0_C0_RP0_VM0']['cluster']
    single = vcenter.create_tag('single', vcenter.create_category('cost'))
    vcenter.attach_tag(single, inventory['DC0_C0_RP0_VM0']['moid'])
    for tag_name, count in (('single', 1), ('preemptible', len(TAGGED) + 1)):
        tag_id, moids, http_calls, soap_calls, objects = lookup(vcsim, monkeypatch, tag_name, cluster)
        assert len(moids) == count
        assert [call for call in http_calls if 'tag-association' in call[1]] == [
            ('POST', 'rest/com/vmware/cis/tagging/tag-association/id:%s' % tag_id, {'~action': 'list-attached-objects'})]
        assert soap_calls == ['RetrievePropertiesEx']
        # Only the tagged VMs were read, never the rest of the inventory.
        assert {moid for moid, obj in objects.items() if obj['type'] == 'VirtualMachine'} == set(moids)


def test_module_defaults_for_the_vcenter_action_group(vcsim, inventory, tmp_path):
    playbook = tmp_path / 'defaults.yml'
    playbook.write_text('''
- hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  module_defaults:
    group/vsphere.preemption.vcenter:
      hostname: %s
      port: %d
      username: %s
      password: %s
  tasks:
    - vsphere.preemption.tagged_vm_info:
        tag: preemptible
      register: tagged
    - ansible.builtin.assert:
        that: tagged.total == 4
''' % (vcsim.host, vcsim.port, vcsim.username, vcsim.password))
    env = {key: value for key, value in vcsim.env().items() if not key.startswith('VMWARE_')}
    proc = run_playbook(str(playbook), env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'ok=2' in proc.stdout
