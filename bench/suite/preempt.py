# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cases 1 and 6: preempt 10 VMs against the baseline loops, then 100 and 1,000 VMs."""

from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path

from bench.request_counter import DEFAULT_LATENCY_MS, DEFAULT_LOGIN_LATENCY_MS, RequestCounter
from bench.suite.common import (
    BENCH,
    BIN,
    BenchError,
    Inventory,
    POWER_OFF_ACTION,
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
    step_time,
    summary,
    task_actions,
)
from tests.support.ansible_cli import COLLECTIONS_PATH


# --------------------------------------------------------------------------- 1. preempt

def bench_preempt(runs: int, workdir: Path, n: int = 10, parallel: int = 5, latency_ms: int = 500, vcenter_ms=(0, 0),
                  baseline: bool = True, name: str = 'preempt') -> dict:
    """Preempt ``n`` tagged VMs (``parallel``, PowerOffVM_Task taking ``latency_ms``), collection vs baseline.

    ``vcenter_ms``: (per request, per login) latency the timed runs go through, as on a
    real vCenter (bench/request_counter.py); (0, 0) is the simulator on the loopback.
    """
    out = workdir / name
    out.mkdir()
    sim = start_sim(workdir, name, vms=n, method_delay={'PowerOffVM_Task': latency_ms})
    inv = Inventory(sim)
    latency = RequestCounter(sim, *vcenter_ms).start() if any(vcenter_ms) else None
    sides = ('collection', 'baseline') if baseline else ('collection',)
    try:
        names = ['DC0_C0_RP0_VM%d' % i for i in range(n)]
        moids = inv.tag(names)
        commands = {
            'collection': lambda i: preempt_cmd(out / ('state-%d.json' % i), parallel=parallel, max_vms=n),
            'baseline': lambda i: [BIN / 'ansible-playbook', BENCH / 'baseline' / 'preempt.yml', '-e', json.dumps({'baseline_vms': names})],
        }
        timed_port = latency.port if latency else None
        # The power_off module alone, outside Ansible: the step's own work without the per-task cost.
        args_file = out / 'power_off-args.json'
        args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {'vms': moids, 'mode': 'hard', 'parallel': parallel}}))
        module_cmd = [sys.executable, '-m', 'ansible_collections.vsphere.preemption.plugins.modules.power_off', args_file]
        module_env = dict(bench_env(sim, timed_port), PYTHONPATH=COLLECTIONS_PATH)

        def run_module_alone(env, log_file):
            inv.reset(moids)
            seconds, stdout = run_timed(module_cmd, env, log_file)
            preempted = json.loads(stdout).get('preempted', [])
            if len(preempted) != n:
                raise BenchError('power_off alone preempted %d of %d VMs, see %s' % (len(preempted), n, log_file))
            return seconds

        # Warm-up round (not timed): through the counting proxy, for the requests per run.
        calls, actions = {}, {}
        with RequestCounter(sim) as counter:
            for side in sides:
                inv.reset(moids)
                counter.reset()
                _seconds, stdout = run_timed(commands[side](-1), json_env(bench_env(sim, counter.port)), out / ('%s-count.log' % side),
                                             timeout=1800)
                inv.check_preempted(moids, side)
                calls[side] = counter.counts()
                actions[side] = task_actions(stdout)
            counter.reset()
            run_module_alone(dict(module_env, VMWARE_PORT=str(counter.port)), out / 'power_off-alone-count.log')
            calls['power_off_module'] = counter.counts()

        wall = {side: [] for side in sides}
        step = {side: [] for side in sides}
        alone = []
        profiles = []
        for i in range(runs):
            alone.append(run_module_alone(module_env, out / ('power_off-alone-%d.log' % i)))
            for side in alternate(i, sides):
                inv.reset(moids)
                seconds, stdout = run_timed(commands[side](i), bench_env(sim, timed_port), out / ('%s-%d.log' % (side, i)), timeout=1800)
                inv.check_preempted(moids, side)
                profile = parse_profile(stdout)
                wall[side].append(seconds)
                step[side].append(step_time(profile, actions[side], POWER_OFF_ACTION[side]))
                if side == 'collection':
                    profiles.append(profile)
            log('%s round %d: %s' % (name, i + 1, ', '.join('%s %.2f s' % (side, wall[side][-1]) for side in sides)))

        floor = math.ceil(n / parallel) * latency_ms / 1000.0
        collection_profile = profile_medians(profiles)
        speedup = [b / c for b, c in zip(wall['baseline'], wall['collection'])] if baseline else []
        step_ratio = [s / floor for s in step['collection']]
        result = {
            'setup': {'vms_tagged': n, 'inventory_vms': len(inv.names), 'parallel': parallel, 'latency_ms': latency_ms,
                      'vcenter_request_ms': vcenter_ms[0], 'vcenter_login_ms': vcenter_ms[1],
                      'criticality': 'HIGH', 'baseline': 'bench/baseline/preempt.yml' if baseline else None},
            'collection_s': summary(wall['collection']),
            'collection_minus_floor_s': summary([c - floor for c in wall['collection']]),
            'power_off_floor_s': floor,
            'power_off_step_s': summary(step['collection']),
            'power_off_step_vs_floor': summary(step_ratio),
            'power_off_module_alone_s': summary(alone),
            'power_off_module_alone_vs_floor': summary([a / floor for a in alone]),
            'requests_per_run': calls,
            'collection_profile': collection_profile,
            'collection_by_action': by_action(collection_profile, actions['collection']),
            'targets': {
                'power_off_vs_floor_at_most': TARGETS['power_off_vs_floor'],
                'power_off_vs_floor_met': statistics.median(step_ratio) <= TARGETS['power_off_vs_floor'],
            },
        }
        if baseline:
            result.update({
                'baseline_s': summary(wall['baseline']),
                'speedup': summary(speedup),
                'baseline_power_off_step_s': summary(step['baseline']),
                'baseline_power_off_floor_s': n * latency_ms / 1000.0,
            })
            wanted = TARGETS['preempt_speedup'] if any(vcenter_ms) else TARGETS['preempt_speedup_0ms']
            result['targets'].update({'speedup_at_least': wanted, 'speedup_met': statistics.median(speedup) >= wanted})
        result['targets'].update({
            'logins_at_most': TARGETS['logins_per_run'], 'logins_met': calls['collection']['logins'] <= TARGETS['logins_per_run'],
            'requests_at_most': TARGETS['requests_per_run'],
            'requests_met': n > 10 or calls['collection']['total'] <= TARGETS['requests_per_run']})
        return result
    finally:
        if latency is not None:
            latency.stop()
        inv.close()
        sim.stop()


def bench_n(runs: int, workdir: Path, ten: dict | None, baseline_at_100: bool,
            vcenter_ms=(DEFAULT_LATENCY_MS, DEFAULT_LOGIN_LATENCY_MS)) -> dict:
    """100 VMs (parallel 10) and 1,000 VMs (parallel 20) preempted and annotated through a realistic vCenter latency.

    ``ten``: the 10-VM result with the same latency (section preempt), for the (time - floor) series.
    The baseline's loops at 100 VMs take minutes (two module runs per VM, each with its own login), so they
    run only when asked for; at 1,000 they would take ten times that.
    """
    hundred = bench_preempt(runs, workdir, n=100, parallel=10, vcenter_ms=vcenter_ms, baseline=baseline_at_100, name='n-100')
    thousand = bench_preempt(runs, workdir, n=1000, parallel=20, vcenter_ms=vcenter_ms, baseline=False, name='n-1000')
    over = {'100': hundred['collection_minus_floor_s']['median'], '1000': thousand['collection_minus_floor_s']['median']}
    if ten:
        over['10'] = ten['collection_minus_floor_s']['median']
    growth = over['1000'] / over['100'] if over['100'] > 0 else None
    result = {'100': hundred, '1000': thousand, 'time_minus_floor_s': over, '1000_vs_100_minus_floor': growth,
              'targets': {'1000_vs_100_at_most': TARGETS['n_1000_vs_100'],
                          'met': growth is not None and growth <= TARGETS['n_1000_vs_100']}}
    if ten and 'baseline_s' in ten:
        # Not measured: the baseline loops cost about the same per VM at any N.
        result['baseline_estimate_s'] = {'100': round(ten['baseline_s']['median'] * 10, 1), '1000': round(ten['baseline_s']['median'] * 100, 1)}
    if baseline_at_100:
        result['targets'].update({'speedup_100_at_least': TARGETS['n_100_speedup'],
                                  'speedup_100_met': hundred['speedup']['median'] >= TARGETS['n_100_speedup']})
    return result
