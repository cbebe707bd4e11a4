# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Case 7: one alarm red on six clusters at once, through the webhook rulebook, against one cluster."""

from __future__ import annotations

import contextlib
import json
import statistics
import time
import uuid
from pathlib import Path

from bench.request_counter import RequestCounter
from bench.suite.common import (
    ALARM,
    BenchError,
    Inventory,
    REPO,
    STORM_CLUSTERS,
    TAG,
    TARGETS,
    alternate,
    bench_env,
    log,
    start_sim,
    summary,
)
from bench.suite.overhead import alarm_event
from tests.support.machine import free_port
from tests.support.rulebook_cli import Rulebook


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
            # The runs log out after they record themselves finished: wait for it (untimed), so that each count holds
            # one storm's logouts, not the tail of the one before.
            settle = time.perf_counter() + 60
            while counter.logouts < counter.logins and time.perf_counter() < settle:
                time.sleep(0.1)
            return took

        # The runs reach vCenter through a counting proxy without latency: the logins and requests of each storm.
        counter = RequestCounter(sim).start()
        rulebook = Rulebook(str(REPO / 'extensions' / 'eda' / 'rulebooks' / 'preemption.yml'), rule_vars, out / 'rulebook',
                            env=bench_env(sim, counter.port), verbose=False)
        one, storm, calls = [], [], {'one': [], 'storm': []}
        with rulebook:
            rulebook.wait_for_port(port)
            relieve(clusters[:1])  # warm-up, not timed
            for i in range(runs):
                for side in alternate(i, ('one', 'storm')):
                    counter.reset()
                    (one if side == 'one' else storm).append(relieve(clusters[:1] if side == 'one' else clusters))
                    calls[side].append(counter.counts())
                log('storm round %d: one cluster %.2f s, %d clusters %.2f s, %d logins' % (
                    i + 1, one[-1], STORM_CLUSTERS, storm[-1], calls['storm'][-1]['logins']))
    finally:
        if 'counter' in locals():
            counter.stop()
        inv.close()
        sim.stop()
    ratio = [s / o for s, o in zip(storm, one)]
    logins = max(entry['logins'] for entry in calls['storm'])
    return {'clusters': STORM_CLUSTERS, 'one_cluster_s': summary(one), 'storm_s': summary(storm), 'storm_vs_one': summary(ratio),
            'one_cluster_calls': calls['one'][-1], 'storm_calls': calls['storm'][-1], 'storm_logins_max': logins,
            'storm_logouts_min': min(entry['logouts'] for entry in calls['storm']),
            'targets': {'storm_vs_one_at_most': TARGETS['storm_vs_one'], 'met': statistics.median(ratio) <= TARGETS['storm_vs_one'],
                        'logins_at_most': TARGETS['storm_logins'], 'logins_met': logins <= TARGETS['storm_logins']}}
