# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The vsphere.preemption.alarms event source against the simulator: alarms injected with PostEvent.

In-process (the source's ``main`` on an asyncio queue), across a vCenter restart, and as the
source of extensions/eda/rulebooks/preemption_vcenter.yml run by the real ansible-rulebook.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os

import pytest
from pyVmomi import vim

from ansible_collections.vsphere.preemption.extensions.eda.plugins.event_source import alarms
from tests.support.machine import free_port
from tests.support.rulebook_cli import RULEBOOKS, Rulebook, wait_until
from tests.support.vcsim.harness import Simulator, VCenterClient

ALARM = 'cluster-cpu-above-80'
TAGGED_IN_CLUSTER = 'DC0_C0_RP0_VM0'
TAGGED_OUTSIDE = 'DC0_H0_VM0'
ANNOTATION = 'com.vmware.workflows.vsphere.preemption'
TIMEOUT = 30


def post_alarm(client, to, frm='green', name=ALARM, vm=TAGGED_IN_CLUSTER, names=None):
    """Inject the AlarmStatusChangedEvent vCenter logs when alarm ``name`` on the cluster of ``vm`` changes colour.

    ``names`` may give the ``cluster`` and ``host`` names the event carries, whatever the objects are called.
    """
    host = client.get(client.vm(vm), 'runtime.host')
    cluster = client.get(host, 'parent')
    datacenter = client.content.rootFolder.childEntity[0]
    cluster_name = (names or {}).get('cluster') or client.get(cluster, 'name')
    host_name = (names or {}).get('host') or client.get(host, 'name')
    event = vim.event.AlarmStatusChangedEvent(
        key=0, chainId=0, createdTime=client.si.CurrentTime(), userName='',
        datacenter=vim.event.DatacenterEventArgument(name=client.get(datacenter, 'name'), datacenter=datacenter),
        computeResource=vim.event.ComputeResourceEventArgument(name=cluster_name, computeResource=cluster),
        host=vim.event.HostEventArgument(name=host_name, host=host),
        alarm=vim.event.AlarmEventArgument(name=name, alarm=vim.alarm.Alarm('alarm-282')),
        source=vim.event.ManagedEntityEventArgument(name=cluster_name, entity=cluster),
        entity=vim.event.ManagedEntityEventArgument(name=host_name, entity=host),
        fullFormattedMessage='Alarm %r on %s changed from %s to %s' % (name, host_name, frm.title(), to.title()),
        to=to, **{'from': frm})
    client.content.eventManager.PostEvent(eventToPost=event)
    return {'cluster': cluster._moId, 'host': host._moId, 'cluster_name': cluster_name, 'host_name': host_name}


async def next_event(queue, timeout=TIMEOUT, whole=False):
    """The next event's CloudEvent (``whole``: the event, with what it means in ``preemption``)."""
    event = await asyncio.wait_for(queue.get(), timeout)
    return event if whole else event['payload']


@contextlib.asynccontextmanager
async def running_source(args):
    """alarms.main feeding a queue, cancelled at the end."""
    queue = asyncio.Queue()
    task = asyncio.create_task(alarms.main(queue, args))
    try:
        yield queue, task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def started(caplog, task, count=1):
    """Wait until the source logged its count-th 'Watching vCenter' (it has a collector from then on)."""
    async def watching():
        while caplog.text.count('Watching vCenter') < count:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
    await asyncio.wait_for(watching(), TIMEOUT)


def test_source_emits_new_alarm_changes_as_veba_cloudevents(vcsim, vcenter, monkeypatch, caplog):
    for name, value in vcsim.env().items():
        monkeypatch.setenv(name, value)  # VMWARE_* and the simulator's CA, as ansible-rulebook would have them

    async def scenario():
        post_alarm(vcenter, 'yellow')  # a watched alarm, but from before the start: not replayed
        async with running_source({'alarm_names': [ALARM, 'other'], 'poll_interval': 1}) as (queue, task):
            await started(caplog, task)
            where = await asyncio.to_thread(post_alarm, vcenter, 'red')
            await asyncio.to_thread(post_alarm, vcenter, 'red', name='not-watched')
            await asyncio.to_thread(post_alarm, vcenter, 'green', frm='red', name='other')
            first, second = await next_event(queue, whole=True), await next_event(queue, whole=True)
            # A last watched change: the next event must be it, so nothing else (a repeat, an unwatched alarm,
            # one from before the start) came in between.
            await asyncio.to_thread(post_alarm, vcenter, 'yellow', frm='red')
            return first, second, await next_event(queue, whole=True), where

    with caplog.at_level(logging.INFO, logger='vsphere.preemption.alarms'):
        first, second, sentinel, where = asyncio.run(scenario())
    # What each change means, computed by the source (alarm.alarm_change) for the rulebooks to route on.
    cluster = where['cluster']
    assert [(e['preemption']['alarm'], e['preemption']['change'], e['preemption']['criticality'], e['preemption']['lock'],
             e['preemption']['restore_on_clear']) for e in (first, second, sentinel)] == [
        (ALARM, 'raised', 'HIGH', cluster, None),
        ('other', 'cleared', None, cluster, {'playbook': 'restore', 'lock': 'restore:' + cluster}),
        (ALARM, 'eased', None, cluster, {'playbook': 'status', 'lock': cluster})]
    assert all(e['preemption']['scope'] == cluster and set(e) == {'payload', 'preemption'} for e in (first, second, sentinel))
    first, second, sentinel = first['payload'], second['payload'], sentinel['payload']
    assert (sentinel['data']['Alarm']['Name'], sentinel['data']['From'], sentinel['data']['To']) == (ALARM, 'red', 'yellow'), (
        'only the two watched alarm changes, once each, and nothing from before the start, then the last one')
    assert (first['data']['Alarm']['Name'], first['data']['From'], first['data']['To']) == (ALARM, 'green', 'red')
    assert (second['data']['Alarm']['Name'], second['data']['From'], second['data']['To']) == ('other', 'red', 'green')
    assert first['source'] == 'https://%s:%s/sdk' % (vcsim.host, vcsim.port)
    assert (first['specversion'], first['type'], first['subject'], first['datacontenttype']) == (
        '1.0', 'com.vmware.event.router/event', 'AlarmStatusChangedEvent', 'application/json')
    assert first['data']['ComputeResource'] == {'Name': where['cluster_name'], 'ComputeResource': {'Type': 'ClusterComputeResource', 'Value': where['cluster']}}
    assert first['data']['Host'] == {'Name': where['host_name'], 'Host': {'Type': 'HostSystem', 'Value': where['host']}}
    assert first['data']['Entity'] == {'Name': where['host_name'], 'Entity': {'Type': 'HostSystem', 'Value': where['host']}}
    assert first['data']['Key'] < second['data']['Key'] and first['time'] == first['data']['CreatedTime']
    with open(os.path.join(os.path.dirname(os.path.dirname(__file__)), 'fixtures', 'veba-alarm-red.json'), encoding='utf-8') as handle:
        veba = json.load(handle)
    assert set(first) == set(veba) and set(first['data']) == set(veba['data'])


def test_source_reconnects_when_vcenter_restarts(tmp_path, vcsim_binary, caplog):
    port = free_port()
    args = {'hostname': '127.0.0.1', 'port': port, 'username': 'user', 'password': 'pass',
            # Each simulator start makes a new CA; trust is not what this test is about.
            'validate_certs': False, 'poll_interval': 1, 'max_reconnect_delay': 2}

    async def scenario():
        sim = await asyncio.to_thread(Simulator(port=port, binary=vcsim_binary, workdir=str(tmp_path / 'one')).start)
        client = await asyncio.to_thread(VCenterClient, sim)
        try:
            async with running_source(args) as (queue, task):
                await started(caplog, task)
                await asyncio.to_thread(post_alarm, client, 'red')
                before = await next_event(queue)
                await asyncio.to_thread(client.close)
                await asyncio.to_thread(sim.stop)
                sim = await asyncio.to_thread(Simulator(port=port, binary=vcsim_binary, workdir=str(tmp_path / 'two')).start)
                client = await asyncio.to_thread(VCenterClient, sim)
                await started(caplog, task, count=2)
                await asyncio.to_thread(post_alarm, client, 'green', frm='red')
                return before, await next_event(queue)
        finally:
            await asyncio.to_thread(client.close)
            await asyncio.to_thread(sim.stop)

    with caplog.at_level(logging.INFO, logger='vsphere.preemption.alarms'):
        before, after = asyncio.run(scenario())
    assert (before['data']['To'], after['data']['To']) == ('red', 'green')
    assert 'Lost vCenter 127.0.0.1:%d' % port in caplog.text


def test_source_stops_on_wrong_credentials(vcsim, monkeypatch):
    for name, value in vcsim.env().items():
        monkeypatch.setenv(name, value)
    with pytest.raises(alarms.VCenterError, match='refused the login of user .*wrong user name or password'):
        asyncio.run(asyncio.wait_for(alarms.main(asyncio.Queue(), {'password': 'wrong'}), TIMEOUT))


def test_rulebook_with_the_alarms_source_preempts(vcsim, vcenter, tmp_path):
    tag = vcenter.create_tag('preemptible', vcenter.create_category('preemption'))
    vms = {vm['name']: vm for vm in vcenter.vms()}
    for name in (TAGGED_IN_CLUSTER, TAGGED_OUTSIDE):
        vcenter.attach_tag(tag, vms[name]['moid'])
        vcenter.power_on(vms[name]['moid'])
    vcenter.add_custom_field(ANNOTATION)
    state_file = tmp_path / 'state.json'

    def record():
        workflows = json.loads(state_file.read_text() or '{}').get('workflows', {}) if state_file.exists() else {}
        return next((r for key, r in workflows.items() if key.split('@')[0].split('/')[0] == ALARM), None)

    variables = {'preemption_alarm_name': ALARM, 'preemption_state_file': str(state_file)}
    with Rulebook(os.path.join(RULEBOOKS, 'preemption_vcenter.yml'), variables, tmp_path, env=vcsim.env()) as process:
        process.wait_for_log('Watching vCenter')
        post_alarm(vcenter, 'red', name='another-alarm')
        post_alarm(vcenter, 'red')
        run = wait_until(lambda: record() and record()['run']['status'] == 'finished' and record()['run'], 120,
                         'the preemption run to finish', process.log)
        assert run['criticality'] == 'HIGH' and run['trigger'] == 'eda'
        assert run['event']['data']['Alarm']['Name'] == ALARM and run['event']['source'] == 'https://%s:%s/sdk' % (vcsim.host, vcsim.port)
        assert vcenter.power_state(vms[TAGGED_IN_CLUSTER]['moid']) == 'poweredOff'
        assert vcenter.power_state(vms[TAGGED_OUTSIDE]['moid']) == 'poweredOn'
        assert json.loads(vcenter.custom_value(vms[TAGGED_IN_CLUSTER]['moid'], ANNOTATION))['workflowID'] == ALARM

        post_alarm(vcenter, 'green', frm='red')
        # The cancel forgets the run; the ledger stays for the restore.
        kept = wait_until(lambda: record() and 'run' not in record() and record().get('cancelled') and record(), 120,
                          'the cancel playbook to forget the run', process.log)
        assert [entry['moid'] for entry in kept['ledger']] == [vms[TAGGED_IN_CLUSTER]['moid']]
        assert len(json.loads(state_file.read_text())['workflows']) == 1  # the other alarm started nothing
