# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The systemd units of extensions/systemd: valid for systemd, and their command preempts with a fixed workflow id."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess

import yaml

from tests.support.ansible_cli import BIN, REPO, ansible_env

UNITS = os.path.join(REPO, 'extensions', 'systemd')
SERVICE = os.path.join(UNITS, 'vsphere-preemption@.service')
TIMER = os.path.join(UNITS, 'vsphere-preemption@.timer')
WORKFLOW = 'nightly-batch'
TAGGED = 'DC0_C0_RP0_VM0'
ANNOTATION = 'com.vmware.workflows.vsphere.preemption'


def exec_start(tmp_path):
    """The service's ExecStart for instance WORKFLOW, with its installation paths moved under tmp_path."""
    with open(SERVICE, encoding='utf-8') as handle:
        [line] = [line for line in handle.read().splitlines() if line.startswith('ExecStart=')]
    line = line[len('ExecStart='):].replace('%i', WORKFLOW)
    line = line.replace('/opt/vsphere-preemption/venv/bin/', BIN + '/')
    line = line.replace('/etc/vsphere-preemption/', str(tmp_path / 'etc') + '/').replace('/var/lib/vsphere-preemption/', str(tmp_path / 'state') + '/')
    return shlex.split(line)


def test_units_are_valid_for_systemd(tmp_path):
    analyze = shutil.which('systemd-analyze')
    assert analyze, 'systemd-analyze (package systemd) is needed to check the unit files'
    service = tmp_path / ('vsphere-preemption@%s.service' % WORKFLOW)
    with open(SERVICE, encoding='utf-8') as handle:
        # verify checks that ExecStart's program exists: point it at this venv's ansible-playbook.
        service.write_text(handle.read().replace('/opt/vsphere-preemption/venv/bin/', BIN + '/'))
    timer = tmp_path / ('vsphere-preemption@%s.timer' % WORKFLOW)
    shutil.copy(TIMER, str(timer))
    proc = subprocess.run([analyze, 'verify', '--man=no', str(service), str(timer)], capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


def test_the_service_command_preempts_once_per_threshold(vcsim, vcenter, tmp_path):
    moids = {vm['name']: vm['moid'] for vm in vcenter.vms()}
    vcenter.attach_tag(vcenter.create_tag('preemptible', vcenter.create_category('preemption')), moids[TAGGED])
    vcenter.add_custom_field(ANNOTATION)
    (tmp_path / 'etc').mkdir()
    (tmp_path / 'state').mkdir()
    (tmp_path / 'etc' / ('%s.yml' % WORKFLOW)).write_text(yaml.safe_dump({'preemption_criticality': 'HIGH', 'preemption_scope': 'all'}))
    command, env = exec_start(tmp_path), ansible_env(vcsim.env())

    first = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
    assert vcenter.power_state(moids[TAGGED]) == 'poweredOff'
    assert json.loads(vcenter.custom_value(moids[TAGGED], ANNOTATION))['workflowID'] == WORKFLOW

    # The timer fires again within the re-run threshold (60 s): the workflow id is the same, so it is skipped.
    vcenter.power_on(moids[TAGGED])
    second = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert second.returncode == 0, second.stdout[-6000:] + second.stderr[-3000:]
    assert vcenter.power_state(moids[TAGGED]) == 'poweredOn'
    workflows = json.loads((tmp_path / 'state' / 'state.json').read_text())['workflows']
    assert [(key.split('@')[0], record['runs']) for key, record in workflows.items()] == [(WORKFLOW, 1)]
