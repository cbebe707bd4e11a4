# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared by the end-to-end tests of the preempt role: simulator set-up, alarm events, playbook runs."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import subprocess
import time
import uuid

from tests.support.ansible_cli import BIN, ansible_env, run_playbook

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(REPO, 'tests', 'fixtures', 'veba-alarm-red.json')
FIELD = 'com.vmware.workflows.vsphere.preemption'
PRIORITY_FIELD = 'preemption.priority'
TAG = 'preemptible'
JSON_OUTPUT = {'ANSIBLE_STDOUT_CALLBACK': 'json', 'ANSIBLE_LOAD_CALLBACK_PLUGINS': '1', 'ANSIBLE_SHOW_CUSTOM_STATS': '1'}


def tag_vms(vcenter, names, tag=TAG, category='preemption'):
    """Create the category and tag, attach the tag to the VMs called ``names``; return {name: moid} of every VM."""
    moids = {vm['name']: vm['moid'] for vm in vcenter.vms()}
    tag_id = vcenter.create_tag(tag, vcenter.create_category(category))
    for name in names:
        vcenter.attach_tag(tag_id, moids[name])
    return moids


def power_on_all(vcenter):
    for vm in vcenter.vms():
        if vm['power_state'] != 'poweredOn':
            vcenter.power_on(vm['moid'])


def power_states(vcenter):
    return {vm['name']: vm['power_state'] for vm in vcenter.vms()}


def off(vcenter):
    """The names of the VMs that are powered off, sorted."""
    return sorted(name for name, power in power_states(vcenter).items() if power == 'poweredOff')


def annotation(vcenter, moid):
    value = vcenter.custom_value(moid, FIELD)
    return json.loads(value) if value else None


def alarm_event(vcenter, cluster_name, old='green', new='red', alarm='cluster-cpu-above-80'):
    """The VEBA red-alarm fixture, on ``cluster_name`` of the simulator and one of its hosts, with a fresh id."""
    with open(FIXTURE) as handle:
        event = json.load(handle)
    vms = [vm for vm in vcenter.vms() if vm['cluster_name'] == cluster_name]
    data = event['data']
    data['ComputeResource']['Name'] = cluster_name
    data['ComputeResource']['ComputeResource']['Value'] = vms[0]['cluster']
    data['Host']['Name'] = vms[0]['host_name']
    data['Host']['Host']['Value'] = vms[0]['host']
    data['Source'] = copy.deepcopy({'Name': cluster_name, 'Entity': {'Type': 'ClusterComputeResource', 'Value': vms[0]['cluster']}})
    data['Alarm']['Name'] = alarm
    data['From'], data['To'] = old, new
    data['FullFormattedMessage'] = "Alarm '%s' on %s changed from %s to %s" % (alarm, cluster_name, old.capitalize(), new.capitalize())
    event['id'] = str(uuid.uuid4())
    return event


class Run:
    """One ansible-playbook run with the json callback."""

    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        try:
            self.output = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError('ansible-playbook printed no JSON (rc %s)\nstdout:\n%s\nstderr:\n%s' % (self.rc, proc.stdout, proc.stderr)) from None

    def results(self, task, host='localhost'):
        """The results of every task called ``task`` (role prefix ignored) on ``host``."""
        found = []
        for play in self.output['plays']:
            for item in play['tasks']:
                if item['task']['name'].split(' : ', 1)[-1] == task and host in item['hosts']:
                    found.append(item['hosts'][host])
        return found

    def summary(self, host='localhost'):
        lines = [result['msg'] for result in self.results('Show the summary', host) if 'msg' in result]
        assert len(lines) == 1, 'expected one summary line for %s, got %r\n%s' % (host, lines, self)
        return lines[0]

    @property
    def stats(self):
        return self.output.get('global_custom_stats', {}).get('preemption', {})

    def failures(self):
        return [result['msg'] for play in self.output['plays'] for item in play['tasks'] for result in item['hosts'].values()
                if result.get('failed') and not result.get('_ansible_ignore_errors')]

    def __str__(self):
        return 'rc=%s\nstderr:\n%s\nstdout:\n%s' % (self.rc, self.stderr[-3000:], self.stdout[-20000:])


def playbook(name, sim_env, variables=None, check=False, inventory=None, args=(), env=None):
    """Run ``vsphere.preemption.<name>``; returns a Run."""
    merged = dict(sim_env, **JSON_OUTPUT)
    merged.update(env or {})
    return Run(run_playbook('vsphere.preemption.%s' % name, variables or {}, env=merged, check=check, inventory=inventory, args=args))


def start_playbook(name, sim_env, variables):
    """Start ``vsphere.preemption.<name>`` in its own process group; returns the Popen (json output)."""
    cmd = [os.path.join(BIN, 'ansible-playbook'), 'vsphere.preemption.%s' % name, '-e', json.dumps(variables)]
    return subprocess.Popen(cmd, env=ansible_env(dict(sim_env, **JSON_OUTPUT)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def _children():
    """{pid: [child pids]} of every process now running."""
    children = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry, 'rb') as handle:
                stat = handle.read()
        except OSError:
            continue  # gone meanwhile
        ppid = int(stat[stat.rindex(b')') + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def kill_tree(pid):
    """SIGKILL the process ``pid`` and every process descended from it.

    A process group is not enough: ansible-playbook's workers call setsid(), so they and the modules they run
    would outlive a killpg of the playbook's group and go on talking to vCenter. Everything is stopped first
    (SIGSTOP, until no new descendant appears), so nothing forks or acts between the listing and the kill.
    """
    stopped = set()
    while True:
        children = _children()
        tree, pending = set(), [pid]
        while pending:
            current = pending.pop()
            if current not in tree:
                tree.add(current)
                pending.extend(children.get(current, ()))
        new = tree - stopped
        if not new:
            break
        for member in new:
            with contextlib.suppress(ProcessLookupError):
                os.kill(member, signal.SIGSTOP)
        stopped |= new
    for member in stopped:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)


def kill_at(proc, arrived, timeout=120):
    """Wait until ``arrived()`` returns something true, then SIGKILL the playbook and every process it started.

    ``arrived`` names a point where the run is stopped from outside (a request held by a FaultProxy, the
    state file's lock held by the test), so the run cannot have moved past it when the kill comes.
    Returns what ``arrived`` returned.
    """
    deadline = time.monotonic() + timeout
    found = None
    while not found and time.monotonic() < deadline:
        found = arrived()
        if not found:
            assert proc.poll() is None, 'the playbook ended before the kill point:\n%s' % (proc.communicate(),)
            time.sleep(0.01)
    kill_tree(proc.pid)
    proc.communicate()
    assert found, 'the run never reached the kill point within %s s' % timeout
    return found


def finish(proc, timeout=120):
    stdout, stderr = proc.communicate(timeout=timeout)
    return Run(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))


def state(path):
    """The state file's workflows, {} when there is no file."""
    if not os.path.exists(path):
        return {}
    with open(path) as handle:
        return json.load(handle)['workflows']


def latest_run(path):
    """The latest run of the only workflow in the state file (what `workflow_state: query` returns), None before any."""
    workflows = state(path)
    assert len(workflows) <= 1, 'expected one workflow in %s, got %r' % (path, list(workflows))
    return next(iter(workflows.values()))['run'] if workflows else None
