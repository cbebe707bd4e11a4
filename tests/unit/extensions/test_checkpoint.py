# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests of the alarms source's checkpoint: the file, the options, and the loop with a scripted vCenter."""

from __future__ import annotations

import asyncio
import json
import logging
import os

import pytest

from ansible_collections.vsphere.preemption.extensions.eda.plugins.event_source import alarms

from tests.unit.extensions.test_alarms import Done, FakeStream, alarm_event, at

SOURCE = 'https://vc/sdk'


def history_stream(begin, history, script):
    """A vCenter whose collector history (since ``begin``) is ``history``, then scripted wait() results."""
    return FakeStream(begin or at(100), script, history=history)


def run(checkpoint, history, script, options=None):
    begins, queue = [], asyncio.Queue()

    def open_stream(begin):
        begins.append(begin)
        return history_stream(begin, history, script)

    opts = dict({'hostname': 'vc', 'port': 443, 'alarm_names': frozenset(['cluster-cpu-above-80']), 'poll_interval': 1,
                 'max_reconnect_delay': 4.0}, **(options or {}))
    source = alarms.AlarmSource(opts, open_stream=open_stream, checkpoint=checkpoint)
    with pytest.raises(Done):
        asyncio.run(source.run(queue))
    events = []
    while not queue.empty():
        events.append(queue.get_nowait()['payload']['data']['Key'])
    return events, begins


def test_options_take_a_checkpoint_path_and_its_max_age():
    base = {'hostname': 'vc', 'username': 'u', 'password': 'p'}
    got = alarms.source_options(dict(base, checkpoint='~/cp.json', checkpoint_max_age='600'), {'HOME': '/nowhere'})
    assert got['checkpoint'] == os.path.expanduser('~/cp.json') and got['checkpoint_max_age'] == 600.0
    assert alarms.source_options(dict(base, checkpoint=''), {})['checkpoint'] is None, 'an unset rulebook variable'
    with pytest.raises(ValueError, match=r'checkpoint must be a file path, got \[1\]'):
        alarms.source_options(dict(base, checkpoint=[1]), {})
    with pytest.raises(ValueError, match=r"checkpoint_max_age must be a number >= 0, got -1"):
        alarms.source_options(dict(base, checkpoint_max_age=-1), {})


def test_a_first_start_writes_the_checkpoint_then_each_delivered_event(tmp_path):
    path = str(tmp_path / 'sub' / 'cp.json')
    e1, e2 = alarm_event(key=101, created=at(101)), alarm_event(key=102, created=at(102), name='other')
    events, begins = run(alarms.Checkpoint(path, SOURCE), [], [[[e1, e2]], Done()])
    assert (events, begins) == ([101], [None])
    with open(path, encoding='utf-8') as handle:
        document = json.load(handle)
    assert document == {'version': 1, 'source': SOURCE, 'key': 101, 'time': '2021-11-05T13:15:30.993999Z',
                        'seen': [[101, '2021-11-05T13:15:30.993999Z'], [102, '2021-11-05T13:15:31.993999Z']]}
    assert oct(os.stat(path).st_mode & 0o777) == '0o600' and oct(os.stat(os.path.dirname(path)).st_mode & 0o777) == '0o700'
    assert sorted(os.listdir(os.path.dirname(path))) == ['cp.json'], 'no temporary file left'


def test_a_restart_resumes_from_the_checkpoint_and_skips_what_it_delivered(tmp_path):
    path = str(tmp_path / 'cp.json')
    first = alarms.Checkpoint(path, SOURCE)
    delivered, missed = alarm_event(key=101, created=at(101)), alarm_event(key=102, created=at(101), to='yellow', frm='red')
    run(first, [], [[[delivered]], Done()])
    # While down: one more change at the same creation time; the history vCenter gives back holds both.
    events, begins = run(alarms.Checkpoint(path, SOURCE), [delivered, missed], [[[missed, delivered]], Done()])
    assert events == [102]
    assert begins == [at(101)]


def test_a_failed_write_after_the_start_is_logged_and_delivery_goes_on(tmp_path, monkeypatch, caplog):
    checkpoint = alarms.Checkpoint(str(tmp_path / 'cp.json'), SOURCE)
    real_save = checkpoint.save

    def save(cursor, key=None, time=None):
        if key is not None:
            raise OSError(28, 'No space left on device')
        return real_save(cursor, key, time)

    monkeypatch.setattr(checkpoint, 'save', save)
    with caplog.at_level(logging.ERROR, logger='vsphere.preemption.alarms'):
        events, _begins = run(checkpoint, [], [[[alarm_event(key=101, created=at(101)), alarm_event(key=103, created=at(103))]], Done()])
    assert events == [101, 103]
    assert caplog.text.count('Cannot write the checkpoint %s: No space left on device.' % checkpoint.path) == 2


def test_the_history_read_at_a_reconnection_does_not_warn_of_an_overflow(caplog):
    history = [alarm_event(key=k, created=at(k)) for k in range(101, 101 + alarms.PAGE_SIZE + 5)]
    cursor = alarms.EventCursor(at(100))
    cursor.fresh([])
    with caplog.at_level(logging.WARNING, logger='vsphere.preemption.alarms'):
        assert len(cursor.fresh(history, complete=True)) == alarms.PAGE_SIZE + 5
    assert 'may have been missed' not in caplog.text
