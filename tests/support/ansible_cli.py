# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run the collection's modules and playbooks through the real ansible CLIs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS_PATH = os.path.join(REPO, '.build', 'collections')
BIN = os.path.dirname(sys.executable)


def ansible_env(extra=None):
    """Environment for ansible CLIs: this checkout as vsphere.preemption, this venv's Python."""
    link = os.path.join(COLLECTIONS_PATH, 'ansible_collections', 'vsphere', 'preemption')
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(os.path.relpath(REPO, os.path.dirname(link)), link)
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': COLLECTIONS_PATH,
        'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
        'ANSIBLE_LOCALHOST_WARNING': 'false',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_FORCE_COLOR': '0',
        'PATH': BIN + os.pathsep + env.get('PATH', ''),
    })
    env.update(extra or {})
    return env


def other_python(directory):
    """A Python for modules that is not the controller's own file (a script running it), so the collection's
    vCenter modules run as module processes rather than in the controller's process.

    Each start appends a line to ``<path>.starts``, so a test can count the module processes.
    """
    path = os.path.join(str(directory), 'module-python')
    with open(path, 'w') as handle:
        handle.write('#!/bin/sh\necho started >> "$0.starts"\nexec %s "$@"\n' % sys.executable)
    os.chmod(path, 0o755)
    return path


def run_module(module, args, env=None, check=False, diff=False, timeout=300, variables=None):
    """Run one module on localhost with `ansible`; return its result dict (rc in result['_rc'])."""
    cmd = [os.path.join(BIN, 'ansible'), 'localhost', '-m', module, '-a', json.dumps(args)]
    if variables:
        cmd += ['-e', json.dumps(variables)]
    if check:
        cmd.append('--check')
    if diff:
        cmd.append('--diff')
    proc = subprocess.run(cmd, env=ansible_env(dict(env or {}, ANSIBLE_LOAD_CALLBACK_PLUGINS='1', ANSIBLE_STDOUT_CALLBACK='json')),
                          capture_output=True, text=True, timeout=timeout, check=False)
    try:
        output = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError('ansible printed no JSON (rc %s)\nstdout:\n%s\nstderr:\n%s' % (proc.returncode, proc.stdout, proc.stderr)) from None
    result = output['plays'][0]['tasks'][0]['hosts']['localhost']
    result['_rc'] = proc.returncode
    result['_stderr'] = proc.stderr
    return result


def run_playbook(playbook, extra_vars=None, env=None, check=False, inventory=None, args=(), timeout=600):
    """Run ansible-playbook; return the CompletedProcess (text output)."""
    cmd = [os.path.join(BIN, 'ansible-playbook'), playbook]
    if inventory:
        cmd += ['-i', inventory]
    if extra_vars:
        cmd += ['-e', json.dumps(extra_vars)]
    if check:
        cmd.append('--check')
    cmd += list(args)
    return subprocess.run(cmd, env=ansible_env(env), capture_output=True, text=True, timeout=timeout, check=False)
