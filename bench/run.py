# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`make bench`: vsphere.preemption against the vCenter simulator, side by side with the usual way.

Four measurements (issue 6), each a median of ``--runs`` rounds with min/max.
The two sides of every comparison alternate inside each round (A B, then B A),
on the same simulator, so that the machine's noise hits both alike, and each
ratio is computed per round before taking its median.

1. preempt: 10 tagged VMs, 500 ms ``PowerOffVM_Task`` latency. The
   ``vsphere.preemption.preempt`` playbook (HIGH, parallel 5, max 10) vs
   ``bench/baseline/preempt.yml`` (vmware.vmware.vm_powerstate and
   community.vmware.vmware_guest_custom_attributes in loops). Wall times, ratio,
   the power-off step (``ansible.posix.profile_tasks``) vs its floor
   ``ceil(N / parallel) x latency``, and vCenter requests per run.
2. scale: ``tagged_vm_info`` for 10 tagged VMs in inventories of 100, 1,000 and
   10,000 VMs (three simulators up at once, sizes interleaved): the module
   process alone and through ``ansible localhost -m``, and vCenter requests
   per search (``bench/request_counter.py``).
3. overhead: a full preemption run (no latency) vs an empty localhost play;
   where the time goes per task.
4. trigger: a CloudEvent POSTed to the EDA rulebook's webhook -> first VM
   powered off (vCenter polled every 25 ms), vs ``ansible-playbook`` started
   directly -> first VM off.

Writes ``bench/results.json`` and ``bench/results.png``, and keeps each run's
output under ``bench/runs/<time>/``. Usage::

    .venv/bin/python bench/run.py [--runs 5] [--only preempt,scale,overhead,trigger] [--sizes 100,1000,10000]
    .venv/bin/python bench/run.py --report-only     # table and chart again from bench/results.json
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.request_counter import DEFAULT_LATENCY_MS, DEFAULT_LOGIN_LATENCY_MS, RequestCounter  # noqa: E402
from tests.support.ansible_cli import COLLECTIONS_PATH, ansible_env  # noqa: E402

if COLLECTIONS_PATH not in sys.path:
    sys.path.insert(0, COLLECTIONS_PATH)   # the collection's own task_wait, for the bench's batched resets
from tests.support.rulebook_cli import Rulebook, free_port  # noqa: E402
from tests.support.vcsim.harness import Simulator, VCenterClient, vcsim_binary  # noqa: E402

BIN = Path(sys.executable).parent
FIELD = 'com.vmware.workflows.vsphere.preemption'
TAG = 'preemptible'
CATEGORY = 'preemption'
ALARM = 'bench-cluster-cpu-above-80'
SECTIONS = ('preempt', 'scale', 'overhead', 'trigger', 'tags', 'n', 'storm')
POLL = 0.025
EXTRA_TAGS = 200
PROFILE_LINE_RE = re.compile(r'^(.*?) -+ (\d+\.\d+)s$')
# The power-off step of each side: the task running this module.
POWER_OFF_ACTION = {'collection': 'vsphere.preemption.power_off', 'baseline': 'vmware.vmware.vm_powerstate'}

TARGETS = {
    'preempt_speedup': 4.0,      # baseline / collection, at least
    'power_off_vs_floor': 1.3,   # power-off step / floor, at most
    'scale_10k_vs_100': 1.3,     # 10,000-VM search / 100-VM search, at most
    'overhead_vs_empty': 4.0,    # full run / empty play, at most
    'trigger_added_s': 1.5,      # rulebook - direct, seconds, at most
    'tags_many_vs_one': 1.3,     # search with 300 more tags / with one tag, at most (with latency)
    'n_1000_vs_100': 10.0,       # (time - floor) at 1,000 VMs / at 100 VMs, at most
    'n_100_speedup': 8.0,        # baseline / collection at 100 VMs with latency, at least
    'storm_vs_one': 6.0,         # six clusters red at once / one cluster alone, through the webhook, well under
}
STORM_CLUSTERS = 6


class BenchError(RuntimeError):
    """A benchmarked run failed or did not do its job: its numbers would mean nothing."""


# --------------------------------------------------------------------------- helpers

def summary(values) -> dict:
    values = [round(v, 4) for v in values]
    return {'median': round(statistics.median(values), 4), 'min': min(values), 'max': max(values), 'runs': values}


def log(message: str) -> None:
    print('[bench %s] %s' % (time.strftime('%H:%M:%S'), message), flush=True)


def bench_env(sim, port=None, extra=None) -> dict:
    env = ansible_env(dict(sim.env(), **(extra or {})))
    if port is not None:
        env['VMWARE_PORT'] = str(port)
    env.update({
        'ANSIBLE_CALLBACKS_ENABLED': 'ansible.posix.profile_tasks',
        'PROFILE_TASKS_TASK_OUTPUT_LIMIT': 'all',
        'PROFILE_TASKS_SORT_ORDER': 'none',
        'ANSIBLE_DEPRECATION_WARNINGS': 'false',
    })
    return env


def run_timed(cmd, env, log_file: Path, timeout=180) -> tuple[float, str]:
    """Run cmd; return (wall seconds, stdout). A failed run stops the benchmark."""
    start = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True, timeout=timeout, check=False)
    elapsed = time.perf_counter() - start
    log_file.write_text('$ %s\n--- rc %d, %.3f s\n--- stdout\n%s\n--- stderr\n%s' % (
        ' '.join(str(c) for c in cmd), proc.returncode, elapsed, proc.stdout, proc.stderr))
    if proc.returncode != 0:
        raise BenchError('%s failed (rc %d), see %s:\n%s\n%s' % (cmd[1], proc.returncode, log_file, proc.stdout[-3000:], proc.stderr[-2000:]))
    return elapsed, proc.stdout


def parse_profile(stdout: str) -> list[tuple[str, float]]:
    """[(task name, seconds)] from the profile_tasks recap, in execution order."""
    lines = stdout.split('TASKS RECAP', 1)[-1].splitlines()
    out = []
    for line in lines:
        match = PROFILE_LINE_RE.match(line.strip())
        if match:
            out.append((match.group(1), float(match.group(2))))
    if not out:
        raise BenchError('no profile_tasks recap in the output')
    return out


def step_time(profile, actions, action: str) -> float:
    """Seconds of the task that ran module ``action`` (matched by position with the JSON warm-up run's tasks)."""
    if [entry[0] for entry in profile] != [entry[0] for entry in actions]:
        raise BenchError('the JSON warm-up run and a profiled run executed different tasks (did the role change during the benchmark?)')
    times = [entry[1] for entry, ran in zip(profile, actions) if ran[1] == action]
    if len(times) != 1:
        raise BenchError('expected one %s task in the profile, found %d' % (action, len(times)))
    return times[0]


def json_env(env: dict) -> dict:
    """The same environment with the JSON stdout callback instead of profile_tasks (for the untimed warm-up runs)."""
    env = dict(env, ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_LOAD_CALLBACK_PLUGINS='1')
    env.pop('ANSIBLE_CALLBACKS_ENABLED', None)
    return env


def task_actions(stdout: str) -> list[tuple[str, str]]:
    """[(task name, module or action, None when skipped)] in execution order, from the JSON callback's output."""
    out = []
    for play in json.loads(stdout)['plays']:
        for task in play['tasks']:
            results = list(task['hosts'].values())
            # A skipped task ran no module: it counts under None (the probe of the role's power-off step, for one).
            ran = results and not all(result.get('skipped') for result in results)
            out.append((task['task']['name'], results[0].get('action') if ran else None))
    return out


def by_action(profile_rows, actions) -> list[dict]:
    """Median task seconds summed per module/action (tasks matched by position and name with the JSON run)."""
    if [row['task'] for row in profile_rows] != [entry[0] for entry in actions]:
        raise BenchError('the JSON warm-up run and the profiled runs executed different tasks (did the role change during the benchmark?)')
    totals = {}
    for row, action in zip(profile_rows, (entry[1] for entry in actions)):
        entry = totals.setdefault(action, {'action': action, 'tasks': 0, 'seconds': 0.0})
        entry['tasks'] += 1
        entry['seconds'] += row['median_s']
    rows = sorted(totals.values(), key=lambda e: -e['seconds'])
    for entry in rows:
        entry['seconds'] = round(entry['seconds'], 3)
    return rows


def profile_medians(profiles) -> list[dict]:
    """Per task (by position: the same play runs the same tasks), median seconds across runs."""
    shapes = {tuple(entry[0] for entry in p) for p in profiles}
    if len(shapes) != 1:
        raise BenchError('the runs did not execute the same tasks (did the role change during the benchmark?): %s' % shapes)
    rows = []
    for index, (task, _seconds) in enumerate(profiles[0]):
        rows.append({'task': task, 'median_s': round(statistics.median(p[index][1] for p in profiles), 3)})
    return rows


class Inventory:
    """Set-up and checks on a simulator: the tag, the custom attribute, power states."""

    def __init__(self, sim):
        self.sim = sim
        self.client = VCenterClient(sim)
        self.client.add_custom_field(FIELD)
        self.tag_id = self.client.create_tag(TAG, self.client.create_category(CATEGORY))
        self.names = {row['moid']: row['name'] for row in self.client.vms()}

    def tag(self, names) -> list[str]:
        by_name = {name: moid for moid, name in self.names.items()}
        moids = [by_name[name] for name in names]
        for moid in moids:
            self.client.attach_tag(self.tag_id, moid)
        return moids

    def power_states(self, moids) -> dict:
        from pyVmomi import vim, vmodl

        pc = vmodl.query.PropertyCollector
        spec = pc.FilterSpec(objectSet=[pc.ObjectSpec(obj=vim.VirtualMachine(moid, self.client.si._stub)) for moid in moids],
                             propSet=[pc.PropertySpec(type=vim.VirtualMachine, pathSet=['runtime.powerState'])])
        return {obj.obj._moId: str(obj.propSet[0].val) for obj in self.client.content.propertyCollector.RetrieveContents([spec])}

    def cluster_moid(self, name: str) -> str:
        from pyVmomi import vim

        view = self.client.content.viewManager.CreateContainerView(self.client.content.rootFolder, [vim.ClusterComputeResource], True)
        try:
            clusters = {self.client.get(obj, 'name'): obj._moId for obj in view.view}
        finally:
            view.Destroy()
        return clusters[name]

    def _vm(self, moid):
        from pyVmomi import vim

        return vim.VirtualMachine(moid, self.client.si._stub)

    def reset(self, moids) -> None:
        """Power the VMs on and clear their annotation, so that every run has the same work to do.

        Batched (tasks awaited together, VMs by moid): per-VM look-ups by name cost O(inventory) each.
        """
        from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.task_wait import wait_for_tasks

        off = [moid for moid, state in self.power_states(moids).items() if state != 'poweredOn']
        for first in range(0, len(off), 50):
            wait_for_tasks(self.client.content, [self._vm(moid).PowerOnVM_Task() for moid in off[first:first + 50]], 120)
        key = self.client._field_key(FIELD)
        for moid in moids:
            self.client.content.customFieldsManager.SetField(entity=self._vm(moid), key=key, value='')

    def annotations(self, moids) -> dict:
        """``{moid: value of FIELD}`` in one retrieve (vcsim appends on SetField: the last entry wins)."""
        from pyVmomi import vim, vmodl

        key = self.client._field_key(FIELD)
        pc = vmodl.query.PropertyCollector
        spec = pc.FilterSpec(objectSet=[pc.ObjectSpec(obj=self._vm(moid)) for moid in moids],
                             propSet=[pc.PropertySpec(type=vim.VirtualMachine, pathSet=['customValue'])])
        values = {}
        for obj in self.client.content.propertyCollector.RetrieveContents([spec]):
            for item in (obj.propSet[0].val if obj.propSet else None) or []:
                if item.key == key:
                    values[obj.obj._moId] = item.value
        return values

    def check_preempted(self, moids, what: str) -> None:
        states = self.power_states(moids)
        still_on = sorted(moid for moid, state in states.items() if state != 'poweredOff')
        annotations = self.annotations(moids)
        unannotated = sorted(moid for moid in moids if '"preempted":true' not in (annotations.get(moid) or ''))
        if still_on or unannotated:
            raise BenchError('%s did not do the job: still on %s, not annotated %s' % (what, still_on, unannotated))

    def close(self) -> None:
        self.client.close()


def start_sim(workdir: Path, name: str, **options) -> Simulator:
    sim = Simulator(workdir=str(workdir / ('vcsim-' + name)), binary=vcsim_binary(), **options)
    sim.start(timeout=120)
    return sim


def alternate(round_index: int, pair):
    return pair if round_index % 2 == 0 else tuple(reversed(pair))


def preempt_cmd(state_file: Path, extra=None, parallel: int = 5, max_vms: int = 10) -> list:
    variables = {'preemption_tag': TAG, 'preemption_criticality': 'HIGH', 'preemption_parallel': parallel, 'preemption_max_vms': max_vms,
                 'preemption_state_file': str(state_file), 'preemption_workflow_id': 'bench'}
    variables.update(extra or {})
    return [BIN / 'ansible-playbook', 'vsphere.preemption.preempt', '-e', json.dumps(variables)]


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
                calls[side] = {'total': len(counter.calls), 'connections': counter.connections, 'logins': counter.logins,
                               'by_request': counter.summary()}
                actions[side] = task_actions(stdout)
            counter.reset()
            run_module_alone(dict(module_env, VMWARE_PORT=str(counter.port)), out / 'power_off-alone-count.log')
            calls['power_off_module'] = {'total': len(counter.calls), 'connections': counter.connections, 'logins': counter.logins,
                                         'by_request': counter.summary()}

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
            result['targets'].update({'speedup_at_least': TARGETS['preempt_speedup'],
                                      'speedup_met': statistics.median(speedup) >= TARGETS['preempt_speedup']})
        return result
    finally:
        if latency is not None:
            latency.stop()
        inv.close()
        sim.stop()


# --------------------------------------------------------------------------- 5. tags, 6. N

def bench_tags(runs: int, workdir: Path, tagged: int = 10, extra: int = 300,
               vcenter_ms=(DEFAULT_LATENCY_MS, DEFAULT_LOGIN_LATENCY_MS)) -> dict:
    """tagged_vm_info through a realistic vCenter latency, with one tag and with ``extra`` more in three other categories.

    The one-tag searches run first (the extra tags cannot be taken away), then
    with ``category``, without it, and with the ``tag_id`` the first search returned.
    """
    out = workdir / 'tags'
    out.mkdir()
    sim = start_sim(workdir, 'tags', vms=tagged)
    inv = Inventory(sim)
    proxy = RequestCounter(sim, *vcenter_ms).start()
    try:
        inv.tag(['DC0_C0_RP0_VM%d' % i for i in range(tagged)])
        env = bench_env(sim, proxy.port)

        def search(case, args):
            times, requests, tag_ids = [], [], set()
            for i in range(runs):
                cmd = [BIN / 'ansible', 'localhost', '-m', 'vsphere.preemption.tagged_vm_info', '-a', json.dumps(dict({'tag': TAG}, **args))]
                proxy.reset()
                seconds, stdout = run_timed(cmd, env, out / ('%s-%d.log' % (case, i)))
                result = json.loads(stdout.split('=>', 1)[1])
                if result.get('total') != tagged:
                    raise BenchError('tagged_vm_info (%s) found %s VMs, not %d' % (case, result.get('total'), tagged))
                times.append(seconds)
                requests.append(len(proxy.calls))
                tag_ids.add(result['tag_id'])
            log('tags %s: %.2f s, %d requests' % (case, statistics.median(times), requests[-1]))
            return {'s': summary(times), 'requests': max(requests), 'tag_id': tag_ids.pop()}

        cases = {'one_tag_category': search('one-tag-category', {'category': CATEGORY}),
                 'one_tag_no_category': search('one-tag-no-category', {})}
        tag_id = cases['one_tag_category']['tag_id']
        for k in range(3):
            category = inv.client.create_category('bench-noise-%d' % k)
            for j in range(extra // 3):
                inv.client.create_tag('noise-%03d' % j, category)
        cases.update({
            'many_tags_category': search('many-tags-category', {'category': CATEGORY}),
            'many_tags_no_category': search('many-tags-no-category', {}),
            'many_tags_tag_id': search('many-tags-tag-id', {'tag_id': tag_id}),
            'many_tags_category_tag_id': search('many-tags-category-tag-id', {'category': CATEGORY, 'tag_id': tag_id}),
        })
        for case in cases.values():
            del case['tag_id']
        with_category = cases['many_tags_category']['s']['median'] / cases['one_tag_category']['s']['median']
        with_tag_id = cases['many_tags_tag_id']['s']['median'] / cases['one_tag_no_category']['s']['median']
        return {
            'setup': {'tagged_vms': tagged, 'extra_tags': extra, 'extra_categories': 3, 'vcenter_request_ms': vcenter_ms[0],
                      'vcenter_login_ms': vcenter_ms[1], 'via': 'ansible localhost -m (one module process)'},
            'cases': cases,
            'many_vs_one_with_category': round(with_category, 3),
            'many_with_tag_id_vs_one_without_category': round(with_tag_id, 3),
            'targets': {'at_most': TARGETS['tags_many_vs_one'],
                        'category_met': with_category <= TARGETS['tags_many_vs_one'],
                        'tag_id_met': with_tag_id <= TARGETS['tags_many_vs_one']},
        }
    finally:
        proxy.stop()
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


# --------------------------------------------------------------------------- 2. scale

def bench_scale(runs: int, workdir: Path, sizes, tagged: int = 10) -> dict:
    out = workdir / 'scale'
    out.mkdir()
    sims, invs, env, calls, tagged_moids = {}, {}, {}, {}, {}
    args_file = out / 'args.json'
    args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {'tag': TAG}}))
    try:
        for size in sizes:
            if size % 2:
                raise BenchError('inventory sizes must be even (two resource pools of size/2 VMs): %d' % size)
            started = time.perf_counter()
            # Default model: one standalone host and one cluster, each with a root pool of `vms` VMs.
            sims[size] = start_sim(workdir, 'scale-%d' % size, vms=size // 2)
            invs[size] = Inventory(sims[size])
            if len(invs[size].names) != size:
                raise BenchError('the %d-VM simulator has %d VMs' % (size, len(invs[size].names)))
            # Spread the tagged VMs evenly over the inventory (sorted by name: both pools).
            everything = sorted(invs[size].names.values())
            tagged_moids[size] = invs[size].tag(everything[::size // tagged][:tagged])
            env[size] = bench_env(sims[size], extra={'PYTHONPATH': COLLECTIONS_PATH})
            log('scale: %d-VM simulator up in %.1f s' % (size, time.perf_counter() - started))

        def module_cmd():
            return [sys.executable, '-m', 'ansible_collections.vsphere.preemption.plugins.modules.tagged_vm_info', args_file]

        def adhoc_cmd():
            return [BIN / 'ansible', 'localhost', '-m', 'vsphere.preemption.tagged_vm_info', '-a', json.dumps({'tag': TAG})]

        def check(stdout: str, size: int, adhoc: bool) -> None:
            text = stdout.split('=>', 1)[1] if adhoc else stdout
            result = json.loads(text)
            if result.get('total') != tagged or len(result.get('vms', [])) != tagged:
                raise BenchError('tagged_vm_info on %d VMs found %s, not %d' % (size, result.get('total'), tagged))

        for size in sizes:
            with RequestCounter(sims[size]) as counter:
                count_env = dict(env[size], VMWARE_PORT=str(counter.port))
                _seconds, stdout = run_timed(module_cmd(), count_env, out / ('count-%d.log' % size))
                check(stdout, size, adhoc=False)
                calls[size] = {'total': len(counter.calls), 'connections': counter.connections, 'by_request': counter.summary()}

        # For contrast, the baseline's per-VM step: vm_powerstate finds its VM by name.
        ends = (min(sizes), max(sizes))
        baseline_s = {size: [] for size in ends}

        def baseline_step(size, log_file):
            moid = tagged_moids[size][0]
            invs[size].reset([moid])
            cmd = [BIN / 'ansible', 'localhost', '-m', 'vmware.vmware.vm_powerstate', '-a', json.dumps({
                'datacenter': 'DC0', 'name': invs[size].names[moid], 'state': 'powered-off', 'force': True})]
            seconds, _stdout = run_timed(cmd, env[size], log_file)
            if invs[size].power_states([moid])[moid] != 'poweredOff':
                raise BenchError('vm_powerstate did not power %s off' % moid)
            return seconds

        module_s = {size: [] for size in sizes}
        adhoc_s = {size: [] for size in sizes}
        for i in range(runs):
            for size in alternate(i, ends):
                baseline_s[size].append(baseline_step(size, out / ('baseline-%d-%d.log' % (size, i))))
            order = list(sizes[i % len(sizes):]) + list(sizes[:i % len(sizes)])
            for size in order:
                seconds, stdout = run_timed(module_cmd(), env[size], out / ('module-%d-%d.log' % (size, i)))
                check(stdout, size, adhoc=False)
                module_s[size].append(seconds)
                seconds, stdout = run_timed(adhoc_cmd(), env[size], out / ('adhoc-%d-%d.log' % (size, i)))
                check(stdout, size, adhoc=True)
                adhoc_s[size].append(seconds)
            log('scale round %d: module %s' % (i + 1, ', '.join('%d VMs %.2f s' % (s, module_s[s][-1]) for s in sizes)))

        # The tag is found by name: how the cost grows with the number of tags (not VMs) in vCenter.
        small = min(sizes)
        for k in range(EXTRA_TAGS):
            invs[small].client.create_tag('other-%03d' % k, invs[small].client.create_category('bench-other-%03d' % k))
        with RequestCounter(sims[small]) as counter:
            _seconds, stdout = run_timed(module_cmd(), dict(env[small], VMWARE_PORT=str(counter.port)), out / 'count-extra-tags.log')
            check(stdout, small, adhoc=False)
            extra_calls = {'total': len(counter.calls), 'connections': counter.connections, 'by_request': counter.summary()}
        extra_s = []
        for i in range(runs):
            seconds, stdout = run_timed(module_cmd(), env[small], out / ('module-extra-tags-%d.log' % i))
            check(stdout, small, adhoc=False)
            extra_s.append(seconds)

        large = max(sizes)
        module_ratio = [b / a for a, b in zip(module_s[small], module_s[large])]
        adhoc_ratio = [b / a for a, b in zip(adhoc_s[small], adhoc_s[large])]
        constant = len({calls[size]['total'] for size in sizes}) == 1
        return {
            'setup': {'tagged_vms': tagged, 'inventories': {str(s): {'vms': s, 'simulator': 'vms=%d per pool, 2 pools' % (s // 2)} for s in sizes}},
            'module_s': {str(s): summary(module_s[s]) for s in sizes},
            'adhoc_s': {str(s): summary(adhoc_s[s]) for s in sizes},
            'largest_vs_smallest_module': summary(module_ratio),
            'largest_vs_smallest_adhoc': summary(adhoc_ratio),
            'requests_per_search': {str(s): calls[s] for s in sizes},
            'baseline_vm_powerstate_by_name_s': {str(s): summary(baseline_s[s]) for s in ends},
            'baseline_largest_vs_smallest': summary([b / a for a, b in zip(baseline_s[ends[0]], baseline_s[ends[1]])]),
            'with_extra_tags': {'vms': small, 'tags_in_vcenter': EXTRA_TAGS + 1, 'module_s': summary(extra_s), 'requests': extra_calls},
            'targets': {
                'largest_vs_smallest_at_most': TARGETS['scale_10k_vs_100'],
                'module_met': statistics.median(module_ratio) <= TARGETS['scale_10k_vs_100'],
                'adhoc_met': statistics.median(adhoc_ratio) <= TARGETS['scale_10k_vs_100'],
                'requests_constant': constant,
            },
        }
    finally:
        for size in sims:
            if size in invs:
                invs[size].close()
            sims[size].stop()


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


def bench_storm(runs: int, workdir: Path) -> dict:
    """The same alarm red on STORM_CLUSTERS clusters at once through the webhook rulebook, against one cluster alone.

    Each cluster holds two tagged VMs; the time is from the first POST until every cluster's VMs are off and
    every run is recorded finished. The rulebook runs scopes in parallel (a lock per cluster).
    """
    import requests

    out = workdir / 'storm'
    out.mkdir()
    sim = start_sim(workdir, 'storm', clusters=STORM_CLUSTERS, hosts=1, vms=2, standalone_hosts=0)
    inv = Inventory(sim)
    state_file = out / 'state.json'
    token = uuid.uuid4().hex
    port = free_port()
    rule_vars = {'preemption_alarm_name': ALARM, 'preemption_webhook_token': token, 'preemption_webhook_port': port,
                 'preemption_webhook_host': '127.0.0.1', 'preemption_tag': TAG, 'preemption_state_file': str(state_file),
                 'preemption_threshold': 0}
    clusters = ['DC0_C%d' % i for i in range(STORM_CLUSTERS)]
    try:
        moids = {cluster: inv.tag(['%s_RP0_VM0' % cluster, '%s_RP0_VM1' % cluster]) for cluster in clusters}
        cluster_moids = {cluster: inv.cluster_moid(cluster) for cluster in clusters}
        session = requests.Session()
        session.trust_env = False
        headers = {'Authorization': 'Bearer %s' % token, 'Content-Type': 'application/cloudevents+json'}
        url = 'http://127.0.0.1:%d/endpoint' % port

        def relieve(names):
            """Seconds until the clusters ``names``, red at once, have their VMs off and their runs finished."""
            every = [moid for name in names for moid in moids[name]]
            inv.reset(every)
            with contextlib.suppress(FileNotFoundError):
                state_file.unlink()
            start = time.perf_counter()
            for name in names:
                resp = session.post(url, json=alarm_event(cluster_moids[name]), headers=headers, timeout=30)
                if resp.status_code != 200:
                    raise BenchError('webhook answered HTTP %d: %s' % (resp.status_code, resp.text))
            deadline = start + 300
            while time.perf_counter() < deadline:
                if not rulebook.running():
                    raise BenchError('ansible-rulebook exited:\n%s' % rulebook.log())
                with contextlib.suppress(OSError, ValueError):
                    workflows = json.loads(state_file.read_text()).get('workflows', {})
                    if len(workflows) == len(names) and all(r['run']['status'] == 'finished' for r in workflows.values()):
                        break
                time.sleep(0.1)
            else:
                raise BenchError('the storm of %d clusters was not relieved within 300 s' % len(names))
            took = time.perf_counter() - start
            inv.check_preempted(every, 'storm')
            return took

        rulebook = Rulebook(str(REPO / 'extensions' / 'eda' / 'rulebooks' / 'preemption.yml'), rule_vars, out / 'rulebook',
                            env=bench_env(sim), verbose=False)
        one, storm = [], []
        with rulebook:
            rulebook.wait_for_port(port)
            relieve(clusters[:1])  # warm-up, not timed
            for i in range(runs):
                for side in alternate(i, ('one', 'storm')):
                    (one if side == 'one' else storm).append(relieve(clusters[:1] if side == 'one' else clusters))
                log('storm round %d: one cluster %.2f s, %d clusters %.2f s' % (i + 1, one[-1], STORM_CLUSTERS, storm[-1]))
    finally:
        inv.close()
        sim.stop()
    ratio = [s / o for s, o in zip(storm, one)]
    return {'clusters': STORM_CLUSTERS, 'one_cluster_s': summary(one), 'storm_s': summary(storm), 'storm_vs_one': summary(ratio),
            'targets': {'storm_vs_one_below': TARGETS['storm_vs_one'], 'met': statistics.median(ratio) < TARGETS['storm_vs_one']}}


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


# --------------------------------------------------------------------------- report

def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _collection_version(namespace: str, name: str) -> str | None:
    import ansible_collections

    for root in list(ansible_collections.__path__) + [os.path.join(COLLECTIONS_PATH, 'ansible_collections')]:
        manifest = Path(root) / namespace / name / 'MANIFEST.json'
        if manifest.is_file():
            return json.loads(manifest.read_text())['collection_info']['version']
    galaxy = REPO / 'galaxy.yml'
    if (namespace, name) == ('vsphere', 'preemption') and galaxy.is_file():
        match = re.search(r'^version:\s*(\S+)', galaxy.read_text(), re.M)
        return match.group(1) if match else None
    return None


def _command_output(cmd) -> str | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False).stdout.strip() or None
    except OSError:
        return None


def machine_info() -> dict:
    cpu = None
    with contextlib.suppress(OSError):
        cpu = next((line.split(':', 1)[1].strip() for line in Path('/proc/cpuinfo').read_text().splitlines()
                    if line.startswith('model name')), None)
    mem = None
    with contextlib.suppress(OSError, StopIteration):
        mem = next(line.split(':', 1)[1].strip() for line in Path('/proc/meminfo').read_text().splitlines() if line.startswith('MemTotal'))
    return {'platform': platform.platform(), 'cpu': cpu, 'cpus': os.cpu_count(), 'memory': mem,
            'python': platform.python_version(), 'load_average_at_start': [round(x, 2) for x in os.getloadavg()]}


def versions() -> dict:
    go = _command_output(['go', 'version']) or _command_output(['/usr/lib/go/bin/go', 'version'])
    git = _command_output(['git', '-C', str(REPO), 'rev-parse', 'HEAD'])
    dirty = _command_output(['git', '-C', str(REPO), 'status', '--porcelain'])
    return {
        'vsphere.preemption': _collection_version('vsphere', 'preemption'),
        'git_commit': git, 'git_dirty': bool(dirty),
        'ansible-core': _version('ansible-core'), 'ansible': _version('ansible'),
        'community.vmware': _collection_version('community', 'vmware'), 'vmware.vmware': _collection_version('vmware', 'vmware'),
        'ansible.posix': _collection_version('ansible', 'posix'),
        'ansible-rulebook': _version('ansible-rulebook'), 'ansible-runner': _version('ansible-runner'),
        'pyvmomi': _version('pyvmomi'), 'requests': _version('requests'), 'cloudevents': _version('cloudevents'),
        'govmomi (vcsim)': _command_output(['dpkg-query', '-W', '-f', '${Version}', 'golang-github-vmware-govmomi-dev']),
        'go': go, 'vcsim_binary': vcsim_binary(),
    }


def _fmt(stat, unit='s', digits=2) -> str:
    return '%.*f%s (%.*f-%.*f)' % (digits, stat['median'], unit, digits, stat['min'], digits, stat['max'])


def _met(flag) -> str:
    return 'met' if flag else 'MISSED'


def table(results: dict) -> list[tuple[str, str, str, str]]:
    """Rows (measure, median (min-max), target, met/MISSED) for the printed table and the README."""
    rows = []
    r = results.get('preempt')
    if r:
        rows += [
            ('1. preempt 10 VMs, 500 ms latency: collection playbook', _fmt(r['collection_s']), '', ''),
            ('1. same job, baseline playbook (vm_powerstate + custom attributes loops)', _fmt(r['baseline_s']), '', ''),
            ('1. speed-up (baseline / collection, per round)', _fmt(r['speedup'], 'x'), '>= %gx' % TARGETS['preempt_speedup'],
             _met(r['targets']['speedup_met'])),
            ('1. power-off step (floor %.1f s = ceil(10/5) x 0.5 s)' % r['power_off_floor_s'], _fmt(r['power_off_step_s']), '', ''),
            ('1. power-off step / floor', _fmt(r['power_off_step_vs_floor'], 'x'), '<= %gx' % TARGETS['power_off_vs_floor'],
             _met(r['targets']['power_off_vs_floor_met'])),
            ('1. power_off module alone, outside Ansible (/ floor)', '%s (%.2fx)' % (
                _fmt(r['power_off_module_alone_s']), r['power_off_module_alone_vs_floor']['median']), '', ''),
            ('1. vCenter requests per run: collection / baseline (power_off module alone)', '%d / %d (%d)' % (
                r['requests_per_run']['collection']['total'], r['requests_per_run']['baseline']['total'],
                r['requests_per_run']['power_off_module']['total']), '', ''),
        ]
    r0, r1 = results.get('preempt'), results.get('preempt_latency')
    if r0 and r1:
        lat = '%d ms/request, %d ms/login' % (r1['setup']['vcenter_request_ms'], r1['setup']['vcenter_login_ms'])
        rows += [
            ('1. preempt 10 VMs, collection: 0 ms · %s' % lat, '%s · %s' % (_fmt(r0['collection_s']), _fmt(r1['collection_s'])), '', ''),
            ('1. same job, baseline: 0 ms · %s' % lat, '%s · %s' % (_fmt(r0['baseline_s']), _fmt(r1['baseline_s'])), '', ''),
            ('1. speed-up with latency (baseline / collection)', _fmt(r1['speedup'], 'x'), '>= %gx' % TARGETS['preempt_speedup'],
             _met(r1['targets']['speedup_met'])),
            ('1. vCenter requests per run, collection / baseline: 0 ms · with latency', '%d / %d · %d / %d' % (
                r0['requests_per_run']['collection']['total'], r0['requests_per_run']['baseline']['total'],
                r1['requests_per_run']['collection']['total'], r1['requests_per_run']['baseline']['total']), '', ''),
            ('1. logins per run, collection / baseline (at %d ms each)' % r1['setup']['vcenter_login_ms'], '%d / %d' % (
                r1['requests_per_run']['collection']['logins'], r1['requests_per_run']['baseline']['logins']), '', ''),
        ]
    r = results.get('tags')
    if r:
        c = r['cases']
        extra = r['setup']['extra_tags']
        rows += [
            ('5. tagged_vm_info with latency, category: 1 tag · +%d tags; requests' % extra,
             '%s · %s; %d · %d' % (
                 _fmt(c['one_tag_category']['s']), _fmt(c['many_tags_category']['s']),
                 c['one_tag_category']['requests'], c['many_tags_category']['requests']),
             '<= %gx' % TARGETS['tags_many_vs_one'], '%.2fx %s' % (r['many_vs_one_with_category'], _met(r['targets']['category_met']))),
            ('5. no category: 1 tag · +%d tags · +%d tags with tag_id; requests' % (extra, extra),
             '%s · %s · %s; %d · %d · %d' % (
                 _fmt(c['one_tag_no_category']['s']), _fmt(c['many_tags_no_category']['s']), _fmt(c['many_tags_tag_id']['s']),
                 c['one_tag_no_category']['requests'], c['many_tags_no_category']['requests'], c['many_tags_tag_id']['requests']),
             '<= %gx' % TARGETS['tags_many_vs_one'],
             '%.2fx %s' % (r['many_with_tag_id_vs_one_without_category'], _met(r['targets']['tag_id_met']))),
        ]
    r = results.get('n')
    if r:
        over = r['time_minus_floor_s']
        for size in ('100', '1000'):
            one = r[size]
            rows.append(('6. preempt %s VMs (parallel %d), with latency: collection; requests; logins' % (
                format(int(size), ','), one['setup']['parallel']), '%s; %d; %d' % (
                _fmt(one['collection_s']), one['requests_per_run']['collection']['total'], one['requests_per_run']['collection']['logins']), '', ''))
        if 'baseline_s' in r['100']:
            rows.append(('6. baseline 100 VMs with latency; speed-up', '%s; %s' % (_fmt(r['100']['baseline_s']), _fmt(r['100']['speedup'], 'x')),
                         '>= %gx' % TARGETS['n_100_speedup'], _met(r['targets']['speedup_100_met'])))
        elif 'baseline_estimate_s' in r:
            rows.append(('6. baseline at 100 · 1,000 VMs, estimated (10 VMs x 10 · x 100, not measured)',
                         '%.0f s · %.0f s' % (r['baseline_estimate_s']['100'], r['baseline_estimate_s']['1000']), '', ''))
        rows.append(('6. (time - floor) for %s VMs' % ' / '.join(format(int(k), ',') for k in sorted(over, key=int)),
                     ' / '.join('%.2f s' % over[k] for k in sorted(over, key=int)), '', ''))
        rows.append(('6. (time - floor) 1,000 VMs / 100 VMs', '%.2fx' % r['1000_vs_100_minus_floor'] if r['1000_vs_100_minus_floor'] else 'n/a',
                     '<= %gx' % TARGETS['n_1000_vs_100'], _met(r['targets']['met'])))
    r = results.get('scale')
    if r:
        sizes = list(r['module_s'])
        for size in sizes:
            rows.append(('2. tagged_vm_info, %s VMs: module / via `ansible -m`; requests' % format(int(size), ','),
                         '%s / %s; %d' % (_fmt(r['module_s'][size]), _fmt(r['adhoc_s'][size]), r['requests_per_search'][size]['total']), '', ''))
        rows += [
            ('2. %s-VM / %s-VM time, module' % (format(int(sizes[-1]), ','), format(int(sizes[0]), ',')),
             _fmt(r['largest_vs_smallest_module'], 'x'), '<= %gx' % TARGETS['scale_10k_vs_100'], _met(r['targets']['module_met'])),
            ('2. %s-VM / %s-VM time, via `ansible -m`' % (format(int(sizes[-1]), ','), format(int(sizes[0]), ',')),
             _fmt(r['largest_vs_smallest_adhoc'], 'x'), '<= %gx' % TARGETS['scale_10k_vs_100'], _met(r['targets']['adhoc_met'])),
            ('2. vCenter requests per search constant', ', '.join(str(r['requests_per_search'][s]['total']) for s in sizes), 'constant',
             _met(r['targets']['requests_constant'])),
            ('2. for contrast: one vm_powerstate by name via `ansible -m`, %s / %s VMs' % (
                format(int(sizes[0]), ','), format(int(sizes[-1]), ',')), '%s / %s (%.2fx)' % (
                _fmt(r['baseline_vm_powerstate_by_name_s'][sizes[0]]), _fmt(r['baseline_vm_powerstate_by_name_s'][sizes[-1]]),
                r['baseline_largest_vs_smallest']['median']), '', ''),
            ('2. same search, %s VMs but %d tags in vCenter: module; requests' % (
                format(r['with_extra_tags']['vms'], ','), r['with_extra_tags']['tags_in_vcenter']),
             '%s; %d' % (_fmt(r['with_extra_tags']['module_s']), r['with_extra_tags']['requests']['total']), '', ''),
        ]
    r = results.get('overhead')
    if r:
        rows += [
            ('3. full preemption run, no latency (%d tasks)' % r['tasks_run'], _fmt(r['full_s']), '', ''),
            ('3. empty localhost play', _fmt(r['empty_s']), '', ''),
            ('3. full run / empty play', _fmt(r['ratio'], 'x'), '<= %gx' % TARGETS['overhead_vs_empty'], _met(r['targets']['met'])),
        ]
    r = results.get('trigger')
    if r:
        rows += [
            ('4. ansible-playbook started -> first VM off', _fmt(r['direct_first_off_s']), '', ''),
            ('4. CloudEvent POSTed to the rulebook webhook -> first VM off', _fmt(r['rulebook_first_off_s']), '', ''),
            ('4. added by the rulebook (per round)', _fmt(r['rulebook_added_s']), '<= %g s' % TARGETS['trigger_added_s'],
             _met(r['targets']['met'])),
        ]
    r = results.get('storm')
    if r:
        rows += [
            ('7. one cluster red, through the webhook rulebook: until relieved', _fmt(r['one_cluster_s']), '', ''),
            ('7. %d clusters red at once: until all relieved' % r['clusters'], _fmt(r['storm_s']), '', ''),
            ('7. storm / one cluster', _fmt(r['storm_vs_one'], 'x'), '< %gx' % TARGETS['storm_vs_one'], _met(r['targets']['met'])),
        ]
    return rows


def time_table(results: dict) -> list[tuple[str, str]]:
    """Where the full run's time goes: the module tasks one by one, the rest together (rows of task, seconds)."""
    r = results.get('overhead')
    if not r or 'actions' not in r:
        return []
    rows, rest, count = [], 0.0, 0
    for entry, action in zip(r['profile'], r['actions']):
        if action and action.startswith('vsphere.preemption.') and entry['median_s'] >= 0.05:
            rows.append(('%s (`%s`)' % (entry['task'].split(' : ', 1)[-1], action.rsplit('.', 1)[-1]), '%.2f' % entry['median_s']))
        else:
            rest += entry['median_s']
            count += 1
    rows.append(('the %d other tasks (set_fact, include_tasks, skipped tasks, summary)' % count, '%.2f' % rest))
    rows.append(('outside any task (start-up, loading the role, exit)', '%.2f' % r['outside_tasks_s']))
    return rows


def print_table(rows) -> None:
    print()
    print('| measure | median (min-max) | target | |')
    print('|---|---|---|---|')
    for row in rows:
        print('| %s |' % ' | '.join(row))
    print()


def print_time_table(rows) -> None:
    if rows:
        print('| task (full run, no latency) | s |')
        print('|---|---|')
        for row in rows:
            print('| %s |' % ' | '.join(row))
        print()


def ensure_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        log('installing bench/requirements.txt (matplotlib, for the chart) into %s' % sys.prefix)
        subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', str(BENCH / 'requirements.txt')],
                       check=True)
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    return plt


def _bar(ax, labels, stats, colors, unit='s', top=None, **options):
    """Bars at the medians with min-max whiskers; whiskers above ``top`` (the axis top) are cut and their max written."""
    medians = [s['median'] for s in stats]
    errors = [[s['median'] - s['min'] for s in stats], [min(s['max'], top or s['max']) - s['median'] for s in stats]]
    bars = ax.bar(labels, medians, yerr=errors, capsize=6, color=colors, **options)
    for rect, value, stat in zip(bars, medians, stats):
        text = '%.2f %s' % (value, unit)
        if top is not None and stat['max'] > top:
            text += '\n(max %.1f %s)' % (stat['max'], unit)
        ax.annotate(text, (rect.get_x() + rect.get_width() / 2, min(stat['max'], top or stat['max'])), ha='center', va='bottom',
                    xytext=(0, 3), textcoords='offset points', fontsize=9)
    return bars


def plot(results: dict, path: Path) -> None:
    plt = ensure_matplotlib()
    panels = [name for name in SECTIONS if name in results]
    columns = 2 if len(panels) > 1 else 1
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(6.2 * columns, 4.9 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    blue, grey, orange = '#1f77b4', '#9e9e9e', '#ff7f0e'
    for ax, name in zip(axes.flat, panels):
        r = results[name]
        if name == 'preempt':
            width = 0.38
            groups = ('collection_s', 'baseline_s'), ('power_off_step_s', 'baseline_power_off_step_s')
            # A load spike on a shared machine can stretch one whisker far beyond the medians: cut it at the axis top.
            top = 1.6 * max(r[key]['median'] for group in groups for key in group)
            for offset, label, color, keys in ((-width / 2, 'vsphere.preemption', blue, [g[0] for g in groups]),
                                               (width / 2, 'baseline (loops)', grey, [g[1] for g in groups])):
                stats = [r[key] for key in keys]
                _bar(ax, [x + offset for x in range(len(groups))], stats, [color] * len(stats), width=width, label=label, top=top)
            ax.set_ylim(0, top * 1.12)
            floor = r['power_off_floor_s']
            ax.hlines(floor, 1 - width, 1, colors=orange, linestyles='--', linewidth=1.5)
            ax.annotate('floor %.1f s' % floor, (1 - width, floor), xytext=(-4, 0), textcoords='offset points', fontsize=8, color=orange,
                        ha='right', va='center')
            ax.set_xticks(range(len(groups)))
            ax.set_xticklabels(['end to end', 'power-off step'])
            ax.set_title('1. Preempt 10 VMs, 500 ms per power-off\n%.1fx faster (target >= %gx); step %.2fx its floor (<= %gx)' % (
                r['speedup']['median'], TARGETS['preempt_speedup'], r['power_off_step_vs_floor']['median'], TARGETS['power_off_vs_floor']),
                fontsize=10)
            ax.set_ylabel('wall time, s (median, min-max)')
            ax.legend(fontsize=8)
        elif name == 'scale':
            sizes = [int(s) for s in r['module_s']]
            for key, label, color in (('adhoc_s', 'tagged_vm_info via ansible -m', grey), ('module_s', 'tagged_vm_info module alone', blue)):
                med = [r[key][str(s)]['median'] for s in sizes]
                lo = [r[key][str(s)]['median'] - r[key][str(s)]['min'] for s in sizes]
                hi = [r[key][str(s)]['max'] - r[key][str(s)]['median'] for s in sizes]
                ax.errorbar(sizes, med, yerr=[lo, hi], marker='o', capsize=4, label=label, color=color)
            ends = [int(x) for x in r['baseline_vm_powerstate_by_name_s']]
            ax.plot(ends, [r['baseline_vm_powerstate_by_name_s'][str(x)]['median'] for x in ends], linestyle='--', marker='s',
                    color=orange, label='baseline: 1 vm_powerstate by name (ansible -m)')
            ax.set_xscale('log')
            ax.set_ylim(bottom=0)
            ax.set_xticks(sizes)
            ax.set_xticklabels([format(s, ',') for s in sizes])
            ax.set_xlabel('VMs in vCenter (10 tagged)')
            ax.set_ylabel('s per search')
            counts = ', '.join(str(r['requests_per_search'][str(s)]['total']) for s in sizes)
            ax.set_title('2. tagged_vm_info vs inventory size\nvCenter requests per search: %s' % counts, fontsize=10)
            ax.legend(fontsize=8)
        elif name == 'overhead':
            _bar(ax, ['empty play', 'full run'], [r['empty_s'], r['full_s']], ['none', 'none'], edgecolor='black', width=0.6)
            # The full run's median split by where the time goes (profile_tasks medians per module).
            parts = [('outside tasks (start-up, loading, exit)', r['outside_tasks_s'], '#c7c7c7')]
            groups = {'workflow_state (state file)': 0.0, 'vCenter modules': 0.0, 'controller-side tasks': 0.0}
            for entry in r['by_action']:
                action = entry['action'] or ''
                if action.endswith('.workflow_state'):
                    groups['workflow_state (state file)'] += entry['seconds']
                elif action.startswith('vsphere.preemption.'):
                    groups['vCenter modules'] += entry['seconds']
                else:
                    groups['controller-side tasks'] += entry['seconds']
            parts += [(label, seconds, color) for (label, seconds), color in zip(groups.items(), (orange, blue, '#2ca02c'))]
            bottom = 0.0
            for label, seconds, color in parts:
                ax.bar([1], [seconds], bottom=[bottom], color=color, width=0.6, label='%s %.2f s' % (label, seconds))
                bottom += seconds
            ax.bar([0], [r['empty_s']['median']], color='#c7c7c7', width=0.6)
            ax.set_title('3. Full run (no latency) vs empty play\n%.1fx (target <= %gx)' % (r['ratio']['median'], TARGETS['overhead_vs_empty']),
                         fontsize=10)
            ax.set_ylabel('wall time, s')
            ax.legend(fontsize=7, loc='upper left')
        elif name == 'trigger':
            _bar(ax, ['ansible-playbook', 'rulebook webhook'], [r['direct_first_off_s'], r['rulebook_first_off_s']], [grey, blue])
            ax.set_title('4. Trigger -> first VM off\nrulebook adds %.2f s (target <= %g s)' % (
                r['rulebook_added_s']['median'], TARGETS['trigger_added_s']), fontsize=10)
            ax.set_ylabel('s')
    fig.suptitle('vsphere.preemption against vcsim\nmedian of %s runs, bars min-max (%s, %s CPUs)' % (
        results['config']['runs'], results['date'][:10], results['machine']['cpus']), fontsize=11)
    fig.tight_layout()
    fig.savefig(str(path), dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--runs', type=int, default=5, help='timed rounds per measurement (default 5)')
    parser.add_argument('--only', default=','.join(SECTIONS), help='comma-separated sections: %s' % ','.join(SECTIONS))
    parser.add_argument('--sizes', default='100,1000,10000', help='inventory sizes for the scale section')
    parser.add_argument('--latency-ms', type=int, default=DEFAULT_LATENCY_MS, help='vCenter latency per request, "with latency" runs (default 15)')
    parser.add_argument('--login-latency-ms', type=int, default=DEFAULT_LOGIN_LATENCY_MS,
                        help='vCenter latency per login (SOAP Login, REST session), "with latency" runs (default 300)')
    parser.add_argument('--latency-runs', type=int, default=2,
                        help='timed rounds of the comparisons with latency: preempt 1b and tags (default 2)')
    parser.add_argument('--n-runs', type=int, default=1, help='timed rounds of the 100- and 1,000-VM runs (default 1)')
    parser.add_argument('--n-baseline', action='store_true',
                        help='also time the baseline loops at 100 VMs with latency (adds about ten minutes)')
    parser.add_argument('--budget', type=int, default=540,
                        help='seconds after which no further section starts (default 540: about 9 min, plus the section under way)')
    parser.add_argument('--output', default=str(BENCH / 'results.json'), help='results file; the chart goes next to it (.png)')
    parser.add_argument('--report-only', action='store_true', help='measure nothing: print the table and redraw the chart from --output')
    args = parser.parse_args(argv)
    if args.report_only:
        output = Path(args.output)
        results = json.loads(output.read_text())
        plot(results, output.with_suffix('.png'))
        print_table(table(results))
        print_time_table(time_table(results))
        return 0
    sections = [s.strip() for s in args.only.split(',') if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown or args.runs < 1:
        parser.error('--only takes %s; --runs at least 1' % ', '.join(SECTIONS))
    sizes = [int(s) for s in args.sizes.split(',')]

    stamp = datetime.datetime.now(datetime.timezone.utc)
    workdir = BENCH / 'runs' / stamp.strftime('%Y%m%dT%H%M%SZ')
    workdir.mkdir(parents=True)
    results = {'date': stamp.isoformat(timespec='seconds'), 'machine': machine_info(), 'versions': versions(),
               'config': {'runs': args.runs, 'sections': sections, 'sizes': sizes, 'targets': TARGETS,
                          'latency_ms': args.latency_ms, 'login_latency_ms': args.login_latency_ms,
                          'latency_runs': args.latency_runs, 'n_runs': args.n_runs, 'n_baseline': args.n_baseline,
                          'method': 'see docs/docsite/rst/guide_benchmarks.rst'}}
    ensure_matplotlib()  # install or fail now, not after ten minutes of measuring
    began = time.perf_counter()
    timings, skipped = {}, []
    vcenter_ms = (args.latency_ms, args.login_latency_ms)
    steps = [('preempt', lambda: {'preempt': bench_preempt(args.runs, workdir),
                                  'preempt_latency': bench_preempt(args.latency_runs, workdir, vcenter_ms=vcenter_ms, name='preempt-latency')}),
             ('tags', lambda: {'tags': bench_tags(args.latency_runs, workdir, vcenter_ms=vcenter_ms)}),
             ('scale', lambda: {'scale': bench_scale(args.runs, workdir, sizes)}),
             ('overhead+trigger', lambda: bench_no_latency(args.runs, workdir, sections)),
             ('storm', lambda: {'storm': bench_storm(args.runs, workdir)}),
             ('n', lambda: {'n': bench_n(args.n_runs, workdir, results.get('preempt_latency'), args.n_baseline, vcenter_ms=vcenter_ms)})]
    for name, step in steps:
        if not set(name.split('+')) & set(sections):
            continue
        if time.perf_counter() - began > args.budget:
            skipped.append(name)
            log('skipping %s: the %d s budget is spent' % (name, args.budget))
            continue
        t = time.perf_counter()
        try:
            results.update(step())
        except BenchError as exc:
            log('FAILED in %s: %s' % (name, exc))
            return 1
        timings[name] = round(time.perf_counter() - t, 1)
    if skipped:
        results['skipped_over_budget'] = skipped
    results['machine']['load_average_at_end'] = [round(x, 2) for x in os.getloadavg()]
    results['bench_seconds'] = dict(timings, total=round(time.perf_counter() - began, 1))
    rows = table(results)
    results['table'] = [dict(zip(('measure', 'median (min-max)', 'target', 'status'), row)) for row in rows]

    output = Path(args.output)
    output.write_text(json.dumps(results, indent=2) + '\n')
    plot(results, output.with_suffix('.png'))
    print_table(rows)
    print_time_table(time_table(results))
    log('wrote %s and %s in %.0f s (run logs in %s)' % (output, output.with_suffix('.png'), time.perf_counter() - began, workdir))
    if skipped:
        log('INCOMPLETE: %s not measured within the budget (--budget)' % ', '.join(skipped))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
