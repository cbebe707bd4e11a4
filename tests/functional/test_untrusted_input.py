# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Text from outside the operator's configuration is data, never a template.

ansible-core 2.19 trusts extra vars as templates, and ansible-rulebook's
run_playbook passes the trigger event as extra vars. Every string field of the
event, the names of vCenter objects and what the state keeps carry a Jinja
payload that would create a marker file if it were ever rendered. Through
``ansible-playbook -e @file``, the webhook rulebook and the rulebook with the
``alarms`` source: no marker appears, the run preempts as for a clean event,
and the annotation and the CloudEvent keep the text verbatim. A control test
shows that the payload does create its marker through an unsafe template, so
these tests can fail.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.support.ansible_cli import run_playbook
from tests.support.preempt_helpers import FIELD, alarm_event, annotation, playbook, power_states, state
from tests.support.machine import free_port
from tests.support.rulebook_cli import RULEBOOKS, Rulebook, wait_until
from tests.functional.test_alarms_source import post_alarm
from tests.functional.test_rulebook import TOKEN, post

VCSIM_OPTIONS = dict(vms=2, hosts=1, clusters=1)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_H0_VM0']
# The string fields of VEBA's AlarmStatusChangedEvent that anybody with a vCenter account, a webhook token or
# VEBA's ear can put text into; (path in the event, marker name).
FIELDS = [('id',), ('source',), ('subject',), ('data', 'FullFormattedMessage'), ('data', 'UserName'),
          ('data', 'Alarm', 'Name'), ('data', 'ComputeResource', 'Name'), ('data', 'Host', 'Name'),
          ('data', 'Datacenter', 'Name'), ('data', 'Source', 'Name'), ('data', 'Entity', 'Name')]


def payload(directory, name):
    marker = os.path.join(str(directory), 'marker-%s' % name)
    return '{{ lookup("pipe", "touch %s") }}' % marker


def markers(directory):
    return sorted(name for name in os.listdir(str(directory)) if name.startswith('marker-'))


def set_field(event, path, value):
    target = event
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def hostile_event(vcenter, directory, routed=False):
    """A red alarm on cluster DC0_C0 with a payload in every string field.

    ``routed``: but for the two a rulebook routes on, the alarm name (the operator's) and the subject
    (``AlarmStatusChangedEvent``), without which the event is not an alarm to it.
    """
    event = alarm_event(vcenter, 'DC0_C0')
    for path in FIELDS:
        if not routed or path not in (('data', 'Alarm', 'Name'), ('subject',)):
            set_field(event, path, payload(directory, '-'.join(path)))
    return event


@pytest.fixture
def fresh(vcenter, moids):
    for moid in moids.values():
        if vcenter.power_state(moid) != 'poweredOn':
            vcenter.power_on(moid)
        vcenter.set_custom_value(moid, FIELD, '')
    return moids


def off(vcenter):
    return sorted(name for name, power in power_states(vcenter).items() if power == 'poweredOff')


def test_the_payload_runs_through_an_unsafe_template(vcenter, tmp_path):
    # The control: rendered as ansible-core renders extra vars, the payload does create its marker.
    event = hostile_event(vcenter, tmp_path)
    (tmp_path / 'event.json').write_text(json.dumps({'preemption_event': event}))
    (tmp_path / 'unsafe.yml').write_text(
        '- hosts: localhost\n  gather_facts: false\n  tasks:\n'
        '    - ansible.builtin.debug:\n        msg: "{{ preemption_event.data.Host }}"\n')
    proc = run_playbook(str(tmp_path / 'unsafe.yml'), args=['-e', '@%s' % (tmp_path / 'event.json')], env={})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert markers(tmp_path) == ['marker-data-Host-Name']


@pytest.mark.parametrize('as_text', [False, True], ids=['dict', 'json-text'])
def test_an_event_from_a_file_is_data(vcsim, vcenter, fresh, sink, tmp_path, as_text):
    event = hostile_event(vcenter, tmp_path)
    given = json.dumps(event) if as_text else event
    (tmp_path / 'event.json').write_text(json.dumps({'preemption_event': given}))
    variables = {'preemption_state_file': str(tmp_path / 'state.json'), 'preemption_reply_to': sink.url}

    run = playbook('preempt', vcsim.env(), variables, args=['-e', '@%s' % (tmp_path / 'event.json')])

    assert run.rc == 0, run
    assert markers(tmp_path) == []
    # As for a clean event: the tagged VMs of the alarm's cluster, HIGH, under the alarm's (hostile) name.
    assert off(vcenter) == ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1']
    record = annotation(vcenter, fresh['DC0_C0_RP0_VM0'])
    assert record['event'] == event and record['workflowID'] == event['data']['Alarm']['Name']
    [received] = sink.events
    assert received['data']['event'] == event
    assert received['id'] == '%s-%s' % (event['data']['Alarm']['Name'], event['id'])
    assert event['data']['Alarm']['Name'] in run.summary()
    [key] = state(tmp_path / 'state.json')
    assert key == '%s/%s@127.0.0.1:%d' % (event['data']['Alarm']['Name'], event['data']['ComputeResource']['ComputeResource']['Value'], vcsim.port)

    # The state now holds the hostile text: the status playbook and a resumed, skipped run read it as data.
    status = playbook('status', vcsim.env(), variables, args=['-e', '@%s' % (tmp_path / 'event.json')])
    assert status.rc == 0, status
    again = playbook('preempt', vcsim.env(), variables, args=['-e', '@%s' % (tmp_path / 'event.json')])
    assert again.rc == 0 and 'Duplicate event' in again.summary(), again
    assert markers(tmp_path) == []


def test_hostile_vm_names_are_data(vcsim, vcenter, fresh, sink, tmp_path):
    vm = vcenter.vm('DC0_H0_VM0')
    name = payload(tmp_path, 'vm-name')
    vcenter._wait(vm.Rename_Task(newName=name))
    try:
        run = playbook('preempt', vcsim.env(), {'preemption_criticality': 'HIGH', 'preemption_scope': 'all',
                                                'preemption_state_file': str(tmp_path / 'state.json'), 'preemption_reply_to': sink.url})
        assert run.rc == 0, run
        assert markers(tmp_path) == []
        assert vcenter.power_state(fresh['DC0_H0_VM0']) == 'poweredOff'
        assert '%s (%s, hard)' % (name, fresh['DC0_H0_VM0']) in run.summary()
    finally:
        vcenter._wait(vcenter.vm(fresh['DC0_H0_VM0']).Rename_Task(newName='DC0_H0_VM0'))


def test_a_hostile_event_through_the_webhook_rulebook_is_data(vcsim, vcenter, fresh, tmp_path):
    # The rulebook routes on the subject and on the alarm name the operator configured (ansible-rulebook
    # renders its own variables, so that name is the operator's text); everything else is the sender's.
    event = hostile_event(vcenter, tmp_path, routed=True)
    port = free_port()
    state_file = tmp_path / 'state.json'
    variables = {'preemption_alarm_name': event['data']['Alarm']['Name'], 'preemption_webhook_token': TOKEN,
                 'preemption_webhook_port': port, 'preemption_webhook_host': '127.0.0.1', 'preemption_state_file': str(state_file)}
    with Rulebook(os.path.join(RULEBOOKS, 'preemption.yml'), variables, tmp_path / 'rulebook', env=vcsim.env()) as process:
        process.wait_for_port(port)
        assert post('http://127.0.0.1:%d/' % port, event) == 200
        wait_until(lambda: state(state_file) and next(iter(state(state_file).values()))['run']['status'] == 'finished',
                   180, 'the run to finish', process.log)
    assert markers(tmp_path) == []
    assert off(vcenter) == ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1']
    assert annotation(vcenter, fresh['DC0_C0_RP0_VM0'])['event'] == event


def test_a_hostile_alarm_through_the_alarms_source_is_data(vcsim, vcenter, fresh, tmp_path):
    # Whoever may name a host or a cluster in vCenter writes these names into AlarmStatusChangedEvent; the
    # alarm's name is the one the operator routes on.
    alarm_name = 'cluster-cpu-above-80'
    state_file = tmp_path / 'state.json'
    variables = {'preemption_alarm_name': alarm_name, 'preemption_state_file': str(state_file)}
    with Rulebook(os.path.join(RULEBOOKS, 'preemption_vcenter.yml'), variables, tmp_path / 'rulebook', env=vcsim.env()) as process:
        process.wait_for_log('Watching vCenter')
        names = {'cluster': payload(tmp_path, 'cluster-name'), 'host': payload(tmp_path, 'host-name')}
        post_alarm(vcenter, 'red', name=alarm_name, names=names)
        run = wait_until(lambda: state(state_file) and next(iter(state(state_file).values()))['run']['status'] == 'finished'
                         and next(iter(state(state_file).values()))['run'], 180, 'the run to finish', process.log)
    assert markers(tmp_path) == []
    assert run['event']['data']['ComputeResource']['Name'] == payload(tmp_path, 'cluster-name')
    assert run['event']['data']['Host']['Name'] == payload(tmp_path, 'host-name')
    assert payload(tmp_path, 'host-name') in run['event']['data']['FullFormattedMessage']
    assert off(vcenter) == ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1']
    assert annotation(vcenter, fresh['DC0_C0_RP0_VM0'])['event'] == run['event']
