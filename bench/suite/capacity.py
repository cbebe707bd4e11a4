# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Capacity target vs cap-only, on the same simulated cluster (issue 25): VMs powered off and capacity freed.

One cluster of ``vms`` tagged VMs whose CPU usage (seeded, heavy-tailed, as real
fleets are) and the cluster's (92% of 84,000 MHz) are set through the simulator
harness; ``preemption_priority_attribute`` gives a quarter of them priority 5. Each
round runs the preempt playbook twice on the same numbers, in alternating order,
every VM powered on again in between:

- target: ``preemption_capacity_target: {cpu_percent: 75}`` (cap ``vms``);
- cap-only: no target, ``preemption_max_vms`` 10 (the 0.2 behaviour and default).

For each: VMs powered off, MHz freed, the cluster's CPU usage after, whether the
target was met, and the wall time. The counts are exact (the same every round);
times are medians with min/max. Usage::

    .venv/bin/python bench/capacity.py [--runs 3] [--vms 40] [--out bench/capacity.json]

Wiring into bench/run.py: call ``bench_capacity(runs, workdir)`` as a section
``capacity`` and show ``table_rows(result)``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
REPO = BENCH.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.ansible_cli import run_playbook  # noqa: E402
from tests.support.vcsim.harness import Simulator, VCenterClient, vcsim_binary  # noqa: E402

CAPACITY_MHZ = 84000
USAGE_MHZ = 77280  # 92%
TARGET = {'cpu_percent': 75}
PRIORITY = 'preemption.priority'
FIELD = 'com.vmware.workflows.vsphere.preemption'
CAP_ONLY_MAX = 10


def _usage(vms, seed=25):
    """Seeded heavy-tailed CPU usage per VM name (MHz), and memory (MB)."""
    rng = random.Random(seed)
    return {name: {'cpu_mhz': min(12000, int(rng.paretovariate(1.3) * 400)), 'memory_mb': rng.choice([2048, 4096, 8192, 16384])}
            for name in vms}


def _run(sim, vcenter, names, state_file, variables):
    started = time.perf_counter()
    proc = run_playbook('vsphere.preemption.preempt', dict(variables, preemption_state_file=str(state_file)), env=sim.env())
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError('preempt failed (rc %d):\n%s' % (proc.returncode, proc.stdout[-3000:]))
    off = [vm['name'] for vm in vcenter.vms() if vm['name'] in names and vm['power_state'] == 'poweredOff']
    for vm in vcenter.vms():
        if vm['power_state'] != 'poweredOn':
            vcenter.power_on(vm['moid'])
    return seconds, off


def bench_capacity(runs: int, workdir: Path, vms: int = 40) -> dict:
    """The section's result: ``{with_target: {...}, cap_only: {...}}`` and the setting; counts exact, ``seconds`` median/min/max."""
    sim = Simulator(vms=vms, hosts=4, clusters=1, standalone_hosts=0, workdir=str(workdir / 'vcsim-capacity'), binary=vcsim_binary())
    sim.start(timeout=120)
    try:
        vcenter = VCenterClient(sim)
        inventory = {vm['name']: vm for vm in vcenter.vms() if vm['cluster_name'] == 'DC0_C0'}
        names = sorted(inventory)
        tag = vcenter.create_tag('preemptible', vcenter.create_category('preemption'))
        vcenter.add_custom_field(FIELD)
        vcenter.add_custom_field(PRIORITY)
        for index, name in enumerate(names):
            vcenter.attach_tag(tag, inventory[name]['moid'])
            if index % 4 == 3:
                vcenter.set_custom_value(inventory[name]['moid'], PRIORITY, '5')
        usage = _usage(names)
        cluster = {'cpu_mhz': USAGE_MHZ, 'memory_mb': 200000, 'cpu_capacity_mhz': CAPACITY_MHZ, 'memory_capacity_mb': 393216}
        sim.set_usage(vms=usage, clusters={'DC0_C0': cluster})
        common = {'preemption_criticality': 'HIGH', 'preemption_scope': inventory[names[0]]['cluster'], 'preemption_threshold': 0,
                  'preemption_priority_attribute': PRIORITY, 'preemption_workflow_id': 'bench-capacity'}
        sides = {'with_target': dict(common, preemption_capacity_target=TARGET, preemption_max_vms=vms),
                 'cap_only': dict(common, preemption_max_vms=CAP_ONLY_MAX)}
        times = {side: [] for side in sides}
        offs = {}
        for round_index in range(runs):
            order = list(sides) if round_index % 2 == 0 else list(reversed(list(sides)))
            for side in order:
                seconds, off = _run(sim, vcenter, names, workdir / ('state-%s-%d.json' % (side, round_index)), sides[side])
                times[side].append(seconds)
                offs.setdefault(side, off)
                if off != offs[side]:
                    raise RuntimeError('%s powered off %s, then %s, on the same numbers' % (side, offs[side], off))
        vcenter.close()
    finally:
        sim.stop()
    need = USAGE_MHZ - CAPACITY_MHZ * TARGET['cpu_percent'] / 100.0
    result = {'vms': vms, 'capacity_mhz': CAPACITY_MHZ, 'usage_mhz': USAGE_MHZ, 'target': TARGET, 'to_free_mhz': need}
    for side, off in offs.items():
        freed = sum(usage[name]['cpu_mhz'] for name in off)
        result[side] = {'vms_powered_off': len(off), 'freed_mhz': freed,
                        'usage_after_percent': round(100.0 * (USAGE_MHZ - freed) / CAPACITY_MHZ, 1), 'target_met': freed >= need,
                        'seconds': {'median': round(statistics.median(times[side]), 2), 'min': round(min(times[side]), 2),
                                    'max': round(max(times[side]), 2)}}
    return result


def table_rows(result: dict) -> list[tuple[str, str, str, str]]:
    """Rows (measure, value, target, status) in the shape of the bench's table (report.table)."""
    rows = []
    for side, label in (('with_target', 'capacity target cpu_percent 75'), ('cap_only', 'cap-only, max_vms %d' % CAP_ONLY_MAX)):
        data = result[side]
        rows.append(('capacity: %s' % label, '%d VMs off, %s MHz freed, usage 92%% -> %s%%, %.2f s (%.2f-%.2f)' % (
            data['vms_powered_off'], '{:,}'.format(data['freed_mhz']), data['usage_after_percent'], data['seconds']['median'],
            data['seconds']['min'], data['seconds']['max']), 'meets 75%', 'met' if data['target_met'] else 'NOT met'))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--vms', type=int, default=40)
    parser.add_argument('--out', default=None, help='also write the result as JSON here')
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix='bench-capacity-') as workdir:
        result = bench_capacity(args.runs, Path(workdir), vms=args.vms)
    for row in table_rows(result):
        print(' | '.join(row))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + '\n')
    return 0 if result['with_target']['target_met'] else 1


if __name__ == '__main__':
    sys.exit(main())
