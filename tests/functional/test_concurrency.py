# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Ten preempt playbooks started at the same moment, sharing one state file and one vCenter.

Same workflow id: exactly one preempts, the others are skipped by the threshold.
Ten different workflow ids, each capped by preemption_max_vms, racing for the
same tagged VMs: none exceeds its cap, and no VM is powered off twice or
claimed by two runs (vCenter's event log, the annotations, the CloudEvents).
"""

from __future__ import annotations

import collections
import datetime

from tests.support.preempt_helpers import finish, off, start_playbook, state
from tests.support import preemption_invariants

VCSIM_OPTIONS = dict(vms=3, hosts=1, clusters=2)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_C0_RP0_VM2', 'DC0_C1_RP0_VM0', 'DC0_C1_RP0_VM1', 'DC0_C1_RP0_VM2',
          'DC0_H0_VM0', 'DC0_H0_VM1']
RUNS = 10


def run_all(vcsim, variables):
    procs = [start_playbook('preempt', vcsim.env(), extra) for extra in variables]
    return [finish(proc, timeout=300) for proc in procs]


def most_at_once(runs):
    """The largest number of the runs' plays that were under way at one moment (their json callback's times)."""
    def moment(text):
        return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%S.%fZ')
    edges = []
    for run in runs:
        duration = run.output['plays'][0]['play']['duration']
        edges += [(moment(duration['start']), 1), (moment(duration['end']), -1)]
    under_way = most = 0
    for _moment, step in sorted(edges):
        under_way += step
        most = max(most, under_way)
    return most


def assert_overlapped(runs):
    """Serial runs would prove nothing about the state file's lock: most of them must have run at the same time."""
    assert most_at_once(runs) >= RUNS // 2, 'the runs hardly overlapped: at most %d at once' % most_at_once(runs)


def test_ten_runs_of_one_workflow_preempt_once(vcsim, vcenter, moids, since, sink, tmp_path):
    # A threshold no run of the test can outlast: "skipped" can only mean another run proceeded.
    common = dict(preemption_criticality='HIGH', preemption_scope='all', preemption_workflow_id='nightly-batch', preemption_threshold=3600,
                  preemption_state_file=str(tmp_path / 'state.json'), preemption_reply_to=sink.url)
    runs = run_all(vcsim, [common] * RUNS)
    assert [run.rc for run in runs] == [0] * RUNS, '\n\n'.join(str(run) for run in runs if run.rc)
    assert_overlapped(runs)
    summaries = [run.summary() for run in runs]
    preempted = [line for line in summaries if line.startswith('HIGH preemption nightly-batch')]
    assert len(preempted) == 1, summaries
    assert len([line for line in summaries if 'skipped' in line and 'threshold 3600 s' in line]) == RUNS - 1, summaries
    assert off(vcenter) == sorted(TAGGED)
    [record] = state(tmp_path / 'state.json').values()
    assert record['runs'] == 1
    by_run = preemption_invariants.check(vcenter, moids, sink, since)
    assert by_run == {record['run']['run_id']: sorted(moids.values())}
    assert preemption_invariants.power_off_counts(vcenter, since) == {moid: 1 for moid in moids.values()}


def test_ten_workflows_racing_for_the_same_vms_keep_their_caps_and_never_share_a_vm(vcsim, vcenter, moids, since, sink, tmp_path):
    caps = {'workflow-%d' % index: 1 + index % 3 for index in range(RUNS)}
    runs = run_all(vcsim, [dict(preemption_criticality='HIGH', preemption_scope='all', preemption_workflow_id=workflow,
                                preemption_max_vms=cap, preemption_state_file=str(tmp_path / 'state.json'),
                                preemption_reply_to=sink.url) for workflow, cap in caps.items()])
    assert [run.rc for run in runs] == [0] * RUNS, '\n\n'.join(str(run) for run in runs if run.rc)
    assert_overlapped(runs)

    records = state(tmp_path / 'state.json')
    assert len(records) == RUNS
    claimed = collections.Counter()
    for workflow, cap in caps.items():
        [record] = [record for key, record in records.items() if key.startswith(workflow + '@')]
        powered_off = [vm['moid'] for vm in record['run']['results']['powered_off']]
        assert record['run']['status'] == 'finished'
        assert len(powered_off) <= cap, (workflow, cap, powered_off)
        claimed.update(powered_off)
    # Each VM that is off was powered off by exactly one run, once, and carries that run's annotation and CloudEvent.
    assert max(claimed.values()) == 1, claimed
    assert sorted(claimed) == sorted(moids[name] for name in off(vcenter))
    by_run = preemption_invariants.check(vcenter, moids, sink, since)
    assert sorted(moid for vms in by_run.values() for moid in vms) == sorted(claimed)
    assert preemption_invariants.power_off_counts(vcenter, since) == {moid: 1 for moid in claimed}
