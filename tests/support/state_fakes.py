# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The state stores' clock and run ids, made predictable: ``StateFile(path, clock=Clock(), new_id=Ids())``."""

from __future__ import annotations

import datetime

T0 = datetime.datetime(2021, 11, 5, 13, 2, 34, 437444, tzinfo=datetime.timezone.utc)


class Clock:
    """A settable clock, starting at T0."""

    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += datetime.timedelta(seconds=seconds)


class Ids:
    """Predictable run ids: run-1, run-2, ..."""

    def __init__(self):
        self.count = 0

    def __call__(self):
        self.count += 1
        return 'run-%d' % self.count
