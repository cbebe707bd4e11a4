# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The PostgreSQL state backend against a real server: several controllers, crashes, and its errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._state.postgres import TABLE, StateDatabase, StateDatabaseError
from ansible_collections.vsphere.preemption.plugins.module_utils._state.store import open_state
from ansible_collections.vsphere.preemption.plugins.module_utils._url_redaction import redact_url
from tests.support.machine import free_port

CONTROLLER = Path(__file__).resolve().parent.parent / 'support' / 'postgres' / 'controller.py'


def table_exists(url):
    with psycopg.connect(url) as connection:
        return connection.execute('SELECT to_regclass(%s)', (TABLE,)).fetchone()[0] is not None


class Controller:
    """A simulated controller: its own HOME and ANSIBLE_* directories, sharing only the URL (password in PGPASSWORD)."""

    def __init__(self, root, name, server, url):
        self.home = root / name
        for sub in ('tmp', 'local_tmp', 'fact_cache'):
            (self.home / sub).mkdir(parents=True)
        self.url = url.replace(':%s@' % server.password, '@')
        self.env = {
            'PATH': os.environ['PATH'], 'HOME': str(self.home), 'TMPDIR': str(self.home / 'tmp'),
            'ANSIBLE_HOME': str(self.home / '.ansible'), 'ANSIBLE_LOCAL_TEMP': str(self.home / 'local_tmp'),
            'ANSIBLE_CACHE_PLUGIN_CONNECTION': str(self.home / 'fact_cache'), 'PGPASSWORD': server.password,
        }

    def spawn(self, method, die_before_commit=False, **kwargs):
        args = [sys.executable, str(CONTROLLER), self.url, method, json.dumps(kwargs)] + (['--die-before-commit'] if die_before_commit else [])
        return subprocess.Popen(args, env=self.env, cwd=str(self.home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def call(self, method, **kwargs):
        proc = self.spawn(method, **kwargs)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        return json.loads(out)


@pytest.fixture
def controllers(tmp_path, postgres_server, postgres_url):
    return Controller(tmp_path, 'controller-a', postgres_server, postgres_url), Controller(tmp_path, 'controller-b', postgres_server, postgres_url)


def test_ten_runs_over_two_controllers_exactly_one_proceeds(controllers):
    a, b = controllers
    procs = [(a if index % 2 else b).spawn('started', workflow_id='cpu@vc1', threshold=60, event_id='ce-%d' % index) for index in range(10)]
    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        outcomes.append(json.loads(out)['proceed'])
    assert sorted(outcomes) == [False] * 9 + [True]
    assert a.call('query', workflow_id='cpu@vc1')['runs'] == 1
    assert sorted(os.listdir(a.home)) == sorted(os.listdir(b.home)) == ['fact_cache', 'local_tmp', 'tmp'], 'nothing local was written'


def test_a_run_killed_on_one_controller_is_finished_on_the_other_with_one_event(controllers):
    a, b = controllers
    started = a.call('started', workflow_id='cpu@vc1', threshold=60, event_id='ce-1')
    run_id = started['run']['run_id']
    a.call('progress', workflow_id='cpu@vc1', run_id=run_id, results={'powered_off': [{'moid': 'vm-63', 'method': 'hard'}]})
    # Controller A dies before annotating and sending its CloudEvent; the same CloudEvent is redelivered to B.
    again = b.call('started', workflow_id='cpu@vc1', threshold=60, event_id='ce-1')
    assert (again['proceed'], again['duplicate'], again['pending']['run_id']) == (False, True, run_id)
    assert again['pending']['results'] == {'powered_off': [{'moid': 'vm-63', 'method': 'hard'}]}
    changed, run, record = b.call('finished', workflow_id='cpu@vc1', run_id=run_id, results={'annotated': ['vm-63'], 'event_sent': True})
    assert changed is True and run['status'] == 'finished' and record['runs'] == 1
    assert a.call('started', workflow_id='cpu@vc1', threshold=0, event_id='ce-1')['duplicate'] is True
    assert a.call('started', workflow_id='cpu@vc1', threshold=60, event_id='ce-2')['pending'] is None


def test_a_controller_killed_inside_its_transaction_leaves_nothing_and_holds_no_lock(controllers):
    a, b = controllers
    b.call('started', workflow_id='warm@vc1', threshold=60)  # the table exists: only the vCenter lock is taken
    proc = a.spawn('started', die_before_commit=True, workflow_id='cpu@vc1', threshold=60, event_id='ce-1')
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert b.call('query', workflow_id='cpu@vc1') is None, 'the killed transaction wrote nothing'
    result = b.call('started', workflow_id='cpu@vc1', threshold=60, event_id='ce-1')
    assert result['proceed'] is True, 'the lock died with its connection and the event was not remembered'


def test_the_table_is_created_on_first_change_only(postgres_url):
    store = StateDatabase(postgres_url)
    assert store.query('wf@vc') is None
    assert store.absent('wf@vc') == (None, None)
    assert store.started('wf@vc', 60, check_mode=True)['proceed'] is True
    assert not table_exists(postgres_url)
    result = store.started('wf@vc', 60)
    assert result['proceed'] is True and table_exists(postgres_url)
    # The server's clock by default: a timestamp of today, not of a test clock.
    assert result['run']['started'][:4] >= '2025'


def test_the_password_may_come_from_pgpassword_or_pgpassfile(postgres_server, postgres_url, monkeypatch, tmp_path):
    bare = postgres_url.replace(':%s@' % postgres_server.password, '@')
    monkeypatch.setenv('PGPASSWORD', postgres_server.password)
    assert open_state(url=bare).started('wf@vc', 60)['proceed'] is True
    monkeypatch.delenv('PGPASSWORD')
    passfile = tmp_path / 'pgpass'
    passfile.write_text('127.0.0.1:%d:*:preemption:%s\n' % (postgres_server.port, postgres_server.password))
    passfile.chmod(0o600)
    monkeypatch.setenv('PGPASSFILE', str(passfile))
    assert open_state(url=bare).query('wf@vc')['runs'] == 1


def _refused(url):
    with pytest.raises(StateDatabaseError) as caught:
        open_state(url=url).started('wf@vc', 60)
    return caught.value


def test_a_wrong_password_is_not_retryable_and_never_shown(postgres_server, postgres_url, monkeypatch):
    monkeypatch.delenv('PGPASSWORD', raising=False)
    wrong = postgres_url.replace(postgres_server.password, 'Wr0ng-s3cret')
    error = _refused(wrong)
    assert error.retryable is False
    # Named with its user info redacted (_url_redaction): neither the password nor the user is shown.
    assert str(error).startswith('The state database %s refused the connection: ' % redact_url(wrong))
    assert 'password authentication failed' in str(error) and 'Wr0ng-s3cret' not in str(error)
    missing = _refused(postgres_url.replace(':%s@' % postgres_server.password, '@'))
    assert missing.retryable is False and postgres_server.password not in str(missing)


def test_a_missing_database_is_not_retryable(postgres_server):
    error = _refused(postgres_server.url('no_such_db'))
    assert error.retryable is False
    assert 'no_such_db' in str(error) and postgres_server.password not in str(error)


def test_an_unreachable_server_is_retryable(postgres_server):
    url = postgres_server.url('state', port=free_port())
    error = _refused(url)
    assert error.retryable is True
    assert str(error).startswith('Cannot connect to the state database %s: ' % redact_url(url))
    assert postgres_server.password not in str(error)


@pytest.mark.parametrize('url, message', [
    ('mysql://user@host/db', r"^The state url must be a postgresql:// URL .*not one with the scheme 'mysql'\.$"),
    ('/var/lib/state.json', r"^The state url must be a postgresql:// URL .*not one with the scheme ''\.$"),
    ('postgresql://u:Hidden-pw@127.0.0.1:1/db?bogus=1&password=Hidden-pw',
     r'^Invalid state database URL postgresql://\*\*\*@127.0.0.1:1/db\?bogus=\*\*\*&password=\*\*\*: invalid URI query parameter'),
])
def test_a_bad_url_is_refused_before_connecting(url, message):
    with pytest.raises(StateDatabaseError, match=message) as caught:
        open_state(url=url).started('wf@vc', 60)
    assert caught.value.retryable is False and 'Hidden-pw' not in str(caught.value)


@pytest.mark.parametrize('url, secret', [
    # libpq repeats a malformed password in its own message ('invalid percent-encoded token: "pa%zzss"').
    ('postgresql://u:pa%zzss@127.0.0.1:1/db', 'pa%zzss'),
    ('postgresql://u@127.0.0.1:1/db?password=se%zzcret', 'se%zzcret'),
])
def test_libpq_messages_never_repeat_the_password(url, secret):
    with pytest.raises(StateDatabaseError) as caught:
        StateDatabase(url).query('wf@vc')
    message = str(caught.value)
    assert secret not in message and secret.split('%')[1] not in message, message
    assert message.startswith('Invalid state database URL postgresql://***@127.0.0.1:1/db') and '********' in message
