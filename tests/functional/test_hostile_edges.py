# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Sinks that redirect, credentials in URLs and hostile state files, through ansible-playbook against the simulator.

Inventory: four clusters DC0_C0..DC0_C3 with one VM each, all tagged, and the standalone host DC0_H0.
"""

from __future__ import annotations

import json
import os

import psycopg
import yaml

from tests.support.ansible_cli import run_playbook
from tests.support.event_receiver import EventReceiver
from tests.support.preempt_helpers import FIELD, alarm_event, off, playbook, power_on_all, state, tag_vms

VCSIM_OPTIONS = dict(vms=1, hosts=1, clusters=4, standalone_hosts=1)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C1_RP0_VM0', 'DC0_C2_RP0_VM0', 'DC0_C3_RP0_VM0']
REDIRECTS = [301, 302, 307, 308]


def setup_module_vcenter(vcenter):
    if not getattr(vcenter, '_hostile_edges_tagged', False):
        tag_vms(vcenter, TAGGED)
        vcenter.add_custom_field(FIELD)
        vcenter._hostile_edges_tagged = True
    power_on_all(vcenter)


def test_a_redirecting_sink_gets_nothing_re_sent_and_the_next_run_sends_to_the_fixed_sink(vcsim, vcenter, tmp_path):
    setup_module_vcenter(vcenter)
    statefile = str(tmp_path / 'state.json')
    with EventReceiver() as elsewhere, EventReceiver() as fixed:
        target = elsewhere.url + 'steal/path?token=leak'
        sinks = [EventReceiver(responses=[(status, '', {'Location': target})] * 4).start() for status in REDIRECTS]
        try:
            events = [alarm_event(vcenter, 'DC0_C%d' % index, alarm='redirect %d' % status) for index, status in enumerate(REDIRECTS)]
            hosts = {'n%d' % index: {'preemption_event': events[index], 'preemption_reply_to': sinks[index].url + 'hook'}
                     for index in range(len(REDIRECTS))}
            path = tmp_path / 'inventory.yml'
            path.write_text(yaml.safe_dump({'vcenters': {'hosts': hosts}}))
            common = {'preemption_state_file': statefile, 'preemption_retry_delay': 0, 'preemption_reply_headers': {'X-Api-Key': 'k-123'}}
            first = playbook('preempt', vcsim.env(), common, inventory=str(path), args=['--forks', '4'])
            assert first.rc == 2, first
            host = '127.0.0.1:%s' % elsewhere.url.rsplit(':', 1)[1].strip('/')
            for index, status in enumerate(REDIRECTS):
                [failure] = first.results('Stop when the CloudEvent could not be sent', 'n%d' % index)
                event_id = 'redirect %d-%s' % (status, events[index]['id'])
                assert failure['msg'].startswith('Could not send CloudEvent %s to %shook after 1 attempt: The CloudEvent sink %shook '
                                                 'answered HTTP %d ' % (event_id, sinks[index].url, sinks[index].url, status)), failure
                assert 'a redirect to %s; redirects are not followed, so the event was not sent.' % host in failure['msg']
                assert 'steal' not in failure['msg'] and 'leak' not in failure['msg']
                # One request, never retried (a redirect is not retryable), the key sent to the sink it was meant for only.
                [request] = sinks[index].requests
                assert request.event['id'] == event_id and request.headers['X-Api-Key'] == 'k-123'
            assert elsewhere.requests == []
            assert off(vcenter) == TAGGED
            records = state(statefile)
            assert all(record['run']['status'] == 'running' and 'event_sent' not in record['run']['results'] for record in records.values())

            # The sink fixed (and the alarms raised again): each event goes there, under its first id; nothing elsewhere.
            hosts = {'n%d' % index: {'preemption_event': alarm_event(vcenter, 'DC0_C%d' % index, alarm='redirect %d' % status),
                                     'preemption_reply_to': fixed.url} for index, status in enumerate(REDIRECTS)}
            path.write_text(yaml.safe_dump({'vcenters': {'hosts': hosts}}))
            second = playbook('preempt', vcsim.env(), dict(common, preemption_threshold=0), inventory=str(path), args=['--forks', '4'])
            assert second.rc == 0, second
            assert sorted(event['id'] for event in fixed.events) == sorted(
                'redirect %d-%s' % (status, event['id']) for status, event in zip(REDIRECTS, events))
            assert elsewhere.requests == [] and [len(sink.requests) for sink in sinks] == [1] * 4
        finally:
            for sink in sinks:
                sink.stop()


def secrets_in(text, secrets):
    return [secret for secret in secrets if secret in text]


def cluster_of(vcenter, vm_name):
    return next(vm['cluster'] for vm in vcenter.vms() if vm['name'] == vm_name)


def verbose_run(name, variables, env, tmp_path):
    """ansible-playbook -vvvv with the variables in a file, as AWX and EDA pass them (-vvvv echoes a command line)."""
    path = tmp_path / ('vars-%s-%d.json' % (name, len(list(tmp_path.glob('vars-*')))))
    path.write_text(json.dumps(variables))
    return run_playbook('vsphere.preemption.%s' % name, env=env, args=['-vvvv', '-e', '@%s' % path])


def test_credentials_in_both_urls_are_never_stored_or_printed(vcsim, vcenter, postgres_url, tmp_path):
    setup_module_vcenter(vcenter)
    pg_password = postgres_url.split('@')[0].rsplit(':', 1)[-1]
    secrets = ['S1nkPassw0rd', 'T0kenValue42', 'sinkuser', pg_password]
    env = dict(vcsim.env(), ANSIBLE_SHOW_CUSTOM_STATS='1')
    with EventReceiver() as sink:
        reply_to = sink.url.replace('http://', 'http://sinkuser:S1nkPassw0rd@') + 'hook?access_token=T0kenValue42'
        statefile = tmp_path / 'state.json'
        runs = [
            # PostgreSQL state, then the file, then a restore of the file's workflow: all at -vvvv.
            verbose_run('preempt', {'preemption_event': alarm_event(vcenter, 'DC0_C0', alarm='creds'),
                                    'preemption_reply_to': reply_to, 'preemption_state_url': postgres_url}, env, tmp_path),
            verbose_run('preempt', {'preemption_event': alarm_event(vcenter, 'DC0_C1', alarm='creds'),
                                    'preemption_reply_to': reply_to, 'preemption_state_file': str(statefile)}, env, tmp_path),
            verbose_run('restore', {'preemption_workflow_id': 'creds', 'preemption_scope': cluster_of(vcenter, 'DC0_C1_RP0_VM0'),
                                    'preemption_threshold': 0, 'preemption_reply_to': reply_to,
                                    'preemption_state_file': str(statefile)}, env, tmp_path),
        ]
        requests = sink.requests
    for run in runs:
        assert run.returncode == 0, run.stdout[-5000:]
        assert secrets_in(run.stdout + run.stderr, secrets) == []
        assert 'http://***@127.0.0.1' in run.stdout  # the sink is still named, without its credentials
    # Sending used the full URL: user and password as basic auth, the token in the query.
    assert len(requests) == 3 and all(request.path == '/hook?access_token=T0kenValue42' and request.headers['Authorization'].startswith('Basic ')
                                      for request in requests)
    assert secrets_in(statefile.read_text(), secrets) == []
    with psycopg.connect(postgres_url) as connection:
        rows = connection.execute('SELECT kind, name, body::text FROM vsphere_preemption_state').fetchall()
    assert rows and secrets_in(json.dumps(rows), secrets) == []
    assert 'http://***@127.0.0.1:%d/hook?access_token=***' % int(sink.url.rsplit(':', 1)[1].strip('/')) in json.dumps(rows)


def test_hostile_state_files_stop_the_run_before_any_vm_is_touched(vcsim, vcenter, tmp_path):
    setup_module_vcenter(vcenter)
    results = {}
    for case in ('shared', 'symlinked-lock', 'nested'):
        directory = tmp_path / case
        directory.mkdir()
        statefile = directory / 'state.json'
        if case == 'shared':
            statefile.write_text('{"version": 2, "workflows": {}}')
            os.chmod(statefile, 0o666)
        elif case == 'symlinked-lock':
            os.symlink(tmp_path / 'victim', str(statefile) + '.lock')
        else:
            statefile.write_text('{"version": 2, "workflows": ' + '[' * 10000 + ']' * 10000 + '}')
        variables = {'preemption_event': alarm_event(vcenter, 'DC0_C2', alarm='hostile ' + case), 'preemption_state_file': str(statefile)}
        results[case] = playbook('preempt', vcsim.env(), variables)
    for case, run in results.items():
        assert run.rc == 2, run
        [failure] = run.failures()
        assert '\n' not in failure, failure
        results[case] = failure
    path = tmp_path / 'shared' / 'state.json'
    assert results['shared'] == ('The state file %s is writable by its group or by others (mode 0666), so it cannot be trusted; '
                                 'check its content, then fix it with: chmod 600 %s' % (path, path))
    assert 'its lock file %s.lock is a symbolic link' % (tmp_path / 'symlinked-lock' / 'state.json') in results['symlinked-lock']
    assert not (tmp_path / 'victim').exists()
    assert 'is not a vsphere.preemption state file (JSON nested too deeply)' in results['nested']
    assert off(vcenter) == []
