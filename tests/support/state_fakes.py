# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The state stores' clock and run ids, made predictable: ``StateFile(path, clock=Clock(), new_id=Ids())``;
and processes racing for one store."""

from __future__ import annotations

import datetime
import multiprocessing

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


def race(target, args, count=10):
    """What ``target(*args, barrier, results)`` put on ``results``, from ``count`` forked processes let go at once."""
    context = multiprocessing.get_context('fork')
    barrier = context.Barrier(count)
    results = context.Queue()
    workers = [context.Process(target=target, args=(*args, barrier, results)) for _index in range(count)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _worker in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    return outcomes
