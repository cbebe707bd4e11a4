# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The table `make bench` prints, and that the README and the benchmarks guide quote."""

from __future__ import annotations

from bench.suite.capacity import table_rows as capacity_rows
from bench.suite.common import TARGETS


def _fmt(stat, unit='s', digits=2) -> str:
    return '%.*f%s (%.*f-%.*f)' % (digits, stat['median'], unit, digits, stat['min'], digits, stat['max'])


def _sessions(calls) -> str:
    """``logins / logouts`` of a counted run (runs counted before 0.3.0 have no logouts)."""
    return '%d / %s' % (calls['logins'], calls.get('logouts', '?'))


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
            ('1. speed-up (baseline / collection, per round)', _fmt(r['speedup'], 'x'), '>= %gx' % r['targets']['speedup_at_least'],
             _met(r['targets']['speedup_met'])),
            ('1. power-off step (floor %.1f s = ceil(10/5) x 0.5 s)' % r['power_off_floor_s'], _fmt(r['power_off_step_s']), '', ''),
            ('1. power-off step / floor', _fmt(r['power_off_step_vs_floor'], 'x'), '<= %gx' % TARGETS['power_off_vs_floor'],
             _met(r['targets']['power_off_vs_floor_met'])),
            ('1. power_off module alone, outside Ansible (/ floor)', '%s (%.2fx)' % (
                _fmt(r['power_off_module_alone_s']), r['power_off_module_alone_vs_floor']['median']), '', ''),
            ('1. vCenter requests per run: collection / baseline (power_off module alone)', '%d / %d (%d)' % (
                r['requests_per_run']['collection']['total'], r['requests_per_run']['baseline']['total'],
                r['requests_per_run']['power_off_module']['total']), '<= %d' % TARGETS['requests_per_run'],
             _met(r['targets'].get('requests_met'))),
            ('1. logins / logouts per run: collection · baseline', '%s · %s' % (
                _sessions(r['requests_per_run']['collection']), _sessions(r['requests_per_run']['baseline'])),
             '<= %d logins' % TARGETS['logins_per_run'], _met(r['targets'].get('logins_met'))),
        ]
    r0, r1 = results.get('preempt'), results.get('preempt_latency')
    if r0 and r1:
        lat = '%d ms/request, %d ms/login' % (r1['setup']['vcenter_request_ms'], r1['setup']['vcenter_login_ms'])
        rows += [
            ('1. preempt 10 VMs, collection: 0 ms · %s' % lat, '%s · %s' % (_fmt(r0['collection_s']), _fmt(r1['collection_s'])), '', ''),
            ('1. same job, baseline: 0 ms · %s' % lat, '%s · %s' % (_fmt(r0['baseline_s']), _fmt(r1['baseline_s'])), '', ''),
            ('1. speed-up with latency (baseline / collection)', _fmt(r1['speedup'], 'x'), '>= %gx' % r1['targets']['speedup_at_least'],
             _met(r1['targets']['speedup_met'])),
            ('1. vCenter requests per run, collection / baseline: 0 ms · with latency', '%d / %d · %d / %d' % (
                r0['requests_per_run']['collection']['total'], r0['requests_per_run']['baseline']['total'],
                r1['requests_per_run']['collection']['total'], r1['requests_per_run']['baseline']['total']), '', ''),
            ('1. logins / logouts per run with latency, collection · baseline (%d ms a login)' % r1['setup']['vcenter_login_ms'],
             '%s · %s' % (_sessions(r1['requests_per_run']['collection']), _sessions(r1['requests_per_run']['baseline'])),
             '<= %d logins' % TARGETS['logins_per_run'], _met(r1['targets'].get('logins_met'))),
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
            ('7. storm / one cluster', _fmt(r['storm_vs_one'], 'x'), '<= %gx' % r['targets'].get('storm_vs_one_at_most', TARGETS['storm_vs_one']),
             _met(r['targets']['met'])),
        ]
        if 'storm_calls' in r:
            rows.append(('7. logins / logouts, requests: one cluster · %d clusters' % r['clusters'], '%s, %d · %s, %d' % (
                _sessions(r['one_cluster_calls']), r['one_cluster_calls']['total'], _sessions(r['storm_calls']), r['storm_calls']['total']),
                '<= %d logins' % TARGETS['storm_logins'], _met(r['targets']['logins_met'])))
    if results.get('capacity'):
        rows += capacity_rows(results['capacity'])
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
