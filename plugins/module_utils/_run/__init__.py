# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run logic, no vCenter calls: the request and plan, one run's bookkeeping, restore.

May import `_vm`, `_state`, `_cloudevent`, `_vcenter`, `_errors`, `_timestamps`. See ../README.md
for the layer map. Private: may change in any release.
"""
