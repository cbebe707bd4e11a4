# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cases 3 and 4: a full run against an empty play, and the time from a CloudEvent to the first VM off."""

from __future__ import annotations

import contextlib
import datetime
import json
import statistics
import subprocess
import time
import uuid
from pathlib import Path

from bench.suite.common import (
    ALARM,
    BENCH,
    BIN,
    BenchError,
    Inventory,
    POLL,
    REPO,
    TAG,
    TARGETS,
    alternate,
    bench_env,
    by_action,
    json_env,
    log,
    parse_profile,
    preempt_cmd,
    profile_medians,
    run_timed,
    start_sim,
    summary,
    task_actions,
)
from tests.support.machine import free_port
from tests.support.rulebook_cli import Rulebook


# --------------------------------------------------------------------------- 3. overhead

def bench_overhead(runs: int, workdir: Path, sim, inv, moids) -> dict:
    out = workdir / 'overhead'
    out.mkdir()
    full, empty, profiles, empty_profiles = [], [], [], []
    # Warm-up (not timed), with the JSON callback: which module each profiled task ran.
    inv.reset(moids)
    _seconds, stdout = run_timed(preempt_cmd(out / 'state-warm-up.json'), json_env(bench_env(sim)), out / 'full-warm-up.log')
    inv.check_preempted(moids, 'the collection playbook')
    actions = task_actions(stdout)
    for i in range(runs):
        for side in alternate(i, ('full', 'empty')):
            if side == 'full':
                inv.reset(moids)
                seconds, stdout = run_timed(preempt_cmd(out / ('state-%d.json' % i)), bench_env(sim), out / ('full-%d.log' % i))
                inv.check_preempted(moids, 'the collection playbook')
                full.append(seconds)
                profiles.append(parse_profile(stdout))
            else:
                seconds, stdout = run_timed([BIN / 'ansible-playbook', BENCH / 'baseline' / 'empty.yml'], bench_env(sim), out / ('empty-%d.log' % i))
                empty.append(seconds)
                empty_profiles.append(parse_profile(stdout))
        log('overhead round %d: full %.2f s, empty %.2f s' % (i + 1, full[-1], empty[-1]))
    ratio = [f / e for f, e in zip(full, empty)]
    per_task = profile_medians(profiles)
    tasks_sum = sum(row['median_s'] for row in per_task)
    return {
        'full_s': summary(full),
        'empty_s': summary(empty),
        'ratio': summary(ratio),
        'tasks_run': len(per_task),
        'tasks_sum_s': round(tasks_sum, 3),
        # Process start-up, playbook/role loading and exit: wall time not inside any task.
        'outside_tasks_s': round(statistics.median(full) - tasks_sum, 3),
        'by_action': by_action(per_task, actions),
        'profile': per_task,
        'actions': [entry[1] for entry in actions],
        'empty_profile': profile_medians(empty_profiles),
        'targets': {'ratio_at_most': TARGETS['overhead_vs_empty'], 'met': statistics.median(ratio) <= TARGETS['overhead_vs_empty']},
    }


# --------------------------------------------------------------------------- 4. trigger

def alarm_event(cluster_moid: str, to: str = 'red', name: str = ALARM) -> dict:
    """A VEBA AlarmStatusChangedEvent (structured CloudEvent) for the simulator's cluster."""
    return {
        'specversion': '1.0', 'id': str(uuid.uuid4()), 'source': 'https://127.0.0.1/sdk',
        'type': 'com.vmware.event.router/event', 'subject': 'AlarmStatusChangedEvent',
        'datacontenttype': 'application/json', 'time': datetime.datetime.now(datetime.timezone.utc).isoformat(),
        'data': {
            'Key': 1, 'ChainId': 1, 'CreatedTime': datetime.datetime.now(datetime.timezone.utc).isoformat(), 'UserName': '',
            'Datacenter': {'Name': 'DC0', 'Datacenter': {'Type': 'Datacenter', 'Value': 'datacenter-2'}},
            'ComputeResource': {'Name': 'DC0_C0', 'ComputeResource': {'Type': 'ClusterComputeResource', 'Value': cluster_moid}},
            'Host': None, 'Vm': None, 'Ds': None, 'Net': None, 'Dvs': None,
            'FullFormattedMessage': "Alarm '%s' on DC0_C0 changed from Green to Red" % name, 'ChangeTag': '',
            'Alarm': {'Name': name, 'Alarm': {'Type': 'Alarm', 'Value': 'alarm-1'}},
            'Source': {'Name': 'DC0_C0', 'Entity': {'Type': 'ClusterComputeResource', 'Value': cluster_moid}},
            'Entity': {'Name': 'DC0_C0', 'Entity': {'Type': 'ClusterComputeResource', 'Value': cluster_moid}},
            'From': 'green', 'To': to,
        },
    }


def wait_first_off(inv, moids, start: float, timeout: float = 120) -> float:
    """Seconds from start until vCenter reports the first of moids powered off."""
    deadline = start + timeout
    while time.perf_counter() < deadline:
        if any(state == 'poweredOff' for state in inv.power_states(moids).values()):
            return time.perf_counter() - start
        time.sleep(POLL)
    raise BenchError('no VM was powered off within %d s' % timeout)


def wait_finished(state_file: Path, rulebook=None, timeout: float = 120) -> None:
    """Until the state file shows the workflow's run finished (its last vCenter step is done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rulebook is not None and not rulebook.running():
            raise BenchError('ansible-rulebook exited (rc %s):\n%s' % (rulebook.process.returncode, rulebook.log()))
        with contextlib.suppress(OSError, ValueError):
            workflows = json.loads(state_file.read_text()).get('workflows', {})
            if workflows and all((record.get('run') or {}).get('status') == 'finished' for record in workflows.values()):
                return
        time.sleep(0.1)
    raise BenchError('the triggered run did not finish within %d s (state file %s)%s' % (
        timeout, state_file, ':\n' + rulebook.log() if rulebook is not None else ''))


def bench_trigger(runs: int, workdir: Path, sim, inv, moids, cluster_moid: str) -> dict:
    import requests

    out = workdir / 'trigger'
    out.mkdir()
    state_file = out / 'state.json'
    token = uuid.uuid4().hex
    port = free_port()
    rule_vars = {
        'preemption_alarm_name': ALARM, 'preemption_webhook_token': token, 'preemption_webhook_port': port,
        'preemption_webhook_host': '127.0.0.1', 'preemption_tag': TAG, 'preemption_state_file': str(state_file),
        'preemption_max_vms': 10, 'preemption_parallel': 5,
    }
    env = bench_env(sim)

    def direct_vars(event):
        # What the rulebook's run_playbook passes for a raised-to-red alarm.
        return {'preemption_event': event, 'preemption_workflow_id': ALARM, 'preemption_tag': TAG, 'preemption_max_vms': 10,
                'preemption_parallel': 5, 'preemption_state_file': str(state_file), 'preemption_criticality': 'HIGH'}

    started = time.perf_counter()
    rulebook = Rulebook(str(REPO / 'extensions' / 'eda' / 'rulebooks' / 'preemption.yml'), rule_vars, out / 'rulebook',
                        env=env, verbose=False)
    with rulebook:
        rulebook.wait_for_port(port)
        startup = time.perf_counter() - started
        url = 'http://127.0.0.1:%d/endpoint' % port
        headers = {'Authorization': 'Bearer %s' % token, 'Content-Type': 'application/cloudevents+json'}
        session = requests.Session()
        session.trust_env = False

        direct_first, rule_first, direct_total, rule_total = [], [], [], []
        for i in range(-1, runs):  # round -1 warms both paths up (the rulebook's first run_playbook), not timed
            for side in alternate(i, ('direct', 'rulebook')):
                inv.reset(moids)
                with contextlib.suppress(FileNotFoundError):
                    state_file.unlink()
                event = alarm_event(cluster_moid)
                if side == 'direct':
                    cmd = [BIN / 'ansible-playbook', 'vsphere.preemption.preempt', '-e', json.dumps(direct_vars(event))]
                    with open(out / ('direct-%d.log' % i), 'w') as handle:
                        start = time.perf_counter()
                        child = subprocess.Popen([str(c) for c in cmd], env=env, stdout=handle, stderr=subprocess.STDOUT)
                        first = wait_first_off(inv, moids, start)
                        wait_finished(state_file)
                        total = time.perf_counter() - start
                        if child.wait(300) != 0:
                            raise BenchError('direct ansible-playbook failed, see %s' % (out / ('direct-%d.log' % i)))
                else:
                    start = time.perf_counter()
                    resp = session.post(url, json=event, headers=headers, timeout=30)
                    if resp.status_code != 200:
                        raise BenchError('webhook answered HTTP %d: %s' % (resp.status_code, resp.text))
                    first = wait_first_off(inv, moids, start)
                    wait_finished(state_file, rulebook)
                    total = time.perf_counter() - start
                inv.check_preempted(moids, side)
                if i >= 0:
                    (direct_first if side == 'direct' else rule_first).append(first)
                    (direct_total if side == 'direct' else rule_total).append(total)
            if i >= 0:
                log('trigger round %d: first VM off after %.2f s direct, %.2f s via the rulebook' % (i + 1, direct_first[-1], rule_first[-1]))
    added = [r - d for r, d in zip(rule_first, direct_first)]
    return {
        'setup': {'poll_interval_s': POLL, 'rulebook': 'extensions/eda/rulebooks/preemption.yml', 'webhook': 'eda.builtin.webhook',
                  'event': 'AlarmStatusChangedEvent green -> red, structured CloudEvent'},
        'rulebook_startup_s': round(startup, 3),
        'direct_first_off_s': summary(direct_first),
        'rulebook_first_off_s': summary(rule_first),
        'rulebook_added_s': summary(added),
        # Until the state file records the run finished (annotations written), for both.
        'direct_until_finished_s': summary(direct_total),
        'rulebook_until_finished_s': summary(rule_total),
        'targets': {'added_at_most_s': TARGETS['trigger_added_s'], 'met': statistics.median(added) <= TARGETS['trigger_added_s']},
    }


def bench_no_latency(runs: int, workdir: Path, sections) -> dict:
    """Sections 3 and 4 share one simulator without latency: 10 tagged VMs in cluster DC0_C0."""
    sim = start_sim(workdir, 'no-latency', vms=10)
    inv = Inventory(sim)
    results = {}
    try:
        moids = inv.tag(['DC0_C0_RP0_VM%d' % i for i in range(10)])
        cluster = inv.cluster_moid('DC0_C0')
        if 'overhead' in sections:
            results['overhead'] = bench_overhead(runs, workdir, sim, inv, moids)
        if 'trigger' in sections:
            results['trigger'] = bench_trigger(runs, workdir, sim, inv, moids, cluster)
    finally:
        inv.close()
        sim.stop()
    return results
