# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every benchmark case shares: constants and targets, timed runs, profiles, the simulator inventory, the machine."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.support.ansible_cli import COLLECTIONS_PATH, ansible_env
from tests.support.vcsim.harness import Simulator, VCenterClient, vcsim_binary


BENCH = Path(__file__).resolve().parent.parent
REPO = BENCH.parent
if COLLECTIONS_PATH not in sys.path:
    sys.path.insert(0, COLLECTIONS_PATH)   # the collection's own task_wait, for the bench's batched resets
BIN = Path(sys.executable).parent
FIELD = 'com.vmware.workflows.vsphere.preemption'
TAG = 'preemptible'
CATEGORY = 'preemption'
ALARM = 'bench-cluster-cpu-above-80'
SECTIONS = ('preempt', 'scale', 'overhead', 'trigger', 'tags', 'n', 'storm', 'capacity')
POLL = 0.025
EXTRA_TAGS = 200
PROFILE_LINE_RE = re.compile(r'^(.*?) -+ (\d+\.\d+)s$')
# The power-off step of each side: the task running this module.
POWER_OFF_ACTION = {'collection': 'vsphere.preemption.power_off', 'baseline': 'vmware.vmware.vm_powerstate'}

TARGETS = {
    'preempt_speedup': 5.0,      # baseline / collection with vCenter latency (15 ms/request, 300 ms/login), at least
    'preempt_speedup_0ms': 4.5,  # baseline / collection on the loopback, at least
    'logins_per_run': 2,         # SOAP + REST logins of one preemption run, at most
    'requests_per_run': 50,      # vCenter requests of one 10-VM preemption run, at most
    'power_off_vs_floor': 1.3,   # power-off step / floor, at most
    'scale_10k_vs_100': 1.3,     # 10,000-VM search / 100-VM search, at most
    'overhead_vs_empty': 4.0,    # full run / empty play, at most
    'trigger_added_s': 1.5,      # rulebook - direct, seconds, at most
    'tags_many_vs_one': 1.3,     # search with 300 more tags / with one tag, at most (with latency)
    'n_1000_vs_100': 10.0,       # (time - floor) at 1,000 VMs / at 100 VMs, at most
    'n_100_speedup': 8.0,        # baseline / collection at 100 VMs with latency, at least
    'storm_vs_one': 3.0,         # six clusters red at once / one cluster alone, through the webhook, at most
    'storm_logins': 12,          # logins of the six clusters' runs together, at most
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
