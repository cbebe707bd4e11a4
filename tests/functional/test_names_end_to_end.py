# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Real-world and hostile names end to end, through ansible-playbook against one simulator and a real sink.

Every alarm of NAMES is raised on a cluster (one on the standalone host DC0_H0, an alarm with no cluster)
whose one VM is tagged and carries a hostile name; the clusters are renamed too. The runs go in batches:
one inventory host per alarm (all on the same vCenter), so a batch is one ansible-playbook run.

1. preempt: the sink (a receiver on the CloudEvents Python SDK 2.x) refuses each event with a 400, which no
   retry cures: the VMs are off and annotated, the run fails saying what to do, and stays unfinished;
2. the alarms raised again, in structured mode: each earlier run is finished and its event sent with the
   same id the receiver read from the binary headers of the first;
3. status, cancel and restore of the workflow id ``cpu`` touch nothing of the alarm ``cpu/high@vc ...``;
4. restore of each alarm's workflow by its name: every VM back on, its annotation marked restored.
"""

from __future__ import annotations

import copy
import json
import uuid

import yaml

from tests.support.preempt_helpers import FIELD, FIXTURE, annotation, off, playbook, power_on_all, state

# Five clusters and the standalone host DC0_H0, one VM each.
VCSIM_OPTIONS = dict(vms=1, hosts=1, clusters=5, standalone_hosts=1)
NAMES = ['Cluster CPU > 80%', 'CPU-Überlast', 'Host CPU usage\nsecond line', 'nul\x00 tab\t "double" \'single\'',
         'cpu/high@vc 🔥 עומס מעבד', 'x' * 80000]
WHERE = ['DC0_C0', 'DC0_C1', 'DC0_H0', 'DC0_C2', 'DC0_C3', 'DC0_C4']
VM_NAME = 'vm %d "q" > 80%% / über 🔥 עומס\tend'
CLUSTER_NAME = 'cluster %d %% "q" / ü 🔥'


def workflow_name(alarm):
    """The workflow id of an alarm: U+0000, which neither vCenter nor PostgreSQL stores, is U+FFFD."""
    return alarm.replace('\x00', '\ufffd')


def event_for(vm, alarm):
    """A VEBA AlarmStatusChangedEvent for ``alarm`` on the cluster of ``vm``, or on its host when it has none."""
    with open(FIXTURE) as handle:
        event = json.load(handle)
    data = event['data']
    if vm['cluster']:
        data['ComputeResource'] = {'Name': vm['cluster_name'], 'ComputeResource': {'Type': 'ClusterComputeResource', 'Value': vm['cluster']}}
    else:
        data['ComputeResource'] = None
    data['Host'] = {'Name': vm['host_name'], 'Host': {'Type': 'HostSystem', 'Value': vm['host']}}
    data['Alarm']['Name'] = alarm
    data['FullFormattedMessage'] = "Alarm '%s' changed from Green to Red" % alarm
    event['id'] = str(uuid.uuid4())
    return event


def inventory(tmp_path, vms, **per_host):
    """One inventory host per alarm, with ``per_host`` variables: {name: function(index, alarm, vm)}."""
    hosts = {'n%d' % index: {key: make(index, alarm, vms[index]) for key, make in per_host.items()} for index, alarm in enumerate(NAMES)}
    path = tmp_path / ('inventory-%s.yml' % uuid.uuid4().hex[:8])
    path.write_text(yaml.safe_dump({'vcenters': {'hosts': hosts}}, allow_unicode=True, width=1 << 20))
    return str(path)


def names_of(vcenter):
    return {vm['moid']: vm for vm in vcenter.vms()}


def rename(vcenter, obj, name):
    vcenter._wait(obj.Rename_Task(newName=name))


def test_any_alarm_and_vm_name_preempts_sends_one_event_id_in_both_modes_and_restores(vcsim, vcenter, sink, tmp_path):
    from pyVmomi import vim

    # Hostile VM and cluster names, the tag on every VM.
    power_on_all(vcenter)
    originals = {vm['name']: vm for vm in vcenter.vms()}
    tag_id = vcenter.create_tag('preemptible', vcenter.create_category('preemption'))
    vcenter.add_custom_field(FIELD)
    vms = []
    for index, where in enumerate(WHERE):
        vm = originals['%s_RP0_VM0' % where] if where.startswith('DC0_C') else originals['%s_VM0' % where]
        vcenter.power_off(vm['moid'])
        rename(vcenter, vcenter.vm(vm['moid']), VM_NAME % index)
        vcenter.power_on(vm['moid'])
        if vm['cluster']:
            rename(vcenter, vim.ClusterComputeResource(vm['cluster'], vcenter.si._stub), CLUSTER_NAME % index)
        vcenter.attach_tag(tag_id, vm['moid'])
    current = names_of(vcenter)
    vms = [current[originals[('%s_RP0_VM0' if where.startswith('DC0_C') else '%s_VM0') % where]['moid']] for where in WHERE]
    assert [vm['name'] for vm in vms] == [VM_NAME % index for index in range(len(NAMES))]
    assert [vm['cluster_name'] for vm in vms if vm['cluster']] == [CLUSTER_NAME % index for index in range(len(NAMES)) if vms[index]['cluster']]
    statefile = str(tmp_path / 'state.json')
    common = {'preemption_state_file': statefile, 'preemption_reply_to': sink.url, 'preemption_retries': 0, 'preemption_retry_delay': 0}
    events = [event_for(vm, alarm) for vm, alarm in zip(vms, NAMES)]
    expected_ids = ['%s-%s' % (workflow_name(alarm), event['id']) for alarm, event in zip(NAMES, events)]

    # 1. The sink refuses every event (HTTP 400: no retry cures it); VMs off and annotated, runs unfinished.
    sink.respond(*[(400, 'no')] * len(NAMES))
    first = playbook('preempt', vcsim.env(), common, inventory=inventory(tmp_path, vms, preemption_event=lambda i, a, vm: events[i]),
                     args=['--forks', '4'])
    assert first.rc == 2, first
    assert off(vcenter) == sorted(VM_NAME % index for index in range(len(NAMES)))
    records = state(statefile)
    for index, (alarm, vm) in enumerate(zip(NAMES, vms)):
        scope = vm['cluster'] or vm['host']
        record = records['%s/%s@127.0.0.1:%d' % (workflow_name(alarm), scope, vcsim.port)]
        results = record['run']['results']
        # Its own VM only: the alarm on the standalone host (no cluster) is scoped to that host.
        assert (results['plan']['scope'], [vm['moid'] for vm in results['selected']]) == (scope, [vm['moid']])
        assert record['run']['status'] == 'running' and [vm['name'] for vm in results['powered_off']] == [VM_NAME % index]
        note = annotation(vcenter, vm['moid'])
        assert (note['workflowID'], note['scope'], note['runID']) == (workflow_name(alarm), scope, record['run']['run_id'])
        [failure] = [result['msg'] for result in first.results('Stop when the CloudEvent could not be sent', 'n%d' % index)]
        assert failure.startswith('Could not send CloudEvent %s to %s after 1 attempt: The CloudEvent sink %s answered HTTP 400 '
                                  % (expected_ids[index], sink.url, sink.url))
        assert failure.endswith('Another attempt cannot cure this: correct preemption_reply_to (or the sink) and run this workflow again '
                                '(at once with preemption_threshold=0); that run sends it under the same id. '
                                'vsphere.preemption.cancel forgets it instead.')
    refused = sink.requests
    # Binary mode, read by the SDK 2.x receiver with the exact id (the 80,000 characters go structured: no server takes such a header).
    assert sorted(request.event['id'] for request in refused) == sorted(expected_ids)
    assert sorted('ce-id' in request.headers for request in refused) == [False] + [True] * (len(NAMES) - 1)
    sink.clear()

    # 2. Raised again (a new trigger event), structured mode: each earlier run finished, its event sent under the same id.
    again = [dict(copy.deepcopy(event), id=str(uuid.uuid4())) for event in events]
    second = playbook('preempt', vcsim.env(), dict(common, preemption_threshold=0, preemption_reply_mode='structured'),
                      inventory=inventory(tmp_path, vms, preemption_event=lambda i, a, vm: again[i]), args=['--forks', '4'])
    assert second.rc == 0, second
    delivered = sink.requests
    assert all(request.headers['Content-Type'] == 'application/cloudevents+json' and request.status == 204 for request in delivered)
    assert sorted(request.event['id'] for request in delivered) == sorted(expected_ids)
    for request in delivered:
        index = expected_ids.index(request.event['id'])
        assert request.event['subject'] == workflow_name(NAMES[index])
        assert request.event['data']['virtualMachines'] == [{'Type': 'VirtualMachine', 'Value': vms[index]['moid']}]
    assert all(run['status'] == 'finished' for record in state(statefile).values() for run in [record['run']] + record['unfinished'])
    sink.clear()

    # 3. The workflow id 'cpu' is not a prefix of the alarm 'cpu/high@vc ...': status, cancel and restore find nothing.
    before = state(statefile)
    alone = dict(common, preemption_workflow_id='cpu', preemption_threshold=0)
    status = playbook('status', vcsim.env(), alone)
    assert status.rc == 0, status
    [shown] = status.results("Show the workflow's record")
    assert shown['msg'] == ['Workflow cpu on 127.0.0.1:%d has no record in %s.' % (vcsim.port, statefile)]
    cancel = playbook('cancel', vcsim.env(), alone)
    assert cancel.rc == 0 and 'it had no runs to forget' in cancel.summary(), cancel
    restore = playbook('restore', vcsim.env(), alone)
    assert restore.rc == 2 and 'it has no record in the state' in restore.failures()[-1], restore
    assert state(statefile) == before and sink.requests == []
    assert off(vcenter) == sorted(VM_NAME % index for index in range(len(NAMES)))

    # 4. Each workflow restored by its (hostile) name: exact match, every VM back on and marked restored.
    restored = playbook('restore', vcsim.env(), dict(common, preemption_threshold=0),
                        inventory=inventory(tmp_path, vms, preemption_workflow_id=lambda i, alarm, vm: alarm), args=['--forks', '4'])
    assert restored.rc == 0, restored
    assert off(vcenter) == []
    for index, vm in enumerate(vms):
        note = annotation(vcenter, vm['moid'])
        assert (note['preempted'], note['workflowID']) == (False, workflow_name(NAMES[index])) and note['restored']
    assert sorted(request.event['id'].rsplit('-restore-', 1)[0] for request in sink.requests) == sorted(workflow_name(a) for a in NAMES)
