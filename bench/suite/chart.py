# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The chart of bench/results.json: bench/results.png, which the README shows."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

from bench.suite.common import BENCH, SECTIONS, TARGETS, log


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
