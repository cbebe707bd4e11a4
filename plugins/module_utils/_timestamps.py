# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Layer 0: the current time, and the one text form of a timestamp the state records and the VM events use.

UTC ISO 8601 with microseconds and ``Z`` (``2021-11-05T13:02:34.437444Z``).
Private: may change in any release. Imports nothing of the collection.
"""

from __future__ import annotations

import datetime

TIMESTAMP_FORMAT = '%Y-%m-%dT%H:%M:%S.%fZ'


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def format_timestamp(moment):
    """``2021-11-05T13:02:34.437444Z`` for an aware (or naive UTC) datetime."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text):
    """The aware UTC datetime of a timestamp written by `format_timestamp`; ValueError otherwise."""
    return datetime.datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=datetime.timezone.utc)
