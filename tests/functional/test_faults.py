# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The preempt playbook when vCenter or the CloudEvent sink misbehave.

Every run goes to vCenter through a fault-injection proxy (tests/support/fault_proxy.py)
that terminates TLS with the simulator's certificate, so it can refuse connections,
lose answers, answer 503/504 or a SOAP fault, delay calls or expire sessions.
Each scenario ends with the promises of preemption_invariants.check: nothing
powered off without its annotation, one CloudEvent per run, no VM powered off twice.
"""

from __future__ import annotations

import time

import pytest

from tests.support.event_receiver import EventReceiver
from tests.support.fault_proxy import FaultProxy, rest, soap, soap_fault
from tests.support.preempt_helpers import off, playbook, state
from tests.support import preemption_invariants

VCSIM_OPTIONS = dict(vms=2, hosts=1, clusters=1)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_H0_VM0']


@pytest.fixture
def since(since, front):
    """Every VM on, no annotation, no fault rule: the time the scenario starts."""
    front.clear()
    return since


def preempt(front, tmp_path, sink_url, **variables):
    variables = dict(dict(preemption_criticality='HIGH', preemption_scope='all', preemption_retry_delay=0,
                          preemption_state_file=str(tmp_path / 'state.json'), preemption_reply_to=sink_url), **variables)
    return playbook('preempt', front.env(), variables)


def failed_attempts(run):
    """How many step attempts failed in a run that succeeded in the end: Ansible retried each (retries/until)."""
    assert run.rc == 0, run
    return sum(max(0, (attempt.get('attempts') or 1) - 1)
               for play in run.output['plays'] for task in play['tasks'] for result in task['hosts'].values()
               for attempt in result.get('results') or [result])


def test_vcenter_down_through_every_retry_fails_clearly_and_down_a_few_seconds_is_ridden_out(vcenter, moids, front, since, sink, tmp_path):
    # The first power-off call takes vCenter down (the call is lost) until the test brings it back.
    front.add(soap('PowerOffVM_Task'), outage=3600)
    failed = preempt(front, tmp_path, sink.url, preemption_parallel=1, preemption_retries=1)
    assert failed.rc == 2, failed
    assert failed.failures()[-1].startswith('Could not power off 3 of 3 VMs after 2 attempts: ')
    assert 'Cannot connect to vCenter 127.0.0.1:%d: connection refused.' % front.port in failed.failures()[-1]
    assert off(vcenter) == []
    [record] = state(tmp_path / 'state.json').values()
    # What it did is on record: the selection, and every VM as failed.
    assert sorted(vm['moid'] for vm in record['run']['results']['selected']) == sorted(moids.values())
    assert sorted(vm['moid'] for vm in record['run']['results']['failed']) == sorted(moids.values())
    assert sink.requests == []

    # vCenter back; the next run loses it again for 2 s at its first power-off, and rides that out with its
    # retries, 1 s then 2 s apart.
    front.clear()
    front.add(soap('PowerOffVM_Task'), outage=2)
    started = time.monotonic()
    run = preempt(front, tmp_path, sink.url, preemption_parallel=1, preemption_threshold=0, preemption_retry_delay=1)
    assert run.rc == 0, run
    assert time.monotonic() - started >= 2
    assert failed_attempts(run) >= 1
    assert off(vcenter) == sorted(TAGGED)
    assert 'powered off 3 VMs' in run.summary()
    by_run = preemption_invariants.check(vcenter, moids, sink, since)
    [record] = state(tmp_path / 'state.json').values()
    assert list(by_run) == [record['run']['run_id']]


def test_power_offs_whose_answers_are_lost_are_still_annotated_and_announced(vcenter, moids, front, since, sink, tmp_path):
    # vCenter powers the first two VMs off, but the answers never arrive: the connection drops, or the reverse
    # proxy in front of vpxd gives up waiting (504). The retry then finds those VMs already off.
    front.add(soap('PowerOffVM_Task'), forward_then='drop')
    front.add(soap('PowerOffVM_Task'), forward_then=504)
    run = preempt(front, tmp_path, sink.url, preemption_parallel=1)
    assert run.rc == 0, run
    assert failed_attempts(run) == 1
    assert off(vcenter) == sorted(TAGGED)
    by_run = preemption_invariants.check(vcenter, moids, sink, since)
    assert list(by_run.values()) == [sorted(moids.values())]
    assert 'powered off 3 VMs' in run.summary()


def test_rest_tagging_answering_503_fails_clearly_then_is_retried_through(vcenter, moids, front, since, sink, tmp_path):
    front.add(rest(), respond=503, times=None, body='{"type":"com.vmware.vapi.std.errors.service_unavailable"}',
              content_type='application/json')
    failed = preempt(front, tmp_path, sink.url, preemption_retries=1)
    assert failed.rc == 2, failed
    assert failed.failures()[-1] == (
        "Could not list the VMs tagged 'preemptible' after 2 attempts: vCenter 127.0.0.1:%d answered POST "
        "/rest/com/vmware/cis/session with HTTP 503 (server error): com.vmware.vapi.std.errors.service_unavailable." % front.port)
    assert off(vcenter) == []
    assert not [entry for entry in front.log if entry[2] == 'PowerOffVM_Task']

    front.clear()
    front.add(rest('/com/vmware/cis/tagging'), respond=503, times=2)
    run = preempt(front, tmp_path, sink.url, preemption_threshold=0)
    assert run.rc == 0, run
    assert failed_attempts(run) == 2
    assert off(vcenter) == sorted(TAGGED)
    # The failed run had recorded nothing to finish; this one says so and does the work.
    [record] = state(tmp_path / 'state.json').values()
    assert record['unfinished'] == [] and record['run']['status'] == 'finished'
    preemption_invariants.check(vcenter, moids, sink, since)


def test_expired_sessions_are_renewed(vcenter, moids, front, since, sink, tmp_path):
    # REST: the simulator itself answers 401 to the expired session id; the module logs in again at once.
    front.add(rest('/com/vmware/cis/tagging'), expire_session=True)
    # SOAP: vCenter answers NotAuthenticated to a call on an expired session; the power-off step is retried.
    front.add(soap('PowerOffVM_Task'), respond=500, body=soap_fault('NotAuthenticated', 'The session is not authenticated.'),
              content_type='text/xml; charset=utf-8')
    run = preempt(front, tmp_path, sink.url)
    assert run.rc == 0, run
    assert [entry[3] for entry in front.log if entry[1].startswith('/rest/com/vmware/cis/tagging')][0] == 'expire_session'
    assert len([entry for entry in front.log if entry[1] == '/rest/com/vmware/cis/session' and entry[0] == 'POST']) == 2
    assert failed_attempts(run) == 1
    assert off(vcenter) == sorted(TAGGED)
    preemption_invariants.check(vcenter, moids, sink, since)


def test_a_property_collector_answer_made_of_faults_is_not_an_empty_selection(vcenter, moids, front, since, sink, tmp_path):
    # On an expired session the simulator answers RetrievePropertiesEx with every property in missingSet
    # (fault NotAuthenticated), as vCenter does for objects the user may not read: the VMs are there,
    # their properties are not. That is a failed read to retry, not "no tagged VM is powered on".
    front.add(soap('RetrievePropertiesEx'), expire_session=True)
    run = preempt(front, tmp_path, sink.url)
    assert run.rc == 0, run
    assert off(vcenter) == sorted(TAGGED), run.summary()
    assert failed_attempts(run) == 1
    preemption_invariants.check(vcenter, moids, sink, since)


def test_a_soap_call_that_never_answers_times_out(vcsim, moids, front, since, monkeypatch):
    from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter import soap as vcenter_soap
    from ansible_collections.vsphere.preemption.plugins.module_utils._vm import inventory as vm_inventory
    from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError

    monkeypatch.setenv('REQUESTS_CA_BUNDLE', vcsim.ca_file)
    monkeypatch.setattr(vcenter_soap, 'SOAP_TIMEOUT', 1)
    service_instance = vcenter_soap.connect('127.0.0.1', vcsim.username, vcsim.password, port=front.port)
    try:
        front.add(soap('RetrievePropertiesEx'), hold=5)
        started = time.monotonic()
        with pytest.raises(VCenterError, match='timed out'):
            vm_inventory.vm_properties(service_instance.RetrieveContent(), list(moids.values()), ['runtime.powerState'])
        assert time.monotonic() - started < 4
    finally:
        vcenter_soap.disconnect(service_instance)


def test_a_cloudevent_sink_down_for_a_run_gets_the_event_once_from_the_next(vcenter, moids, front, since, tmp_path):
    with EventReceiver(responses=(503, 503)) as sink:
        with FaultProxy(upstream_url=sink.url) as sink_front:
            sink_front.outage()
            failed = preempt(front, tmp_path, sink_front.url, preemption_retries=1)
            assert failed.rc == 2, failed
            [record] = state(tmp_path / 'state.json').values()
            first = record['run']
            event_id = 'manual-%s' % first['run_id']
            assert failed.failures()[-1].startswith('Could not send CloudEvent %s to %s after 2 attempts: ' % (event_id, sink_front.url))
            assert failed.failures()[-1].endswith('The next run of this workflow sends it.')
            # It powered off and annotated before giving up on the sink, and recorded both.
            assert off(vcenter) == sorted(TAGGED)
            assert first['status'] == 'running' and 'event_sent' not in first['results']
            assert sorted(vm['moid'] for vm in first['results']['powered_off']) == sorted(moids.values())
            preemption_invariants.check(vcenter, moids, None, since)

            # The sink is back, answers 503 twice more, then takes the event: the next run delivers it once.
            sink_front.restore()
            run = preempt(front, tmp_path, sink_front.url, preemption_threshold=0)
            assert run.rc == 0, run
            assert [request.status for request in sink.requests] == [503, 503, 204]
            assert {request.headers['ce-id'] for request in sink.requests} == {event_id}
            by_run = preemption_invariants.check(vcenter, moids, sink, since)
            assert list(by_run) == [first['run_id']]
            [record] = state(tmp_path / 'state.json').values()
            assert record['unfinished'] == [] and record['run']['results']['powered_off'] == []
