# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rulebook extensions/eda/rulebooks/preemption.yml run by the real ansible-rulebook.

Routing: the rulebook with its two playbooks swapped for stand-ins that record what they are
handed, fed VEBA CloudEvents (structured and binary mode), foreign and malformed events, and
every alarm colour change. Then the shipped rulebook with the real playbooks against the
simulator: a red alarm preempts, a green one cancels, a binary-mode yellow one preempts again.
"""

from __future__ import annotations

import itertools
import json
import os

import pytest
import requests
import yaml
from ansible_rulebook.util import substitute_variables

from ansible_collections.vsphere.preemption.plugins.module_utils._run.request import ALARM_COLORS, alarm_action

from tests.support.machine import free_port
from tests.support.rulebook_cli import RULEBOOKS, Rulebook, wait_until

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(REPO, 'tests', 'fixtures', 'veba-alarm-red.json')
ALARM = 'cluster-cpu-above-80'
TOKEN = 'Zm9vYmFy-test-token'

STANDIN = '''\
- name: Stand-in for vsphere.preemption.{name}
  hosts: all
  gather_facts: false
  tasks:
    - name: Record what the rulebook handed over
      ansible.builtin.lineinfile:
        path: "{{{{ lookup('ansible.builtin.env', 'STANDIN_RECORDS') }}}}"
        create: true
        mode: "0600"
        line: "{{{{ {{'playbook': '{name}', 'vars': handed_over}} | to_json }}}}"
      vars:
        handed_over: "{{{{ hostvars[inventory_hostname] | dict2items | selectattr('key', 'match', '^preemption_') | items2dict }}}}"
'''


def veba_event(**data):
    """The real VEBA delivery of the fixture, with ``data`` fields replaced."""
    with open(FIXTURE, encoding='utf-8') as handle:
        event = json.load(handle)
    event['data'].update(data)
    return event


def binary(event):
    """The same CloudEvent as a binary-mode HTTP request: (headers, body), as Knative/VEBA send it by default."""
    headers = {'Ce-' + name.capitalize(): str(value) for name, value in event.items() if name not in ('data', 'datacontenttype')}
    headers['Content-Type'] = event['datacontenttype']
    return headers, json.dumps(event['data'])


@pytest.fixture(scope='module')
def routing(tmp_path_factory):
    """The rulebook, its playbooks replaced by recording stand-ins, listening on a free port."""
    workdir = tmp_path_factory.mktemp('rulebook')
    text = open(os.path.join(RULEBOOKS, 'preemption.yml'), encoding='utf-8').read()
    for name in ('preempt', 'cancel', 'restore', 'status'):
        (workdir / ('standin_%s.yml' % name)).write_text(STANDIN.format(name=name))
    # The raise rule's plain playbook name, and the drop rule's template, which picks the last part of one.
    forms = {'name: vsphere.preemption.preempt\n': 'name: %s\n' % (workdir / 'standin_preempt.yml'),
             'name: "vsphere.preemption.{{ ': 'name: "%s{{ ' % (workdir / 'standin_'), "else 'cancel' }}\"": "else 'cancel' }}.yml\""}
    for form, replacement in forms.items():
        assert text.count(form) == 1
        text = text.replace(form, replacement)
    rulebook = workdir / 'preemption.yml'
    rulebook.write_text(text)
    port = free_port()
    records = workdir / 'records.jsonl'
    variables = {'preemption_alarm_name': ALARM, 'preemption_webhook_token': TOKEN, 'preemption_webhook_port': port,
                 'preemption_webhook_host': '127.0.0.1', 'preemption_tag': 'gold', 'preemption_threshold': 0,
                 'preemption_reply_to': 'http://127.0.0.1:9/sink'}
    with Rulebook(str(rulebook), variables, workdir, env={'STANDIN_RECORDS': str(records)}) as process:
        process.wait_for_port(port)
        process.url = 'http://127.0.0.1:%d/' % port
        process.records = records
        yield process


def post(url, body, headers=None, token=TOKEN):
    session = requests.Session()
    session.trust_env = False  # no proxy for 127.0.0.1
    headers = dict(headers or {'Content-Type': 'application/json'})
    if token is not None:
        headers['Authorization'] = 'Bearer %s' % token
    data = body if isinstance(body, str) else json.dumps(body)
    return session.post(url, data=data, headers=headers, timeout=30).status_code


def records(process, count):
    """The stand-ins' records, once there are ``count`` of them."""
    def read():
        if not process.records.exists():
            return None
        lines = process.records.read_text().splitlines()
        return [json.loads(line) for line in lines] if len(lines) >= count else None
    return wait_until(read, 120, '%d playbook run(s)' % count, process.log)


def test_requests_without_the_token_are_refused(routing):
    event = veba_event()
    assert post(routing.url, event, token=None) == 401
    assert post(routing.url, event, token='wrong') == 401
    assert post(routing.url, event, headers={'Content-Type': 'application/json', 'Authorization': 'Basic %s' % TOKEN}, token=None) == 401


def test_raised_preempts_dropped_cancels_and_other_events_are_ignored(routing):
    red = veba_event()
    yellow_headers, yellow_body = binary(dict(veba_event(From='green', To='yellow'), id='binary-1'))
    ignored = [
        veba_event(Alarm={'Name': 'another-alarm', 'Alarm': {'Type': 'Alarm', 'Value': 'alarm-9'}}),
        dict(veba_event(), subject='AlarmCreatedEvent'),
        {'specversion': '1.0', 'id': '1', 'source': 's', 'type': 'com.vmware.event.router/event', 'subject': 'AlarmStatusChangedEvent'},
        veba_event(From='yellow', To='yellow'),
        {'foo': 'bar'},
        [1, 2, 3],
    ]
    for event in ignored:
        assert post(routing.url, event) == 200  # the webhook takes any JSON; no rule matches these
    assert post(routing.url, 'not json') == 400
    # Events are handled in arrival order, one playbook at a time: had an ignored event matched, its run would come first.
    assert post(routing.url, red) == 200
    assert post(routing.url, yellow_body, headers=yellow_headers) == 200
    assert post(routing.url, veba_event(From='red', To='yellow')) == 200
    assert post(routing.url, veba_event(From='yellow', To='green')) == 200
    runs = records(routing, 4)
    assert [(r['playbook'], r['vars']['preemption_event']['data']['From'], r['vars']['preemption_event']['data']['To']) for r in runs] == [
        ('preempt', 'green', 'red'), ('preempt', 'green', 'yellow'), ('cancel', 'red', 'yellow'), ('cancel', 'yellow', 'green')]

    first = runs[0]['vars']
    assert first == {
        'preemption_event': red,
        # Set in the rulebook variables:
        'preemption_tag': 'gold',
        'preemption_reply_to': 'http://127.0.0.1:9/sink',
        'preemption_threshold': 0,
        # Not set: null, which the role's plan reads as its default (request.ROLE_DEFAULTS; criticality and workflow
        # id then come from the event, and a restore started by a rulebook waits out the threshold).
        'preemption_tag_category': None,
        'preemption_criticality': None,
        'preemption_workflow_id': None,
        'preemption_reply_headers': None,
        'preemption_reply_validate_certs': None,
        'preemption_reply_mode': None,
        'preemption_event_source': None,
        'preemption_max_vms': None,
        'preemption_capacity_target': None,
        'preemption_parallel': None,
        'preemption_retries': None,
        'preemption_retry_delay': None,
        'preemption_grace_period': None,
        'preemption_priority_attribute': None,
        'preemption_protect_tag': None,
        'preemption_notice_period': None,
        'preemption_scope': None,
        'preemption_state_file': None,
        'preemption_state_url': None,
        'preemption_create_field': None,
        'preemption_restore_wait': None,
    }
    # The binary-mode request reaches the playbook as the same structured CloudEvent.
    assert runs[1]['vars']['preemption_event'] == dict(veba_event(From='green', To='yellow'), id='binary-1')
    for run in runs[1:]:
        assert {k: v for k, v in run['vars'].items() if k != 'preemption_event'} == {k: v for k, v in first.items() if k != 'preemption_event'}


def test_every_alarm_transition_routes_as_the_role_decides(tmp_path):
    """All 16 colour changes: the rulebook runs preempt/cancel exactly where the role's own alarm_action says so."""
    with open(os.path.join(RULEBOOKS, 'preemption.yml'), encoding='utf-8') as handle:
        rulebook = yaml.safe_load(handle)
    for rule in rulebook[0]['rules']:
        # Without preemption_restore_on_clear, the drop rule's template always picks cancel.
        playbook = substitute_variables(rule['action']['run_playbook']['name'], {'event': {'payload': veba_event()}}).strip().rsplit('.', 1)[1]
        rule['action'] = {'debug': {'msg': 'ROUTE %s {{ event.payload.id }}' % playbook}}
    (tmp_path / 'routes.yml').write_text(yaml.safe_dump(rulebook))
    port = free_port()
    variables = {'preemption_alarm_name': ALARM, 'preemption_webhook_token': TOKEN, 'preemption_webhook_port': port,
                 'preemption_webhook_host': '127.0.0.1'}
    expected = {}
    with Rulebook(str(tmp_path / 'routes.yml'), variables, tmp_path, verbose=False) as process:
        process.wait_for_port(port)
        url = 'http://127.0.0.1:%d/' % port
        for old, new in itertools.product(ALARM_COLORS, repeat=2):
            event_id = '%s-to-%s' % (old, new)
            action = alarm_action(old, new)[0]
            if action != 'ignore':
                expected[event_id] = action
            assert post(url, dict(veba_event(From=old, To=new), id=event_id)) == 200
        assert post(url, dict(veba_event(From='green', To='red'), id='last')) == 200
        wait_until(lambda: 'ROUTE preempt last' in process.log(), 60, 'the last event', process.log)
        routed = dict(reversed(line.split()[1:3]) for line in process.log().splitlines() if line.startswith('ROUTE '))
    routed.pop('last')
    assert routed == expected


def test_unreadable_or_foreign_alarm_events_run_nothing(tmp_path):
    """Events whose colours, alarm or shape the filter cannot read, or another alarm's: no rule, and the source lives on."""
    with open(os.path.join(RULEBOOKS, 'preemption.yml'), encoding='utf-8') as handle:
        rulebook = yaml.safe_load(handle)
    for rule in rulebook[0]['rules']:
        rule['action'] = {'debug': {'msg': 'ROUTE {{ event.payload.id }} %s' % rule['name'].replace(' ', '_')}}
    (tmp_path / 'routes.yml').write_text(yaml.safe_dump(rulebook))
    port = free_port()
    variables = {'preemption_alarm_name': ALARM, 'preemption_webhook_token': TOKEN, 'preemption_webhook_port': port,
                 'preemption_webhook_host': '127.0.0.1'}
    hostile = [
        veba_event(From={'colour': 'green'}), veba_event(To=None), veba_event(From='green', To='purple'), veba_event(To=['red']),
        veba_event(From='red', To='x' * 100000), veba_event(Alarm={'Name': 7}), veba_event(Alarm=None), veba_event(Alarm='cluster-cpu-above-80'),
        # Another alarm, among them one whose name is a template: data, never rendered.
        veba_event(Alarm={'Name': "{{ lookup('pipe', 'id') }}"}), veba_event(Alarm={'Name': ALARM.upper()}),
        dict(veba_event(), data='not a dict'), dict(veba_event(), subject=None, type=None),
    ]
    with Rulebook(str(tmp_path / 'routes.yml'), variables, tmp_path, verbose=False) as process:
        process.wait_for_port(port)
        url = 'http://127.0.0.1:%d/' % port
        for number, event in enumerate(hostile):
            assert post(url, dict(event, id='hostile-%d' % number)) == 200
        # Events are handled in arrival order: once the last one is routed, every hostile one was seen.
        headers, body = binary(dict(veba_event(From='red', To='green'), id='last'))
        assert post(url, body, headers=headers) == 200
        wait_until(lambda: 'ROUTE last' in process.log(), 60, 'the last event', process.log)
        routed = [line.split()[1:3] for line in process.log().splitlines() if line.startswith('ROUTE ')]
    assert routed == [['last', 'Alarm_dropped']]


@pytest.mark.parametrize('missing, message', [
    ('preemption_webhook_token', "'preemption_webhook_token' is undefined"),
    ('preemption_alarm_name', 'vars does not contain key: preemption_alarm_name'),
])
def test_required_variables(tmp_path, missing, message):
    variables = {'preemption_alarm_name': ALARM, 'preemption_webhook_token': TOKEN, 'preemption_webhook_port': free_port()}
    del variables[missing]
    with Rulebook(os.path.join(RULEBOOKS, 'preemption.yml'), variables, tmp_path) as process:
        assert process.wait_exit() != 0
        assert message in process.log()


# --------------------------------------------------------------------------- against the simulator, with the real playbooks

TAGGED_IN_CLUSTER = 'DC0_C0_RP0_VM0'
UNTAGGED_IN_CLUSTER = 'DC0_C0_RP0_VM1'
TAGGED_OUTSIDE = 'DC0_H0_VM0'  # on the standalone host: not in the alarm's cluster
ANNOTATION = 'com.vmware.workflows.vsphere.preemption'


@pytest.fixture(scope='module')
def live(vcsim, vcenter, tmp_path_factory):
    """The shipped rulebook against the simulator: two tagged VMs, one of them in the cluster of the alarm."""
    tag = vcenter.create_tag('preemptible', vcenter.create_category('preemption'))
    vms = {vm['name']: vm for vm in vcenter.vms()}
    for name in (TAGGED_IN_CLUSTER, TAGGED_OUTSIDE):
        vcenter.attach_tag(tag, vms[name]['moid'])
    vcenter.add_custom_field(ANNOTATION)
    workdir = tmp_path_factory.mktemp('rulebook-live')
    port = free_port()
    state_file = workdir / 'state.json'
    variables = {'preemption_alarm_name': ALARM, 'preemption_webhook_token': TOKEN, 'preemption_webhook_port': port,
                 'preemption_webhook_host': '127.0.0.1', 'preemption_state_file': str(state_file)}
    with Rulebook(os.path.join(RULEBOOKS, 'preemption.yml'), variables, workdir, env=vcsim.env()) as process:
        process.wait_for_port(port)
        process.url = 'http://127.0.0.1:%d/' % port
        process.state_file = state_file
        process.vms = vms
        yield process


def simulator_event(vms, **data):
    """The VEBA fixture with its morefs and names moved to the simulator's cluster and host."""
    vm = vms[TAGGED_IN_CLUSTER]
    cluster = {'Name': vm['cluster_name'], 'ComputeResource': {'Type': 'ClusterComputeResource', 'Value': vm['cluster']}}
    host = {'Name': vm['host_name'], 'Host': {'Type': 'HostSystem', 'Value': vm['host']}}
    return veba_event(ComputeResource=cluster, Host=host,
                      Source={'Name': vm['cluster_name'], 'Entity': cluster['ComputeResource']},
                      Entity={'Name': vm['host_name'], 'Entity': {'Type': 'HostSystem', 'Value': vm['host']}}, **data)


def workflow_record(process):
    """The state file's record of the alarm's workflow (None when there is none)."""
    if not process.state_file.exists():
        return None
    workflows = json.loads(process.state_file.read_text() or '{}').get('workflows', {})
    found = [record for key, record in workflows.items() if key.split('@')[0].split('/')[0] == ALARM]
    return found[0] if found else None


def cancelled_record(process):
    """The workflow's record once a cancel has left only its ledger (no run, the cancelled mark), else None."""
    record = workflow_record(process)
    return record if record and 'run' not in record and record.get('cancelled') else None


def finished_run(process, runs):
    """The workflow's latest run, once the record counts ``runs`` runs and that one has finished."""
    def done():
        record = workflow_record(process)
        if record and record['runs'] == runs and record['run']['status'] == 'finished':
            return record['run']
        return None
    return wait_until(done, 180, 'run %d of %s to finish in %s' % (runs, ALARM, process.state_file), process.log)


def test_alarms_preempt_and_cancel_on_the_simulator(live, vcenter):
    vms = live.vms
    red = simulator_event(vms)
    assert post(live.url, red, token='wrong') == 401

    # Raised to red (structured mode): the tagged VM of the alarm's cluster is powered off hard, and annotated.
    assert post(live.url, red) == 200
    run = finished_run(live, 1)
    assert run['criticality'] == 'HIGH'
    assert vcenter.power_state(vms[TAGGED_IN_CLUSTER]['moid']) == 'poweredOff'
    assert vcenter.power_state(vms[UNTAGGED_IN_CLUSTER]['moid']) == 'poweredOn'
    assert vcenter.power_state(vms[TAGGED_OUTSIDE]['moid']) == 'poweredOn'
    annotation = json.loads(vcenter.custom_value(vms[TAGGED_IN_CLUSTER]['moid'], ANNOTATION))
    assert (annotation['criticality'], annotation['forcedShutdown'], annotation['workflowID']) == ('HIGH', True, ALARM)
    assert annotation['event'] == red

    # Dropped to green: the cancel playbook forgets the workflow's run, threshold included; the ledger stays.
    assert post(live.url, simulator_event(vms, From='red', To='green')) == 200
    record = wait_until(lambda: cancelled_record(live), 120, 'the cancel to forget the run', live.log)
    assert record['cancelled'] and [entry['moid'] for entry in record['ledger']] == [vms[TAGGED_IN_CLUSTER]['moid']]

    # Raised to yellow again, binary mode this time: a new run (no threshold left), MEDIUM.
    vcenter.power_on(vms[TAGGED_IN_CLUSTER]['moid'])
    headers, body = binary(dict(simulator_event(vms, From='green', To='yellow'), id='binary-2'))
    assert post(live.url, body, headers=headers) == 200
    run = finished_run(live, 2)
    assert run['criticality'] == 'MEDIUM' and run['event']['id'] == 'binary-2'
    assert vcenter.power_state(vms[TAGGED_IN_CLUSTER]['moid']) == 'poweredOff'
    assert vcenter.power_state(vms[TAGGED_OUTSIDE]['moid']) == 'poweredOn'
