# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""extensions/guest/vsphere-preemption-notice.sh, run for real with a stand-in for vmware-rpctool."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / 'extensions' / 'guest' / 'vsphere-preemption-notice.sh'


@pytest.fixture
def guest(tmp_path):
    """A guest: a fake vmware-rpctool answering from a file, a drain hook recording what it got."""
    notice = tmp_path / 'guestinfo'
    rpctool = tmp_path / 'vmware-rpctool'
    rpctool.write_text('#!/bin/sh\n[ "$1" = "info-get guestinfo.preemption" ] || exit 2\n'
                       '[ -s "%s" ] || { echo "No value found" >&2; exit 1; }\ncat "%s"\n' % (notice, notice))
    hook = tmp_path / 'drain'
    calls = tmp_path / 'calls'
    hook.write_text('#!/bin/sh\n{ printf "stdin=%%s\\n" "$(cat)"; printf "deadline=%%s left=%%s\\n" "$PREEMPTION_DEADLINE" '
                    '"$PREEMPTION_SECONDS_LEFT"; } >> "%s"\n' % calls)
    for path in (rpctool, hook):
        path.chmod(0o755)
    env = dict(os.environ, VMWARE_RPCTOOL=str(rpctool), PREEMPTION_HOOK=str(hook), PREEMPTION_STATE=str(tmp_path / 'state' / 'n'))

    def poll():
        subprocess.run(['sh', str(SCRIPT), '--once'], env=env, check=True, timeout=30, capture_output=True)
        return calls.read_text().splitlines() if calls.exists() else []

    return notice, poll


def notice_value(seconds, run='r-1'):
    deadline = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)).strftime('%Y-%m-%dT%H:%M:%SZ')
    return json.dumps({'deadline': deadline, 'preempted': True, 'runID': run}, separators=(',', ':'), sort_keys=True), deadline


def test_no_notice_runs_no_hook(guest):
    _notice, poll = guest
    assert poll() == []


def test_the_hook_runs_once_per_notice_with_the_notice_and_its_deadline(guest):
    notice, poll = guest
    value, deadline = notice_value(120)
    notice.write_text(value)
    calls = poll()
    assert calls[0] == 'stdin=' + value
    assert calls[1].startswith('deadline=%s left=' % deadline)
    assert 100 <= int(calls[1].rsplit('=', 1)[1]) <= 120
    assert poll() == calls  # the same notice again: nothing more


def test_after_a_restore_clears_the_key_the_next_notice_runs_the_hook_again(guest):
    notice, poll = guest
    first, _deadline = notice_value(60)
    notice.write_text(first)
    assert len(poll()) == 2
    notice.write_text('')
    assert len(poll()) == 2
    notice.write_text(first)
    assert len(poll()) == 4


def test_a_notice_is_data_not_shell(guest, tmp_path):
    notice, poll = guest
    marker = tmp_path / 'pwned'
    notice.write_text('{"deadline":"$(touch %s)","x":"`touch %s`"}' % (marker, marker))
    calls = poll()
    assert calls[0].startswith('stdin={"deadline":"$(touch')
    assert not marker.exists()
