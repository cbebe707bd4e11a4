# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The preempt playbook given bad input: one clear error, nothing changed.

Each case runs the real playbook against the simulator (tagged VMs all powered
on, the preemption custom attribute defined, so that only the bad value can stop
the run, a state file holding another workflow's record) and must: exit non-zero;
end with one error naming the bad value; leave every VM powered on and
unannotated (vCenter's event log shows no power-off); leave the state file byte
for byte as it was. Retries are off (preemption_retries 0) so each failure shows
at once. The custom attribute not defined is a case of its own, on a vCenter
without it (where `setup --check` must not define it either), and so is the
wrong password that is not retried.
"""

from __future__ import annotations

import json
import os
import socket

import pytest

from tests.support.ansible_cli import run_playbook
from tests.support.fault_proxy import FaultProxy
from tests.support.preempt_helpers import FIELD, annotation, playbook, power_states, tag_vms
from tests.support import preemption_invariants
from tests.support.vcsim.harness import generate_ca

VCSIM_OPTIONS = dict(vms=2, hosts=1, clusters=1)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_H0_VM0']

# A record of another workflow, as workflow_state writes it: the file every case starts from.
STATE = {
    'version': 1,
    'workflows': {
        'nightly@vcenter.example.com': {
            'workflow_id': 'nightly@vcenter.example.com', 'runs': 1, 'unfinished': [], 'updated': '2026-01-05T13:02:40.000001Z',
            'run': {'run_id': '0c5e3c2a-6f0e-4a53-b9f9-2b0f3d1e7a44', 'status': 'finished', 'started': '2026-01-05T13:02:34.437444Z',
                    'finished': '2026-01-05T13:02:40.000001Z', 'tag': 'preemptible', 'criticality': 'HIGH', 'trigger': 'manual',
                    'event': None, 'results': {'powered_off': [], 'annotated': []}},
        },
    },
}

ALARM = {'id': 'e-1', 'source': 'https://vcenter.example.com/sdk', 'type': 'com.vmware.event.router/event',
         'data': {'Alarm': {'Name': 'cluster-cpu-above-80'}, 'From': 'green', 'To': 'red'}}

# (id, role variables, environment, state file set-up, the error's expected text with {port}, {state}... filled in)
CASES = [
    ('unknown-criticality', {'preemption_criticality': 'SUPER'}, {}, 'valid',
     "preemption_criticality 'SUPER' is not valid: use LOW, MEDIUM or HIGH (any case)."),
    ('criticality-number', {'preemption_criticality': 3}, {}, 'valid',
     'preemption_criticality 3 is not valid: use LOW, MEDIUM or HIGH (any case).'),
    ('empty-tag', {'preemption_tag': ''}, {}, 'valid', "preemption_tag '' is not valid: the name of a vSphere tag is required."),
    ('whitespace-tag', {'preemption_tag': '  \t '}, {}, 'valid',
     "preemption_tag '  \\t ' is not valid: the name of a vSphere tag is required."),
    ('zero-max-vms', {'preemption_max_vms': 0}, {}, 'valid', 'preemption_max_vms 0 is not valid: an integer from 1 to 1000.'),
    ('negative-max-vms', {'preemption_max_vms': -5}, {}, 'valid', 'preemption_max_vms -5 is not valid: an integer from 1 to 1000.'),
    ('huge-max-vms', {'preemption_max_vms': 10 ** 12}, {}, 'valid',
     'preemption_max_vms 1000000000000 is not valid: an integer from 1 to 1000.'),
    # Caught by the role's argument spec, before the role's own checks.
    ('text-max-vms', {'preemption_max_vms': 'ten'}, {}, 'valid',
     "argument 'preemption_max_vms' is of type str and we were unable to convert to int: \"'ten'\" cannot be converted to an int"),
    ('zero-parallel', {'preemption_parallel': 0}, {}, 'valid', 'preemption_parallel 0 is not valid: an integer from 1 to 50.'),
    ('negative-parallel', {'preemption_parallel': -1}, {}, 'valid', 'preemption_parallel -1 is not valid: an integer from 1 to 50.'),
    ('huge-parallel', {'preemption_parallel': 100000}, {}, 'valid', 'preemption_parallel 100000 is not valid: an integer from 1 to 50.'),
    ('negative-threshold', {'preemption_threshold': -60}, {}, 'valid',
     'preemption_threshold -60 is not valid: an integer of at least 0.'),
    ('malformed-event-json', {'preemption_criticality': None, 'preemption_event': '{"id": "e-1", "data": {'}, {}, 'valid',
     'preemption_event \'{"id": "e-1", "data": {\' is not valid: expected a CloudEvent as a dict or JSON text.'),
    ('event-without-data', {'preemption_criticality': None, 'preemption_event': {'id': 'e-1', 'type': 'x'}}, {}, 'valid',
     'preemption_event {"id": "e-1", "type": "x"} is not valid: a CloudEvent needs its \'data\' as a dict'),
    ('event-without-id', {'preemption_criticality': None, 'preemption_event': {'data': ALARM['data']}}, {}, 'valid',
     "is not valid: a CloudEvent needs a non-empty 'id'."),
    ('alarm-name-missing', {'preemption_criticality': None,
                            'preemption_event': dict(ALARM, data={'Alarm': {'Name': ' '}, 'From': 'green', 'To': 'red'})}, {}, 'valid',
     'preemption_event {"Alarm": {"Name": " "}} is not valid: an alarm event needs data.Alarm.Name.'),
    ('sink-url-malformed', {'preemption_reply_to': 'sink.example.com:8080/events'}, {}, 'valid',
     "preemption_reply_to 'sink.example.com:...' is not valid: use the http:// or https:// URL of a CloudEvent sink"),
    ('sink-url-scheme', {'preemption_reply_to': 'ftp://sink.example.com/'}, {}, 'valid',
     "preemption_reply_to 'ftp://sink.example.com/' is not valid: use the http:// or https:// URL of a CloudEvent sink"),
    ('scope-not-text', {'preemption_scope': ['DC0_C0']}, {}, 'valid', "preemption_scope [\"DC0_C0\"] is not valid: use 'event'"),
    ('scope-name-not-in-vcenter', {'preemption_scope': 'DC0_C9'}, {}, 'valid',
     "Could not list the VMs tagged 'preemptible' after 1 attempt: scope 'DC0_C9' is not the moid, name or inventory path of a "
     "cluster, host, datacenter, folder or resource pool in vCenter; did you mean 'DC0_C0'"),
    ('port-not-a-number', {}, {'VMWARE_PORT': 'https'}, 'valid', "vcenter_port 'https' is not valid: a TCP port from 1 to 65535."),
    ('non-existent-tag', {'preemption_tag': 'preemtible'}, {}, 'valid',
     "Could not list the VMs tagged 'preemtible' after 1 attempt: Tag 'preemtible' does not exist in vCenter; did you mean 'preemptible'?"),
    ('ambiguous-tag', {'preemption_tag': 'batch'}, {}, 'valid',
     "Could not list the VMs tagged 'batch' after 1 attempt: Tag 'batch' exists in several categories ('team-a', 'team-b'); "
     "set category to pick one."),
    ('tag-not-in-category', {'preemption_tag_category': 'team-a'}, {}, 'valid',
     "Could not list the VMs tagged 'preemptible' after 1 attempt: Tag 'preemptible' does not exist in category 'team-a'; "
     "it exists in category 'preemption'."),
    ('scope-not-in-vcenter', {'preemption_scope': 'domain-c999'}, {}, 'valid',
     "Could not list the VMs tagged 'preemptible' after 1 attempt: scope 'domain-c999' is not the moid, name or inventory path"),
    ('event-scope-not-in-vcenter', {'preemption_scope': 'event', 'preemption_event': dict(ALARM, data=dict(ALARM['data'], ComputeResource={
        'Name': 'gone', 'ComputeResource': {'Type': 'ClusterComputeResource', 'Value': 'domain-c999'}}))}, {}, 'valid',
     "scope 'domain-c999' is not the moid, name or inventory path of a cluster, host, datacenter, folder or resource pool in vCenter. "
     "The scope domain-c999 is from preemption_event's data.ComputeResource, else its data.Host; preemption_scope sets another."),
    ('priority-attribute-undefined', {'preemption_priority_attribute': 'preemption.prio'}, {}, 'valid',
     "Could not list the VMs tagged 'preemptible' after 1 attempt: priority_attribute 'preemption.prio' is not a custom attribute "
     "of VMs in vCenter"),
    ('wrong-password', {}, {'VMWARE_PASSWORD': 'not-the-password'}, 'valid',
     "Could not list the VMs tagged 'preemptible' after 1 attempt: vCenter 127.0.0.1:{port} refused the login of user 'user': "
     "wrong user name or password."),
    ('unknown-host', {}, {'VMWARE_HOST': 'no-such-vcenter.invalid'}, 'valid',
     "Could not list the VMs tagged 'preemptible' after 1 attempt: Cannot resolve the vCenter host name 'no-such-vcenter.invalid'."),
    ('untrusted-certificate', {}, {'REQUESTS_CA_BUNDLE': '{other_ca}', 'SSL_CERT_FILE': '{other_ca}'}, 'valid',
     "Could not list the VMs tagged 'preemptible' after 1 attempt: Cannot verify the TLS certificate of vCenter 127.0.0.1:{port}"),
    ('corrupt-state-file', {}, {}, 'corrupt', 'The state file {state} is not valid JSON ('),
    ('foreign-state-file', {}, {}, 'foreign',
     'The state file {state} is not a vsphere.preemption state file (expected a JSON object with "workflows")'),
    ('state-file-parent-is-a-file', {}, {}, 'parent-is-file',
     'Cannot read the state file {state}: Not a directory.'),
    ('state-file-is-a-directory', {}, {}, 'directory', 'The state file {state} is a directory; point path at a file.'),
]


@pytest.fixture(scope='module')
def moids(vcenter):
    names = tag_vms(vcenter, TAGGED)
    # The same tag name in two categories, for the ambiguous case.
    for category in ('team-a', 'team-b'):
        vcenter.attach_tag(vcenter.create_tag('batch', vcenter.create_category(category)), names['DC0_H0_VM1'])
    vcenter.add_custom_field(FIELD)
    return {name: names[name] for name in TAGGED}


@pytest.fixture
def without_the_attribute(vcenter, moids):
    """The preemption custom attribute not defined in vCenter, for one test."""
    vcenter.remove_custom_field(FIELD)
    assert vcenter._field_key(FIELD) is None
    yield moids
    vcenter.add_custom_field(FIELD)


@pytest.fixture(scope='module')
def other_ca(tmp_path_factory):
    return generate_ca(tmp_path_factory.mktemp('other-ca'))


def state_file(tmp_path, kind):
    """Set up the state file for a case; returns (path given to the role, file whose bytes must not change)."""
    if kind == 'parent-is-file':
        parent = tmp_path / 'not-a-directory'
        parent.write_text('a plain file\n')
        return parent / 'state.json', parent
    path = tmp_path / 'state.json'
    if kind == 'directory':
        path.mkdir()
        (path / 'keep').write_text('x')
        return path, path / 'keep'
    path.write_text({'valid': json.dumps(STATE, indent=2, sort_keys=True) + '\n', 'corrupt': '{"version": 1, "workflows": {',
                     'foreign': '["not", "a", "state", "file"]\n'}[kind])
    os.chmod(path, 0o600)
    return path, path


def filled(text, placeholders):
    for placeholder, value in placeholders.items():
        text = text.replace(placeholder, value)
    return text


def unchanged(vcenter, since):
    """Every VM powered on, none annotated, none powered off since ``since``."""
    return (all(power == 'poweredOn' for power in power_states(vcenter).values())
            and all(annotation(vcenter, vm['moid']) is None for vm in vcenter.vms())
            and preemption_invariants.power_off_counts(vcenter, since) == {})


def assert_fails_and_changes_nothing(vcsim, vcenter, moids, other_ca, tmp_path, variables, env, kind, message):
    since = preemption_invariants.reset(vcenter, moids.values())
    path, guarded = state_file(tmp_path, kind)
    before = guarded.read_bytes()
    fill = {'{port}': str(vcsim.port), '{other_ca}': other_ca, '{state}': str(path)}
    env = dict(vcsim.env(), **{key: filled(value, fill) for key, value in env.items()})
    variables = dict(dict(preemption_criticality='HIGH', preemption_scope='all', preemption_retries=0, preemption_state_file=str(path)),
                     **variables)

    run = playbook('preempt', env, variables)

    assert run.rc != 0, run
    failures = run.failures()
    assert failures and filled(message, fill) in failures[-1], run
    # Said once: no step failed (ignored or not) beside the one that says why.
    said = [result.get('msg') for play in run.output['plays'] for task in play['tasks'] for result in task['hosts'].values()
            if result.get('failed')]
    assert said == failures[-1:], said
    assert unchanged(vcenter, since), 'VMs changed: %r' % power_states(vcenter)
    assert guarded.read_bytes() == before


@pytest.mark.parametrize('variables, env, kind, message', [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_fails_clearly_and_changes_nothing(vcsim, vcenter, moids, other_ca, tmp_path, variables, env, kind, message):
    assert_fails_and_changes_nothing(vcsim, vcenter, moids, other_ca, tmp_path, variables, env, kind, message)


def test_an_undefined_custom_attribute_fails_clearly_and_changes_nothing(vcsim, vcenter, without_the_attribute, other_ca, tmp_path):
    assert_fails_and_changes_nothing(
        vcsim, vcenter, without_the_attribute, other_ca, tmp_path, {}, {}, 'valid',
        "The VM custom attribute 'com.vmware.workflows.vsphere.preemption' is not defined in vCenter. Create it once with "
        "`ansible-playbook vsphere.preemption.setup`, or set create_field: true.")


def test_setup_in_check_mode_defines_nothing(vcsim, vcenter, without_the_attribute):
    checked = playbook('setup', vcsim.env(), {}, check=True)
    assert checked.rc == 0, checked
    assert vcenter._field_key(FIELD) is None
    # What check mode held back: the real run defines it.
    defined = playbook('setup', vcsim.env(), {})
    assert defined.rc == 0, defined
    assert vcenter._field_key(FIELD) is not None


def test_a_wrong_password_is_tried_once_not_once_per_retry(vcsim, vcenter, moids, tmp_path):
    # vCenter SSO locks an account after 5 failed logins by default: retrying a refused login would lock it.
    since = preemption_invariants.reset(vcenter, moids.values())
    with FaultProxy(vcsim) as proxy:
        run = playbook('preempt', dict(proxy.env(), VMWARE_PASSWORD='not-the-password'),
                       dict(preemption_criticality='HIGH', preemption_scope='all', preemption_retry_delay=0,
                            preemption_state_file=str(tmp_path / 'state.json')))
        # The simulator's REST login takes any password; its SOAP login is the one that refuses.
        refused_logins = proxy.requests(soap_method='Login')
    assert run.rc != 0, run
    assert "refused the login of user 'user': wrong user name or password." in run.failures()[-1]
    assert len(refused_logins) == 1, refused_logins
    assert unchanged(vcenter, since)


@pytest.mark.parametrize('variables, env, expected', [
    ({'preemption_tag': 'preemtible'}, {},
     "Could not list the VMs tagged 'preemtible' after 1 attempt: Tag 'preemtible' does not exist in vCenter; did you mean 'preemptible'?"),
    # Retryable: every attempt made and counted, the last one ending the loop rather than Ansible failing the step.
    ({'preemption_retries': 2, 'preemption_retry_delay': 0}, {'VMWARE_PORT': '{closed}'},
     "Could not list the VMs tagged 'preemptible' after 3 attempts: Cannot connect to vCenter 127.0.0.1:{closed}: connection refused."),
], ids=['not-retryable', 'retryable'])
def test_a_failure_is_printed_once_in_one_line_without_warnings(vcsim, vcenter, moids, tmp_path, variables, env, expected):
    with socket.socket() as unused:
        unused.bind(('127.0.0.1', 0))
        closed = str(unused.getsockname()[1])
    env = dict(vcsim.env(), ANSIBLE_LOCALHOST_WARNING='true', ANSIBLE_INVENTORY_UNPARSED_WARNING='true',
               **{key: value.replace('{closed}', closed) for key, value in env.items()})
    variables = dict({'preemption_criticality': 'HIGH', 'preemption_state_file': str(tmp_path / 'state.json')}, **variables)
    proc = run_playbook('vsphere.preemption.preempt', variables, env=env, args=['-i', 'localhost,'])
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    expected = expected.replace('{closed}', closed)
    error = 'connection refused' if 'Cannot connect' in expected else 'does not exist in vCenter'
    # One failed task, shown as ansible-core 2.19+ shows any: its error summary, then its result.
    assert [line for line in output.splitlines() if error in line] == [
        '[ERROR]: Task failed: Action failed: %s' % expected,
        'fatal: [localhost]: FAILED! => {"changed": false, "msg": %s}' % json.dumps(expected)], output
    assert '...ignoring' not in output and '[WARNING]' not in output and 'ignored=0' in output, output
