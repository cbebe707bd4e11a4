# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The spot lifecycle through ansible-playbook against the simulator: protect tag, solution-managed VMs,
the notice to the guest, one vCenter event per VM, and the restore that brings the VMs back.

Inventory: cluster DC0_C0 with four VMs, the standalone host DC0_H0 with four. Tagged preemptible:
DC0_C0_RP0_VM0, DC0_C0_RP0_VM1 (also do-not-preempt), DC0_C0_RP0_VM2 (managedBy set, as EAM
sets it for vCLS agents), DC0_H0_VM0.
"""

from __future__ import annotations

import datetime
import json
import time

import os

import pytest
import requests
from pyVmomi import vim

from tests.support.guest_notice_view import Watcher, guest_view
from tests.support.preempt_helpers import FIELD, alarm_event, annotation, playbook, power_on_all, power_states, state, tag_vms
from tests.support.machine import free_port
from tests.support.rulebook_cli import RULEBOOKS, Rulebook, wait_until
from tests.support.vcenter_events import last_event_key, user_events

VCSIM_OPTIONS = dict(vms=4, hosts=1, clusters=1)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_C0_RP0_VM2', 'DC0_H0_VM0']
PREEMPTIBLE = ['DC0_C0_RP0_VM0', 'DC0_H0_VM0']
PROTECTED = 'DC0_C0_RP0_VM1'
MANAGED = 'DC0_C0_RP0_VM2'
PERIOD = 4


@pytest.fixture(scope='module')
def moids(vcenter):
    names = tag_vms(vcenter, TAGGED)
    keep = vcenter.create_tag('do-not-preempt', vcenter.create_category('protection'))
    vcenter.attach_tag(keep, names[PROTECTED])
    spec = vim.vm.ConfigSpec(managedBy=vim.ext.ManagedByInfo(extensionKey='com.vmware.vim.eam', type='cluster-agent'))
    vcenter._wait(vcenter.vm(MANAGED).ReconfigVM_Task(spec))
    vcenter.add_custom_field(FIELD)
    return names


def role(entry, vcsim, tmp_path, **variables):
    variables.setdefault('preemption_state_file', str(tmp_path / 'state.json'))
    variables.setdefault('preemption_workflow_id', 'spot')
    return playbook(entry, vcsim.env(), variables)


def test_protected_and_managed_vms_stay_on_the_others_get_a_notice_an_event_and_come_back(vcsim, vcenter, moids, sink, tmp_path):
    power_on_all(vcenter)
    before = last_event_key(vcenter)   # the events of this test's runs only: the simulator keeps every other test's
    targets = [moids[name] for name in PREEMPTIBLE]
    watcher = Watcher(vcenter, targets)
    started = time.monotonic()
    watcher.start()
    try:
        run = role('preempt', vcsim, tmp_path, preemption_criticality='HIGH', preemption_scope='all', preemption_threshold=0,
                   preemption_protect_tag='protection:do-not-preempt', preemption_notice_period=PERIOD, preemption_reply_to=sink.url)
    finally:
        watcher.done.set()
        watcher.join()
    assert run.rc == 0, run
    assert time.monotonic() - started >= PERIOD
    states = power_states(vcenter)
    assert [name for name in TAGGED if states[name] == 'poweredOff'] == PREEMPTIBLE
    assert (states[PROTECTED], states[MANAGED]) == ('poweredOn', 'poweredOn')

    # The summary and the stats say what was left out, and why.
    summary = run.summary()
    assert ('never touched 2 tagged VMs (1 managed_by, 1 protected): %s (%s, protected), %s (%s, managed_by)'
            % (PROTECTED, moids[PROTECTED], MANAGED, moids[MANAGED])) in summary, summary
    assert 'notice of %d s given' % PERIOD in summary
    stats = run.stats['127.0.0.1:%d' % vcsim.port]
    assert sorted((vm['name'], vm['reason']) for vm in stats['excluded']) == [(PROTECTED, 'protected'), (MANAGED, 'managed_by')]

    # Each preempted guest could read the notice while it still ran, and never went off without it.
    record = state(tmp_path / 'state.json')['spot@127.0.0.1:%d' % vcsim.port]['run']
    notices = {guest_view(vcenter, moid)[1] for moid in targets}
    [text] = notices
    notice = json.loads(text)
    assert notice == {'preempted': True, 'criticality': 'HIGH', 'workflowID': 'spot', 'runID': record['run_id'],
                      'deadline': notice['deadline']}
    for moid in targets:
        assert (moid, 'poweredOn', text) in watcher.seen
        assert not [seen for seen in watcher.seen if seen[0] == moid and seen[1] == 'poweredOff' and seen[2] != text]
    deadline = datetime.datetime.strptime(notice['deadline'], '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
    assert deadline >= datetime.datetime.strptime(record['started'], '%Y-%m-%dT%H:%M:%S.%fZ').replace(
        tzinfo=datetime.timezone.utc, microsecond=0) + datetime.timedelta(seconds=PERIOD - 1)

    # The annotation and the CloudEvent record the notice; one vCenter event per VM names workflow, run, criticality and method.
    given = {'period': PERIOD, 'deadline': notice['deadline']}
    message = ('Preempted by vsphere.preemption: workflow spot, run %s, criticality HIGH, hard power-off after a %d s notice.'
               % (record['run_id'], PERIOD))
    for moid in targets:
        assert annotation(vcenter, moid)['notice'] == given
        assert user_events(vcenter, moid, before) == [message]
    assert user_events(vcenter, moids[PROTECTED], before) == [] and annotation(vcenter, moids[PROTECTED]) is None
    sink.wait_for(1)
    [preempted] = sink.events
    assert preempted['data']['notice'] == given

    # The restore brings back exactly those two, clears the notice and logs its own event, once.
    restore = role('restore', vcsim, tmp_path, preemption_threshold=0, preemption_reply_to=sink.url)
    assert restore.rc == 0, restore
    assert [name for name, power in power_states(vcenter).items() if power == 'poweredOff' and name in TAGGED] == []
    for moid in targets:
        assert guest_view(vcenter, moid) == ('poweredOn', '')
        value = annotation(vcenter, moid)
        assert (value['preempted'], value['notice']) == (False, given) and value['restored']
        assert sorted(user_events(vcenter, moid, before)) == sorted([message, 'Restored by vsphere.preemption: workflow spot, run %s; '
                                                                     'powered back on after its preemption.' % record['run_id']])
    sink.wait_for(2)
    assert [event['type'] for event in sink.events] == ['com.vmware.workflows.vsphere.VmPreemptedEvent.v0',
                                                        'com.vmware.workflows.vsphere.VmRestoredEvent.v0']


def test_a_protect_tag_that_does_not_exist_stops_the_run_before_anything_is_powered_off(vcsim, vcenter, moids, tmp_path):
    power_on_all(vcenter)
    run = role('preempt', vcsim, tmp_path, preemption_criticality='HIGH', preemption_scope='all', preemption_protect_tag='do-not-preemt')
    assert run.rc == 2, run
    [message] = [result['msg'] for result in run.results('Stop when the tagged VMs could not be listed')]
    assert "protect_tag 'do-not-preemt' must name an existing tag" in message and 'govc tags.create' in message
    assert 'poweredOff' not in power_states(vcenter).values()


@pytest.mark.parametrize('period, fragment', [
    (-1, 'preemption_notice_period -1 is not valid: an integer from 0 to 3600'),
    (3601, 'preemption_notice_period 3601 is not valid: an integer from 0 to 3600'),
    # Not a number at all: the role's argument spec refuses it first.
    ('soon', "argument 'preemption_notice_period' is of type str and we were unable to convert to int"),
])
def test_a_notice_period_out_of_range_is_refused_before_vcenter(vcsim, vcenter, moids, tmp_path, period, fragment):
    power_on_all(vcenter)
    run = role('preempt', vcsim, tmp_path, preemption_criticality='HIGH', preemption_notice_period=period)
    assert run.rc == 2, run
    [message] = run.failures()
    assert fragment in message
    assert 'poweredOff' not in power_states(vcenter).values()


def test_the_rulebook_restores_when_the_alarm_clears_with_restore_on_clear(vcsim, vcenter, moids, tmp_path):
    """The shipped rulebook and playbooks: red preempts the cluster's tagged VMs, red to yellow keeps them off, green restores."""
    power_on_all(vcenter)
    port, token = free_port(), 'restore-on-clear-token'
    state_file = tmp_path / 'state.json'
    variables = {'preemption_alarm_name': 'cluster-cpu-above-80', 'preemption_webhook_token': token, 'preemption_webhook_port': port,
                 'preemption_webhook_host': '127.0.0.1', 'preemption_state_file': str(state_file), 'preemption_threshold': 0,
                 'preemption_protect_tag': 'protection:do-not-preempt', 'preemption_restore_on_clear': True}
    session = requests.Session()
    session.trust_env = False  # no proxy for 127.0.0.1

    def send(old, new):
        response = session.post('http://127.0.0.1:%d/' % port, json=alarm_event(vcenter, 'DC0_C0', old=old, new=new),
                                headers={'Authorization': 'Bearer %s' % token}, timeout=30)
        assert response.status_code == 200

    def record():
        workflows = json.loads(state_file.read_text() or '{}')['workflows'] if state_file.exists() else {}
        return next(iter(workflows.values()), None)

    with Rulebook(os.path.join(RULEBOOKS, 'preemption.yml'), variables, tmp_path / 'rulebook', env=vcsim.env()) as process:
        process.wait_for_port(port)
        send('green', 'red')
        wait_until(lambda: (record() or {}).get('run', {}).get('status') == 'finished', 180, 'the preemption', process.log)
        assert power_states(vcenter)['DC0_C0_RP0_VM0'] == 'poweredOff'
        assert (power_states(vcenter)[PROTECTED], power_states(vcenter)[MANAGED]) == ('poweredOn', 'poweredOn')
        # Red to yellow: the pressure is still there. Nothing restored, and the record is kept for the restore.
        send('red', 'yellow')
        wait_until(lambda: "Show the workflow's record" in process.log(), 120, 'the status playbook', process.log)
        assert power_states(vcenter)['DC0_C0_RP0_VM0'] == 'poweredOff' and record()['runs'] == 1
        # Cleared to green: the restore brings the VM back.
        send('yellow', 'green')
        wait_until(lambda: (record() or {}).get('released'), 180, 'the restore', process.log)
    assert power_states(vcenter)['DC0_C0_RP0_VM0'] == 'poweredOn'
    assert annotation(vcenter, moids['DC0_C0_RP0_VM0'])['preempted'] is False
    assert [(vm['name'], vm['outcome']) for vm in record()['released']] == [('DC0_C0_RP0_VM0', 'restored')] and record()['ledger'] == []
