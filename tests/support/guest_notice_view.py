# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a guest sees of the preemption notice, read from vCenter while a power-off runs."""

from __future__ import annotations

import threading
import time

KEY = 'guestinfo.preemption'


def guest_view(vcenter, moid):
    """(power state, the notice a guest would read: the key's last value, None when unset)."""
    values = [o.value for o in vcenter.get(vcenter.vm(moid), 'config.extraConfig') or () if o.key == KEY]
    return vcenter.power_state(moid), (values[-1] if values else None)


class Watcher(threading.Thread):
    """Reads each VM's power state and notice over and over while a run goes on (a second session)."""

    def __init__(self, vcenter, moids):
        super().__init__(daemon=True)
        self.vcenter, self.moids, self.seen, self.done = vcenter, moids, [], threading.Event()

    def run(self):
        while not self.done.is_set():
            for moid in self.moids:
                self.seen.append((moid,) + guest_view(self.vcenter, moid))
            time.sleep(0.2)
