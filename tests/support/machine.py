# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the harnesses take from the test machine: a free loopback port, Debian packages installed on demand."""

from __future__ import annotations

import os
import socket
import subprocess


def free_port():
    """A loopback port nobody listens on now (connecting to it is refused until someone does)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def apt_install(packages, error):
    """``apt-get update`` and ``apt-get install -y packages`` (as root); ``error(message)`` is raised when either fails."""
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    # make test runs the suite beside the other gates: wait for another apt-get's lock rather than fail.
    lock = ['-o', 'DPkg::Lock::Timeout=300']
    for cmd in (['apt-get', *lock, 'update'], ['apt-get', *lock, 'install', '-y', *packages]):
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        if proc.returncode != 0:
            raise error('`%s` failed (rc=%d):\n%s' % (' '.join(cmd), proc.returncode, proc.stdout[-4000:]))
