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
import datetime
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.request_counter import DEFAULT_LATENCY_MS, DEFAULT_LOGIN_LATENCY_MS  # noqa: E402
from bench.suite.capacity import bench_capacity  # noqa: E402
from bench.suite.chart import ensure_matplotlib, plot  # noqa: E402
from bench.suite.common import BENCH, SECTIONS, TARGETS, BenchError, log, machine_info, versions  # noqa: E402
from bench.suite.overhead import bench_no_latency  # noqa: E402
from bench.suite.preempt import bench_n, bench_preempt  # noqa: E402
from bench.suite.report import print_table, print_time_table, table, time_table  # noqa: E402
from bench.suite.search import bench_scale, bench_tags  # noqa: E402
from bench.suite.storm import bench_storm  # noqa: E402


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
    parser.add_argument('--budget', type=int, default=1500,
                        help='seconds after which no further section starts (default 1500: a safety stop; a whole run takes about 15 min)')
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
             ('capacity', lambda: {'capacity': bench_capacity(args.runs, workdir)}),
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
