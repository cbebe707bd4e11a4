# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""An alarm that clears inside the threshold, through the real ansible-rulebook with preemption_restore_on_clear, on the
state file and on PostgreSQL: the restore waits out the window and brings every VM back with no other event; a raise
during the wait cancels it, and the VMs stay off. Also the restore's bad input (preemption_restore_wait).

Inventory: cluster DC0_C0 with two VMs, both tagged preemptible.
"""

from __future__ import annotations

import contextlib
import json
import os

import pytest
import requests

from tests.support.preempt_helpers import alarm_event, off, playbook, power_on_all
from tests.support.machine import free_port
from tests.support.rulebook_cli import RULEBOOKS, Rulebook, wait_until

VCSIM_OPTIONS = dict(vms=2, hosts=1, clusters=1)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1']
# Longer than a preemption run takes on a loaded machine, so the clear arrives inside the window.
THRESHOLD = 40


@pytest.fixture(params=['file', 'postgresql'])
def backend(request, tmp_path):
    """The rulebook variables that choose the state backend, and a reader of the only workflow record (None before any)."""
    if request.param == 'file':
        path = tmp_path / 'state.json'

        def record():
            workflows = json.loads(path.read_text() or '{}').get('workflows', {}) if path.exists() else {}
            return next(iter(workflows.values()), None)
        return {'preemption_state_file': str(path)}, record
    url = request.getfixturevalue('postgres_url')

    def record():
        import psycopg
        with psycopg.connect(url) as connection:
            if connection.execute("SELECT to_regclass('vsphere_preemption_state')").fetchone()[0] is None:
                return None
            row = connection.execute("SELECT body FROM vsphere_preemption_state WHERE kind = 'workflow'").fetchone()
            return row[0] if row else None
    return {'preemption_state_file': str(tmp_path / 'unused.json'), 'preemption_state_url': url}, record


def rulebook(vcsim, tmp_path, variables):
    port, token = free_port(), 'restore-wait-token'
    merged = dict(variables, preemption_alarm_name='cluster-cpu-above-80', preemption_webhook_token=token, preemption_webhook_port=port,
                  preemption_webhook_host='127.0.0.1', preemption_threshold=THRESHOLD, preemption_restore_on_clear=True)
    session = requests.Session()
    session.trust_env = False  # no proxy for 127.0.0.1

    def send(vcenter, old, new):
        response = session.post('http://127.0.0.1:%d/' % port, json=alarm_event(vcenter, 'DC0_C0', old=old, new=new),
                                headers={'Authorization': 'Bearer %s' % token}, timeout=30)
        assert response.status_code == 200
    return Rulebook(os.path.join(RULEBOOKS, 'preemption.yml'), merged, tmp_path / 'rulebook', env=vcsim.env()), port, send


def status(vcsim, variables):
    run = playbook('status', vcsim.env(), dict(variables, preemption_workflow_id='cluster-cpu-above-80'))
    assert run.rc == 0, run
    [shown] = [result['msg'] for result in run.results("Show the workflow's record")]
    return '\n'.join(shown)


@contextlib.contextmanager
def preempted_then_cleared(vcsim, vcenter, backend, tmp_path):
    """The rulebook running, the alarm raised and its preemption finished, then cleared: yields (process, send)."""
    power_on_all(vcenter)
    variables, record = backend
    process, port, send = rulebook(vcsim, tmp_path, variables)
    with process:
        process.wait_for_port(port)
        send(vcenter, 'green', 'red')
        wait_until(lambda: ((record() or {}).get('run') or {}).get('status') == 'finished', 180, 'the preemption', process.log)
        assert off(vcenter) == TAGGED
        send(vcenter, 'red', 'green')
        yield process, send


def test_a_clear_inside_the_threshold_restores_once_the_window_has_passed(vcsim, vcenter, moids, backend, tmp_path):
    variables, record = backend
    with preempted_then_cleared(vcsim, vcenter, backend, tmp_path) as (process, _send):
        # The restore waits, and says so in the state (the status shows it), the VMs still off.
        wait_until(lambda: (record() or {}).get('restore_wait'), 120, 'the waiting restore', process.log)
        assert off(vcenter) == TAGGED and not record()['restore_wait'].get('done')
        assert 'A restore is waiting since %s' % record()['restore_wait']['since'] in status(vcsim, variables)
        started = record()['run']['started']
        # No other event: the restore itself brings them back once the window has passed.
        wait_until(lambda: (record() or {}).get('ledger') == [], THRESHOLD + 180, 'the restore', process.log)
    assert off(vcenter) == []
    done = record()
    assert done['restore_wait']['done'] >= done['restore_wait']['until'] > started and 'cancelled' not in done['restore_wait']
    assert min(vm['at'] for vm in done['released']) >= done['restore_wait']['until']
    assert sorted(vm['name'] for vm in done['released'] if vm['outcome'] == 'restored') == TAGGED


def test_a_raise_during_the_wait_cancels_the_restore(vcsim, vcenter, moids, backend, tmp_path):
    variables, record = backend
    with preempted_then_cleared(vcsim, vcenter, backend, tmp_path) as (process, send):
        wait_until(lambda: (record() or {}).get('restore_wait'), 120, 'the waiting restore', process.log)
        # Raised again inside the window: the threshold skips the raise (the VMs are off), and it cancels the restore.
        send(vcenter, 'green', 'red')
        wait_until(lambda: ((record() or {}).get('restore_wait') or {}).get('cancelled'), 120, 'the cancellation', process.log)
        wait_until(lambda: 'cancelled: it waited from' in process.log(), THRESHOLD + 180, 'the end of the waiting restore', process.log)
        assert record()['runs'] == 1
    assert off(vcenter) == TAGGED
    shown = status(vcsim, variables)
    assert 'was cancelled at %s by a new raise of the alarm' % record()['restore_wait']['cancelled'] in shown
    assert 'Still off, 2 VMs (its ledger)' in shown
    assert [entry['name'] for entry in record()['ledger']] == TAGGED and not record().get('released')


@pytest.mark.parametrize('value, fragment', [
    ('maybe', "argument 'preemption_restore_wait' is of type str and we were unable to convert to bool"),
    ({'seconds': 5}, "argument 'preemption_restore_wait' is of type dict and we were unable to convert to bool"),
])
def test_a_restore_wait_that_is_not_true_or_false_is_refused_before_anything(vcsim, vcenter, moids, tmp_path, value, fragment):
    variables = {'preemption_workflow_id': 'spot', 'preemption_state_file': str(tmp_path / 'state.json'), 'preemption_restore_wait': value}
    run = playbook('restore', vcsim.env(), variables)
    assert run.rc == 2, run
    [message] = run.failures()
    assert fragment in message
    assert not (tmp_path / 'state.json').exists()
