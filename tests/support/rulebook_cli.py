# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run the real ansible-rulebook as a subprocess for the Event-Driven Ansible tests."""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import socket
import subprocess
import sys
import time

import yaml

from tests.support.ansible_cli import BIN, REPO, ansible_env

RULEBOOKS = os.path.join(REPO, 'extensions', 'eda', 'rulebooks')
START_TIMEOUT = 90


def java_env():
    """ansible-rulebook needs Java 17; point JAVA_HOME at one when the environment does not."""
    if os.environ.get('JAVA_HOME'):
        return {}
    for home in sorted(glob.glob('/usr/lib/jvm/java-17-*')) + sorted(glob.glob('/usr/lib/jvm/*17*')):
        if os.path.isfile(os.path.join(home, 'bin', 'java')):
            return {'JAVA_HOME': home}
    return {}


def wait_until(predicate, timeout, what, log=None, interval=0.25):
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` (and the rulebook's log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError('timed out after %ss waiting for %s%s' % (timeout, what, '\n--- ansible-rulebook log ---\n' + log() if log else ''))


class Rulebook:
    """``ansible-rulebook --rulebook R --vars V -i I`` in its own process group, with this checkout as vsphere.preemption."""

    def __init__(self, rulebook, variables, workdir, env=None, verbose=True, args=()):
        self.rulebook = rulebook
        self.args = list(args)  # more ansible-rulebook options, e.g. --controller-url
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.vars_file = os.path.join(self.workdir, 'vars.yml')
        with open(self.vars_file, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(variables, handle)
        self.inventory = os.path.join(self.workdir, 'inventory.yml')
        with open(self.inventory, 'w', encoding='utf-8') as handle:
            yaml.safe_dump({'all': {'hosts': {'localhost': {
                'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}}}, handle)
        self.log_file = os.path.join(self.workdir, 'ansible-rulebook.log')
        self.env = ansible_env(dict(java_env(), **(env or {})))
        self.verbose = verbose
        self.process = None

    def command(self):
        cmd = [os.path.join(BIN, 'ansible-rulebook'), '--rulebook', self.rulebook, '--vars', self.vars_file, '-i', self.inventory]
        return cmd + self.args + (['-v'] if self.verbose else [])

    def start(self):
        with open(self.log_file, 'wb') as log:
            # cwd: run_playbook copies a playbook given by path relative to it; keep ours in workdir.
            self.process = subprocess.Popen(self.command(), cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def log(self):
        try:
            with open(self.log_file, encoding='utf-8', errors='replace') as handle:
                return handle.read()[-12000:]
        except OSError:
            return ''

    def running(self):
        return self.process is not None and self.process.poll() is None

    def wait_for_port(self, port, timeout=START_TIMEOUT):
        def accepting():
            if not self.running():
                raise AssertionError('ansible-rulebook exited with rc %s before listening on %s\n%s' % (self.process.returncode, port, self.log()))
            with socket.socket() as sock:
                sock.settimeout(0.5)
                return sock.connect_ex(('127.0.0.1', port)) == 0
        wait_until(accepting, timeout, 'the webhook on port %s' % port, self.log)

    def wait_for_log(self, text, timeout=START_TIMEOUT):
        def logged():
            if not self.running():
                raise AssertionError('ansible-rulebook exited with rc %s before logging %r\n%s' % (self.process.returncode, text, self.log()))
            return text in self.log()
        wait_until(logged, timeout, repr(text), self.log)

    def wait_exit(self, timeout=START_TIMEOUT):
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError('ansible-rulebook still runs after %ss\n%s' % (timeout, self.log())) from None

    def stop(self):
        """SIGTERM the whole process group (ansible-rulebook and any playbook it runs), then SIGKILL what is left."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
