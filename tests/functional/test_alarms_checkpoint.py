# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The alarms source's checkpoint against the simulator: an alarm raised while the source was down is delivered
once when it is back, and nothing is replayed by a restart. In-process (``main`` on a real queue) and through
the real ansible-rulebook."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat

import pytest

from ansible_collections.vsphere.preemption.extensions.eda.plugins.event_source import alarms
from tests.support.rulebook_cli import RULEBOOKS, Rulebook, wait_until
from tests.functional.test_alarms_source import ALARM, TAGGED_IN_CLUSTER, post_alarm, running_source, started


@pytest.fixture
def vmware_env(vcsim, monkeypatch):
    for name, value in vcsim.env().items():
        monkeypatch.setenv(name, value)


class Reads:
    """Counts the in-process source's reads of the latest page (``VCenterEventStream.wait``, a long poll of at most
    poll_interval).

    The source reads its backlog, delivers it, then reads the latest page, delivers what is new, reads again, and so on:
    each read begins only once everything read before it is on the queue. So once two reads have begun after a moment,
    whatever vCenter held at that moment, a replay included, has been delivered.
    """

    def __init__(self, monkeypatch):
        self.begun = 0
        original = alarms.VCenterEventStream.wait

        def wait(stream):
            self.begun += 1
            return original(stream)
        monkeypatch.setattr(alarms.VCenterEventStream, 'wait', wait)

    async def delivered(self, task):
        """Return once everything vCenter holds now has been delivered (two reads begun from now on)."""
        async def two_more(target):
            while self.begun < target:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
        await asyncio.wait_for(two_more(self.begun + 2), 30)


@pytest.fixture
def reads(monkeypatch):
    return Reads(monkeypatch)


def changes(events):
    return [(e['payload']['data']['Key'], e['payload']['data']['From'], e['payload']['data']['To']) for e in events]


async def run_once(caplog, args, post_while_running=(), reads=None):
    """Start the source, let it deliver what it resumes with (and what ``post_while_running`` posts), stop it.

    With ``reads`` (a Reads), stops only once everything vCenter held was delivered; without, as soon as it watches.
    """
    before = caplog.text.count('Watching vCenter')
    async with running_source(args) as (queue, task):
        await started(caplog, task, count=before + 1)
        for post in post_while_running:
            await asyncio.to_thread(post)
        if reads is not None:
            await reads.delivered(task)
        events = []
        while not queue.empty():
            events.append(queue.get_nowait())
        return events


def read_checkpoint(path):
    with open(path, encoding='utf-8') as handle:
        return json.load(handle)


def test_an_alarm_raised_while_the_source_was_down_is_delivered_once(vmware_env, vcenter, tmp_path, caplog, reads):
    path = str(tmp_path / 'eda' / 'alarms.checkpoint')
    args = {'alarm_names': [ALARM], 'poll_interval': 1, 'checkpoint': path}
    with caplog.at_level(logging.INFO, logger='vsphere.preemption.alarms'):
        post_alarm(vcenter, 'red')  # before the very first start: not replayed
        first = asyncio.run(run_once(caplog, args, reads=reads))
        assert first == []
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert read_checkpoint(path)['key'] is None, 'written at the start, before any event'

        # Down: two changes, one of another alarm.
        post_alarm(vcenter, 'yellow')
        post_alarm(vcenter, 'red', name='not-watched')
        second = asyncio.run(run_once(caplog, args, post_while_running=[lambda: post_alarm(vcenter, 'red', frm='yellow')], reads=reads))
        assert [change[1:] for change in changes(second)] == [('green', 'yellow'), ('yellow', 'red')]
        checkpoint = read_checkpoint(path)
        assert checkpoint['key'] == changes(second)[-1][0]
        assert checkpoint['time'] == second[-1]['payload']['data']['CreatedTime']
        assert checkpoint['source'] == second[-1]['payload']['source']

        # Up again with nothing new: nothing replayed, not even the last event (same time as the checkpoint).
        assert asyncio.run(run_once(caplog, args, reads=reads)) == []
        assert read_checkpoint(path)['key'] == checkpoint['key']


def test_without_a_checkpoint_a_restart_starts_at_now(vmware_env, vcenter, caplog, reads):
    args = {'alarm_names': [ALARM], 'poll_interval': 1}
    with caplog.at_level(logging.INFO, logger='vsphere.preemption.alarms'):
        asyncio.run(run_once(caplog, args))
        post_alarm(vcenter, 'red')
        assert asyncio.run(run_once(caplog, args, reads=reads)) == []


def test_events_older_than_checkpoint_max_age_are_not_replayed(vmware_env, vcenter, tmp_path, caplog, reads):
    path = str(tmp_path / 'alarms.checkpoint')
    args = {'alarm_names': [ALARM], 'poll_interval': 1, 'checkpoint': path, 'checkpoint_max_age': 1}
    with caplog.at_level(logging.INFO, logger='vsphere.preemption.alarms'):
        asyncio.run(run_once(caplog, args))
        post_alarm(vcenter, 'red')
        old = read_checkpoint(path)
        old['time'] = '2020-01-01T00:00:00.000000Z'
        with open(path, 'w', encoding='utf-8') as handle:
            json.dump(old, handle)
        # vCenter's clock moves on past the bound: the red change is more than checkpoint_max_age old when the source resumes.
        asyncio.run(asyncio.sleep(1.5))
        events = asyncio.run(run_once(caplog, args, post_while_running=[lambda: post_alarm(vcenter, 'green', frm='red')], reads=reads))
    assert [change[1:] for change in changes(events)] == [('red', 'green')], 'the 1.5 s old change is beyond the 1 s bound'


def test_a_checkpoint_of_another_vcenter_is_ignored(vmware_env, vcenter, vcsim, tmp_path, caplog, reads):
    path = tmp_path / 'alarms.checkpoint'
    path.write_text(json.dumps({'version': 1, 'source': 'https://elsewhere/sdk', 'key': 1, 'time': '2020-01-01T00:00:00.000000Z', 'seen': []}))
    post_alarm(vcenter, 'red')
    with caplog.at_level(logging.INFO, logger='vsphere.preemption.alarms'):
        assert asyncio.run(run_once(caplog, {'alarm_names': [ALARM], 'poll_interval': 1, 'checkpoint': str(path)}, reads=reads)) == []
    assert 'The checkpoint %s is of https://elsewhere/sdk, not https://%s:%s/sdk: ignored.' % (path, vcsim.host, vcsim.port) in caplog.text
    assert read_checkpoint(str(path))['source'] == 'https://%s:%s/sdk' % (vcsim.host, vcsim.port)


@pytest.mark.parametrize('content, message', [
    ('{"version": 1, "source"', 'is not JSON'),
    ('{"version": 7}', 'is not a version 1 checkpoint of this source (version 7)'),
    ('{"version": 1, "source": "x", "time": "yesterday", "seen": []}', 'is malformed'),
])
def test_a_bad_checkpoint_stops_the_source_at_start(vmware_env, tmp_path, content, message):
    path = tmp_path / 'alarms.checkpoint'
    path.write_text(content)
    with pytest.raises(ValueError) as caught:
        asyncio.run(alarms.main(asyncio.Queue(), {'checkpoint': str(path)}))
    assert str(caught.value).startswith('vsphere.preemption.alarms: the checkpoint file %s %s; fix or remove it' % (path, message))
    assert path.read_text() == content


def test_an_unwritable_checkpoint_stops_the_source_at_start(vmware_env):
    # /proc takes no new files, even from root (to whom permission bits mean nothing).
    path = '/proc/vsphere-preemption-test.checkpoint'
    with pytest.raises(ValueError, match=r'^vsphere.preemption.alarms: cannot write the checkpoint file %s: ' % path):
        asyncio.run(asyncio.wait_for(alarms.main(asyncio.Queue(), {'checkpoint': path}), 30))


# --------------------------------------------------------------------------- through ansible-rulebook

def test_rulebook_delivers_an_alarm_raised_while_it_was_stopped_once(vcsim, vcenter, tmp_path):
    tag = vcenter.create_tag('preemptible', vcenter.create_category('preemption'))
    vm = vcenter.moid(TAGGED_IN_CLUSTER)
    vcenter.attach_tag(tag, vm)
    vcenter.power_on(vm)
    vcenter.add_custom_field('com.vmware.workflows.vsphere.preemption')
    state_file, checkpoint = tmp_path / 'state.json', tmp_path / 'alarms.checkpoint'

    def record():
        workflows = json.loads(state_file.read_text() or '{}').get('workflows', {}) if state_file.exists() else {}
        return next((r for key, r in workflows.items() if key.split('@')[0].split('/')[0] == ALARM), None)

    variables = {'preemption_alarm_name': ALARM, 'preemption_state_file': str(state_file), 'preemption_alarms_checkpoint': str(checkpoint),
                 'preemption_threshold': 0}
    rulebook = os.path.join(RULEBOOKS, 'preemption_vcenter.yml')
    with Rulebook(rulebook, variables, tmp_path / 'first', env=vcsim.env()) as process:
        process.wait_for_log('Watching vCenter')
        wait_until(checkpoint.exists, 30, 'the checkpoint to be written', process.log)
    post_alarm(vcenter, 'red')  # while no rulebook runs
    with Rulebook(rulebook, variables, tmp_path / 'second', env=vcsim.env()) as process:
        process.wait_for_log('Watching vCenter')
        run = wait_until(lambda: record() and record()['run']['status'] == 'finished' and record()['run'], 120,
                         'the preemption run to finish', process.log)
        assert run['event']['data']['To'] == 'red'
        assert vcenter.power_state(vm) == 'poweredOff'
    assert record()['runs'] == 1
    delivered = read_checkpoint(str(checkpoint))
    assert delivered['key'] == run['event']['data']['Key']
    # Restarted again: nothing replayed (the threshold is 0, so a replay would start a second run).
    with Rulebook(rulebook, variables, tmp_path / 'third', env=vcsim.env()) as process:
        process.wait_for_log('Watching vCenter')
        asyncio.run(asyncio.sleep(8))
        assert 'vsphere.preemption.preempt' not in process.log().split('Watching vCenter', 1)[1]
    assert record()['runs'] == 1
    assert read_checkpoint(str(checkpoint))['key'] == delivered['key']
