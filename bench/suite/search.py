# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cases 5 and 2: tagged_vm_info with many tags in vCenter, and over inventories of 100 to 10,000 VMs."""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from bench.request_counter import DEFAULT_LATENCY_MS, DEFAULT_LOGIN_LATENCY_MS, RequestCounter
from bench.suite.common import (
    BIN,
    BenchError,
    CATEGORY,
    EXTRA_TAGS,
    Inventory,
    TAG,
    TARGETS,
    alternate,
    bench_env,
    log,
    run_timed,
    start_sim,
    summary,
)
from tests.support.ansible_cli import COLLECTIONS_PATH


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
                      'vcenter_login_ms': vcenter_ms[1], 'via': 'ansible localhost -m (one task; the module runs in its controller process)'},
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
