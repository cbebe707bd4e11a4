# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The preempt playbook with its state in a real PostgreSQL (preemption_state_url), as several controllers share it.

Each "controller" is an ansible-playbook process with a HOME of its own (so no
state file, fact cache or temp directory is shared): only the URL is.
"""

from __future__ import annotations

import os

from tests.support.preempt_helpers import FIELD, alarm_event, annotation, finish, off, playbook, start_playbook, tag_vms

VCSIM_OPTIONS = dict(vms=2, hosts=1, clusters=1)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1']


def controller_env(vcsim, home):
    os.makedirs(home, exist_ok=True)
    return dict(vcsim.env(), HOME=str(home), ANSIBLE_LOCAL_TEMP=str(home / 'tmp'), ANSIBLE_REMOTE_TMP=str(home / 'remote-tmp'))


def test_controllers_sharing_a_database_preempt_once_and_dedupe_events(vcsim, vcenter, postgres_url, sink, tmp_path):
    tag_vms(vcenter, TAGGED)
    vcenter.add_custom_field(FIELD)
    event = alarm_event(vcenter, 'DC0_C0')
    variables = {'preemption_event': event, 'preemption_state_url': postgres_url, 'preemption_reply_to': sink.url,
                 'preemption_threshold': 3600}
    procs = [start_playbook('preempt', controller_env(vcsim, tmp_path / ('controller-%d' % index)), variables) for index in range(4)]
    runs = [finish(proc, timeout=300) for proc in procs]
    assert [run.rc for run in runs] == [0] * 4, runs
    summaries = [run.summary() for run in runs]
    assert len([line for line in summaries if line.startswith('HIGH preemption')]) == 1, summaries
    assert off(vcenter) == TAGGED
    assert len(sink.events) == 1 and {annotation(vcenter, vcenter.moid(name))['runID'] for name in TAGGED} == {
        sink.events[0]['data']['runID']}
    # No state file anywhere: the database is the state.
    assert not list(tmp_path.glob('**/vsphere_preemption_state.json'))
    # The password is never printed.
    password = postgres_url.split('@')[0].rsplit(':', 1)[-1]
    assert all(password not in run.stdout + run.stderr for run in runs)

    # The same event delivered again after the threshold, on another controller: a duplicate, nothing runs.
    again = playbook('preempt', controller_env(vcsim, tmp_path / 'controller-late'), dict(variables, preemption_threshold=0))
    assert again.rc == 0 and 'Duplicate event' in again.summary(), again
    assert len(sink.events) == 1
