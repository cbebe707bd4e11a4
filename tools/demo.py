# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""`make demo`: a cluster alarm turns red on an embedded vCenter simulator and the preempt playbook answers it.

Starts govmomi's vCenter simulator (two clusters, a standalone host), tags some VMs
preemptible, prepares vCenter with the setup playbook, starts a local CloudEvent
receiver, then runs `ansible-playbook vsphere.preemption.preempt` with a VEBA
AlarmStatusChangedEvent (tests/fixtures/veba-alarm-red.json, moved onto the
simulator's cluster DC0_C0) and shows what happened: the tagged VMs of that cluster
powered off and annotated, everything else still on, the CloudEvent received. A
second trigger inside the threshold is then skipped.

Second scene: cluster DC0_C1 runs at 92% of 84,000 MHz (usage set through the
simulator harness, as vcsim reports none); its alarm asks to free 30% of the
cluster's CPU (``preemption_capacity_target: {cpu_percent: 62}``), and the run
powers off the fewest tagged VMs that do it, not every tagged VM.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tests.support.ansible_cli import BIN, ansible_env  # noqa: E402
from tests.support.event_receiver import EventReceiver  # noqa: E402
from tests.support.vcsim.harness import Simulator, VCenterClient  # noqa: E402

FIXTURE = os.path.join(REPO, 'tests', 'fixtures', 'veba-alarm-red.json')
FIELD = 'com.vmware.workflows.vsphere.preemption'
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_C1_RP0_VM0', 'DC0_C1_RP0_VM1', 'DC0_C1_RP0_VM2']
ALARM_CLUSTER = 'DC0_C0'
# Scene 2: the busy cluster, and what its tagged VMs use (MHz, MB).
BUSY_CLUSTER = 'DC0_C1'
BUSY_USAGE = {'DC0_C1_RP0_VM0': (12000, 16384), 'DC0_C1_RP0_VM1': (5000, 8192), 'DC0_C1_RP0_VM2': (14000, 24576)}
BUSY_CLUSTER_USAGE = {'cpu_mhz': 77280, 'memory_mb': 201000, 'cpu_capacity_mhz': 84000, 'memory_capacity_mb': 393216}


def say(text=''):
    print(text, flush=True)


def step(number, text):
    say()
    say('%d. %s' % (number, text))


def playbook(name, env, state_dir, *args):
    """Run vsphere.preemption.<name>; return (seconds, the JSON callback's output). Exits on failure."""
    cmd = [os.path.join(BIN, 'ansible-playbook'), 'vsphere.preemption.%s' % name, *args]
    say('   $ ' + ' '.join(['ansible-playbook', 'vsphere.preemption.%s' % name, *args]).replace(state_dir + os.sep, ''))
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=state_dir, capture_output=True, text=True, check=False, env=ansible_env(dict(
        env, ANSIBLE_STDOUT_CALLBACK='json', ANSIBLE_LOAD_CALLBACK_PLUGINS='1', ANSIBLE_SHOW_CUSTOM_STATS='1')))
    seconds = time.monotonic() - started
    try:
        output = json.loads(proc.stdout)
    except ValueError:
        output = None
    if proc.returncode != 0 or output is None:
        say('   FAILED (rc %d)' % proc.returncode)
        for result in task_results(output or {'plays': []}):
            if result.get('failed'):
                say('   ' + str(result.get('msg')))
        say(proc.stderr[-3000:])
        sys.exit(1)
    return seconds, output


def task_results(output, task=None):
    for play in output['plays']:
        for item in play['tasks']:
            if task is None or item['task']['name'].split(' : ', 1)[-1] == task:
                yield from item['hosts'].values()


def message(output, task):
    return next(result['msg'] for result in task_results(output, task) if 'msg' in result)


def alarm_event(vms, cluster):
    """The VEBA fixture, as if the alarm had fired on ``cluster`` of the simulator."""
    with open(FIXTURE) as handle:
        event = json.load(handle)
    member = next(vm for vm in vms if vm['cluster_name'] == cluster)
    data = event['data']
    data['ComputeResource'] = {'Name': cluster, 'ComputeResource': {'Type': 'ClusterComputeResource', 'Value': member['cluster']}}
    data['Source'] = {'Name': cluster, 'Entity': {'Type': 'ClusterComputeResource', 'Value': member['cluster']}}
    data['Host'] = {'Name': member['host_name'], 'Host': {'Type': 'HostSystem', 'Value': member['host']}}
    data['Entity'] = {'Name': member['host_name'], 'Entity': {'Type': 'HostSystem', 'Value': member['host']}}
    data['FullFormattedMessage'] = "Alarm '%s' on %s changed from Green to Red" % (data['Alarm']['Name'], cluster)
    event['id'] = str(uuid.uuid4())
    return event


def vm_table(vcenter, off_before=()):
    say('   %-16s %-8s %-7s %s' % ('VM', 'cluster', 'tagged', 'power'))
    for vm in vcenter.vms():
        note = ''
        if vm['power_state'] == 'poweredOff' and vm['name'] not in off_before:
            note = '  <- preempted'
        elif vm['name'] in TAGGED and vm['cluster_name'] != ALARM_CLUSTER:
            note = '  (tagged, other cluster)'
        elif vm['name'] not in TAGGED and vm['cluster_name'] == ALARM_CLUSTER:
            note = '  (in the cluster, not tagged)'
        tagged = 'yes' if vm['name'] in TAGGED else 'no'
        say('   %-16s %-8s %-7s %s%s' % (vm['name'], vm['cluster_name'] or '-', tagged, vm['power_state'], note))


def fields(document, trigger_id, indent=5):
    """One line per field, the embedded trigger event shortened to its id."""
    lines = []
    for key, value in document.items():
        if key == 'event' and isinstance(value, dict):
            value = '{...the triggering CloudEvent, id %s...}' % trigger_id
        lines.append('%s%-16s %s' % (' ' * indent, key, value if isinstance(value, str) else json.dumps(value)))
    return '\n'.join(lines)


def main():
    say('vsphere.preemption demo: a vCenter alarm turns red, the preempt playbook answers it; when it clears, restore.')
    with tempfile.TemporaryDirectory(prefix='preemption-demo-') as workdir, \
            Simulator(vms=3, hosts=2, clusters=2, workdir=os.path.join(workdir, 'vcsim')) as sim, \
            EventReceiver() as sink:
        vcenter = VCenterClient(sim)
        vms = vcenter.vms()
        step(1, 'vCenter simulator (govmomi vcsim) at %s: clusters DC0_C0 and DC0_C1, standalone host DC0_H0, %d VMs, all on.'
             % (sim.url, len(vms)))
        tag_id = vcenter.create_tag('preemptible', vcenter.create_category('preemption'))
        for vm in vms:
            if vm['name'] in TAGGED:
                vcenter.attach_tag(tag_id, vm['moid'])
        say("   Tag 'preemptible' attached to %s; DC0_C0_RP0_VM2 and the standalone host's VMs untagged." % ', '.join(TAGGED))

        env = sim.env()
        step(2, 'One-time vCenter preparation.')
        seconds, output = playbook('setup', env, workdir)
        say('   %s  [%.1f s]' % (message(output, 'Say how the vCenter stands'), seconds))

        step(3, 'A CloudEvent receiver (the reply_to sink) listens at %s' % sink.url)
        event = alarm_event(vms, ALARM_CLUSTER)
        trigger = os.path.join(workdir, 'alarm.json')
        with open(trigger, 'w') as handle:
            json.dump({'preemption_event': event}, handle, indent=2)
        state_file = os.path.join(workdir, 'state.json')
        step(4, "Alarm '%s' on cluster %s (%s) goes green -> red; VEBA delivers AlarmStatusChangedEvent %s."
             % (event['data']['Alarm']['Name'], ALARM_CLUSTER, event['data']['ComputeResource']['ComputeResource']['Value'], event['id']))
        args = ['-e', '@' + trigger, '-e', 'preemption_reply_to=%s' % sink.url, '-e', 'preemption_state_file=%s' % state_file]
        seconds, output = playbook('preempt', env, workdir, *args)
        say('   %s  [%.1f s]' % (message(output, 'Show the summary'), seconds))
        say()
        vm_table(vcenter)

        preempted = [vm for vm in vcenter.vms() if vm['power_state'] == 'poweredOff']
        say()
        say('   Custom attribute %s of %s:' % (FIELD, preempted[0]['name']))
        say(fields(json.loads(vcenter.custom_value(preempted[0]['moid'], FIELD)), event['id']))
        sink.wait_for(1)
        received = sink.events[0]
        say()
        say('   CloudEvent received by the sink (HTTP %d):' % sink.requests[0].status)
        say(fields({key: value for key, value in sorted(received.items()) if key != 'data'}, event['id']))
        say('     data:')
        say(fields(received['data'], event['id'], indent=7))

        step(5, 'The alarm fires again seconds later (60 s threshold per workflow and vCenter).')
        first_id = event['id']
        event['id'] = str(uuid.uuid4())
        with open(trigger, 'w') as handle:
            json.dump({'preemption_event': event}, handle, indent=2)
        seconds, output = playbook('preempt', env, workdir, *args)
        say('   %s  [%.1f s]' % (message(output, 'Show the summary'), seconds))
        still_on = sorted(vm['name'] for vm in vcenter.vms() if vm['power_state'] == 'poweredOff') == sorted(vm['name'] for vm in preempted)
        say('   Nothing more powered off: %s. CloudEvents received in all: %d.' % ('yes' if still_on else 'NO', len(sink.requests)))
        events_after_preemption = len(sink.requests)

        step(6, 'The workflow as the state file records it:')
        seconds, output = playbook('status', env, workdir, '-e', 'preemption_workflow_id=%s' % event['data']['Alarm']['Name'],
                                   '-e', 'preemption_state_file=%s' % state_file)
        for line in message(output, "Show the workflow's record"):
            say('   ' + line)

        step(7, 'The alarm clears: the capacity is back. Restore the workflow (never within its 60 s threshold: no flapping).')
        restore = ['-e', 'preemption_workflow_id=%s' % event['data']['Alarm']['Name'], '-e', 'preemption_reply_to=%s' % sink.url,
                   '-e', 'preemption_state_file=%s' % state_file]
        seconds, output = playbook('restore', env, workdir, *restore)
        say('   %s  [%.1f s]' % (message(output, 'Show the summary'), seconds))
        say('   (the demo does not wait the 60 s: preemption_threshold=0 for the next one)')
        seconds, output = playbook('restore', env, workdir, *restore, '-e', 'preemption_threshold=0')
        say('   %s  [%.1f s]' % (message(output, 'Show the summary'), seconds))
        say()
        vm_table(vcenter)
        restored = all(vcenter.power_state(vm['moid']) == 'poweredOn' for vm in preempted)
        say()
        say('   Custom attribute %s of %s now:' % (FIELD, preempted[0]['name']))
        say(fields(json.loads(vcenter.custom_value(preempted[0]['moid'], FIELD)), first_id))
        sink.wait_for(events_after_preemption + 1)
        received = sink.events[-1]
        say()
        say('   CloudEvent received by the sink: %s, id %s, for %s.' % (
            received['type'], received['id'], ', '.join(vm['Value'] for vm in received['data']['virtualMachines'])))
        freed_right = capacity_scene(sim, vcenter, env, workdir, state_file)
        vcenter.close()
        if not still_on or not restored or events_after_preemption != 1 or len(sink.requests) != 2 or not freed_right:
            return 1
    return 0


def capacity_scene(sim, vcenter, env, workdir, state_file):
    """Scene 2: free 30% of a cluster's CPU with the fewest VMs; True when exactly those went off."""
    step(8, 'Scene 2: cluster %s runs at 92%% of 84,000 MHz. Its alarm turns red; free 30%% of its CPU, no more.' % BUSY_CLUSTER)
    sim.set_usage(vms={name: {'cpu_mhz': cpu, 'memory_mb': mem} for name, (cpu, mem) in BUSY_USAGE.items()},
                  clusters={BUSY_CLUSTER: BUSY_CLUSTER_USAGE})
    for name, (cpu, mem) in BUSY_USAGE.items():
        say('   %-16s uses %6s MHz, %6s MB (tagged preemptible)' % (name, '{:,}'.format(cpu), '{:,}'.format(mem)))
    event = alarm_event(vcenter.vms(), BUSY_CLUSTER)
    trigger = os.path.join(workdir, 'busy-alarm.json')
    with open(trigger, 'w') as handle:
        json.dump({'preemption_event': event, 'preemption_capacity_target': {'cpu_percent': 62}}, handle, indent=2)
    say('   preemption_capacity_target: {cpu_percent: 62}   (92% - 30% = 62%: 25,200 MHz to free)')
    args = ['-e', '@' + trigger, '-e', 'preemption_state_file=%s' % state_file]
    seconds, output = playbook('preempt', env, workdir, '--check', *args)
    say('   %s  [%.1f s]' % (message(output, 'Show the summary'), seconds))
    seconds, output = playbook('preempt', env, workdir, *args)
    say('   %s  [%.1f s]' % (message(output, 'Show the summary'), seconds))
    off = sorted(vm['name'] for vm in vcenter.vms() if vm['cluster_name'] == BUSY_CLUSTER and vm['power_state'] == 'poweredOff')
    say('   Powered off in %s: %s; without a target all three tagged VMs would have gone.' % (BUSY_CLUSTER, ', '.join(off)))
    return off == ['DC0_C1_RP0_VM0', 'DC0_C1_RP0_VM2']


if __name__ == '__main__':
    sys.exit(main())
