# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Secrets stay secret and certificates are verified.

One full preempt run at -vvvv (vCenter password as the vcenter_password
variable, a bearer token for the CloudEvent sink in preemption_reply_headers, a
token in the sink URL's query) is examined from every side: its output, the
annotations, what reached the sink, the state file and its mode (created under
umask 022, so 0600 is the collection's doing). Failing runs and failing module
calls at -vvvv must not show the password either. A secret is looked for as it
is, URL-encoded, and (the password) inside HTTP basic credentials, base64 of
``user:password``. A run that does not trust the simulator's CA fails with a
certificate message.

The webhook rulebook's bearer token is tested in tests/functional/test_rulebook.py
(test_requests_without_the_token_are_refused).
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import stat
import subprocess
import urllib.parse

import pytest

from tests.support.ansible_cli import BIN, ansible_env, other_python, run_module, run_playbook
from tests.support.event_receiver import EventReceiver
from tests.support.process_umask import umask
from tests.support.preempt_helpers import FIELD, alarm_event, power_states
from tests.support import preemption_invariants

# Characters that URL-encoding changes, so that the encoded forms differ from the secret itself.
PASSWORD = 'vC/Pa55+w0rd@7f3k:Qz'
WRONG_PASSWORD = 'wR0ng/Pa55+9Lm2@xV'
SINK_TOKEN = 'sink-B3arer/4TqP8w+'
URL_TOKEN = 'url-T0ken-Hx83Zp'
USER = 'user'
VCSIM_OPTIONS = dict(vms=2, hosts=1, clusters=1, password=PASSWORD, username=USER)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1']


def forms(secret):
    """The secret as it is, URL-encoded (path and form style), and as HTTP basic credentials with the user name."""
    return {secret, urllib.parse.quote(secret, safe=''), urllib.parse.quote_plus(secret),
            base64.b64encode(('%s:%s' % (USER, secret)).encode()).decode()}


def assert_hidden(output, *secrets):
    found = sorted(form for secret in secrets for form in forms(secret) if form in output)
    assert not found, 'secrets (or their encodings) in the output: %r' % found


def env_without_password(vcsim):
    env = vcsim.env()
    del env['VMWARE_PASSWORD']
    return env


def secrets_file(directory, **secrets):
    """``-e @file`` arguments for a vars file holding the secrets (a command line is printed at -vvvv)."""
    path = directory / 'secrets.json'
    path.write_text(json.dumps(secrets))
    path.chmod(0o600)
    return ['-e', '@%s' % path]


@pytest.fixture(scope='module', params=['module_in_controller', 'module_process'])
def full_run(request, vcsim, vcenter, moids, tmp_path_factory):
    """The full run at -vvvv, under umask 022; returns (CompletedProcess, sink requests, state file path).

    Once with the vCenter modules in the controller's process (the playbooks' own Python), once as module
    processes (another interpreter).
    """
    preemption_invariants.reset(vcenter, moids.values())
    directory = tmp_path_factory.mktemp('security')
    state_file = directory / 'new-directory' / 'state.json'
    with EventReceiver(token=SINK_TOKEN) as sink:
        secrets = secrets_file(directory, vcenter_password=PASSWORD, preemption_reply_to=sink.url + '?access_token=' + URL_TOKEN,
                               preemption_reply_headers={'Authorization': 'Bearer ' + SINK_TOKEN})
        variables = dict(preemption_event=alarm_event(vcenter, 'DC0_C0'), preemption_state_file=str(state_file))
        if request.param == 'module_process':
            variables['ansible_python_interpreter'] = other_python(directory)
        with umask(0o022):
            proc = run_playbook('vsphere.preemption.preempt', variables, env=env_without_password(vcsim), args=secrets + ['-vvvv'])
        requests = sink.requests
    # What vCenter holds right after the run: other tests of the module reset the VMs.
    proc.power_states = power_states(vcenter)
    proc.module_process = request.param == 'module_process'
    proc.annotations = {moid: vcenter.custom_value(moid, FIELD) for moid in moids.values()}
    return proc, requests, state_file


def test_the_full_run_worked_with_the_secrets(full_run):
    proc, requests, _state_file = full_run
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    assert all(power == 'poweredOff' for name, power in proc.power_states.items() if name in TAGGED)
    # The sink took the event with the token: the token was in use, so its absence elsewhere means something.
    [request] = requests
    assert request.accepted and request.headers['Authorization'] == 'Bearer ' + SINK_TOKEN


def test_the_password_and_the_tokens_are_not_in_the_output_at_vvvv(full_run):
    proc, _requests, _state_file = full_run
    output = proc.stdout + proc.stderr
    assert 'ansible-playbook' in output and 'verbosity: 4' in output  # really -vvvv
    # Module arguments (the password, the run's session ids) never reach a file: a module process gets them on
    # stdin; in the controller's process no module process starts at all.
    assert 'AnsiballZ_' not in output
    assert ('Pipelining is enabled.' in output) == proc.module_process
    assert_hidden(output, PASSWORD, SINK_TOKEN)


def test_a_token_in_the_sink_url_is_not_in_the_summary(full_run):
    # The cloudevent module never prints a sink URL's user info or query, which may carry a token; neither
    # may the line every run ends with (what AWX shows). At -v and above, Ansible prints the role's facts.
    proc, _requests, _state_file = full_run
    [summary] = [line for line in proc.stdout.splitlines() if '"msg": "HIGH preemption cluster-cpu-above-80' in line]
    assert 'sent CloudEvent' in summary
    assert URL_TOKEN not in summary


def test_no_secret_in_the_annotations_the_cloudevent_or_the_state_file(full_run):
    proc, requests, state_file = full_run
    written = list(proc.annotations.values())
    assert all(json.loads(value)['preempted'] for value in written)
    [request] = requests
    # All the request but the Authorization header (which must carry the token) and the URL (which has it by choice).
    sent = [request.body.decode()] + ['%s: %s' % item for item in request.headers.items() if item[0].lower() != 'authorization']
    stored = state_file.read_text()
    for where, texts in (('annotation', written), ('CloudEvent', sent), ('state file', [stored])):
        for text in texts:
            assert_hidden(text, PASSWORD, SINK_TOKEN)


def test_the_state_file_is_private(full_run):
    _proc, _requests, state_file = full_run
    assert stat.S_IMODE(os.stat(state_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(state_file) + '.lock').st_mode) == 0o600
    assert stat.S_IMODE(os.stat(state_file.parent).st_mode) == 0o700


def test_a_failing_run_does_not_show_the_password_at_vvvv(vcsim, vcenter, moids, tmp_path):
    since = preemption_invariants.reset(vcenter, moids.values())
    proc = run_playbook('vsphere.preemption.preempt', dict(preemption_criticality='HIGH', preemption_scope='all', preemption_retries=0,
                                                           preemption_state_file=str(tmp_path / 'state.json')),
                        env=dict(vcsim.env(), VMWARE_PASSWORD=WRONG_PASSWORD), args=['-vvvv'])
    assert proc.returncode == 2
    assert "refused the login of user 'user': wrong user name or password." in proc.stdout
    assert_hidden(proc.stdout + proc.stderr, WRONG_PASSWORD, PASSWORD)
    assert preemption_invariants.power_off_counts(vcenter, since) == {}


def ansible_vvvv(module, args, env, extra_args):
    """``ansible localhost -m module -a args -vvvv``: the CompletedProcess."""
    return subprocess.run([os.path.join(BIN, 'ansible'), 'localhost', '-m', module, '-a', json.dumps(args), '-vvvv'] + extra_args,
                          env=ansible_env(env), capture_output=True, text=True, timeout=120, check=False)


# The secrets come from a vars file, through templates: an argument on the command line is printed at -vvvv.
@pytest.mark.parametrize('module, args, message', [
    ('tagged_vm_info', {'tag': 'preemptible', 'password': '{{ wrong_password }}'}, 'wrong user name or password'),
    ('tagged_vm_info', {'tag': 'no-such-tag', 'password': '{{ password }}'}, "Tag 'no-such-tag' does not exist in vCenter."),
    ('power_off', {'vms': ['vm-99999'], 'mode': 'hard', 'password': '{{ password }}'}, 'vm-99999 (no such VM): no VM with this moid'),
    ('annotate', {'vms': ['vm-99999'], 'key': 'not.defined', 'value': {'a': 1}, 'password': '{{ password }}'},
     "The VM custom attribute 'not.defined' is not defined in vCenter."),
    ('cloudevent', {'headers': {'Authorization': 'Bearer {{ sink_token }}'}, 'data': {'a': 1}}, 'answered HTTP 401 Unauthorized'),
], ids=['login', 'tag', 'power_off', 'annotate', 'cloudevent'])
def test_failing_module_calls_do_not_show_the_secrets_at_vvvv(vcsim, moids, tmp_path, module, args, message):
    secrets = secrets_file(tmp_path, password=PASSWORD, wrong_password=WRONG_PASSWORD, sink_token=SINK_TOKEN)
    with EventReceiver(token='another-token') as sink:
        args = dict(args, url=sink.url) if module == 'cloudevent' else args
        proc = ansible_vvvv('vsphere.preemption.' + module, args, env_without_password(vcsim), secrets)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output[-3000:]
    assert message in proc.stdout, output[-3000:]
    assert_hidden(output, PASSWORD, WRONG_PASSWORD, SINK_TOKEN)


def system_ca_bundle():
    """A CA bundle that does not hold the simulator's CA: the machine's own."""
    return os.environ.get('REQUESTS_CA_BUNDLE') or ssl.get_default_verify_paths().cafile or '/etc/ssl/certs/ca-certificates.crt'


def untrusting_env(vcsim):
    env = dict(vcsim.env(), REQUESTS_CA_BUNDLE=system_ca_bundle(), SSL_CERT_FILE=system_ca_bundle())
    del env['VMWARE_VALIDATE_CERTS']
    return env


def test_certificates_are_verified_by_default(vcsim, vcenter, moids, tmp_path):
    since = preemption_invariants.reset(vcenter, moids.values())
    where = 'vCenter 127.0.0.1:%d' % vcsim.port
    proc = run_playbook('vsphere.preemption.preempt', dict(preemption_criticality='HIGH', preemption_scope='all', preemption_retries=0,
                                                           preemption_state_file=str(tmp_path / 'state.json')),
                        env=untrusting_env(vcsim))
    assert proc.returncode == 2
    assert 'Cannot verify the TLS certificate of %s (unable to get local issuer certificate).' % where in proc.stdout
    power_off = run_module('vsphere.preemption.power_off', {'vms': list(moids.values()), 'mode': 'hard'}, env=untrusting_env(vcsim))
    assert power_off['_rc'] == 2 and power_off['msg'].startswith('Cannot verify the TLS certificate of %s' % where), power_off
    assert preemption_invariants.power_off_counts(vcenter, since) == {}
    # Verification off is a choice that works, whatever CA bundle the environment names.
    unverified = run_module('vsphere.preemption.tagged_vm_info', {'tag': 'preemptible', 'validate_certs': False}, env=untrusting_env(vcsim))
    assert unverified['_rc'] == 0 and unverified['total'] == len(TAGGED), unverified
