# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One login per API per run: logins and logouts counted at a proxy in front of the simulator.

A run of the role logs in once over SOAP and once over REST (vcenter_session), hands the sessions to
its steps, and logs both out at its end whatever happened; the session ids never reach the output
(-vvvv included) or the state. A session vCenter terminated is renewed by one login. Each module
used alone still logs in and out by itself.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re

import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.connection import close_run_session, encode_session, open_run_session
from tests.support.ansible_cli import run_module, run_playbook
from tests.support.fault_proxy import soap, soap_fault
from tests.support.preempt_helpers import JSON_OUTPUT, alarm_event, off, playbook
from tests.support import preemption_invariants

VCSIM_OPTIONS = dict(vms=2, hosts=1, clusters=1)
TAGGED = ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1']
REST_SESSION = '/rest/com/vmware/cis/session'


@pytest.fixture
def vms(moids, since, front):
    front.clear()
    return moids


def sessions(proxy):
    """How often the client logged in and out, per API, as vCenter saw it."""
    proxy.settle()
    log = proxy.log
    return dict(soap_logins=sum(1 for entry in log if entry[2] == 'Login'),
                soap_logouts=sum(1 for entry in log if entry[2] == 'Logout'),
                rest_logins=sum(1 for entry in log if entry[:2] == ('POST', REST_SESSION)),
                rest_logouts=sum(1 for entry in log if entry[:2] == ('DELETE', REST_SESSION)))


ONCE = dict(soap_logins=1, soap_logouts=1, rest_logins=1, rest_logouts=1)


def variables(tmp_path, event, sink, **extra):
    return dict(preemption_state_file=str(tmp_path / 'state.json'), preemption_event=event, preemption_reply_to=sink.url, **extra)


def test_a_run_logs_in_once_per_api_and_out_at_its_end(front, vcenter, vms, sink, tmp_path):
    run = playbook('preempt', front.env(), variables(tmp_path, alarm_event(vcenter, 'DC0_C0'), sink))
    assert run.rc == 0, run
    assert off(vcenter) == TAGGED
    assert len(sink.requests) == 1
    assert sessions(front) == ONCE
    # The steps used the run's session: nobody logged in with the password after it.
    assert len(front.session_ids) == 2
    # The REST flavour came from the SOAP login's API version: no login on a path the simulator does not serve.
    assert ('POST', '/api/session') not in [entry[:2] for entry in front.log]


def test_a_failed_step_still_logs_out(front, vcenter, vms, sink, tmp_path):
    front.add(soap('SetField'), times=None, respond=500, body=soap_fault('InvalidArgument', 'refused'), content_type='text/xml')
    run = playbook('preempt', front.env(), variables(tmp_path, alarm_event(vcenter, 'DC0_C0'), sink, preemption_retries=0))
    assert run.rc == 2, run
    assert run.failures()[-1].startswith('Could not annotate'), run.failures()
    assert sessions(front) == ONCE


def test_a_refused_power_off_still_logs_out(front, vcenter, vms, sink, tmp_path):
    front.add(soap('PowerOffVM_Task'), times=None, respond=500, body=soap_fault('InvalidPowerState', 'refused'),
              content_type='text/xml')
    run = playbook('preempt', front.env(), variables(tmp_path, alarm_event(vcenter, 'DC0_C0'), sink, preemption_retries=0))
    assert run.rc == 2, run
    assert run.failures()[-1].startswith('Could not power off 2 of 2 VMs'), run.failures()
    assert off(vcenter) == []
    assert sessions(front) == ONCE


def test_a_refused_login_is_tried_once_and_leaves_nothing_open(front, vcenter, vms, sink, tmp_path):
    env = dict(front.env(), VMWARE_PASSWORD='wrong')
    run = playbook('preempt', env, variables(tmp_path, alarm_event(vcenter, 'DC0_C0'), sink))
    assert run.rc == 2, run
    assert 'wrong user name or password' in run.failures()[-1]
    counts = sessions(front)
    # One attempt (SSO locks accounts after a few), and no REST login after a refused one.
    assert counts == dict(soap_logins=1, soap_logouts=0, rest_logins=0, rest_logouts=0)
    assert off(vcenter) == []


def assert_no_session(text, session_ids):
    """No session id in ``text``, neither as it is nor inside an encoded hand-over (base64 of JSON)."""
    assert session_ids
    for session_id in session_ids:
        assert session_id not in text
    for candidate in re.findall(r'[A-Za-z0-9_=-]{40,}', text):
        with contextlib.suppress(ValueError, TypeError):
            decoded = base64.urlsafe_b64decode(candidate + '=' * (-len(candidate) % 4)).decode('utf-8', 'replace')
            assert not any(session_id in decoded for session_id in session_ids), 'an encoded session hand-over was printed'


def test_session_ids_never_reach_the_output_or_the_state(front, vcenter, vms, sink, tmp_path):
    state = tmp_path / 'state.json'
    proc = run_playbook('vsphere.preemption.preempt', variables(tmp_path, alarm_event(vcenter, 'DC0_C0'), sink), env=front.env(),
                        args=('-vvvv',))
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    assert 'Open the vCenter sessions of the run' in proc.stdout
    # Guard against a hollow check: the run did send session ids to vCenter.
    assert len(front.session_ids) == 2
    assert_no_session(proc.stdout + proc.stderr + state.read_text(), front.session_ids)
    # The same holds for the JSON callback (what AWX stores, set_stats included), on a run that powers off.
    front.clear()
    preemption_invariants.reset(vcenter, vms.values())
    proc = run_playbook('vsphere.preemption.preempt', variables(tmp_path, alarm_event(vcenter, 'DC0_C0'), sink, preemption_threshold=0),
                        env=dict(front.env(), **JSON_OUTPUT), args=('-vvv',))
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    assert off(vcenter) == TAGGED
    assert len(front.session_ids) == 2
    assert_no_session(proc.stdout + proc.stderr + state.read_text(), front.session_ids)


def connection(front, monkeypatch):
    """The connection options for calls made in this process (the simulator's CA trusted as the modules trust it)."""
    env = front.env()
    for name in ('REQUESTS_CA_BUNDLE', 'SSL_CERT_FILE'):
        if name in env:
            monkeypatch.setenv(name, env[name])
    return dict(hostname=env['VMWARE_HOST'], port=int(env['VMWARE_PORT']), username=env['VMWARE_USER'],
                password=env['VMWARE_PASSWORD'], validate_certs=True)


def test_a_terminated_session_is_renewed_by_one_login(front, vcenter, vms, monkeypatch):
    params = connection(front, monkeypatch)
    session = open_run_session(params, rest=False)
    # vCenter ends the run's session (an administrator, a restart): the next step logs in once more.
    vcenter.content.sessionManager.TerminateSession([session['soap']['id']])
    front.clear()
    args = dict(vms=[vms['DC0_C0_RP0_VM0']], mode='hard', session=encode_session(session))
    result = run_module('vsphere.preemption.power_off', args, env=front.env())
    assert result['_rc'] == 0, result
    assert result['session_renewed'] is True
    assert [vm['moid'] for vm in result['preempted']] == [vms['DC0_C0_RP0_VM0']]
    assert sessions(front) == dict(soap_logins=1, soap_logouts=1, rest_logins=0, rest_logouts=0)


def test_a_handed_session_is_used_and_left_open(front, vcenter, vms, monkeypatch):
    params = connection(front, monkeypatch)
    front.clear()
    session = open_run_session(params)
    result = run_module('vsphere.preemption.tagged_vm_info', dict(tag='preemptible', session=encode_session(session)), env=front.env())
    assert result['_rc'] == 0, result
    assert result['session_renewed'] is False
    assert sorted(vm['name'] for vm in result['vms']) == TAGGED
    assert session['soap']['id'] not in json.dumps(result) and session['rest']['id'] not in json.dumps(result)
    assert sessions(front) == dict(soap_logins=1, soap_logouts=0, rest_logins=1, rest_logouts=0)
    assert close_run_session(params | dict(session=encode_session(session))) == ['soap', 'rest']
    assert sessions(front) == ONCE


def test_a_session_of_another_vcenter_is_refused(front, vcenter, vms):
    session = encode_session(dict(hostname='other.example.com', port=443, soap=dict(id='x', version='vim.version.version8')))
    front.clear()
    result = run_module('vsphere.preemption.power_off', dict(vms=[vms['DC0_C0_RP0_VM0']], session=session), env=front.env())
    assert result['_rc'] == 2
    assert result['msg'].startswith('The session handed over belongs to vCenter other.example.com:443')
    assert result['retryable'] is False
    assert front.log == []


@pytest.mark.parametrize('module, args, apis', [
    ('power_off', dict(mode='hard'), ('soap',)),
    ('annotate', dict(value='x', create_field=True, key='one-login-test'), ('soap',)),
    ('tagged_vm_info', dict(tag='preemptible'), ('soap', 'rest')),
])
def test_each_module_alone_logs_in_and_out_by_itself(front, vcenter, vms, module, args, apis):
    if module != 'tagged_vm_info':
        args = dict(args, vms=[vms['DC0_C0_RP0_VM1']])
    result = run_module('vsphere.preemption.%s' % module, args, env=front.env())
    assert result['_rc'] == 0, result
    assert 'session_renewed' not in result
    counts = sessions(front)
    expected = {'%s_%s' % (api, what): (1 if api in apis else 0) for api in ('soap', 'rest') for what in ('logins', 'logouts')}
    assert counts == expected


def test_a_restore_and_a_setup_log_in_once_per_api_and_out(front, vcenter, vms, sink, tmp_path):
    common = dict(preemption_state_file=str(tmp_path / 'state.json'), preemption_workflow_id='spot', preemption_threshold=0)
    preempted = playbook('preempt', front.env(), dict(common, preemption_criticality='HIGH', preemption_scope='all'))
    assert preempted.rc == 0, preempted
    assert off(vcenter) == TAGGED
    front.clear()
    restored = playbook('restore', front.env(), dict(common, preemption_reply_to=sink.url))
    assert restored.rc == 0, str(restored)
    assert off(vcenter) == []
    assert sessions(front) == ONCE
    front.clear()
    prepared = playbook('setup', front.env(), {})
    assert prepared.rc == 0, prepared
    assert sessions(front) == ONCE
