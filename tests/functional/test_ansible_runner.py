# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The preempt playbook run the way AWX / Automation Controller runs a job: by ansible-runner.

A private data directory laid out as AWX writes it: the survey answers in env/extravars,
the "VMware vCenter" credential's environment variables in env/envvars, the inventory in
inventory/; then ``ansible-runner run`` against the simulator, and the job's status and
set_stats artifact data read back from ansible-runner's artifacts, as AWX reads them.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import yaml

from tests.support.ansible_cli import BIN, ansible_env

VCSIM_OPTIONS = dict(vms=2)
TAGGED = ('DC0_C0_RP0_VM0', 'DC0_H0_VM0')
UNTAGGED = 'DC0_C0_RP0_VM1'
ANNOTATION = 'com.vmware.workflows.vsphere.preemption'


def write_yaml(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(data, handle)


def job_events(artifacts):
    events = []
    for path in sorted(glob.glob(os.path.join(artifacts, 'job_events', '*.json'))):
        with open(path, encoding='utf-8') as handle:
            events.append(json.load(handle))
    return events


def test_preempt_playbook_as_an_awx_job(vcsim, vcenter, tmp_path):
    tag = vcenter.create_tag('preemptible', vcenter.create_category('preemption'))
    moids = {vm['name']: vm['moid'] for vm in vcenter.vms()}
    for name in TAGGED:
        vcenter.attach_tag(tag, moids[name])
    vcenter.add_custom_field(ANNOTATION)

    job = tmp_path / 'job'
    # The job template's survey answers.
    write_yaml(str(job / 'env' / 'extravars'), {
        'preemption_tag': 'preemptible', 'preemption_criticality': 'high', 'preemption_workflow_id': 'nightly-batch',
        'preemption_scope': 'all', 'preemption_state_file': str(tmp_path / 'state.json')})
    # What the "VMware vCenter" credential injects (plus the port and CA of the simulator).
    write_yaml(str(job / 'env' / 'envvars'), vcsim.env())
    write_yaml(str(job / 'inventory' / 'hosts.yml'), {'all': {'hosts': {'localhost': {
        'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}}})
    os.makedirs(str(job / 'project'))

    # vCenter comes from env/envvars only, as in an AWX job.
    env = {key: value for key, value in ansible_env().items() if not key.startswith('VMWARE_')}
    proc = subprocess.run([os.path.join(BIN, 'ansible-runner'), 'run', str(job), '-p', 'vsphere.preemption.preempt', '--ident', 'job-1'],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    artifacts = str(job / 'artifacts' / 'job-1')
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    with open(os.path.join(artifacts, 'status'), encoding='utf-8') as handle:
        assert handle.read() == 'successful'

    for name in TAGGED:
        assert vcenter.power_state(moids[name]) == 'poweredOff'
        value = json.loads(vcenter.custom_value(moids[name], ANNOTATION))
        assert (value['criticality'], value['forcedShutdown'], value['workflowID'], value['event']) == ('HIGH', True, 'nightly-batch', None)
    assert vcenter.power_state(moids[UNTAGGED]) == 'poweredOn'

    # AWX stores set_stats data as the job's artifacts (and hands it to the next workflow node).
    stats = [e for e in job_events(artifacts) if e.get('event') == 'playbook_on_stats']
    assert len(stats) == 1
    results = stats[0]['event_data']['artifact_data']['preemption']
    assert list(results) == ['%s:%s' % (vcsim.host, vcsim.port)]
    summary = results['%s:%s' % (vcsim.host, vcsim.port)]
    assert (summary['status'], summary['workflow_id'], summary['criticality'], summary['mode']) == ('finished', 'nightly-batch', 'HIGH', 'hard')
    assert sorted(vm['name'] for vm in summary['powered_off']) == sorted(TAGGED) and summary['failed'] == []
