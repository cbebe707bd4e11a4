# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one way to open the workflow state: the local file, or a PostgreSQL database shared by controllers."""

from __future__ import annotations

from ansible_collections.vsphere.preemption.plugins.module_utils._state.file import DEFAULT_STATE_PATH, StateFile
from ansible_collections.vsphere.preemption.plugins.module_utils._timestamps import utcnow
from ansible_collections.vsphere.preemption.plugins.module_utils._state.postgres import StateDatabase


def open_state(path=None, url=None, clock=None, new_id=None):
    """A `StateDatabase` for ``url`` when it is set, else the `StateFile` at ``path`` (default DEFAULT_STATE_PATH).

    ``url`` wins over ``path`` because the role always has a state file path (its default). Both
    stores have the same methods and results; their errors are `state_file.StateError` with a
    ``retryable`` flag. ``clock`` (aware UTC datetimes; default the local clock for the file, the
    database server's for PostgreSQL) and ``new_id`` (run ids) are for tests.
    """
    if url:
        return StateDatabase(url, clock=clock, new_id=new_id)
    return StateFile(path or DEFAULT_STATE_PATH, clock=clock or utcnow, new_id=new_id)
