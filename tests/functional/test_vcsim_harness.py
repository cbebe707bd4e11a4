# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vCenter simulator harness itself: TLS, SOAP, /rest tagging, inventory options, life cycle, CLI."""

from __future__ import annotations

import json
import os
import shlex
import signal
import ssl
import subprocess
import sys
import threading
import time
import warnings

import pytest
import requests
from cryptography import x509
from pyVim.connect import Disconnect, SmartConnect
from pyVim.task import WaitForTask
from pyVmomi import vim

from tests.support.vcsim import harness
from tests.support.vcsim.harness import Simulator, VCenterClient, VcsimError, generate_ca

DELAY_MS = 600
TOOLS_VM = 'DC0_C0_RP0_VM0'
EXPECTED_VMS = {'DC0_H0_VM0', 'DC0_H0_VM1', 'DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1'}

# The marker wins over VCSIM_OPTIONS for the keys it sets (vms=1 here becomes vms=2): the fixture honours both.
VCSIM_OPTIONS = dict(vms=1, hosts=2, clusters=1, standalone_hosts=1, tools_running=[TOOLS_VM],
                     method_delay={'PowerOffVM_Task': DELAY_MS})
pytestmark = pytest.mark.vcsim(vms=2)

REST = '/rest/com/vmware/cis'


def _base(sim) -> str:
    return 'https://%s:%d' % (sim.host, sim.port)


def test_serves_https_with_a_certificate_from_our_ca(vcsim):
    assert vcsim.running
    assert vcsim.pid == vcsim.process.pid
    assert vcsim.url == 'https://127.0.0.1:%d/sdk' % vcsim.port
    resp = requests.get(_base(vcsim) + '/about', verify=vcsim.ca_file, timeout=10)
    assert resp.status_code == 200

    served = x509.load_pem_x509_certificate(ssl.get_server_certificate((vcsim.host, vcsim.port)).encode())
    with open(vcsim.ca_file, 'rb') as handle:
        ca = x509.load_pem_x509_certificate(handle.read())
    assert served.issuer == ca.subject
    san = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ['127.0.0.1']
    assert san.get_values_for_type(x509.DNSName) == ['localhost']


def test_pyvmomi_with_validate_certs_sees_the_shaped_inventory(vcenter):
    assert vcenter.content.about.apiType == 'VirtualCenter'
    vms = vcenter.vms()
    assert {v['name'] for v in vms} == EXPECTED_VMS
    for v in vms:
        assert v['moid'].startswith('vm-')
        assert v['power_state'] == 'poweredOn'
        assert v['template'] is False
        if v['name'].startswith('DC0_C0_'):
            assert v['cluster_name'] == 'DC0_C0'
            assert v['cluster'].startswith('clustercomputeresource-')  # vcsim 0.24; real vCenter says domain-c*
            assert v['host_name'] in ('DC0_C0_H0', 'DC0_C0_H1')
        else:
            assert (v['cluster'], v['host_name']) == (None, 'DC0_H0')
        assert v['host'].startswith('host-')
    assert vcenter.vm(vms[0]['name'])._moId == vms[0]['moid']
    assert vcenter.vm(vms[0]['moid'])._moId == vms[0]['moid']
    with pytest.raises(KeyError, match="no VM 'no-such-vm'"):
        vcenter.vm('no-such-vm')


def test_env_lets_a_default_client_verify_against_our_ca(vcsim):
    env = vcsim.env()
    assert env == {
        'VMWARE_HOST': '127.0.0.1', 'VMWARE_PORT': str(vcsim.port), 'VMWARE_USER': 'user', 'VMWARE_PASSWORD': 'pass',
        'VMWARE_VALIDATE_CERTS': 'true', 'REQUESTS_CA_BUNDLE': vcsim.ca_file, 'SSL_CERT_FILE': vcsim.ca_file,
    }
    assert vcsim.env(validate_certs=False)['VMWARE_VALIDATE_CERTS'] == 'false'
    # What a module does with these variables: default SSL context and default requests verification.
    script = '''if True:
        import json, os, ssl, requests
        from pyVim.connect import SmartConnect, Disconnect
        e = os.environ
        si = SmartConnect(host=e["VMWARE_HOST"], port=int(e["VMWARE_PORT"]), user=e["VMWARE_USER"],
                          pwd=e["VMWARE_PASSWORD"], sslContext=ssl.create_default_context())
        api = si.content.about.apiType
        Disconnect(si)
        r = requests.post("https://%s:%s/rest/com/vmware/cis/session" % (e["VMWARE_HOST"], e["VMWARE_PORT"]),
                          auth=(e["VMWARE_USER"], e["VMWARE_PASSWORD"]), timeout=10)
        print(json.dumps({"api": api, "rest": r.status_code}))
    '''
    child_env = {k: v for k, v in os.environ.items() if not k.startswith('VMWARE_')}
    child_env.update(env)
    proc = subprocess.run([sys.executable, '-c', script], env=child_env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {'api': 'VirtualCenter', 'rest': 200}


def test_rest_tagging_lists_exactly_the_attached_vms(vcenter, vcsim):
    category = vcenter.create_category('preemption')
    tag = vcenter.create_tag('preemptible', category)
    other = vcenter.create_tag('other', category)
    assert tag.startswith('urn:vmomi:InventoryServiceTag:') and tag != other
    tagged = {vcenter.moid('DC0_C0_RP0_VM0'), vcenter.moid('DC0_H0_VM1')}
    for moid in tagged:
        vcenter.attach_tag(tag, moid)
    vcenter.attach_tag(other, vcenter.moid('DC0_C0_RP0_VM1'))

    url = _base(vcsim) + REST + '/tagging/tag-association?~action=list-attached-objects-on-tags'
    headers = {'vmware-api-session-id': vcenter.session_id}
    resp = requests.post(url, json={'tag_ids': [tag]}, headers=headers, verify=vcsim.ca_file, timeout=10)
    assert resp.status_code == 200, resp.text
    value = resp.json()['value']
    assert [item['tag_id'] for item in value] == [tag]
    assert sorted((o['type'], o['id']) for o in value[0]['object_ids']) == sorted(('VirtualMachine', m) for m in tagged)

    assert {o['id'] for o in vcenter.attached_objects([tag, other])[other]} == {vcenter.moid('DC0_C0_RP0_VM1')}
    assert vcenter.rest('GET', '/tagging/tag/id:%s' % tag)['name'] == 'preemptible'
    # The session header is what authorizes: without it the simulator answers 401.
    assert requests.post(url, json={'tag_ids': [tag]}, verify=vcsim.ca_file, timeout=10).status_code == 401


def test_a_client_trusting_another_ca_is_refused(vcsim, tmp_path):
    other_ca = generate_ca(tmp_path)
    with pytest.raises(requests.exceptions.SSLError, match='certificate verify failed'):
        requests.get(_base(vcsim) + '/about', verify=other_ca, timeout=10)

    with pytest.raises(ssl.SSLError, match='certificate verify failed'):
        SmartConnect(host=vcsim.host, port=vcsim.port, user=vcsim.username, pwd=vcsim.password,
                     sslContext=ssl.create_default_context(cafile=other_ca))


def test_validate_certs_false_works_with_a_wrong_requests_ca_bundle(vcsim, tmp_path, monkeypatch):
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', generate_ca(tmp_path))
    url = _base(vcsim) + REST + '/session'
    with pytest.raises(requests.exceptions.SSLError, match='certificate verify failed'):  # the variable is in effect ...
        requests.post(url, auth=(vcsim.username, vcsim.password), timeout=10)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        # ... yet verify=False on the request itself is honoured
        with requests.Session() as session:
            resp = session.post(url, auth=(vcsim.username, vcsim.password), verify=False, timeout=10)
        assert resp.status_code == 200 and resp.json()['value']
        client = VCenterClient(vcsim, validate_certs=False)
        try:
            assert client.verify is False
            assert client.content.about.apiType == 'VirtualCenter'
            assert client.create_category('insecure-ok').startswith('urn:vmomi:InventoryServiceCategory:')
        finally:
            client.close()


def test_tools_running_option_sets_guest_status(vcenter):
    statuses = {v['name']: v['tools_running_status'] for v in vcenter.vms()}
    assert statuses.pop(TOOLS_VM) == 'guestToolsRunning'
    assert set(statuses.values()) == {'guestToolsNotRunning'}
    vm = vcenter.vm(TOOLS_VM)
    assert vcenter.tools_running_status(vm._moId) == 'guestToolsRunning'
    assert str(vcenter.get(vm, 'guest.toolsStatus')) == 'toolsOk'
    assert str(vcenter.get(vm, 'summary.guest.toolsRunningStatus')) == 'guestToolsRunning'


def test_method_delay_slows_power_off_only(vcenter):
    moid = vcenter.moid('DC0_C0_RP0_VM1')
    vm = vcenter.vm(moid)
    started = time.monotonic()
    task = vm.PowerOffVM_Task()
    elapsed = time.monotonic() - started
    WaitForTask(task, si=vcenter.si)
    assert elapsed >= DELAY_MS / 1000.0
    assert vcenter.power_state(moid) == 'poweredOff'

    started = time.monotonic()
    task = vm.PowerOnVM_Task()
    elapsed = time.monotonic() - started
    WaitForTask(task, si=vcenter.si)
    assert elapsed < DELAY_MS / 1000.0
    assert vcenter.power_state(moid) == 'poweredOn'


def test_custom_attributes(vcenter):
    moid = vcenter.moid('DC0_C0_RP0_VM0')
    assert vcenter.custom_value(moid, 'com.vmware.workflows.vsphere.preemption') is None
    key = vcenter.add_custom_field('com.vmware.workflows.vsphere.preemption')
    assert vcenter.add_custom_field('com.vmware.workflows.vsphere.preemption') == key
    assert vcenter.custom_value(moid, 'com.vmware.workflows.vsphere.preemption') is None
    vcenter.set_custom_value(moid, 'com.vmware.workflows.vsphere.preemption', '{"preempted":false}')
    vcenter.set_custom_value(moid, 'com.vmware.workflows.vsphere.preemption', '{"preempted":true}')
    assert vcenter.custom_value(moid, 'com.vmware.workflows.vsphere.preemption') == '{"preempted":true}'
    # vcsim appends rather than replaces: both values are in customValue, the last one is current.
    values = [v.value for v in vcenter.get(vcenter.vm(moid), 'customValue') if v.key == key]
    assert values == ['{"preempted":false}', '{"preempted":true}']
    with pytest.raises(KeyError, match="no custom attribute 'undefined-field'"):
        vcenter.set_custom_value(moid, 'undefined-field', 'x')


def test_shutdown_guest_and_templates_behave_as_documented(vcsim_binary):
    # A simulator of its own: a template cannot be turned back into a VM, and the module's inventory stays as shaped.
    with Simulator(vms=1, hosts=1, clusters=0, binary=vcsim_binary) as sim, VCenterClient(sim) as vcenter:
        moid = vcenter.moid('DC0_H0_VM0')
        assert vcenter.tools_running_status(moid) == 'guestToolsNotRunning'
        vcenter.vm(moid).ShutdownGuest()  # vcsim: no Tools check, the VM is off at once
        assert vcenter.power_state(moid) == 'poweredOff'
        with pytest.raises(vim.fault.InvalidPowerState):
            vcenter.vm(moid).ShutdownGuest()

        vcenter.mark_template(moid)
        row = [v for v in vcenter.vms() if v['moid'] == moid][0]
        assert row['template'] is True and row['power_state'] == 'poweredOff'
        assert vcenter.get(vcenter.vm(moid), 'resourcePool') is None
        with pytest.raises(vim.fault.InvalidState):
            vcenter.vm(moid).PowerOnVM_Task()


def test_start_failure_reports_the_simulator_stderr(vcsim_binary, tmp_path):
    sim = Simulator(binary=vcsim_binary, workdir=str(tmp_path), tools_running=['NO_SUCH_VM'])
    with pytest.raises(VcsimError, match='no VM named NO_SUCH_VM'):
        sim.start()
    assert not sim.running
    with pytest.raises(VcsimError, match='the simulator is not started'):
        sim.env()


def test_stop_frees_the_port_and_is_idempotent(vcsim_binary):
    sim = Simulator(vms=1, hosts=1, clusters=1, standalone_hosts=0, tools_running='all', binary=vcsim_binary)
    with sim:
        workdir = sim.workdir
        assert os.path.isdir(workdir)
        assert not sim.port_is_free()
        with VCenterClient(sim) as client:
            assert [(v['name'], v['tools_running_status']) for v in client.vms()] == [('DC0_C0_RP0_VM0', 'guestToolsRunning')]
    assert sim.process.returncode == 0  # clean exit on SIGTERM
    assert sim.port_is_free()
    assert not os.path.exists(workdir)
    with pytest.raises(requests.exceptions.ConnectionError, match='Connection refused'):
        requests.get('https://127.0.0.1:%d/about' % sim.port, verify=False, timeout=5)
    sim.stop()
    assert not sim.running


def _read_line(stream, timeout: float) -> str:
    result = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0] if result else ''


def test_cli_build_and_run(vcsim_binary, tmp_path):
    script = harness.__file__
    env = dict(os.environ, VCSIM=vcsim_binary)
    built = subprocess.run([sys.executable, script, 'build'], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert built.returncode == 0, built.stderr
    assert built.stdout.strip() == vcsim_binary

    env_file = tmp_path / 'vcsim.env'
    proc = subprocess.Popen([sys.executable, script, 'run', '--vms', '1', '--hosts', '1', '--standalone-hosts', '0',
                             '--tools-running', 'all', '--env-file', str(env_file)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = _read_line(proc.stdout, 30)
        words = shlex.split(line)
        assert words and words[0] == 'export', (line, proc.poll())
        exported = dict(w.split('=', 1) for w in words[1:])
        assert env_file.read_text().strip() == line.strip()
        assert {'VMWARE_HOST', 'VMWARE_PORT', 'VMWARE_USER', 'VMWARE_PASSWORD', 'VMWARE_VALIDATE_CERTS',
                'REQUESTS_CA_BUNDLE', 'SSL_CERT_FILE', 'GOVC_URL'} <= set(exported)
        port = int(exported['VMWARE_PORT'])
        si = SmartConnect(host=exported['VMWARE_HOST'], port=port, user=exported['VMWARE_USER'],
                          pwd=exported['VMWARE_PASSWORD'], sslContext=ssl.create_default_context(cafile=exported['SSL_CERT_FILE']))
        try:
            view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.VirtualMachine], True)
            assert len(view.view) == 1
        finally:
            Disconnect(si)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    with pytest.raises(requests.exceptions.ConnectionError, match='Connection refused'):
        requests.get('https://127.0.0.1:%d/about' % port, verify=False, timeout=5)


def test_vcsim_binary_honours_the_vcsim_variable(vcsim_binary, tmp_path, monkeypatch):
    monkeypatch.setenv('VCSIM', vcsim_binary)
    assert harness.vcsim_binary() == vcsim_binary
    not_executable = tmp_path / 'vcsim'
    not_executable.write_text('')
    monkeypatch.setenv('VCSIM', str(not_executable))
    with pytest.raises(VcsimError, match='not an executable'):
        harness.vcsim_binary()


def test_build_rebuilds_only_when_main_go_is_newer(tmp_path, monkeypatch):
    main_go = tmp_path / 'main.go'
    main_go.write_text('package main\n')
    monkeypatch.setattr(harness, 'MAIN_GO', main_go)
    monkeypatch.setattr(harness, 'BUILD_DIR', tmp_path / 'build')
    monkeypatch.setattr(harness, '_ensure_toolchain', lambda: '/usr/bin/go')
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append((cmd, kwargs['env']))
        with open(cmd[cmd.index('-o') + 1], 'w') as handle:
            handle.write('binary')
        return subprocess.CompletedProcess(cmd, 0, stdout='')

    monkeypatch.setattr(harness.subprocess, 'run', fake_run)
    out = harness.build_vcsim()
    assert out == str(tmp_path / 'build' / 'vcsim') and os.path.isfile(out)
    assert len(calls) == 1
    cmd, env = calls[0]
    assert cmd[:2] == ['/usr/bin/go', 'build'] and cmd[-1] == str(main_go)
    assert (env['GOPATH'], env['GO111MODULE'], env['GOCACHE']) == ('/usr/share/gocode', 'off', str(tmp_path / 'build' / 'gocache'))
    assert harness.build_vcsim() == out and len(calls) == 1  # up to date: no rebuild
    later = os.stat(out).st_mtime + 10
    os.utime(main_go, (later, later))
    assert harness.build_vcsim() == out and len(calls) == 2  # main.go is newer: rebuilt


def test_missing_toolchain_without_root_names_the_packages(monkeypatch):
    monkeypatch.setattr(harness, '_go_executable', lambda: None)
    monkeypatch.setattr(harness.os, 'geteuid', lambda: 1000)
    with pytest.raises(VcsimError, match='apt-get install -y golang-go golang-github-vmware-govmomi-dev'):
        harness._ensure_toolchain()
