# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The EDA guide's example: the shipped event, posted with the guide's curl, to the shipped rulebook on `make demo`'s simulator."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.support.machine import free_port
from tests.support.rulebook_cli import RULEBOOKS, Rulebook
from tests.functional.test_rulebook import ALARM, TOKEN, finished_run

# tools/demo.py's simulator.
VCSIM_OPTIONS = dict(vms=3, hosts=2, clusters=2)
REPO = Path(__file__).resolve().parents[2]
EVENT = REPO / 'extensions' / 'eda' / 'events' / 'alarm-red.json'
GUIDE = REPO / 'docs' / 'docsite' / 'rst' / 'guide_eda.rst'
TAGGED_IN_CLUSTER, TAGGED_OUTSIDE = 'DC0_C0_RP0_VM0', 'DC0_H0_VM0'


def guide_curls():
    """The curl commands of the guide's "Sending events" section, continuation lines joined."""
    section = GUIDE.read_text().split('\nSending events\n', 1)[1]
    blocks = re.findall(r'\.\. code:: bash\n\n((?:   .*\n|\n)+)', section)
    return [' '.join(line.strip().rstrip('\\') for line in block.strip('\n').splitlines()) for block in blocks
            if block.strip().startswith('curl')]


def test_the_example_event_names_the_demo_simulators_cluster_and_host(vcenter):
    event = json.loads(EVENT.read_text())
    vm = {vm['name']: vm for vm in vcenter.vms()}[TAGGED_IN_CLUSTER]
    data = event['data']
    assert (data['ComputeResource']['Name'], data['ComputeResource']['ComputeResource']['Value']) == (vm['cluster_name'], vm['cluster'])
    assert (data['Host']['Name'], data['Host']['Host']['Value']) == (vm['host_name'], vm['host'])
    assert data['Alarm']['Name'] == ALARM and (data['From'], data['To']) == ('green', 'red')


def test_the_guides_curl_preempts_the_events_cluster_through_the_shipped_rulebook(vcsim, vcenter, tmp_path):
    curls = guide_curls()
    assert len(curls) == 2 and all(curl.startswith('curl -fsS http://127.0.0.1:5000/ ') for curl in curls), curls
    tag = vcenter.create_tag('preemptible', vcenter.create_category('preemption'))
    vms = {vm['name']: vm for vm in vcenter.vms()}
    for name in (TAGGED_IN_CLUSTER, TAGGED_OUTSIDE):
        vcenter.attach_tag(tag, vms[name]['moid'])
    vcenter.add_custom_field('com.vmware.workflows.vsphere.preemption')
    shutil.copy(EVENT, tmp_path / EVENT.name)
    port = free_port()
    state_file = tmp_path / 'state.json'
    variables = {'preemption_alarm_name': ALARM, 'preemption_webhook_token': TOKEN, 'preemption_webhook_port': port,
                 'preemption_webhook_host': '127.0.0.1', 'preemption_state_file': str(state_file)}
    env = dict(os.environ, TOKEN=TOKEN, NO_PROXY='127.0.0.1', no_proxy='127.0.0.1')
    with Rulebook(os.path.join(RULEBOOKS, 'preemption.yml'), variables, tmp_path, env=vcsim.env()) as process:
        process.wait_for_port(port)
        process.state_file = state_file
        for number, curl in enumerate(curls, 1):
            sent = subprocess.run(['bash', '-c', curl.replace('127.0.0.1:5000', '127.0.0.1:%d' % port)], cwd=str(tmp_path), env=env,
                                  capture_output=True, text=True, timeout=60, check=False)
            assert sent.returncode == 0, sent.stderr
            if number == 1:
                run = finished_run(process, 1)
                assert run['criticality'] == 'HIGH'
        # The binary-mode copy (curl -f: the rulebook accepted it) is the same event, id included: no second run.
    assert vcenter.power_state(vms[TAGGED_IN_CLUSTER]['moid']) == 'poweredOff'
    assert vcenter.power_state(vms[TAGGED_OUTSIDE]['moid']) == 'poweredOn'
