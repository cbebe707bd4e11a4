# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The controller rulebook vsphere.preemption.preemption_controller run by the real ansible-rulebook.

ansible-rulebook is started with ``--controller-url`` and ``--controller-token`` pointing at
tests/support/controller_stub.py, a small HTTP server that stands in for automation controller: it
answers the API calls run_job_template makes (config, job template lookup by name, launch, job status)
and records each launch. VEBA CloudEvents posted to the webhook must launch the job template of the
right playbook, in the right organization, with the event and the role variables as extra vars; a
scope's jobs one after the other (the lock is held until the job has finished), other scopes' at once.
"""

from __future__ import annotations

import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._run.request import ROLE_DEFAULTS

from tests.support.controller_stub import ControllerStub
from tests.support.machine import free_port
from tests.support.rulebook_cli import Rulebook, wait_until
from tests.functional.test_rulebook import ALARM, TOKEN, binary, post, veba_event

CONTROLLER_TOKEN = 'controller-token-for-the-test'
HOLD = 2.0  # seconds each job "runs" on the stand-in
TEMPLATES = {
    ('vsphere.preemption preempt', 'Ops'): 11,
    # Same name in another organization: never the one launched.
    ('vsphere.preemption preempt', 'Default'): 12,
    ('vsphere.preemption cancel', 'Ops'): 13,
    ('vsphere.preemption restore', 'Ops'): 14,
    ('vsphere.preemption status', 'Ops'): 15,
    ('Restore preempted VMs', 'Ops'): 16,
}
SET = {'preemption_tag': 'gold', 'preemption_threshold': 0, 'preemption_reply_to': 'http://127.0.0.1:9/sink'}


def role_variables(event):
    """The extra vars a run_playbook of the local rulebook hands over: the event, SET, and null for every other role
    variable (the role's plan reads null as its default, request.ROLE_DEFAULTS)."""
    expected = {'preemption_' + name: None for name in ROLE_DEFAULTS}
    expected.update(SET, preemption_event=event)
    return expected


def in_cluster(cluster, **data):
    return veba_event(ComputeResource={'Name': cluster, 'ComputeResource': {'Type': 'ClusterComputeResource', 'Value': cluster}}, **data)


def start(tmp_path, controller, **variables):
    port = free_port()
    variables = dict(SET, preemption_alarm_name=ALARM, preemption_webhook_token=TOKEN, preemption_webhook_port=port,
                     preemption_webhook_host='127.0.0.1', preemption_organization='Ops', **variables)
    process = Rulebook('vsphere.preemption.preemption_controller', variables, tmp_path,
                       env={'EDA_JOB_TEMPLATE_REFRESH_DELAY': '0.2'},
                       args=['--controller-url', controller.url, '--controller-token', CONTROLLER_TOKEN]).start()
    try:
        process.wait_for_port(port)
    except BaseException:
        process.stop()
        raise
    process.url = 'http://127.0.0.1:%d/' % port
    return process


def launches(controller, process, count):
    return wait_until(lambda: len(controller.launched()) >= count and controller.launched(), 120, '%d job launch(es)' % count, process.log)


@pytest.fixture
def controller():
    with ControllerStub(CONTROLLER_TOKEN, TEMPLATES, hold=HOLD) as stub:
        yield stub


def test_raised_launches_the_preempt_template_and_dropped_the_cancel_one(controller, tmp_path):
    red = in_cluster('domain-c7')
    other = dict(in_cluster('domain-c99'), id='other-cluster')
    green = dict(in_cluster('domain-c7', From='red', To='green'), id='green-binary')
    process = start(tmp_path, controller)
    try:
        assert post(process.url, red) == 200
        wait_until(controller.launched, 60, 'the first launch', process.log)
        assert post(process.url, other) == 200
        headers, body = binary(green)
        assert post(process.url, body, headers=headers) == 200
        found = launches(controller, process, 3)
    finally:
        process.stop()
    assert len(found) == 3, found
    by_event = {launch['body']['extra_vars']['preemption_event']['id']: launch for launch in found}
    preempt, elsewhere, cancel = by_event[red['id']], by_event['other-cluster'], by_event['green-binary']

    assert (preempt['template'], preempt['organization']) == ('vsphere.preemption preempt', 'Ops')
    assert (elsewhere['template'], elsewhere['organization']) == ('vsphere.preemption preempt', 'Ops')
    assert (cancel['template'], cancel['organization']) == ('vsphere.preemption cancel', 'Ops')
    for launch, event, rule in ((preempt, red, 'Alarm raised'), (elsewhere, other, 'Alarm raised'), (cancel, green, 'Alarm dropped')):
        extra_vars = dict(launch['body']['extra_vars'])
        # ansible-rulebook adds what it adds to run_playbook's extra vars: the rule and the whole event.
        eda = extra_vars.pop('ansible_eda')
        assert (eda['rule'], eda['event']['payload']) == (rule, event)
        # What the filter computed travels with the event: the rule routed on it.
        assert eda['event']['preemption']['lock'] == event['data']['ComputeResource']['ComputeResource']['Value']
        # The binary-mode drop arrives as the same structured CloudEvent; the rest is what run_playbook passes.
        assert extra_vars == role_variables(event)
        # The rulebook's hosts as the limit: ignored by a job template that does not prompt for one.
        assert sorted(launch['body']) == ['extra_vars', 'limit'] and launch['body']['limit'] == 'all'

    # One scope at a time: the drop's job is launched only once the raise's job has finished (the lock
    # is held through the job); another cluster's job does not wait for it.
    assert preempt['finished'] is not None and cancel['launched'] >= preempt['finished']
    assert elsewhere['launched'] < preempt['launched'] + HOLD
    assert controller.refused == 0  # every request carried the controller token


def test_with_restore_on_clear_a_clear_launches_the_restore_template(controller, tmp_path):
    cleared = dict(in_cluster('domain-c7', From='red', To='green'), id='cleared')
    eased = dict(in_cluster('domain-c8', From='red', To='yellow'), id='eased')
    process = start(tmp_path, controller, preemption_restore_on_clear=True, preemption_restore_job_template='Restore preempted VMs')
    try:
        assert post(process.url, cleared) == 200
        assert post(process.url, eased) == 200
        found = launches(controller, process, 2)
    finally:
        process.stop()
    by_event = {launch['body']['extra_vars']['preemption_event']['id']: launch for launch in found}
    assert (by_event['cleared']['template'], by_event['cleared']['organization']) == ('Restore preempted VMs', 'Ops')
    # Red to yellow: the pressure is still there; the status template, which keeps the record.
    assert (by_event['eased']['template'], by_event['eased']['organization']) == ('vsphere.preemption status', 'Ops')
    for launch, event in ((by_event['cleared'], cleared), (by_event['eased'], eased)):
        extra_vars = dict(launch['body']['extra_vars'])
        assert extra_vars.pop('ansible_eda')['rule'] == 'Alarm dropped'
        assert extra_vars == role_variables(event)
