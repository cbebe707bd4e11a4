# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures shared by the playbook-level suites."""

from __future__ import annotations

import pytest

from tests.functional.event_receiver import EventReceiver


@pytest.fixture
def sink():
    """A real local CloudEvent receiver, the run's reply_to sink."""
    with EventReceiver() as receiver:
        yield receiver
